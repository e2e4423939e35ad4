/* stratacache demo: the C ABI on the embedded default (mem://), or on the Redis
 * named by $REDIS_URL / argv[1]. Build: see README ("scripts/demo.sh" does it all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stratacache.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int check(int rc, const char *what) {
  if (rc != STRATACACHE_OK && rc != STRATACACHE_ENOTFOUND) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, stratacache_strerror(rc), stratacache_last_error());
    exit(1);
  }
  return rc;
}

/* The "expensive" function the cache sits in front of, as a stratacache_loader: it
 * puts the value into the sink (or returns STRATACACHE_ENOTFOUND: "no such user"). */
static int load_user(void *ctx, const void *key, size_t key_len, stratacache_sink *sink) {
  int *loads = ctx;
  ++*loads;
  struct timespec pause = {0, 20 * 1000 * 1000}; /* 20 ms of "database" */
  nanosleep(&pause, NULL);
  char doc[256];
  int n = snprintf(doc, sizeof doc, "{\"key\":\"%.*s\",\"roles\":[\"reader\"]}", (int)key_len, (const char *)key);
  return stratacache_sink_put(sink, doc, (size_t)n, STRATACACHE_FORMAT_JSON, 600000);
}

static void get_user(stratacache_cache *c, int id, int *loads) {
  char key[64];
  int klen = snprintf(key, sizeof key, "user:%d", id);
  double t0 = now_us();
  void *value = NULL;
  size_t len = 0;
  int format = 0;
  unsigned info = 0;
  check(stratacache_get_or_load(&value, &len, &format, &info, c, key, (size_t)klen, load_user, loads, NULL),
        "get_or_load");
  printf("  %s %-8s %8.1f us  %.*s\n", info & STRATACACHE_INFO_LOADED ? "load" : "hit ", key, now_us() - t0,
         (int)len, (const char *)value);
  stratacache_free(value);
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : getenv("REDIS_URL");
  if (!url || !*url) url = "mem://";
  printf("stratacache %s (C ABI) on %s\n", stratacache_version_string(), url);

  stratacache_cache *c = NULL;
  check(stratacache_open(&c, url), "open");

  printf("read-through (stratacache_get_or_load), first call loads, second call hits:\n");
  int loads = 0;
  for (int round = 0; round < 2; round++)
    for (int id = 1; id <= 3; id++) get_user(c, id, &loads);
  printf("  the loader ran %d times\n", loads);

  int64_t views = 0;
  check(stratacache_increment(&views, c, "post:123:views", 14, 1, STRATACACHE_TTL_DEFAULT, NULL), "increment");
  check(stratacache_increment(&views, c, "post:123:views", 14, 5, STRATACACHE_TTL_DEFAULT, NULL), "increment");
  printf("increment post:123:views by 1 then 5 -> %lld\n", (long long)views);

  int64_t ttl = 0;
  check(stratacache_ttl(&ttl, c, "user:1", 6, NULL), "ttl");
  printf("ttl user:1 -> %.1f s\n", ttl / 1000.0);

  int64_t deleted = 0;
  check(stratacache_clear_pattern(&deleted, c, "user:*", 6, NULL), "clear_pattern");
  printf("clear_pattern user:* -> %lld deleted\n", (long long)deleted);

  char *stats = NULL, *health = NULL;
  check(stratacache_stats_json(&stats, NULL, c), "stats");
  check(stratacache_health_json(&health, NULL, c, NULL), "health");
  printf("stats  %s\nhealth %s\n", stats, health);
  stratacache_free(stats);
  stratacache_free(health);
  stratacache_close(c);
  return 0;
}
