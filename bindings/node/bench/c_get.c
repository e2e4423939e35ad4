/* The C side of bench/bench.js: the same reads through the C ABI, in one process.
 * Usage: c_get URL KEY ITERATIONS REPEATS. Prints one JSON object: the median over
 * REPEATS runs of ITERATIONS calls of an L1 hit (stratacache_get, ns) and of an L2 GET
 * (STRATACACHE_SKIP_L1: a Redis round trip, us), the latter both blocking
 * (stratacache_get) and as an event loop does it (stratacache_submit_get to a queue,
 * poll on its fd, stratacache_queue_drain: the path the Node addon takes). */
#define _POSIX_C_SOURCE 199309L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stratacache.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run(stratacache_cache *c, const char *key, long n, const stratacache_callopts *co) {
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    void *v = NULL;
    size_t len = 0;
    if (stratacache_get(&v, &len, NULL, c, key, strlen(key), co) != STRATACACHE_OK) {
      fprintf(stderr, "c_get: %s: %s\n", key, stratacache_last_error());
      exit(1);
    }
    stratacache_free(v);
  }
  return (now_ns() - t0) / (double)n;
}

static int pending;
static void done(void *payload, int status, const char *message, void *value, size_t len, int format,
                 int64_t count) {
  (void)payload, (void)len, (void)format, (void)count;
  if (status != STRATACACHE_OK) {
    fprintf(stderr, "c_get: submit: %s\n", message);
    exit(1);
  }
  stratacache_free(value);
  pending = 0;
}

static double run_queued(stratacache_cache *c, const char *key, long n, const stratacache_callopts *co,
                         stratacache_queue *q) {
  struct pollfd p = {.fd = stratacache_queue_fd(q), .events = POLLIN};
  double t0 = now_ns();
  for (long i = 0; i < n; i++) {
    pending = 1;
    if (stratacache_submit_get(c, key, strlen(key), co, q, done, NULL) != STRATACACHE_OK) exit(1);
    while (pending) {
      poll(&p, 1, -1);
      stratacache_queue_drain(NULL, q, 0);
    }
  }
  return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: c_get URL KEY ITERATIONS REPEATS\n");
    return 2;
  }
  long iters = atol(argv[3]), reps = atol(argv[4]);
  stratacache_cache *c = NULL;
  if (stratacache_open(&c, argv[1]) != STRATACACHE_OK) {
    fprintf(stderr, "c_get: open: %s\n", stratacache_last_error());
    return 1;
  }
  stratacache_callopts *skip_l1 = NULL;
  stratacache_callopts_new(&skip_l1);
  stratacache_callopts_set_flags(skip_l1, STRATACACHE_SKIP_L1);
  stratacache_queue *q = NULL;
  stratacache_queue_new(&q);
  double *l1 = calloc((size_t)reps, sizeof *l1), *l2 = calloc((size_t)reps, sizeof *l2),
         *l2q = calloc((size_t)reps, sizeof *l2q);
  run(c, argv[2], iters, NULL); /* warm-up: fills L1 */
  for (long r = 0; r < reps; r++) {
    l1[r] = run(c, argv[2], iters, NULL);
    l2[r] = run(c, argv[2], iters / 20 + 1, skip_l1) / 1000.0;
    l2q[r] = run_queued(c, argv[2], iters / 20 + 1, skip_l1, q) / 1000.0;
  }
  qsort(l2q, (size_t)reps, sizeof *l2q, cmp);
  qsort(l1, (size_t)reps, sizeof *l1, cmp);
  qsort(l2, (size_t)reps, sizeof *l2, cmp);
  printf("{\"l1_ns\": %.1f, \"l2_us\": %.2f, \"l2_queued_us\": %.2f}\n", l1[reps / 2], l2[reps / 2], l2q[reps / 2]);
  free(l2q);
  stratacache_queue_free(q);
  free(l1);
  free(l2);
  stratacache_callopts_free(skip_l1);
  stratacache_close(c);
  return 0;
}
