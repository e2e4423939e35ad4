/* The C anchor of bindings/rust/bench.sh: stratacache_get + stratacache_free timed from
 * C. Prints "c_l1_hit NS" (mem://) and "c_l2_get NS" (URL, SKIP_L1): the median over
 * rounds of the mean per call. Usage: capi_get REDIS_URL ROUNDS L1_CALLS L2_CALLS */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stratacache.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_get_ns(stratacache_cache *cache, const stratacache_callopts *co, int rounds, int calls) {
  double per_call[64];
  for (int r = 0; r < rounds; r++) {
    double start = now_ns();
    for (int i = 0; i < calls; i++) {
      void *value = NULL;
      size_t len = 0;
      int rc = stratacache_get(&value, &len, NULL, cache, "bench:key", 9, co);
      if (rc != STRATACACHE_OK) {
        fprintf(stderr, "get: %s %s\n", stratacache_strerror(rc), stratacache_last_error());
        exit(1);
      }
      stratacache_free(value);
    }
    per_call[r] = (now_ns() - start) / calls;
  }
  qsort(per_call, (size_t)rounds, sizeof per_call[0], by_value);
  return per_call[rounds / 2];
}

static stratacache_cache *open_with_value(const char *url) {
  stratacache_cache *cache = NULL;
  char value[100];
  memset(value, 'v', sizeof value);
  if (stratacache_open(&cache, url) != STRATACACHE_OK ||
      stratacache_set(cache, "bench:key", 9, value, sizeof value, STRATACACHE_FORMAT_RAW, 0, NULL) != STRATACACHE_OK) {
    fprintf(stderr, "open/set %s: %s\n", url, stratacache_last_error());
    exit(1);
  }
  return cache;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: capi_get REDIS_URL ROUNDS L1_CALLS L2_CALLS\n");
    return 2;
  }
  int rounds = atoi(argv[2]), l1_calls = atoi(argv[3]), l2_calls = atoi(argv[4]);
  if (rounds < 1 || rounds > 64) rounds = 9;
  stratacache_cache *mem = open_with_value("mem://");
  printf("c_l1_hit %.1f\n", median_get_ns(mem, NULL, rounds, l1_calls));
  stratacache_cache *redis = open_with_value(argv[1]);
  stratacache_callopts *skip_l1 = NULL;
  stratacache_callopts_new(&skip_l1);
  stratacache_callopts_set_flags(skip_l1, STRATACACHE_SKIP_L1);
  printf("c_l2_get %.1f\n", median_get_ns(redis, skip_l1, rounds, l2_calls));
  stratacache_callopts_free(skip_l1);
  stratacache_close(redis);
  stratacache_close(mem);
  return 0;
}
