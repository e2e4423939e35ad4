/* The C anchor of the Java bench (bindings/java/bench.sh), built as a small shared
 * library that Bench calls through JNA once per round, so that C, Java and the Java
 * anchors take turns round by round (fair on a loaded machine). Each round is a loop of
 * stratacache_get_into calls made in C, timed in C. */
#define _POSIX_C_SOURCE 199309L
#include <string.h>
#include <time.h>

#include <stratacache.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Nanoseconds per stratacache_get_into of `key` over `iters` calls; -1 if one failed. */
double capi_bench_round(stratacache_cache *cache, const char *key, long iters) {
  char buf[4096];
  size_t len = 0;
  int format = 0;
  size_t key_len = strlen(key);
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    if (stratacache_get_into(&len, &format, cache, key, key_len, buf, sizeof buf, NULL) != STRATACACHE_OK) return -1;
  }
  return (now_ns() - t0) / (double)iters;
}
