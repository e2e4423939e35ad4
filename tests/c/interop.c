/* Cross-language check helper: writes or reads one value through the C ABI so the
 * Python tests can prove values move between languages unchanged.
 *   stratacache_interop write URL KEY JSON   store JSON with the cache's serializer
 *   stratacache_interop read URL KEY         print the value as JSON (exit 3 on a miss)
 *   stratacache_interop write-tagged URL KEY JSON TAG   store JSON written with tag TAG
 *   stratacache_interop invalidate-tags URL TAG         invalidate TAG; print how many
 *       entries were removed (tags, docs/tags.md)
 *   stratacache_interop load URL KEY THREADS START_UNIX_MS LOADER_MS COUNTER
 *       THREADS threads call stratacache_get_or_load(KEY) at START_UNIX_MS (wall
 *       clock, so several processes start together); the loader sleeps LOADER_MS,
 *       increments COUNTER in the cache (so loads are counted across processes) and
 *       returns the JSON string "from C". Prints "ok N" (N calls that got a value) and
 *       one line per distinct value; exit 0 when every call got one. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stratacache.h"

struct load_args {
  stratacache_cache *cache;
  const char *key, *counter;
  int64_t start_ms, loader_ms;
  int ok;
  char value[64];
};

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int loader(void *ctx, const void *key, size_t key_len, stratacache_sink *sink) {
  struct load_args *a = ctx;
  (void)key;
  (void)key_len;
  sleep_ms(a->loader_ms);
  int64_t n = 0;
  int rc = stratacache_increment(&n, a->cache, a->counter, strlen(a->counter), 1, 60000, NULL);
  if (rc != STRATACACHE_OK) return rc;
  static const char kValue[] = "\"from C\"";
  return stratacache_sink_put(sink, kValue, sizeof kValue - 1, STRATACACHE_FORMAT_JSON, STRATACACHE_TTL_DEFAULT);
}

static void *load_thread(void *p) {
  struct load_args *a = p;
  int64_t wait = a->start_ms - unix_ms();
  if (wait > 0) sleep_ms(wait);
  void *value = NULL;
  size_t len = 0;
  int format = 0;
  unsigned info = 0;
  int rc = stratacache_get_or_load(&value, &len, &format, &info, a->cache, a->key, strlen(a->key), loader, a, NULL);
  if (rc == STRATACACHE_OK) {
    a->ok = 1;
    snprintf(a->value, sizeof a->value, "%.*s", (int)(len < 60 ? len : 60), (const char *)value);
    stratacache_free(value);
  } else {
    fprintf(stderr, "get_or_load: %s: %s\n", stratacache_strerror(rc), stratacache_last_error());
  }
  return NULL;
}

static int load(stratacache_cache *c, char **argv) {
  int threads = atoi(argv[4]);
  if (threads <= 0 || threads > 4096) return 2;
  struct load_args *args = calloc((size_t)threads, sizeof *args);
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  for (int i = 0; i < threads; i++) {
    args[i] = (struct load_args){c, argv[3], argv[7], atoll(argv[5]), atoll(argv[6]), 0, ""};
    pthread_create(&ids[i], NULL, load_thread, &args[i]);
  }
  int ok = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    ok += args[i].ok;
  }
  printf("ok %d\n", ok);
  for (int i = 0; i < threads; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++) seen = args[j].ok && strcmp(args[j].value, args[i].value) == 0;
    if (args[i].ok && !seen) printf("%s\n", args[i].value);
  }
  free(args);
  free(ids);
  return ok == threads ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 8 && strcmp(argv[1], "load") == 0) {
    stratacache_cache *c = NULL;
    if (stratacache_open(&c, argv[2]) != STRATACACHE_OK) {
      fprintf(stderr, "open: %s\n", stratacache_last_error());
      return 1;
    }
    int rc = load(c, argv);
    stratacache_close(c);
    return rc;
  }
  if (argc == 4 && strcmp(argv[1], "invalidate-tags") == 0) {
    stratacache_cache *c = NULL;
    if (stratacache_open(&c, argv[2]) != STRATACACHE_OK) {
      fprintf(stderr, "open: %s\n", stratacache_last_error());
      return 1;
    }
    const void *tags[] = {argv[3]};
    size_t lens[] = {strlen(argv[3])};
    int64_t removed = 0;
    int rc = stratacache_invalidate_tags(&removed, c, tags, lens, 1, NULL);
    if (rc == STRATACACHE_OK) printf("%lld\n", (long long)removed);
    else fprintf(stderr, "%s: %s\n", stratacache_strerror(rc), stratacache_last_error());
    stratacache_close(c);
    return rc == STRATACACHE_OK ? 0 : 1;
  }
  if (argc == 6 && strcmp(argv[1], "write-tagged") == 0) {
    stratacache_cache *c = NULL;
    stratacache_callopts *co = NULL;
    if (stratacache_open(&c, argv[2]) != STRATACACHE_OK || stratacache_callopts_new(&co) != STRATACACHE_OK) {
      fprintf(stderr, "open: %s\n", stratacache_last_error());
      return 1;
    }
    const void *tags[] = {argv[5]};
    size_t lens[] = {strlen(argv[5])};
    int rc = stratacache_callopts_set_tags(co, tags, lens, 1);
    if (rc == STRATACACHE_OK) {
      rc = stratacache_set_json(c, argv[3], strlen(argv[3]), argv[4], strlen(argv[4]), STRATACACHE_TTL_DEFAULT, co);
    }
    if (rc != STRATACACHE_OK) fprintf(stderr, "%s: %s\n", stratacache_strerror(rc), stratacache_last_error());
    stratacache_callopts_free(co);
    stratacache_close(c);
    return rc == STRATACACHE_OK ? 0 : 1;
  }
  if (argc < 4 || (strcmp(argv[1], "write") == 0 && argc != 5)) {
    fprintf(stderr, "usage: %s write URL KEY JSON | read URL KEY\n", argv[0]);
    return 2;
  }
  stratacache_cache *c = NULL;
  if (stratacache_open(&c, argv[2]) != STRATACACHE_OK) {
    fprintf(stderr, "open: %s\n", stratacache_last_error());
    return 1;
  }
  const char *key = argv[3];
  int rc;
  if (strcmp(argv[1], "write") == 0) {
    rc = stratacache_set_json(c, key, strlen(key), argv[4], strlen(argv[4]), STRATACACHE_TTL_DEFAULT, NULL);
  } else {
    char *json = NULL;
    size_t len = 0;
    rc = stratacache_get_json(&json, &len, c, key, strlen(key), NULL);
    if (rc == STRATACACHE_OK) {
      fwrite(json, 1, len, stdout);
      putchar('\n');
      stratacache_free(json);
    }
  }
  if (rc == STRATACACHE_ENOTFOUND) {
    stratacache_close(c);
    return 3;
  }
  if (rc != STRATACACHE_OK) fprintf(stderr, "%s: %s\n", stratacache_strerror(rc), stratacache_last_error());
  stratacache_close(c);
  return rc == STRATACACHE_OK ? 0 : 1;
}
