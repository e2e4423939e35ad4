/* The C ABI used from C, as a dlopen-free C program would: mem:// always, and a real
 * redis-server (started here on a free loopback port) when one is installed.
 * Exit status 0 = every check passed. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stratacache.h"

static int failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              stratacache_last_error());                                         \
      failures++;                                                                \
    }                                                                            \
  } while (0)
#define CHECK_RC(expr, want) CHECK((expr) == (want))

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- asynchronous calls ---- */
struct done_box {
  atomic_int calls;
  int status, format;
  void *value;
  size_t len;
  int64_t count;
  char error[256];
};

static void on_done(void *payload, int status, void *value, size_t len, int format, int64_t count) {
  struct done_box *b = payload;
  b->status = status;
  b->value = value;
  b->len = len;
  b->format = format;
  b->count = count;
  snprintf(b->error, sizeof b->error, "%s",
           status != STRATACACHE_OK && status != STRATACACHE_ENOTFOUND ? stratacache_last_error() : "");
  atomic_fetch_add(&b->calls, 1);
}

/* Waits (up to 2 s) for the completion; 1 when it ran exactly once. */
static int wait_done(struct done_box *b) {
  for (int i = 0; i < 1000 && atomic_load(&b->calls) == 0; i++) usleep(2000);
  usleep(1000);
  return atomic_load(&b->calls) == 1;
}

/* l2: the handle has Redis behind it (then get_async of a flushed key goes there). */
static void check_async(stratacache_cache *c, int l2) {
  CHECK(stratacache_async_native(c) == 1);
  struct done_box set = {0};
  CHECK_RC(stratacache_set_async(c, "async:k", 7, "val", 3, STRATACACHE_FORMAT_RAW, 60000, NULL, on_done, &set), 0);
  CHECK(wait_done(&set) && set.status == STRATACACHE_OK && set.value == NULL);
  if (l2) stratacache_flush_l1(c);
  struct done_box get = {0};
  CHECK_RC(stratacache_get_async(c, "async:k", 7, NULL, on_done, &get), 0);
  if (!l2) CHECK(atomic_load(&get.calls) == 1); /* an L1 hit completes inline */
  CHECK(wait_done(&get) && get.status == STRATACACHE_OK);
  CHECK(get.value != NULL && get.len == 3 && memcmp(get.value, "val", 3) == 0);
  CHECK(get.format == STRATACACHE_FORMAT_RAW);
  stratacache_free(get.value);
  struct done_box miss = {0};
  CHECK_RC(stratacache_get_async(c, "async:none", 10, NULL, on_done, &miss), 0);
  CHECK(wait_done(&miss) && miss.status == STRATACACHE_ENOTFOUND && miss.value == NULL && miss.format == -1);
  const void *keys[] = {"async:k", "async:none"};
  size_t lens[] = {7, 10};
  struct done_box del = {0};
  CHECK_RC(stratacache_delete_async(c, keys, lens, 2, NULL, on_done, &del), 0);
  CHECK(wait_done(&del) && del.status == STRATACACHE_OK && del.count == 1);
  /* Rejected arguments: an error code, and the completion never runs. */
  struct done_box bad = {0};
  CHECK_RC(stratacache_get_async(c, "k", 1, NULL, NULL, NULL), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_set_async(c, "k", 1, "v", 1, 99, -1, NULL, on_done, &bad), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_get_async(NULL, "k", 1, NULL, on_done, &bad), STRATACACHE_EINVAL);
  usleep(20000);
  CHECK(atomic_load(&bad.calls) == 0);
}

/* ---- completion queue (0.2): every operation submitted naming a queue ---- */
static pthread_t main_thread;
static atomic_int off_thread_callbacks;

struct qbox {
  int calls, status, format;
  char message[256];
  void *value;
  size_t len;
  int64_t count;
};

static void on_queue(void *payload, int status, const char *message, void *value, size_t len, int format,
                     int64_t count) {
  struct qbox *b = payload;
  if (!pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&off_thread_callbacks, 1);
  b->calls++;
  b->status = status;
  snprintf(b->message, sizeof b->message, "%s", message ? message : "(null)");
  b->value = value;
  b->len = len;
  b->format = format;
  b->count = count;
}

static int fd_readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Watches the queue's fd with poll() on this thread and drains until `want` completions
 * ran (3 s at most); returns how many ran. */
static size_t pump(stratacache_queue *q, size_t want) {
  size_t total = 0;
  double t0 = now_ms();
  while (total < want && now_ms() - t0 < 3000) {
    if (!fd_readable(stratacache_queue_fd(q), 100)) continue;
    size_t ran = 0;
    CHECK_RC(stratacache_queue_drain(&ran, q, 0), 0);
    total += ran;
  }
  return total;
}

/* One record of a packed mget result; returns the next record. */
static const unsigned char *packed_record(const unsigned char *p, int32_t *status, int32_t *format, uint64_t *len,
                                          const unsigned char **data) {
  memcpy(status, p, 4);
  memcpy(format, p + 4, 4);
  memcpy(len, p + 8, 8);
  *data = p + STRATACACHE_PACKED_HEADER_SIZE;
  return p + STRATACACHE_PACKED_HEADER_SIZE + ((*len + 7) & ~(uint64_t)7);
}

#define NQ 100
static void check_queue(stratacache_cache *c, unsigned short dead_port) {
  fprintf(stderr, "-- completion queue\n");
  main_thread = pthread_self();
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  if (!q) return;
  int fd = stratacache_queue_fd(q);
  CHECK(fd >= 0);
  CHECK(!fd_readable(fd, 0));
  stratacache_callopts *l2 = NULL;
  CHECK_RC(stratacache_callopts_new(&l2), 0);
  CHECK_RC(stratacache_callopts_set_flags(l2, STRATACACHE_SKIP_L1), 0);

  /* Writes: NQ sets, one packed mset, a counter, a plain string. */
  static struct qbox sets[NQ];
  memset(sets, 0, sizeof sets);
  char key[32], val[32];
  for (int i = 0; i < NQ; i++) {
    int kl = snprintf(key, sizeof key, "q:%d", i), vl = snprintf(val, sizeof val, "value-%d", i);
    CHECK_RC(stratacache_submit_set(c, key, (size_t)kl, val, (size_t)vl, STRATACACHE_FORMAT_RAW, 60000, NULL, q,
                                    on_queue, &sets[i]),
             0);
  }
  struct qbox mset = {0}, word = {0};
  const size_t mlens[3] = {4, 4, 4}, vlens[3] = {1, 0, 3};
  const int mformats[3] = {STRATACACHE_FORMAT_RAW, STRATACACHE_FORMAT_RAW, STRATACACHE_FORMAT_JSON};
  CHECK_RC(stratacache_submit_mset(c, "m:k1m:k2m:k3", mlens, "A[1]", vlens, mformats, 3, 60000, NULL, q, on_queue,
                                   &mset),
           0);
  CHECK_RC(stratacache_submit_set(c, "q:word", 6, "hello", 5, STRATACACHE_FORMAT_RAW, 0, NULL, q, on_queue, &word), 0);
  CHECK(sets[0].calls == 0 && mset.calls == 0); /* nothing runs before a drain */
  CHECK(pump(q, NQ + 2) == NQ + 2);
  for (int i = 0; i < NQ; i++) CHECK(sets[i].calls == 1 && sets[i].status == 0 && sets[i].value == NULL);
  CHECK(sets[0].message[0] == '\0' && sets[0].format == -1);
  CHECK(mset.calls == 1 && mset.status == 0 && word.calls == 1 && word.status == 0);
  CHECK(!fd_readable(fd, 0)); /* drained: no longer readable */

  /* Reads of every kind, from Redis (skip L1) and from L1. */
  static struct qbox gets[NQ];
  memset(gets, 0, sizeof gets);
  for (int i = 0; i < NQ; i++) {
    int kl = snprintf(key, sizeof key, "q:%d", i);
    CHECK_RC(stratacache_submit_get(c, key, (size_t)kl, l2, q, on_queue, &gets[i]), 0);
  }
  struct qbox l1hit = {0}, miss = {0}, ex = {0}, noex = {0}, ttl = {0}, nottl = {0}, incr = {0}, mget = {0},
              health = {0};
  CHECK_RC(stratacache_submit_get(c, "q:word", 6, NULL, q, on_queue, &l1hit), 0);
  CHECK(l1hit.calls == 0); /* an L1 hit is queued too, never run inline */
  CHECK_RC(stratacache_submit_get(c, "q:none", 6, NULL, q, on_queue, &miss), 0);
  CHECK_RC(stratacache_submit_exists(c, "q:1", 3, NULL, q, on_queue, &ex), 0);
  CHECK_RC(stratacache_submit_exists(c, "q:none", 6, NULL, q, on_queue, &noex), 0);
  CHECK_RC(stratacache_submit_ttl(c, "q:1", 3, NULL, q, on_queue, &ttl), 0);
  CHECK_RC(stratacache_submit_ttl(c, "q:none", 6, NULL, q, on_queue, &nottl), 0);
  CHECK_RC(stratacache_submit_increment(c, "q:views", 7, 5, STRATACACHE_TTL_DEFAULT, NULL, q, on_queue, &incr), 0);
  const size_t glens[4] = {4, 6, 4, 4};
  CHECK_RC(stratacache_submit_mget(c, "m:k1q:nonem:k2m:k3", glens, 4, l2, q, on_queue, &mget), 0);
  CHECK_RC(stratacache_submit_health(c, NULL, q, on_queue, &health), 0);
  CHECK(fd_readable(fd, 2000));
  size_t ran = 0;
  CHECK_RC(stratacache_queue_drain(&ran, q, 1), 0); /* max = 1: one ran, the fd stays readable */
  CHECK(ran == 1);
  CHECK(fd_readable(fd, 0));
  CHECK(pump(q, NQ + 9 - 1) == NQ + 9 - 1);
  for (int i = 0; i < NQ; i++) {
    int vl = snprintf(val, sizeof val, "value-%d", i);
    CHECK(gets[i].calls == 1 && gets[i].status == 0 && gets[i].len == (size_t)vl && gets[i].value &&
          memcmp(gets[i].value, val, (size_t)vl) == 0 && gets[i].format == STRATACACHE_FORMAT_RAW);
    stratacache_free(gets[i].value);
  }
  CHECK(l1hit.calls == 1 && l1hit.status == 0 && l1hit.len == 5 && memcmp(l1hit.value, "hello", 5) == 0);
  stratacache_free(l1hit.value);
  CHECK(miss.calls == 1 && miss.status == STRATACACHE_ENOTFOUND && miss.value == NULL && miss.message[0] == '\0');
  CHECK(ex.calls == 1 && ex.status == 0 && ex.count == 1);
  CHECK(noex.calls == 1 && noex.status == 0 && noex.count == 0);
  CHECK(ttl.calls == 1 && ttl.status == 0 && ttl.count > 55000 && ttl.count <= 60000);
  CHECK(nottl.calls == 1 && nottl.status == STRATACACHE_ENOTFOUND);
  CHECK(incr.calls == 1 && incr.status == 0 && incr.count == 5);
  CHECK(mget.calls == 1 && mget.status == 0 && mget.count == 4 && mget.value != NULL);
  if (mget.value) {
    const unsigned char *p = mget.value, *data;
    int32_t st, fmt;
    uint64_t len;
    p = packed_record(p, &st, &fmt, &len, &data);
    CHECK(st == 0 && fmt == STRATACACHE_FORMAT_RAW && len == 1 && memcmp(data, "A", 1) == 0);
    p = packed_record(p, &st, &fmt, &len, &data);
    CHECK(st == STRATACACHE_ENOTFOUND && fmt == -1 && len == 0);
    p = packed_record(p, &st, &fmt, &len, &data);
    CHECK(st == 0 && len == 0);
    p = packed_record(p, &st, &fmt, &len, &data);
    CHECK(st == 0 && fmt == STRATACACHE_FORMAT_JSON && len == 3 && memcmp(data, "[1]", 3) == 0);
    CHECK((size_t)(p - (const unsigned char *)mget.value) == mget.len);
    stratacache_free(mget.value);
  }
  CHECK(health.calls == 1 && health.status == 0 && health.format == STRATACACHE_FORMAT_JSON && health.value &&
        strstr(health.value, "\"healthy\":true") != NULL && strlen(health.value) == health.len);
  stratacache_free(health.value);

  /* Failures carry their message: increment on a non-integer; a cache on a dead port,
   * sharing the same queue. */
  struct qbox wrong = {0}, dead = {0}, dead_set = {0};
  CHECK_RC(stratacache_submit_increment(c, "q:word", 6, 1, STRATACACHE_TTL_DEFAULT, NULL, q, on_queue, &wrong), 0);
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?socket_timeout=0.5", dead_port);
  stratacache_cache *gone = NULL;
  CHECK_RC(stratacache_open(&gone, url), 0);
  CHECK_RC(stratacache_submit_get(gone, "k", 1, NULL, q, on_queue, &dead), 0);
  CHECK_RC(stratacache_submit_set(gone, "k", 1, "v", 1, 0, 0, NULL, q, on_queue, &dead_set), 0);
  CHECK(pump(q, 3) == 3);
  CHECK(wrong.status == STRATACACHE_EWRONGTYPE && strlen(wrong.message) > 0);
  CHECK(dead.status == STRATACACHE_EUNAVAILABLE && strlen(dead.message) > 0);
  CHECK(dead_set.status == STRATACACHE_EUNAVAILABLE && strlen(dead_set.message) > 0);
  fprintf(stderr, "   increment on a string: %s\n   dead port: %s\n", wrong.message, dead.message);
  stratacache_close(gone);

  /* Deletes: packed keys, and a pattern. */
  struct qbox del = {0}, pat = {0};
  const size_t dlens[3] = {4, 6, 4};
  CHECK_RC(stratacache_submit_delete(c, "m:k1q:nonem:k2", dlens, 3, NULL, q, on_queue, &del), 0);
  CHECK_RC(stratacache_submit_clear_pattern(c, "q:*", 3, NULL, q, on_queue, &pat), 0);
  CHECK(pump(q, 2) == 2);
  CHECK(del.status == 0 && del.count == 2);
  CHECK(pat.status == 0 && pat.count == NQ + 2); /* q:0..q:99, q:word, q:views */

  /* Refused submissions return an error and never complete. */
  struct qbox bad = {0};
  CHECK_RC(stratacache_submit_get(c, "k", 1, NULL, q, NULL, &bad), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_submit_set(c, "k", 1, "v", 1, 99, 0, NULL, q, on_queue, &bad), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_submit_delete(c, NULL, dlens, 3, NULL, q, on_queue, &bad), STRATACACHE_EINVAL);
  CHECK(pump(q, 1) == 0 && bad.calls == 0);

  CHECK(atomic_load(&off_thread_callbacks) == 0);
  stratacache_callopts_free(l2);

  /* Freeing a queue drops what waits in it: values freed, callbacks not run. */
  struct qbox dropped = {0};
  CHECK_RC(stratacache_submit_get(c, "m:k3", 4, NULL, q, on_queue, &dropped), 0);
  CHECK(fd_readable(fd, 2000));
  stratacache_queue_free(q);
  CHECK(dropped.calls == 0);
  stratacache_queue_free(NULL);
  CHECK(stratacache_queue_fd(NULL) == -1);
}

/* ---- lifetimes (0.2): close never waits for a foreign callback; closed handles are safe ---- */
struct closer {
  stratacache_cache *c;
  atomic_int ran;
  int after_rc;
};

static void close_in_callback(void *payload, int status, const char *message, void *value, size_t len, int format,
                              int64_t count) {
  (void)status, (void)message, (void)len, (void)format, (void)count;
  struct closer *cl = payload;
  stratacache_free(value);
  stratacache_close(cl->c);
  void *v = NULL;
  size_t l = 0;
  cl->after_rc = stratacache_get(&v, &l, NULL, cl->c, "k", 1, NULL);
  atomic_store(&cl->ran, 1);
}

static atomic_int close_returned, blocker_started, storm_calls, storm_unavailable;

/* Holds the I/O thread until the closing thread has returned from close (3 s at most),
 * as a koffi/N-API callback waiting for the JS thread does. */
static void blocker(void *payload, int status, const char *message, void *value, size_t len, int format,
                    int64_t count) {
  (void)payload, (void)status, (void)message, (void)len, (void)format, (void)count;
  stratacache_free(value);
  atomic_store(&blocker_started, 1);
  for (int i = 0; i < 3000 && !atomic_load(&close_returned); i++) usleep(1000);
}

static void storm(void *payload, int status, const char *message, void *value, size_t len, int format,
                  int64_t count) {
  (void)payload, (void)message, (void)len, (void)format, (void)count;
  stratacache_free(value);
  usleep(200); /* each callback blocks briefly */
  if (status == STRATACACHE_EUNAVAILABLE) atomic_fetch_add(&storm_unavailable, 1);
  atomic_fetch_add(&storm_calls, 1);
}

static int wait_flag(atomic_int *flag, int want, int ms) {
  for (int i = 0; i < ms && atomic_load(flag) < want; i++) usleep(1000);
  return atomic_load(flag) >= want;
}

#define NSTORM 1000
static void check_lifetimes(unsigned short port, pid_t redis_pid) {
  char url[128];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?prefix=ctest:&socket_timeout=5", port);
  fprintf(stderr, "-- lifetimes\n");
  stratacache_callopts *l2 = NULL;
  CHECK_RC(stratacache_callopts_new(&l2), 0);
  CHECK_RC(stratacache_callopts_set_flags(l2, STRATACACHE_SKIP_L1), 0);
  void *v = NULL;
  size_t l = 0;

  /* Calls on a closed handle are a clean error; a second close is a no-op. */
  stratacache_cache *h = NULL;
  CHECK_RC(stratacache_open(&h, url), 0);
  stratacache_close(h);
  CHECK_RC(stratacache_get(&v, &l, NULL, h, "k", 1, NULL), STRATACACHE_ECLOSED);
  CHECK(strstr(stratacache_last_error(), "closed") != NULL);
  CHECK(strcmp(stratacache_strerror(STRATACACHE_ECLOSED), "cache closed") == 0);
  CHECK_RC(stratacache_set(h, "k", 1, "v", 1, 0, 0, NULL), STRATACACHE_ECLOSED);
  struct qbox never = {0};
  CHECK_RC(stratacache_submit_get(h, "k", 1, NULL, NULL, on_queue, &never), STRATACACHE_ECLOSED);
  struct done_box never01 = {0};
  CHECK_RC(stratacache_get_async(h, "k", 1, NULL, on_done, &never01), STRATACACHE_ECLOSED);
  CHECK(stratacache_async_native(h) == 0);
  stratacache_flush_l1(h);
  stratacache_close(h);
  usleep(20000);
  CHECK(never.calls == 0 && atomic_load(&never01.calls) == 0);

  /* Close from inside a completion callback running on the library's I/O thread. */
  struct closer cl = {0};
  CHECK_RC(stratacache_open(&cl.c, url), 0);
  CHECK_RC(stratacache_submit_get(cl.c, "k", 1, l2, NULL, close_in_callback, &cl), 0);
  CHECK(wait_flag(&cl.ran, 1, 2000));
  CHECK(cl.after_rc == STRATACACHE_ECLOSED);

  /* ... and from inside a callback drained from a queue on this thread. */
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  struct closer cq = {0};
  CHECK_RC(stratacache_open(&cq.c, url), 0);
  CHECK_RC(stratacache_submit_get(cq.c, "k", 1, l2, q, close_in_callback, &cq), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(atomic_load(&cq.ran) == 1 && cq.after_rc == STRATACACHE_ECLOSED);

  /* Close while the I/O thread is inside a callback that waits for the closing thread,
   * with NSTORM more completions in flight (Redis stopped), each blocking briefly:
   * close returns at once; every completion runs exactly once, with EUNAVAILABLE. */
  CHECK_RC(stratacache_open(&h, url), 0);
  CHECK_RC(stratacache_set(h, "k", 1, "v", 1, 0, 0, NULL), 0); /* connected */
  CHECK_RC(stratacache_submit_get(h, "k", 1, l2, NULL, blocker, NULL), 0);
  CHECK(wait_flag(&blocker_started, 1, 2000));
  kill(redis_pid, SIGSTOP);
  for (int i = 0; i < NSTORM; i++) CHECK_RC(stratacache_submit_get(h, "k", 1, l2, NULL, storm, NULL), 0);
  double t0 = now_ms();
  stratacache_close(h);
  double took = now_ms() - t0;
  atomic_store(&close_returned, 1);
  fprintf(stderr, "   close with %d completions in flight: %.1f ms\n", NSTORM, took);
  CHECK(took < 100);
  CHECK(wait_flag(&storm_calls, NSTORM, 10000));
  usleep(20000);
  CHECK(atomic_load(&storm_calls) == NSTORM && atomic_load(&storm_unavailable) == NSTORM);

  /* The same through a queue: close (nothing runs on library threads, so it tears down
   * before returning) completes every pending call into the queue with EUNAVAILABLE. */
  CHECK_RC(stratacache_open(&h, url), 0);
  kill(redis_pid, SIGCONT);
  CHECK_RC(stratacache_set(h, "k", 1, "v", 1, 0, 0, NULL), 0);
  kill(redis_pid, SIGSTOP);
  static struct qbox pend[NSTORM];
  memset(pend, 0, sizeof pend);
  for (int i = 0; i < NSTORM; i++) CHECK_RC(stratacache_submit_get(h, "k", 1, l2, q, on_queue, &pend[i]), 0);
  stratacache_close(h);
  CHECK(pump(q, NSTORM) == NSTORM);
  int unavailable = 0;
  for (int i = 0; i < NSTORM; i++) unavailable += pend[i].calls == 1 && pend[i].status == STRATACACHE_EUNAVAILABLE;
  CHECK(unavailable == NSTORM);
  CHECK(strlen(pend[0].message) > 0);
  kill(redis_pid, SIGCONT);

  stratacache_queue_free(q);
  stratacache_callopts_free(l2);
}

/* ---- error buffer (0.2): the message of a synchronous call without the thread-local ---- */
struct hop {
  stratacache_cache *c;
  const stratacache_callopts *co;
  int rc;
};

static void *fail_elsewhere(void *p) {
  struct hop *h = p;
  int64_t n = 0;
  h->rc = stratacache_increment(&n, h->c, "eb:word", 7, 1, STRATACACHE_TTL_DEFAULT, h->co);
  return NULL;
}

static void check_error_buffer(stratacache_cache *c) {
  fprintf(stderr, "-- error buffer\n");
  char buf[128], tiny[8];
  stratacache_callopts *co = NULL;
  CHECK_RC(stratacache_callopts_new(&co), 0);
  CHECK_RC(stratacache_callopts_set_error_buffer(co, NULL, 5), STRATACACHE_EINVAL);
  memset(buf, 'x', sizeof buf);
  CHECK_RC(stratacache_callopts_set_error_buffer(co, buf, sizeof buf), 0);
  CHECK(buf[0] == '\0');
  CHECK_RC(stratacache_set(c, "eb:word", 7, "text", 4, STRATACACHE_FORMAT_RAW, 60000, co), 0);
  CHECK(buf[0] == '\0');
  /* The failing call runs on another thread (as a goroutine that moved would); its
   * message is read here, where the thread-local knows nothing of it. */
  struct hop h = {c, co, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, fail_elsewhere, &h) == 0);
  pthread_join(t, NULL);
  CHECK(h.rc == STRATACACHE_EWRONGTYPE);
  CHECK(strstr(buf, "not an integer") != NULL);
  CHECK(stratacache_last_error()[0] == '\0');
  /* A miss and a success clear it; a refused submission writes it. */
  void *v = NULL;
  size_t l = 0;
  CHECK_RC(stratacache_get(&v, &l, NULL, c, "eb:none", 7, co), STRATACACHE_ENOTFOUND);
  CHECK(buf[0] == '\0');
  CHECK_RC(stratacache_submit_set(c, "k", 1, "v", 1, 42, 0, co, NULL, on_queue, NULL), STRATACACHE_EINVAL);
  CHECK(strstr(buf, "format") != NULL);
  /* Truncated, always NUL-terminated. */
  CHECK_RC(stratacache_callopts_set_error_buffer(co, tiny, sizeof tiny), 0);
  CHECK_RC(stratacache_set(c, "k", 1, "v", 1, 42, 0, co), STRATACACHE_EINVAL);
  CHECK(strlen(tiny) == sizeof tiny - 1 && strncmp(tiny, stratacache_last_error(), sizeof tiny - 1) == 0);
  CHECK_RC(stratacache_callopts_set_error_buffer(co, NULL, 0), 0);
  CHECK_RC(stratacache_set(c, "k", 1, "v", 1, 43, 0, co), STRATACACHE_EINVAL);
  CHECK(strlen(tiny) == sizeof tiny - 1); /* removed: untouched */
  int64_t deleted = 0;
  const void *keys[1] = {"eb:word"};
  size_t lens[1] = {7};
  CHECK_RC(stratacache_delete(&deleted, c, keys, lens, 1, NULL), 0);
  stratacache_callopts_free(co);
}

/* ---- FFI crossings (0.2): caller buffers, packed multi-key calls ---- */
static void check_crossings(stratacache_cache *c) {
  fprintf(stderr, "-- caller buffers and packed calls\n");
  CHECK_RC(stratacache_set(c, "x:big", 5, "0123456789", 10, STRATACACHE_FORMAT_JSON, 60000, NULL), 0);
  char buf[16];
  memset(buf, '#', sizeof buf);
  size_t len = 0;
  int fmt = -1;
  CHECK_RC(stratacache_get_into(&len, &fmt, c, "x:big", 5, buf, 4, NULL), STRATACACHE_ETOOBIG);
  CHECK(len == 10 && fmt == STRATACACHE_FORMAT_JSON && buf[0] == '#'); /* needed size; buffer untouched */
  CHECK(strstr(stratacache_last_error(), "10 bytes") != NULL);
  CHECK_RC(stratacache_get_into(&len, &fmt, c, "x:big", 5, buf, sizeof buf, NULL), 0);
  CHECK(len == 10 && memcmp(buf, "0123456789", 10) == 0 && buf[10] == '#');
  CHECK_RC(stratacache_get_into(&len, &fmt, c, "x:none", 6, buf, sizeof buf, NULL), STRATACACHE_ENOTFOUND);
  CHECK(len == 0 && fmt == -1);
  CHECK_RC(stratacache_get_into(&len, NULL, c, "x:big", 5, NULL, 4, NULL), STRATACACHE_EINVAL);

  const size_t klens[3] = {3, 3, 3}, vlens[3] = {2, 0, 5};
  const int formats[3] = {STRATACACHE_FORMAT_RAW, STRATACACHE_FORMAT_RAW, STRATACACHE_FORMAT_JSON};
  CHECK_RC(stratacache_mset_packed(c, "p:ap:bp:c", klens, "AAtrue!", vlens, formats, 3, 60000, NULL), 0);
  CHECK_RC(stratacache_mset_packed(c, "p:a", NULL, "A", vlens, formats, 1, 60000, NULL), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_mset_packed(c, NULL, klens, "AA", vlens, formats, 1, 60000, NULL), STRATACACHE_EINVAL);
  const int bad_formats[1] = {9};
  CHECK_RC(stratacache_mset_packed(c, "p:z", klens, "AA", vlens, bad_formats, 1, 60000, NULL), STRATACACHE_EINVAL);
  const size_t glens[4] = {3, 3, 6, 3};
  void *packed = NULL;
  size_t packed_len = 0;
  CHECK_RC(stratacache_mget_packed(&packed, &packed_len, c, "p:ap:bp:nonep:c", glens, 4, NULL), 0);
  if (packed) {
    const unsigned char *p = packed, *data;
    int32_t st, f;
    uint64_t l;
    CHECK(((uintptr_t)packed & 7) == 0);
    p = packed_record(p, &st, &f, &l, &data);
    CHECK(st == 0 && f == STRATACACHE_FORMAT_RAW && l == 2 && memcmp(data, "AA", 2) == 0);
    CHECK(((uintptr_t)p & 7) == 0);
    p = packed_record(p, &st, &f, &l, &data);
    CHECK(st == 0 && l == 0);
    p = packed_record(p, &st, &f, &l, &data);
    CHECK(st == STRATACACHE_ENOTFOUND && f == -1 && l == 0);
    p = packed_record(p, &st, &f, &l, &data);
    CHECK(st == 0 && f == STRATACACHE_FORMAT_JSON && l == 5 && memcmp(data, "true!", 5) == 0);
    CHECK((size_t)(p - (const unsigned char *)packed) == packed_len);
    stratacache_free(packed);
  }
  int64_t deleted = -1;
  CHECK_RC(stratacache_delete_packed(&deleted, c, "p:ap:bp:nonep:cx:big", (const size_t[]){3, 3, 6, 3, 5}, 5, NULL),
           0);
  CHECK(deleted == 4);
}

/* ---- envelopes (0.2): every golden vector of tests/golden through the C ABI ---- */
static int find_source_file(char *out, size_t cap, const char *rel) {
  const char *roots[] = {getenv("STRATACACHE_SOURCE_DIR"), ".", "..", "../..", "../../.."};
  char here[512];
  snprintf(here, sizeof here, "%s", __FILE__);
  char *cut = strstr(here, "tests/c/capi_test.c");
  for (int i = -1; i < (int)(sizeof roots / sizeof roots[0]); i++) {
    const char *root = i < 0 ? (cut ? (*cut = '\0', here[0] ? here : ".") : NULL) : roots[i];
    if (!root) continue;
    snprintf(out, cap, "%s/%s", root, rel);
    if (access(out, R_OK) == 0) return 1;
  }
  return 0;
}

static size_t unhex(unsigned char *out, const char *hex) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v;
    if (sscanf(hex, "%2x", &v) != 1) break;
    out[n++] = (unsigned char)v;
  }
  return n;
}

/* The value of `"name": ...` on a manifest line (strings unquoted), or NULL. */
static const char *field(const char *line, const char *name, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", name);
  const char *p = strstr(line, pat);
  if (!p || p - line > 4) return NULL;
  p += strlen(pat);
  size_t n = strcspn(p, "\n");
  if (n && p[n - 1] == ',') n--;
  if (n >= 2 && p[0] == '"') p++, n -= 2;
  if (n >= cap) n = cap - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return out;
}

struct vec {
  char name[64], ns[64], key[64], serializer[16], expect[16], error[32], key_id[16], key_hex[80], negative[8];
  char *hex, *payload_hex;
};

static int format_of(const char *serializer) {
  return strcmp(serializer, "json") == 0 ? STRATACACHE_FORMAT_JSON
         : strcmp(serializer, "msgpack") == 0 ? STRATACACHE_FORMAT_MSGPACK : STRATACACHE_FORMAT_RAW;
}

static int code_of_error(const char *e) {
  return strcmp(e, "data_loss") == 0 ? STRATACACHE_ECORRUPT
         : strcmp(e, "unsupported") == 0 ? STRATACACHE_EUNSUPPORTED
         : strcmp(e, "too_large") == 0 ? STRATACACHE_ETOOBIG : 1;
}

static int check_vector(const struct vec *v) {
  int before = failures;
  stratacache_options *opts = NULL;
  CHECK_RC(stratacache_options_new(&opts), 0);
  if (strcmp(v->key_id, "null") != 0) {
    unsigned char k[32];
    CHECK(unhex(k, v->key_hex) == 32);
    CHECK_RC(stratacache_options_add_key(opts, (uint32_t)atoi(v->key_id), k, 32, 1), 0);
  }
  const char *hex = v->hex ? v->hex : "", *payload_hex = v->payload_hex ? v->payload_hex : "";
  unsigned char *env = malloc(strlen(hex) / 2 + 1), *want = malloc(strlen(payload_hex) / 2 + 1);
  size_t env_len = unhex(env, hex), want_len = unhex(want, payload_hex);
  void *out = NULL;
  size_t out_len = 0;
  int fmt = -1;
  int rc = stratacache_envelope_decode(&out, &out_len, &fmt, env, env_len, v->ns, strlen(v->ns), v->key,
                                       strlen(v->key), opts);
  if (strcmp(v->negative, "true") == 0) {
    /* A negative marker: the key is known not to exist, a miss without a message. */
    CHECK(rc == STRATACACHE_ENOTFOUND && out == NULL && strlen(stratacache_last_error()) == 0);
  } else if (strcmp(v->expect, "ok") == 0) {
    CHECK(rc == 0 && fmt == format_of(v->serializer) && out_len == want_len && memcmp(out, want, want_len) == 0);
    /* Re-encoded with the same options, it decodes to the same payload (bound to its key). */
    void *again = NULL, *back = NULL;
    size_t again_len = 0, back_len = 0;
    CHECK_RC(stratacache_envelope_encode(&again, &again_len, want, want_len, fmt, v->ns, strlen(v->ns), v->key,
                                         strlen(v->key), opts),
             0);
    CHECK_RC(stratacache_envelope_decode(&back, &back_len, NULL, again, again_len, v->ns, strlen(v->ns), v->key,
                                         strlen(v->key), opts),
             0);
    CHECK(back_len == want_len && memcmp(back, want, want_len) == 0);
    if (strcmp(v->key_id, "null") != 0) {
      stratacache_free(back);
      back = NULL;
      CHECK_RC(stratacache_envelope_decode(&back, &back_len, NULL, again, again_len, v->ns, strlen(v->ns), "other",
                                           5, opts),
               STRATACACHE_ECORRUPT);
    }
    stratacache_free(again);
    stratacache_free(back);
  } else {
    CHECK(rc == code_of_error(v->error) && out == NULL);
    CHECK(strlen(stratacache_last_error()) > 0);
  }
  stratacache_free(out);
  free(env);
  free(want);
  stratacache_options_free(opts);
  if (failures != before) fprintf(stderr, "   golden vector %s failed\n", v->name);
  return failures == before;
}

static void check_golden(void) {
  fprintf(stderr, "-- golden envelopes\n");
  char path[600];
  if (!find_source_file(path, sizeof path, "tests/golden/manifest.json")) {
    fprintf(stderr, "tests/golden/manifest.json not found (set STRATACACHE_SOURCE_DIR): FAIL\n");
    failures++;
    return;
  }
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  struct vec v;
  memset(&v, 0, sizeof v);
  int in_vectors = 0, checked = 0, passed = 0;
  char tmp[64];
  while (getline(&line, &cap, f) > 0) {
    if (strstr(line, "\"vectors\": [")) in_vectors = 1;
    if (!in_vectors) continue;
    const char *t = line + strspn(line, " ");
    if (t[0] == ']') break;
    if (t[0] == '{') {
      free(v.hex);
      free(v.payload_hex);
      memset(&v, 0, sizeof v);
      strcpy(v.key_id, "null");
      continue;
    }
    if (t[0] == '}') {
      checked++;
      passed += check_vector(&v);
      continue;
    }
    field(t, "name", v.name, sizeof v.name);
    field(t, "namespace", v.ns, sizeof v.ns);
    field(t, "key", v.key, sizeof v.key);
    field(t, "serializer", v.serializer, sizeof v.serializer);
    field(t, "expect", v.expect, sizeof v.expect);
    field(t, "error", v.error, sizeof v.error);
    field(t, "key_id", v.key_id, sizeof v.key_id);
    field(t, "key_hex", v.key_hex, sizeof v.key_hex);
    field(t, "negative", v.negative, sizeof v.negative);
    if (field(t, "hex", tmp, 2)) {
      v.hex = malloc(strlen(t));
      field(t, "hex", v.hex, strlen(t));
    }
    if (field(t, "payload_hex", tmp, 2)) {
      v.payload_hex = malloc(strlen(t));
      field(t, "payload_hex", v.payload_hex, strlen(t));
    }
  }
  free(v.hex);
  free(v.payload_hex);
  free(line);
  fclose(f);
  fprintf(stderr, "   %d of %d golden vectors pass\n", passed, checked);
  CHECK(checked >= 30 && passed == checked);
}

/* ---- counters (0.2): one table drives stat, stats_json and the README's list ---- */
static void print_counter_rows(void) {
  const char *name, *text;
  for (size_t i = 0; stratacache_stat_info(&name, &text, i) == STRATACACHE_OK; i++) printf("| `%s` | %s |\n", name, text);
}

static void check_counters(stratacache_cache *c) {
  fprintf(stderr, "-- counters\n");
  char *json = NULL;
  CHECK_RC(stratacache_stats_json(&json, NULL, c), 0);
  char path[600];
  char *readme = NULL;
  if (find_source_file(path, sizeof path, "README.md")) {
    FILE *f = fopen(path, "r");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    readme = calloc(1, (size_t)n + 1);
    CHECK(fread(readme, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
  }
  CHECK(readme != NULL);
  const char *name = NULL, *text = NULL;
  size_t count = 0;
  for (; stratacache_stat_info(&name, &text, count) == STRATACACHE_OK; count++) {
    uint64_t v = 0;
    CHECK_RC(stratacache_stat(&v, c, name), 0);
    /* stats_json holds the same counter ("l1.hits" as "hits" under "l1"). */
    const char *leaf = strchr(name, '.') ? strchr(name, '.') + 1 : name;
    char quoted[80];
    snprintf(quoted, sizeof quoted, "\"%s\":", leaf);
    CHECK(json && strstr(json, quoted) != NULL);
    char row[256];
    snprintf(row, sizeof row, "| `%s` | %s |\n", name, text);
    if (readme && !strstr(readme, row)) {
      fprintf(stderr, "README.md lacks the counter row: %s(regenerate with: stratacache_c_test --print-counters)\n", row);
      failures++;
    }
  }
  CHECK_RC(stratacache_stat_info(&name, &text, 50), 0);
  CHECK(strcmp(name, "write_behind.pending") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 57), 0);
  CHECK(strcmp(name, "tags.invalidations") == 0);
  CHECK(count == 71);
  /* Append only: the 0.2 counters keep their indices, the coherence ones follow, then
   * the read-through ones (0.3), then the promotion, write-behind, tag and lock ones (0.4),
   * then the L2 byte counts (0.5). */
  CHECK_RC(stratacache_stat_info(&name, &text, 64), 0);
  CHECK(strcmp(name, "l2.bytes_read") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 48), 0);
  CHECK(strcmp(name, "l1.promotions_deferred") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 40), 0);
  CHECK(strcmp(name, "read_through.loads") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 32), 0);
  CHECK(strcmp(name, "decode_errors") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 60), 0);
  CHECK(strcmp(name, "lock.acquired") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, 33), 0);
  CHECK(strcmp(name, "l1.invalidations") == 0);
  CHECK_RC(stratacache_stat_info(&name, &text, count), STRATACACHE_ENOTFOUND);
  CHECK(name == NULL);
  /* ... and no README row names a counter the table lacks. */
  size_t rows = 0;
  const char *table = readme ? strstr(readme, "| counter | meaning |") : NULL;
  const char *end = table ? strstr(table, "\n\n") : NULL;
  CHECK(table != NULL && end != NULL);
  for (const char *p = table; p && (p = strstr(p, "\n| `")) && p < end; p++) rows++;
  CHECK(rows == count);
  free(readme);
  stratacache_free(json);

  /* get_json decodes the value in hand: one read, one hit; undecodable bytes a counted miss. */
  const char *doc = "{\"a\":[1,2]}";
  CHECK_RC(stratacache_set_json(c, "cnt:doc", 7, doc, strlen(doc), 60000, NULL), 0);
  uint64_t hits0 = 0, hits1 = 0, bad0 = 0, bad1 = 0;
  CHECK_RC(stratacache_stat(&hits0, c, "l1.hits"), 0);
  char *out = NULL;
  CHECK_RC(stratacache_get_json(&out, NULL, c, "cnt:doc", 7, NULL), 0);
  CHECK(out && strcmp(out, doc) == 0);
  stratacache_free(out);
  CHECK_RC(stratacache_stat(&hits1, c, "l1.hits"), 0);
  CHECK(hits1 == hits0 + 1);
  CHECK_RC(stratacache_set(c, "cnt:bad", 7, "\xc1", 1, STRATACACHE_FORMAT_MSGPACK, 60000, NULL), 0);
  CHECK_RC(stratacache_stat(&bad0, c, "decode_errors"), 0);
  CHECK_RC(stratacache_get_json(&out, NULL, c, "cnt:bad", 7, NULL), STRATACACHE_ENOTFOUND);
  CHECK_RC(stratacache_stat(&bad1, c, "decode_errors"), 0);
  CHECK(bad1 == bad0 + 1);
}

/* ---- metrics (0.5): Prometheus text and JSON; the README and docs/metrics.md list every family ---- */
struct metric_family {
  char name[96], type[16], labels[96], help[256];
};

/* The families of a Prometheus text, in order, with the label names their samples use. */
static size_t parse_families(struct metric_family *out, size_t cap, const char *text) {
  size_t n = 0;
  for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (strncmp(line, "# HELP ", 7) == 0 && n < cap) {
      struct metric_family *f = &out[n++];
      memset(f, 0, sizeof *f);
      const char *sp = memchr(line + 7, ' ', len - 7);
      if (!sp) continue;
      snprintf(f->name, sizeof f->name, "%.*s", (int)(sp - line - 7), line + 7);
      snprintf(f->help, sizeof f->help, "%.*s", (int)(len - (size_t)(sp + 1 - line)), sp + 1);
    } else if (strncmp(line, "# TYPE ", 7) == 0 && n > 0) {
      const char *sp = memchr(line + 7, ' ', len - 7);
      if (sp) snprintf(out[n - 1].type, sizeof out[n - 1].type, "%.*s", (int)(len - (size_t)(sp + 1 - line)), sp + 1);
    } else if (line[0] != '#' && n > 0) {
      const char *brace = memchr(line, '{', len);
      for (const char *p = brace; p && p < line + len && *p != '}';) {
        const char *eq = memchr(p + 1, '=', (size_t)(line + len - p - 1));
        if (!eq) break;
        char label[32];
        snprintf(label, sizeof label, "%.*s", (int)(eq - p - 1), p + 1);
        struct metric_family *f = &out[n - 1];
        char listed[40], all[120];
        snprintf(listed, sizeof listed, ", %s, ", label);
        snprintf(all, sizeof all, ", %s, ", f->labels);
        if (!strstr(all, listed)) {
          size_t at = strlen(f->labels);
          snprintf(f->labels + at, sizeof f->labels - at, "%s%s", at ? ", " : "", label);
        }
        p = strchr(eq + 2, '"'); /* the closing quote of the value (values hold no quotes) */
        if (!p) break;
        p++;
      }
    }
  }
  return n;
}

/* One row of the metrics tables ("| `name` | type | labels | help |"). */
static void family_row(char *out, size_t cap, const struct metric_family *f) {
  snprintf(out, cap, "| `%s` | %s | %s | %s |\n", f->name, f->type, f->labels[0] ? f->labels : "-", f->help);
}

/* A cache with one L1 get timed at least once, whose exposition names every family. */
static char *sample_exposition(stratacache_cache **out_cache) {
  stratacache_cache *c = NULL;
  char *text = NULL;
  if (stratacache_open(&c, "mem://") != 0) return NULL;
  stratacache_set(c, "m:k", 3, "v", 1, STRATACACHE_FORMAT_RAW, 0, NULL);
  for (int i = 0; i < 256; i++) {
    void *v = NULL;
    if (stratacache_get(&v, NULL, NULL, c, "m:k", 3, NULL) == 0) stratacache_free(v);
  }
  for (int i = 0; i < 10; i++) {
    void *v = NULL;
    stratacache_get(&v, NULL, NULL, c, "m:absent", 8, NULL);
  }
  stratacache_metrics_prometheus(&text, NULL, c);
  if (out_cache) *out_cache = c;
  else stratacache_close(c);
  return text;
}

static void print_metric_rows(void) {
  char *text = sample_exposition(NULL);
  struct metric_family fams[128];
  size_t n = text ? parse_families(fams, 128, text) : 0;
  char row[600];
  for (size_t i = 0; i < n; i++) {
    family_row(row, sizeof row, &fams[i]);
    fputs(row, stdout);
  }
  stratacache_free(text);
}

static uint64_t sample_value(const char *text, const char *series) {
  char key[300];
  snprintf(key, sizeof key, "\n%s ", series);
  const char *p = strstr(text, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
}

static char *read_source_file(const char *rel) {
  char path[600];
  if (!find_source_file(path, sizeof path, rel)) return NULL;
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = calloc(1, (size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) buf[0] = '\0';
  fclose(f);
  return buf;
}

static void check_metrics(void) {
  fprintf(stderr, "-- metrics\n");
  stratacache_cache *c = NULL;
  char *text = sample_exposition(&c);
  CHECK(text != NULL && c != NULL);
  if (!text || !c) return;
  /* Counters come from the same cells as stratacache_stat. */
  CHECK(sample_value(text, "stratacache_requests_total{tier=\"l1\",op=\"get\",result=\"hit\"}") == 256);
  CHECK(sample_value(text, "stratacache_requests_total{tier=\"l1\",op=\"get\",result=\"miss\"}") == 10);
  CHECK(sample_value(text, "stratacache_entries{tier=\"l1\"}") == 1);
  /* L1 reads are sampled 1 in 64 per thread, each sample weighing 64. */
  uint64_t count = sample_value(text, "stratacache_operation_duration_seconds_count{tier=\"l1\",op=\"get\"}");
  CHECK(count != UINT64_MAX && count > 0 && count % 64 == 0 && count <= 266 + 64);
  CHECK(sample_value(text, "stratacache_operation_duration_seconds_bucket{tier=\"l1\",op=\"get\",le=\"+Inf\"}") == count);
  /* Cumulative buckets never decrease and end at the count. */
  uint64_t last = 0;
  int buckets = 0;
  for (const char *p = text; (p = strstr(p, "_bucket{tier=\"l1\",op=\"get\",le=\"")); p++) {
    uint64_t v = strtoull(strchr(strstr(p, "\"} ") + 1, ' ') + 1, NULL, 10);
    CHECK(v >= last);
    last = v;
    buckets++;
  }
  CHECK(buckets == 17 && last == count);
  CHECK(strstr(text, "le=\"6.4e-08\"") != NULL && strstr(text, "le=\"68.719476736\"") != NULL);
  CHECK(strstr(text, "# TYPE stratacache_operation_duration_seconds histogram\n") != NULL);
  CHECK(strstr(text, "cache=") == NULL); /* no instance label from the core */

  /* JSON: the counters of stratacache_stats_json, the histograms with percentiles. */
  char *json = NULL, *stats = NULL;
  size_t len = 0;
  CHECK_RC(stratacache_metrics_json(&json, &len, c), 0);
  CHECK_RC(stratacache_stats_json(&stats, NULL, c), 0);
  CHECK(json && len == strlen(json));
  char counters[8192];
  snprintf(counters, sizeof counters, "\"counters\":%s", stats ? stats : "?");
  CHECK(json && strstr(json, counters) != NULL);
  CHECK(json && strstr(json, "\"l1_sample_every\":64") != NULL);
  CHECK(json && strstr(json, "\"op\":\"get\"") && strstr(json, "\"tier\":\"l1\"") && strstr(json, "\"p99_seconds\":"));
  stratacache_free(json);
  stratacache_free(stats);

  /* Bad arguments and closed handles, as everywhere; out-parameters are cleared. */
  char *junk = (char *)0x1;
  size_t junk_len = 7;
  CHECK_RC(stratacache_metrics_prometheus(NULL, NULL, c), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_metrics_json(&junk, &junk_len, NULL), STRATACACHE_EINVAL);
  CHECK(junk == NULL && junk_len == 0);
  stratacache_close(c);
  junk = (char *)0x1;
  CHECK_RC(stratacache_metrics_prometheus(&junk, NULL, c), STRATACACHE_ECLOSED);
  CHECK(junk == NULL);

  /* The README and docs/metrics.md list exactly the families the exposition emits. */
  struct metric_family fams[128];
  size_t n = parse_families(fams, 128, text);
  CHECK(n > 40);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) CHECK(strcmp(fams[i].name, fams[j].name) != 0);
  }
  const char *files[] = {"README.md", "docs/metrics.md"};
  for (size_t k = 0; k < 2; k++) {
    char *doc = read_source_file(files[k]);
    CHECK(doc != NULL);
    if (!doc) continue;
    char row[600];
    for (size_t i = 0; i < n; i++) {
      family_row(row, sizeof row, &fams[i]);
      if (!strstr(doc, row)) {
        fprintf(stderr, "%s lacks the metric row: %s(regenerate with: stratacache_c_test --print-metrics)\n", files[k], row);
        failures++;
      }
    }
    size_t rows = 0;
    const char *table = strstr(doc, "| metric | type | labels | meaning |");
    const char *end = table ? strstr(table, "\n\n") : NULL;
    CHECK(table != NULL && end != NULL);
    for (const char *p = table; p && (p = strstr(p, "\n| `")) && p < end; p++) rows++;
    if (rows != n) fprintf(stderr, "%s lists %zu metric families; the exposition has %zu\n", files[k], rows, n);
    CHECK(rows == n);
    free(doc);
  }
  stratacache_free(text);
}

/* ---- write-behind (0.4): the writer on library workers, or drained on the host's queue ---- */
struct wb_store {
  pthread_mutex_t mu;
  char log[64][32]; /* "key=value" or "key=<del>" per writer call, in call order */
  int calls, fail_first, failures_reported, off_thread;
  const char *fail_key; /* only this key's calls fail (NULL: any key) */
  int ack_later;        /* answer first attempts with STRATACACHE_WB_PENDING and ack them from the test */
  stratacache_wb_op *held[16]; /* queue mode: ops the writer answers later */
  int nheld;
};

static void wb_record(struct wb_store *s, int kind, const void *key, size_t key_len, const void *value,
                      size_t value_len) {
  if (s->calls < 64) {
    snprintf(s->log[s->calls], sizeof s->log[0], "%.*s=%.*s", (int)key_len, (const char *)key,
             kind == STRATACACHE_WB_SET ? (int)value_len : 5,
             kind == STRATACACHE_WB_SET ? (const char *)value : "<del>");
  }
  s->calls++;
}

static int wb_writer(void *ctx, stratacache_wb_op *op, int kind, const void *key, size_t key_len, const void *value,
                     size_t value_len, int format, int attempt) {
  struct wb_store *s = ctx;
  (void)format;
  pthread_mutex_lock(&s->mu);
  if (!pthread_equal(pthread_self(), main_thread)) s->off_thread++;
  wb_record(s, kind, key, key_len, value, value_len);
  int fail = s->fail_first > 0 &&
             (!s->fail_key || (strlen(s->fail_key) == key_len && memcmp(s->fail_key, key, key_len) == 0));
  if (fail) s->fail_first--;
  int rc = fail ? STRATACACHE_EUNAVAILABLE : STRATACACHE_OK;
  if (s->ack_later && !fail && attempt == 1 && s->nheld < 16) { /* answer later, as an event loop would */
    s->held[s->nheld++] = op;
    rc = STRATACACHE_WB_PENDING;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void wb_failed(void *ctx, int kind, const void *key, size_t key_len, const void *value, size_t value_len,
                      int format, int status, const char *message) {
  struct wb_store *s = ctx;
  (void)kind, (void)key, (void)key_len, (void)value, (void)value_len, (void)format;
  pthread_mutex_lock(&s->mu);
  if (status == STRATACACHE_EUNAVAILABLE && message && strlen(message) > 0) s->failures_reported++;
  pthread_mutex_unlock(&s->mu);
}

static int wb_calls(struct wb_store *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->calls;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static uint64_t stat_of(stratacache_cache *c, const char *name);

static uint64_t wb_stat(stratacache_write_behind *wb, const char *name) {
  uint64_t v = 0;
  CHECK_RC(stratacache_write_behind_stat(&v, wb, name), 0);
  return v;
}

static void check_write_behind(stratacache_cache *c) {
  fprintf(stderr, "-- write-behind\n");
  main_thread = pthread_self();
  stratacache_wb_options *o = NULL;
  CHECK_RC(stratacache_wb_options_new(&o), 0);
  CHECK_RC(stratacache_wb_options_set(o, "no_such", "1"), STRATACACHE_EINVAL);
  CHECK(strstr(stratacache_last_error(), "no_such") != NULL);
  CHECK_RC(stratacache_wb_options_set(o, "max_pending", "zero"), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_wb_options_set(o, "backoff_initial_ms", "2"), 0);
  CHECK_RC(stratacache_wb_options_set(o, "backoff_max_ms", "10"), 0);
  CHECK_RC(stratacache_wb_options_set(o, "max_retries", "3"), 0);

  /* Workers mode: two failures, retried in order; the cache holds the value at once. */
  struct wb_store s = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_first = 2, .fail_key = "wb:a"};
  stratacache_write_behind *wb = NULL;
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, NULL, &s), STRATACACHE_EINVAL);
  CHECK(wb == NULL);
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &s), 0);
  uint64_t cache_written0 = stat_of(c, "write_behind.written");
  CHECK_RC(stratacache_write_behind_set(wb, "wb:a", 4, "1", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  for (double t = now_ms(); wb_calls(&s) == 0 && now_ms() - t < 5000;) usleep(1000); /* v1 is with the writer */
  CHECK_RC(stratacache_write_behind_set(wb, "wb:a", 4, "2", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_delete(wb, "wb:b", 4, NULL), 0);
  void *got = NULL;
  size_t got_len = 0;
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "wb:a", 4, NULL), 0);
  CHECK(got_len == 1 && memcmp(got, "2", 1) == 0);
  stratacache_free(got);
  CHECK_RC(stratacache_write_behind_flush(wb, 5000), 0);
  CHECK(s.calls == 5 && strcmp(s.log[0], "wb:a=1") == 0);
  int a1 = 0, a2_after = 1;
  for (int i = 0; i < s.calls && i < 64; i++) {
    if (strcmp(s.log[i], "wb:a=1") == 0) a1++;
    if (strcmp(s.log[i], "wb:a=2") == 0 && a1 < 3) a2_after = 0; /* v2 only after v1's 3 calls */
  }
  CHECK(a1 == 3 && a2_after);
  CHECK(s.off_thread == s.calls); /* workers: the library's threads, as asked */
  CHECK(wb_stat(wb, "retries") == 2);
  CHECK(wb_stat(wb, "pending") == 0);
  CHECK(stat_of(c, "write_behind.written") >= cache_written0 + 3);
  uint64_t v = 0;
  CHECK_RC(stratacache_write_behind_stat(&v, wb, "nope"), STRATACACHE_EINVAL);
  char *msg = NULL;
  CHECK_RC(stratacache_write_behind_last_error(&msg, NULL, wb), 0);
  CHECK(msg && strstr(msg, "wb:a") != NULL);
  stratacache_free(msg);
  CHECK_RC(stratacache_write_behind_close(wb, 5000), 0);
  stratacache_write_behind_free(wb);

  /* A write that keeps failing reaches the failure callback; nothing is silent. */
  struct wb_store f = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_first = 100};
  CHECK_RC(stratacache_wb_options_set_failure(o, wb_failed, &f), 0);
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &f), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:f", 4, "x", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_flush(wb, 5000), 0);
  CHECK(f.calls == 4 && f.failures_reported == 1);
  CHECK(wb_stat(wb, "failed") == 1);
  CHECK_RC(stratacache_write_behind_close(wb, 5000), 0);
  stratacache_write_behind_free(wb);

  /* Workers mode, answered later: the worker waits for the ack from another thread. */
  CHECK_RC(stratacache_wb_options_set_failure(o, NULL, NULL), 0);
  struct wb_store p = {.mu = PTHREAD_MUTEX_INITIALIZER, .ack_later = 1};
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &p), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:p", 4, "1", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  for (double t = now_ms(); wb_calls(&p) == 0 && now_ms() - t < 5000;) usleep(1000);
  CHECK_RC(stratacache_write_behind_flush(wb, 20), STRATACACHE_ETIMEDOUT); /* not acked yet */
  CHECK(wb_stat(wb, "pending") == 1 && p.nheld == 1 && p.off_thread == 1);
  stratacache_write_behind_ack(p.held[0], STRATACACHE_OK, NULL);
  CHECK_RC(stratacache_write_behind_flush(wb, 5000), 0);
  CHECK(wb_stat(wb, "written") == 1);
  CHECK_RC(stratacache_write_behind_close(wb, 5000), 0);
  stratacache_write_behind_free(wb);

  /* Queue mode: the writer runs only inside stratacache_queue_drain on this thread, and
   * answers some writes later with stratacache_write_behind_ack. */
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  CHECK_RC(stratacache_wb_options_set(o, "workers", "0"), 0);
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &s), STRATACACHE_EINVAL); /* no queue */
  CHECK_RC(stratacache_wb_options_set_queue(o, q), 0);
  CHECK_RC(stratacache_wb_options_set_failure(o, NULL, NULL), 0);
  struct wb_store h = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_first = 1, .ack_later = 1};
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &h), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:q", 4, "1", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:r", 4, "2", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_flush(wb, 50), STRATACACHE_ETIMEDOUT); /* nobody drained */
  CHECK(h.calls == 0);
  double t0 = now_ms();
  while (wb_stat(wb, "pending") > 0 && now_ms() - t0 < 5000) {
    fd_readable(stratacache_queue_fd(q), 10);
    size_t ran = 0;
    CHECK_RC(stratacache_queue_drain(&ran, q, 0), 0);
    pthread_mutex_lock(&h.mu);
    int n = h.nheld;
    stratacache_wb_op *held[16];
    memcpy(held, h.held, sizeof held);
    h.nheld = 0;
    pthread_mutex_unlock(&h.mu);
    for (int i = 0; i < n; i++) stratacache_write_behind_ack(held[i], STRATACACHE_OK, NULL);
  }
  CHECK(wb_stat(wb, "pending") == 0);
  CHECK(wb_stat(wb, "written") == 2);
  CHECK(wb_stat(wb, "retries") == 1);
  CHECK(h.off_thread == 0);
  CHECK_RC(stratacache_write_behind_flush(wb, 0), 0);
  /* Closed before anything drains: the queued write is abandoned and reported. */
  CHECK_RC(stratacache_write_behind_set(wb, "wb:lost", 7, "z", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_close(wb, 20), STRATACACHE_ETIMEDOUT);
  CHECK(strstr(stratacache_last_error(), "1 writes") != NULL);
  CHECK(stat_of(c, "write_behind.abandoned") >= 1);
  CHECK(wb_stat(wb, "abandoned") == 1 && wb_stat(wb, "pending") == 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:late", 7, "z", 1, STRATACACHE_FORMAT_RAW, NULL), STRATACACHE_EUNAVAILABLE);
  CHECK(strstr(stratacache_last_error(), "write-behind closed") != NULL);
  stratacache_write_behind_free(wb);
  stratacache_queue_free(q); /* drops the undelivered op: its ack after close only frees it */

  /* A queue-full write is refused and not cached. */
  CHECK_RC(stratacache_wb_options_set(o, "workers", "1"), 0);
  CHECK_RC(stratacache_wb_options_set(o, "max_pending", "1"), 0);
  struct wb_store g = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_first = 1000};
  CHECK_RC(stratacache_wb_options_set(o, "backoff_initial_ms", "1000"), 0);
  CHECK_RC(stratacache_write_behind_open(&wb, c, o, wb_writer, &g), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:g1", 5, "1", 1, STRATACACHE_FORMAT_RAW, NULL), 0);
  CHECK_RC(stratacache_write_behind_set(wb, "wb:g2", 5, "2", 1, STRATACACHE_FORMAT_RAW, NULL), STRATACACHE_EUNAVAILABLE);
  CHECK(strstr(stratacache_last_error(), "write-behind queue full") != NULL);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "wb:g2", 5, NULL), STRATACACHE_ENOTFOUND);
  CHECK(wb_stat(wb, "rejected") == 1);
  CHECK_RC(stratacache_write_behind_close(wb, 10), STRATACACHE_ETIMEDOUT);
  CHECK_RC(stratacache_write_behind_close(wb, 10), 0); /* a second close is a no-op */
  stratacache_write_behind_free(wb);
  stratacache_write_behind_free(NULL);
  stratacache_wb_options_free(o);
}

/* Threads calling while another thread closes: each call either runs or gets ECLOSED. */
struct racer {
  stratacache_cache *c;
  int last_rc, bad;
};

static void *race_calls(void *p) {
  struct racer *r = p;
  for (int i = 0; i < 1000000; i++) {
    void *v = NULL;
    size_t l = 0;
    int rc = stratacache_get(&v, &l, NULL, r->c, "k", 1, NULL);
    stratacache_free(v);
    if (rc != 0 && rc != STRATACACHE_ECLOSED) r->bad++;
    r->last_rc = rc;
    if (rc == STRATACACHE_ECLOSED) break;
  }
  return NULL;
}

static void check_close_race(void) {
  fprintf(stderr, "-- close while 8 threads call\n");
  stratacache_cache *c = NULL;
  CHECK_RC(stratacache_open(&c, "mem://"), 0);
  CHECK_RC(stratacache_set(c, "k", 1, "v", 1, STRATACACHE_FORMAT_RAW, 0, NULL), 0);
  struct racer r[8];
  pthread_t t[8];
  for (int i = 0; i < 8; i++) {
    r[i] = (struct racer){c, 0, 0};
    CHECK(pthread_create(&t[i], NULL, race_calls, &r[i]) == 0);
  }
  usleep(20000);
  stratacache_close(c);
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    CHECK(r[i].bad == 0 && r[i].last_rc == STRATACACHE_ECLOSED);
  }
}

static void check_basics(stratacache_cache *c, const char *label) {
  fprintf(stderr, "-- %s\n", label);
  /* A binary key with NUL, CR, LF and glob characters round-trips exactly. */
  static const char key[] = "user:\0\r\n*?[]{}:1";
  const size_t key_len = sizeof key - 1;
  static const char value[] = "v\0alue";
  CHECK_RC(stratacache_set(c, key, key_len, value, sizeof value - 1, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  void *got = NULL;
  size_t got_len = 0;
  int fmt = -1;
  CHECK_RC(stratacache_get(&got, &got_len, &fmt, c, key, key_len, NULL), 0);
  CHECK(got_len == sizeof value - 1 && got && memcmp(got, value, got_len) == 0);
  CHECK(fmt == STRATACACHE_FORMAT_RAW);
  stratacache_free(got);

  /* Miss: ENOTFOUND and no buffer. */
  got = (void *)1;
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "absent", 6, NULL), STRATACACHE_ENOTFOUND);
  CHECK(got == NULL);

  /* Empty value is a hit with a non-NULL buffer. */
  CHECK_RC(stratacache_set(c, "empty", 5, NULL, 0, STRATACACHE_FORMAT_RAW, 0, NULL), 0);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "empty", 5, NULL), 0);
  CHECK(got != NULL && got_len == 0);
  stratacache_free(got);

  /* exists / ttl: no TTL (-1) is different from missing (ENOTFOUND). */
  int ex = -1;
  CHECK_RC(stratacache_exists(&ex, c, key, key_len, NULL), 0);
  CHECK(ex == 1);
  CHECK_RC(stratacache_exists(&ex, c, "absent", 6, NULL), 0);
  CHECK(ex == 0);
  int64_t ttl = 0;
  CHECK_RC(stratacache_ttl(&ttl, c, key, key_len, NULL), 0);
  CHECK(ttl > 55000 && ttl <= 60000);
  CHECK_RC(stratacache_ttl(&ttl, c, "empty", 5, NULL), 0);
  CHECK(ttl == -1);
  CHECK_RC(stratacache_ttl(&ttl, c, "absent", 6, NULL), STRATACACHE_ENOTFOUND);

  /* increment creates at 0; a non-integer is EWRONGTYPE. */
  int64_t n = 0;
  CHECK_RC(stratacache_increment(&n, c, "post:1:views", 12, 1, STRATACACHE_TTL_DEFAULT, NULL), 0);
  CHECK(n == 1);
  CHECK_RC(stratacache_increment(&n, c, "post:1:views", 12, 5, STRATACACHE_TTL_DEFAULT, NULL), 0);
  CHECK(n == 6);
  CHECK_RC(stratacache_increment(&n, c, key, key_len, 1, STRATACACHE_TTL_DEFAULT, NULL), STRATACACHE_EWRONGTYPE);
  char *json = NULL;
  size_t json_len = 0;
  CHECK_RC(stratacache_get_json(&json, &json_len, c, "post:1:views", 12, NULL), 0);
  CHECK(json && strcmp(json, "6") == 0);
  stratacache_free(json);

  /* JSON in, JSON out, stored with the cache's serializer. */
  const char *doc = "{\"name\":\"Alice\",\"roles\":[\"admin\",\"dev\"],\"age\":42,\"ok\":true,\"x\":null}";
  CHECK_RC(stratacache_set_json(c, "user:123", 8, doc, strlen(doc), 600000, NULL), 0);
  CHECK_RC(stratacache_get_json(&json, &json_len, c, "user:123", 8, NULL), 0);
  CHECK(json && strcmp(json, doc) == 0);
  CHECK(json && json_len == strlen(doc));
  stratacache_free(json);
  CHECK_RC(stratacache_get(&got, &got_len, &fmt, c, "user:123", 8, NULL), 0);
  CHECK(fmt == STRATACACHE_FORMAT_MSGPACK);
  stratacache_free(got);
  CHECK_RC(stratacache_set_json(c, "bad", 3, "{nope", 5, 0, NULL), STRATACACHE_EINVAL);
  CHECK(strstr(stratacache_last_error(), "json") != NULL);

  /* mset / mget in one call, with a miss in the middle. */
  const void *keys[3] = {"m:a", "m:missing", "m:b"};
  size_t key_lens[3] = {3, 9, 3};
  const void *vals[2] = {"A", "BB"};
  size_t val_lens[2] = {1, 2};
  const void *mkeys[2] = {"m:a", "m:b"};
  size_t mkey_lens[2] = {3, 3};
  CHECK_RC(stratacache_mset(c, mkeys, mkey_lens, vals, val_lens, NULL, 2, 60000, NULL), 0);
  void *outs[3];
  size_t out_lens[3];
  int codes[3], fmts[3];
  CHECK_RC(stratacache_mget(outs, out_lens, fmts, codes, c, keys, key_lens, 3, NULL), 0);
  CHECK(codes[0] == 0 && out_lens[0] == 1 && memcmp(outs[0], "A", 1) == 0);
  CHECK(codes[1] == STRATACACHE_ENOTFOUND && outs[1] == NULL);
  CHECK(codes[2] == 0 && out_lens[2] == 2 && memcmp(outs[2], "BB", 2) == 0);
  for (int i = 0; i < 3; i++) stratacache_free(outs[i]);

  /* delete many: the count is how many existed. */
  int64_t deleted = -1;
  CHECK_RC(stratacache_delete(&deleted, c, keys, key_lens, 3, NULL), 0);
  CHECK(deleted == 2);

  /* clear_pattern removes matching keys only; glob characters in keys are literal data. */
  for (int i = 0; i < 50; i++) {
    char k[32];
    int len = snprintf(k, sizeof k, "server:%d", i);
    CHECK_RC(stratacache_set(c, k, (size_t)len, "x", 1, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  }
  CHECK_RC(stratacache_set(c, "servers", 7, "keep", 4, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  /* clear_pattern's dry run (0.5): counts the same keys, deletes nothing. */
  int64_t matching = -1;
  CHECK_RC(stratacache_count_pattern(&matching, c, "server:*", 8, NULL), 0);
  CHECK(matching == 50);
  CHECK_RC(stratacache_count_pattern(&matching, c, "nothing:*", 9, NULL), 0);
  CHECK(matching == 0);
  CHECK_RC(stratacache_count_pattern(NULL, c, "server:*", 8, NULL), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_exists(&ex, c, "server:7", 8, NULL), 0);
  CHECK(ex == 1);
  CHECK_RC(stratacache_clear_pattern(&deleted, c, "server:*", 8, NULL), 0);
  CHECK(deleted == 50);
  CHECK_RC(stratacache_exists(&ex, c, "servers", 7, NULL), 0);
  CHECK(ex == 1);
  CHECK_RC(stratacache_exists(&ex, c, "server:7", 8, NULL), 0);
  CHECK(ex == 0);

  /* inspect (0.5): what a key holds, without decoding it; a missing key is ENOTFOUND. */
  char *info = NULL;
  size_t info_len = 0;
  CHECK_RC(stratacache_set_json(c, "insp", 4, "{\"a\": [1, 2, 3]}", 16, 60000, NULL), 0);
  CHECK_RC(stratacache_inspect_json(&info, &info_len, c, "insp", 4, NULL), 0);
  CHECK(info && info_len == strlen(info));
  CHECK(info && strstr(info, "\"serializer\":\"msgpack\"") && strstr(info, "\"compression\":\"none\"") &&
        strstr(info, "\"encrypted\":false") && strstr(info, "\"negative\":false"));
  CHECK(info && strstr(info, "\"ttl_ms\":-1") == NULL); /* it has a TTL */
  /* the MessagePack payload is 7 bytes (81 a1 61 93 01 02 03) */
  CHECK(info && strstr(info, "\"payload_bytes\":7,"));
  if (strncmp(label, "mem://", 6) == 0)
    CHECK(info && strstr(info, "\"tier\":\"l1\"") && strstr(info, "\"kind\":\"payload\"") &&
          strstr(info, "\"stored_bytes\":7,"));
  else /* the envelope: 6 fixed header bytes + a 1-byte original length + the payload */
    CHECK(info && strstr(info, "\"tier\":\"l2\"") && strstr(info, "\"kind\":\"envelope\"") &&
          strstr(info, "\"stored_bytes\":14,"));
  stratacache_free(info);
  info = (char *)"untouched";
  CHECK_RC(stratacache_inspect_json(&info, NULL, c, "insp:missing", 12, NULL), STRATACACHE_ENOTFOUND);
  CHECK(info == NULL);
  CHECK_RC(stratacache_inspect_json(NULL, NULL, c, "insp", 4, NULL), STRATACACHE_EINVAL);

  /* Stats and health are JSON. */
  char *stats = NULL;
  CHECK_RC(stratacache_stats_json(&stats, NULL, c), 0);
  CHECK(stats && strstr(stats, "\"l1\"") && strstr(stats, "\"decode_errors\""));
  stratacache_free(stats);
  uint64_t hits = 0;
  CHECK_RC(stratacache_stat(&hits, c, "l1.hits"), 0);
  CHECK(hits > 0);
  CHECK_RC(stratacache_stat(&hits, c, "l1.nope"), STRATACACHE_EINVAL);
  char *health = NULL;
  CHECK_RC(stratacache_health_json(&health, NULL, c, NULL), 0);
  CHECK(health && strstr(health, "\"healthy\":true"));
  CHECK(health && strstr(health, "\"coherence\":\"") && strstr(health, "\"coherence_up\":") &&
        strstr(health, "\"coherence_channels\":") && strstr(health, "\"coherence_error\":\""));
  if (strncmp(label, "mem://", 6) == 0) /* no Redis: nothing to track, always "up" */
    CHECK(health && strstr(health, "\"coherence\":\"off\"") && strstr(health, "\"coherence_up\":true") &&
          strstr(health, "\"coherence_channels\":0"));
  stratacache_free(health);
}

/* Whether the cache's health JSON contains `needle`. */
static int health_has(stratacache_cache *c, const char *needle) {
  char *health = NULL;
  if (stratacache_health_json(&health, NULL, c, NULL) != 0) return 0;
  int found = strstr(health, needle) != NULL;
  stratacache_free(health);
  return found;
}

static uint64_t stat_of(stratacache_cache *c, const char *name) {
  uint64_t v = 0;
  CHECK_RC(stratacache_stat(&v, c, name), 0);
  return v;
}


/* ---- read-through (0.3): get_or_load with a C loader, and the lease form ---- */
struct loader_ctx {
  atomic_int calls;
  int rc;            /* what the loader returns */
  const char *value; /* put when rc is OK (NULL: return OK without a put) */
  const char *message;
  int second_put_rc; /* what a second stratacache_sink_put answered */
};

static int c_loader(void *ctx, const void *key, size_t key_len, stratacache_sink *sink) {
  struct loader_ctx *l = ctx;
  (void)key;
  (void)key_len;
  atomic_fetch_add(&l->calls, 1);
  if (l->rc == STRATACACHE_OK && l->value) {
    CHECK_RC(stratacache_sink_put(sink, l->value, strlen(l->value), STRATACACHE_FORMAT_RAW, -1), 0);
    l->second_put_rc = stratacache_sink_put(sink, "x", 1, STRATACACHE_FORMAT_RAW, -1);
  }
  if (l->message) CHECK_RC(stratacache_sink_fail(sink, l->message), 0);
  return l->rc;
}

/* get_or_load; returns the code, *info the STRATACACHE_INFO_* bits; the value must equal `want`
 * when given. */
static int load(stratacache_cache *c, const char *key, struct loader_ctx *l, const stratacache_callopts *co,
                unsigned *info, const char *want) {
  void *v = (void *)0x1;
  size_t len = 0;
  int fmt = 9;
  int rc = stratacache_get_or_load(&v, &len, &fmt, info, c, key, strlen(key), c_loader, l, co);
  if (rc == STRATACACHE_OK) {
    CHECK(v != NULL && fmt == STRATACACHE_FORMAT_RAW);
    if (want) CHECK(len == strlen(want) && memcmp(v, want, len) == 0);
  } else {
    CHECK(v == NULL && len == 0 && fmt == -1);
  }
  stratacache_free(v);
  return rc;
}

struct acquire_box {
  struct qbox q; /* what every completion gets */
  unsigned info;
  stratacache_lease *lease;
};

static void on_acquire(void *payload, int status, const char *message, void *value, size_t len, int format,
                       unsigned info, stratacache_lease *lease) {
  struct acquire_box *b = payload;
  b->info = info;
  b->lease = lease;
  on_queue(&b->q, status, message, value, len, format, 0);
}

/* A blocking acquire on another thread (another caller waiting for a lease). */
struct waiter {
  stratacache_cache *c;
  const char *key;
  const stratacache_callopts *co;
  int rc;
  char message[256];
  void *value;
  size_t len;
  stratacache_lease *lease;
  atomic_int done;
};

static void *acquire_elsewhere(void *p) {
  struct waiter *w = p;
  w->rc = stratacache_acquire(&w->value, &w->len, NULL, NULL, &w->lease, w->c, w->key, strlen(w->key), w->co);
  snprintf(w->message, sizeof w->message, "%s", stratacache_last_error());
  atomic_store(&w->done, 1);
  return NULL;
}

/* Warming (0.4): `reader` fills its L1 with what `writer` wrote, then loads the rest. */
static void check_warm(stratacache_cache *reader, stratacache_cache *writer) {
  fprintf(stderr, "-- warming\n");
  CHECK_RC(stratacache_set(writer, "w1", 2, "one", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  CHECK_RC(stratacache_set(writer, "w2", 2, "two", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  const void *keys[] = {"w1", "w2", "w3"};
  size_t lens[] = {2, 2, 2};
  size_t found = 9, loaded = 9, missing = 9;
  int codes[3] = {9, 9, 9};
  CHECK_RC(stratacache_warm(&found, &loaded, &missing, codes, reader, keys, lens, 3, NULL, NULL, NULL), 0);
  CHECK(found == 2 && loaded == 0 && missing == 1);
  CHECK(codes[0] == 0 && codes[1] == 0 && codes[2] == STRATACACHE_ENOTFOUND);
  uint64_t before = 0, after = 0;
  CHECK_RC(stratacache_stat(&before, reader, "l2.hits"), 0);
  void *v = NULL;
  size_t len = 0;
  CHECK_RC(stratacache_get(&v, &len, NULL, reader, "w2", 2, NULL), 0); /* an L1 hit now */
  CHECK(len == 3 && memcmp(v, "two", 3) == 0);
  stratacache_free(v);
  CHECK_RC(stratacache_stat(&after, reader, "l2.hits"), 0);
  CHECK(after == before);
  struct loader_ctx l = {.rc = STRATACACHE_OK, .value = "loaded"};
  CHECK_RC(stratacache_warm(&found, &loaded, &missing, NULL, reader, keys, lens, 3, c_loader, &l, NULL), 0);
  CHECK(found == 2 && loaded == 1 && missing == 0 && atomic_load(&l.calls) == 1);
  CHECK_RC(stratacache_get(&v, &len, NULL, writer, "w3", 2, NULL), 0); /* the load reached Redis */
  CHECK(len == 6 && memcmp(v, "loaded", 6) == 0);
  stratacache_free(v);
  CHECK_RC(stratacache_warm(&found, NULL, NULL, NULL, reader, NULL, NULL, 0, NULL, NULL, NULL), 0);
  CHECK(found == 0);
  CHECK_RC(stratacache_warm(NULL, NULL, NULL, NULL, NULL, keys, lens, 3, NULL, NULL, NULL), STRATACACHE_EINVAL);
}

static void check_get_or_load(stratacache_cache *c) {
  fprintf(stderr, "-- read-through: get_or_load\n");
  stratacache_callopts *co = NULL;
  CHECK_RC(stratacache_callopts_new(&co), 0);
  CHECK_RC(stratacache_callopts_set_ttl_ms(co, 60000), 0);
  CHECK_RC(stratacache_callopts_set_negative_ttl_ms(co, 60000), 0);
  CHECK_RC(stratacache_callopts_set_timeout_ms(co, 3000), 0);
  CHECK_RC(stratacache_callopts_set_early_refresh(co, -1.0), STRATACACHE_EINVAL);
  CHECK(strstr(stratacache_last_error(), "beta") != NULL);
  CHECK_RC(stratacache_callopts_set_early_refresh(co, NAN), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_callopts_set_early_refresh(NULL, 1.0), STRATACACHE_EINVAL);

  /* Loaded once; the second call is a hit that does not run the loader. */
  struct loader_ctx ok = {.rc = STRATACACHE_OK, .value = "loaded-1"};
  unsigned info = 99;
  CHECK_RC(load(c, "rt:once", &ok, co, &info, "loaded-1"), 0);
  CHECK(info == STRATACACHE_INFO_LOADED && atomic_load(&ok.calls) == 1);
  CHECK(ok.second_put_rc == STRATACACHE_EINVAL);
  CHECK_RC(load(c, "rt:once", &ok, co, &info, "loaded-1"), 0);
  CHECK(info == 0 && atomic_load(&ok.calls) == 1);
  void *v = NULL;
  size_t len = 0;
  CHECK_RC(stratacache_get(&v, &len, NULL, c, "rt:once", 7, NULL), 0); /* a plain get sees it too */
  CHECK(len == 8 && memcmp(v, "loaded-1", 8) == 0);
  stratacache_free(v);

  /* "Does not exist" is remembered for negative_ttl: the loader is not asked again. */
  struct loader_ctx none = {.rc = STRATACACHE_ENOTFOUND};
  CHECK_RC(load(c, "rt:none", &none, co, &info, NULL), STRATACACHE_ENOTFOUND);
  CHECK_RC(load(c, "rt:none", &none, co, &info, NULL), STRATACACHE_ENOTFOUND);
  CHECK(atomic_load(&none.calls) == 1 && info == 0);

  /* A failure without a stale value: the loader's code and message, nothing cached. */
  struct loader_ctx down = {.rc = STRATACACHE_ELOADFAILED, .message = "backend down"};
  CHECK_RC(load(c, "rt:fail", &down, co, &info, NULL), STRATACACHE_ELOADFAILED);
  CHECK(strcmp(stratacache_last_error(), "backend down") == 0);
  struct loader_ctx denied = {.rc = STRATACACHE_EAUTH};
  CHECK_RC(load(c, "rt:fail", &denied, co, &info, NULL), STRATACACHE_EAUTH);
  CHECK(strstr(stratacache_last_error(), "loader") != NULL);
  struct loader_ctx odd = {.rc = 42};
  CHECK_RC(load(c, "rt:fail", &odd, co, &info, NULL), STRATACACHE_ELOADFAILED);
  struct loader_ctx no_put = {.rc = STRATACACHE_OK};
  CHECK_RC(load(c, "rt:fail", &no_put, co, &info, NULL), STRATACACHE_EINTERNAL);
  CHECK(strstr(stratacache_last_error(), "stratacache_sink_put") != NULL);
  CHECK(atomic_load(&down.calls) == 1 && atomic_load(&denied.calls) == 1 && atomic_load(&no_put.calls) == 1);

  /* A failure with a stale value: the stale value, marked STALE. */
  stratacache_callopts *brief = NULL;
  CHECK_RC(stratacache_callopts_new(&brief), 0);
  CHECK_RC(stratacache_callopts_set_ttl_ms(brief, 100), 0);
  CHECK_RC(stratacache_callopts_set_stale_ttl_ms(brief, 60000), 0);
  struct loader_ctx first = {.rc = STRATACACHE_OK, .value = "old"};
  CHECK_RC(load(c, "rt:stale", &first, brief, &info, "old"), 0);
  usleep(250000);
  CHECK_RC(stratacache_get(&v, &len, NULL, c, "rt:stale", 8, NULL), STRATACACHE_ENOTFOUND); /* past its fresh period */
  CHECK_RC(load(c, "rt:stale", &down, brief, &info, "old"), 0);
  CHECK(info == STRATACACHE_INFO_STALE && atomic_load(&down.calls) == 2);
  /* The lease form hands out the same stale value with the duty to reload. */
  stratacache_lease *lease = NULL;
  unsigned ainfo = 0;
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &ainfo, &lease, c, "rt:stale", 8, brief), 0);
  CHECK(lease != NULL && ainfo == STRATACACHE_INFO_STALE && len == 3 && memcmp(v, "old", 3) == 0);
  stratacache_free(v);
  stratacache_lease_abandon(lease, STRATACACHE_ELOADFAILED, NULL);

  /* SKIP_L2 is refused (the lease lives in Redis); a NULL loader is a bad argument. */
  stratacache_callopts *l1only = NULL;
  CHECK_RC(stratacache_callopts_new(&l1only), 0);
  CHECK_RC(stratacache_callopts_set_flags(l1only, STRATACACHE_SKIP_L2), 0);
  CHECK_RC(load(c, "rt:once", &ok, l1only, &info, NULL), STRATACACHE_EUNSUPPORTED);
  CHECK_RC(stratacache_get_or_load(&v, &len, NULL, NULL, c, "k", 1, NULL, NULL, NULL), STRATACACHE_EINVAL);
  stratacache_callopts_free(l1only);
  stratacache_callopts_free(brief);
  stratacache_callopts_free(co);
}

static void check_leases(stratacache_cache *a, const char *url) {
  fprintf(stderr, "-- read-through: leases\n");
  main_thread = pthread_self();
  stratacache_cache *b = NULL; /* another "process": shares only Redis with a */
  CHECK_RC(stratacache_open(&b, url), 0);
  if (!b) return;
  stratacache_callopts *co = NULL;
  CHECK_RC(stratacache_callopts_new(&co), 0);
  CHECK_RC(stratacache_callopts_set_timeout_ms(co, 5000), 0);
  CHECK_RC(stratacache_callopts_set_ttl_ms(co, 60000), 0);
  void *v = (void *)0x1;
  size_t len = 7;
  unsigned info = 7;
  stratacache_lease *lease = NULL;

  /* acquire -> the lease -> fill; the next acquire is a hit without a lease. */
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, a, "rt:l1", 5, co), STRATACACHE_ENOTFOUND);
  CHECK(v == NULL && len == 0 && info == 0 && lease != NULL);
  CHECK_RC(stratacache_lease_fill(lease, "L1", 2, STRATACACHE_FORMAT_RAW, -1), 0);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, a, "rt:l1", 5, co), 0);
  CHECK(lease == NULL && info == 0 && len == 2 && memcmp(v, "L1", 2) == 0);
  stratacache_free(v);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, b, "rt:l1", 5, co), 0); /* from Redis */
  CHECK(lease == NULL && len == 2 && memcmp(v, "L1", 2) == 0);
  stratacache_free(v);

  /* b holds the lease: a (another process) waits for it and gets the value b fills. */
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, b, "rt:l2", 5, co), STRATACACHE_ENOTFOUND);
  CHECK(lease != NULL);
  struct waiter w = {.c = a, .key = "rt:l2", .co = co};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, acquire_elsewhere, &w) == 0);
  usleep(300000);
  CHECK(atomic_load(&w.done) == 0); /* still waiting for b */
  double t0 = now_ms();
  CHECK_RC(stratacache_lease_fill(lease, "L2", 2, STRATACACHE_FORMAT_RAW, -1), 0);
  pthread_join(t, NULL);
  CHECK(now_ms() - t0 < 2000);
  CHECK(w.rc == STRATACACHE_OK && w.lease == NULL && w.len == 2 && w.value && memcmp(w.value, "L2", 2) == 0);
  stratacache_free(w.value);

  /* Abandoned with ELOADFAILED: a caller waiting in this process gets the code and the
   * message (through a queue: submit_acquire waits without a thread). */
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, a, "rt:l3", 5, co), STRATACACHE_ENOTFOUND);
  CHECK(lease != NULL);
  struct acquire_box waiting = {0};
  CHECK_RC(stratacache_submit_acquire(a, "rt:l3", 5, co, q, on_acquire, &waiting), 0);
  usleep(100000);
  size_t ran = 9;
  CHECK_RC(stratacache_queue_drain(&ran, q, 0), 0);
  CHECK(ran == 0 && waiting.q.calls == 0); /* it waits for the lease */
  stratacache_lease_abandon(lease, STRATACACHE_ELOADFAILED, "origin said no");
  CHECK(pump(q, 1) == 1);
  CHECK(waiting.q.calls == 1 && waiting.q.status == STRATACACHE_ELOADFAILED && waiting.lease == NULL);
  CHECK(strcmp(waiting.q.message, "origin said no") == 0 && waiting.q.value == NULL);

  /* submit_acquire + submit_lease_fill through the queue, drained on this thread. */
  struct acquire_box first = {0}, again = {0};
  struct qbox filled = {0};
  CHECK_RC(stratacache_submit_acquire(a, "rt:q", 4, co, q, on_acquire, &first), 0);
  CHECK(first.q.calls == 0); /* never inside the submitting call */
  CHECK(pump(q, 1) == 1);
  CHECK(first.q.calls == 1 && first.q.status == STRATACACHE_ENOTFOUND && first.lease != NULL && first.q.value == NULL);
  CHECK_RC(stratacache_submit_lease_fill(first.lease, "Q", 1, STRATACACHE_FORMAT_JSON, -1, q, on_queue, &filled), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(filled.calls == 1 && filled.status == STRATACACHE_OK && filled.value == NULL && filled.count == 0);
  CHECK_RC(stratacache_submit_acquire(a, "rt:q", 4, co, q, on_acquire, &again), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(again.q.calls == 1 && again.q.status == STRATACACHE_OK && again.lease == NULL && again.q.len == 1);
  CHECK(again.q.format == STRATACACHE_FORMAT_JSON && again.q.value && memcmp(again.q.value, "Q", 1) == 0);
  stratacache_free(again.q.value);

  /* submit_lease_fill_not_found: a negative entry without blocking. */
  stratacache_callopts *negative = NULL;
  CHECK_RC(stratacache_callopts_new(&negative), 0);
  CHECK_RC(stratacache_callopts_set_negative_ttl_ms(negative, 5000), 0);
  struct acquire_box absent = {0}, absent_again = {0};
  struct qbox settled = {0};
  CHECK_RC(stratacache_submit_acquire(a, "rt:nf", 5, negative, q, on_acquire, &absent), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(absent.q.status == STRATACACHE_ENOTFOUND && absent.lease != NULL);
  CHECK_RC(stratacache_submit_lease_fill_not_found(absent.lease, q, on_queue, &settled), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(settled.calls == 1 && settled.status == STRATACACHE_OK);
  CHECK_RC(stratacache_submit_acquire(a, "rt:nf", 5, negative, q, on_acquire, &absent_again), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(absent_again.q.status == STRATACACHE_ENOTFOUND && absent_again.lease == NULL); /* remembered */
  stratacache_callopts_free(negative);

  /* A lease that ran out is taken over; its late fill is refused (EABORTED). */
  stratacache_callopts *short_lease = NULL;
  CHECK_RC(stratacache_callopts_new(&short_lease), 0);
  CHECK_RC(stratacache_callopts_set_lease_ttl_ms(short_lease, 200), 0);
  CHECK_RC(stratacache_callopts_set_ttl_ms(short_lease, 60000), 0);
  stratacache_lease *slow = NULL;
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &slow, b, "rt:late", 7, short_lease), STRATACACHE_ENOTFOUND);
  CHECK(slow != NULL);
  usleep(400000);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, a, "rt:late", 7, co), STRATACACHE_ENOTFOUND);
  CHECK(lease != NULL);
  CHECK_RC(stratacache_lease_fill(slow, "stale-load", 10, STRATACACHE_FORMAT_RAW, -1), STRATACACHE_EABORTED);
  CHECK_RC(stratacache_lease_fill(lease, "new-load", 8, STRATACACHE_FORMAT_RAW, -1), 0);
  CHECK_RC(stratacache_get(&v, &len, NULL, b, "rt:late", 7, NULL), 0);
  CHECK(len == 8 && memcmp(v, "new-load", 8) == 0);
  stratacache_free(v);
  stratacache_callopts_free(short_lease);

  /* Leases after close: freed with ECLOSED. A lease pins the closed handle's cache, so
   * while one is left the abandon of another releases its Redis lease: b loads long
   * before lease_ttl (10 s). The last one lets the cache go. */
  stratacache_cache *doomed = NULL;
  CHECK_RC(stratacache_open(&doomed, url), 0);
  stratacache_lease *orphan = NULL, *orphan2 = NULL, *orphan3 = NULL;
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &orphan, doomed, "rt:c1", 5, co), STRATACACHE_ENOTFOUND);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &orphan2, doomed, "rt:c2", 5, co), STRATACACHE_ENOTFOUND);
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &orphan3, doomed, "rt:c3", 5, co), STRATACACHE_ENOTFOUND);
  CHECK(orphan && orphan2 && orphan3);
  stratacache_close(doomed);
  CHECK_RC(stratacache_lease_fill(orphan, "x", 1, STRATACACHE_FORMAT_RAW, -1), STRATACACHE_ECLOSED);
  t0 = now_ms();
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, b, "rt:c1", 5, co), STRATACACHE_ENOTFOUND);
  CHECK(lease != NULL && now_ms() - t0 < 3000);
  stratacache_lease_abandon(lease, STRATACACHE_EABORTED, NULL);
  struct qbox never = {0};
  CHECK_RC(stratacache_submit_lease_fill(orphan2, "x", 1, STRATACACHE_FORMAT_RAW, -1, q, on_queue, &never),
           STRATACACHE_ECLOSED);
  stratacache_lease_abandon(orphan3, STRATACACHE_ELOADFAILED, NULL); /* the last one: the cache goes now */
  CHECK_RC(stratacache_acquire(&v, &len, NULL, &info, &lease, doomed, "rt:c1", 5, co), STRATACACHE_ECLOSED);
  CHECK(lease == NULL);
  usleep(50000);
  CHECK_RC(stratacache_queue_drain(&ran, q, 0), 0);
  CHECK(never.calls == 0);
  CHECK_RC(stratacache_lease_fill(NULL, "x", 1, 0, -1), STRATACACHE_EINVAL);
  stratacache_lease_abandon(NULL, 0, NULL);

  CHECK(atomic_load(&off_thread_callbacks) == 0); /* queued completions ran on this thread only */
  stratacache_queue_free(q);
  stratacache_callopts_free(co);
  stratacache_close(b);
}

/* Coherent L1 across two handles (they share nothing in-process): once the reader's
 * invalidation channel is up, its L1 copy is served, and a write through the writer
 * reaches it as an invalidation within 5 s. */
static void check_coherence(unsigned short port) {
  fprintf(stderr, "-- coherence\n");
  char url[160];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?prefix=ctest:&l1_coherence=tracking", port);
  stratacache_cache *writer = NULL, *reader = NULL;
  CHECK_RC(stratacache_open(&writer, url), 0);
  CHECK_RC(stratacache_open(&reader, url), 0);
  if (!writer || !reader) return;
  double deadline = now_ms() + 5000;
  while (!health_has(reader, "\"coherence_up\":true") && now_ms() < deadline) usleep(10000);
  CHECK(health_has(reader, "\"coherence\":\"tracking\"") && health_has(reader, "\"coherence_up\":true") &&
        health_has(reader, "\"coherence_channels\":1"));
  CHECK_RC(stratacache_set(writer, "coh", 3, "one", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  void *got = NULL;
  size_t got_len = 0;
  CHECK_RC(stratacache_get(&got, &got_len, NULL, reader, "coh", 3, NULL), 0); /* from Redis, into L1 */
  stratacache_free(got);
  uint64_t hits = stat_of(reader, "l1.hits"), invalidations = stat_of(reader, "l1.invalidations");
  CHECK_RC(stratacache_get(&got, &got_len, NULL, reader, "coh", 3, NULL), 0);
  CHECK(got_len == 3 && memcmp(got, "one", 3) == 0);
  stratacache_free(got);
  CHECK(stat_of(reader, "l1.hits") == hits + 1);
  CHECK_RC(stratacache_set(writer, "coh", 3, "two", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  int fresh = 0;
  for (deadline = now_ms() + 5000; !fresh && now_ms() < deadline; usleep(10000)) {
    got = NULL;
    if (stratacache_get(&got, &got_len, NULL, reader, "coh", 3, NULL) == 0)
      fresh = got_len == 3 && memcmp(got, "two", 3) == 0;
    stratacache_free(got);
  }
  CHECK(fresh);
  CHECK(stat_of(reader, "l1.invalidations") > invalidations);
  stratacache_close(reader);
  stratacache_close(writer);
}

static unsigned short free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t start_redis(unsigned short port) {
  const char *bin = getenv("REDIS_SERVER_BIN");
  if (!bin) bin = "redis-server";
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%u", port);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execlp(bin, bin, "--port", port_s, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (ok) return pid;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return -1;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  return -1;
}

/* ---- Tags and dependencies (0.4; docs/tags.md) ---- */
static void on_tags_done(void *payload, int status, const char *message, void *value, size_t len, int format,
                         int64_t count) {
  (void)message, (void)value, (void)len, (void)format;
  struct qbox *b = payload;
  b->calls++;
  b->status = status;
  b->count = count;
}

static void check_tags(stratacache_cache *c) {
  stratacache_callopts *co = NULL;
  CHECK_RC(stratacache_callopts_new(&co), 0);
  const void *tags[] = {"team:7", "all"};
  size_t tag_lens[] = {6, 3};
  CHECK_RC(stratacache_callopts_set_tags(co, tags, tag_lens, 2), 0);
  CHECK_RC(stratacache_set(c, "tg:a", 4, "1", 1, STRATACACHE_FORMAT_RAW, 60000, co), 0);
  CHECK_RC(stratacache_set(c, "tg:b", 4, "2", 1, STRATACACHE_FORMAT_RAW, 60000, co), 0);
  CHECK_RC(stratacache_set(c, "tg:plain", 8, "3", 1, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  /* tg:child depends on tg:plain: overwriting tg:plain removes it. */
  stratacache_callopts *dep = NULL;
  CHECK_RC(stratacache_callopts_new(&dep), 0);
  const void *parents[] = {"tg:plain"};
  size_t parent_lens[] = {8};
  CHECK_RC(stratacache_callopts_set_depends_on(dep, parents, parent_lens, 1), 0);
  CHECK_RC(stratacache_set(c, "tg:child", 8, "4", 1, STRATACACHE_FORMAT_RAW, 60000, dep), 0);
  CHECK_RC(stratacache_set(c, "tg:plain", 8, "5", 1, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  int exists = -1;
  CHECK_RC(stratacache_exists(&exists, c, "tg:child", 8, NULL), 0);
  CHECK(exists == 0);

  int64_t removed = -1;
  const void *one[] = {"team:7"};
  size_t one_len[] = {6};
  CHECK_RC(stratacache_invalidate_tags(&removed, c, one, one_len, 1, NULL), 0);
  CHECK(removed == 2);
  void *got = NULL;
  size_t got_len = 0;
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "tg:a", 4, NULL), STRATACACHE_ENOTFOUND);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "tg:plain", 8, NULL), 0);
  stratacache_free(got);
  uint64_t n = 0;
  CHECK_RC(stratacache_stat(&n, c, "tags.invalidations"), 0);
  CHECK(n >= 1);
  CHECK_RC(stratacache_stat(&n, c, "tags.dependents_invalidated"), 0);
  CHECK(n >= 1);

  /* The submit form on a completion queue. */
  CHECK_RC(stratacache_set(c, "tg:a", 4, "1", 1, STRATACACHE_FORMAT_RAW, 60000, co), 0);
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  struct qbox box = {0};
  const void *all[] = {"all"};
  size_t all_len[] = {3};
  CHECK_RC(stratacache_submit_invalidate_tags(c, all, all_len, 1, NULL, q, on_tags_done, &box), 0);
  CHECK(pump(q, 1) == 1);
  CHECK(box.status == STRATACACHE_OK && box.count == 1);
  stratacache_queue_free(q);

  /* Bad input: a NULL tag with a length, an empty tag. */
  const void *bad[] = {NULL};
  size_t bad_len[] = {3};
  CHECK_RC(stratacache_callopts_set_tags(co, bad, bad_len, 1), STRATACACHE_EINVAL);
  const void *empty[] = {""};
  size_t empty_len[] = {0};
  CHECK_RC(stratacache_invalidate_tags(NULL, c, empty, empty_len, 1, NULL), STRATACACHE_EINVAL);
  stratacache_callopts_free(dep);
  stratacache_callopts_free(co);
}

/* ---- distributed locks (0.4) ---- */
struct lock_outcome {
  int ran, status;
  stratacache_lock *lock;
  uint64_t fence;
};

static void on_lock(void *payload, int status, const char *message, stratacache_lock *lock, uint64_t fence) {
  (void)message;
  struct lock_outcome *o = payload;
  o->ran++;
  o->status = status;
  o->lock = lock;
  o->fence = fence;
}

static void on_lock_done(void *payload, int status, const char *message, void *value, size_t len, int format,
                         int64_t count) {
  (void)message, (void)len, (void)format, (void)count;
  stratacache_free(value);
  struct lock_outcome *o = payload;
  o->ran++;
  o->status = status;
}

/* Drains `q` until *ran is set or ms pass (the queue's fd says when to look). */
static void drain_until(stratacache_queue *q, const int *ran, int ms) {
  double until = now_ms() + ms;
  while (!*ran && now_ms() < until) {
    struct pollfd p = {stratacache_queue_fd(q), POLLIN, 0};
    poll(&p, 1, 20);
    size_t n = 0;
    stratacache_queue_drain(&n, q, 0);
  }
}

static void check_locks(const char *url) {
  fprintf(stderr, "-- locks (%s)\n", url);
  /* mem:// locks exclude the users of one handle: there, both sides share it. */
  int shared = strncmp(url, "mem://", 6) == 0;
  stratacache_cache *a = NULL, *b = NULL;
  CHECK_RC(stratacache_open(&a, url), 0);
  if (shared) b = a;
  else CHECK_RC(stratacache_open(&b, url), 0);
  if (!a || !b) return;
  stratacache_lock *la = NULL, *lb = (stratacache_lock *)0x1;
  uint64_t fa = 0, fb = 99;
  CHECK_RC(stratacache_lock_acquire(&la, &fa, a, "job", 3, 60000, 0, NULL), 0);
  CHECK(la != NULL && fa > 0 && stratacache_lock_fence(la) == fa);
  /* Held: a try-once acquire times out at once; the out-parameters are cleared. */
  CHECK_RC(stratacache_lock_acquire(&lb, &fb, b, "job", 3, 60000, 0, NULL), STRATACACHE_ETIMEDOUT);
  CHECK(lb == NULL && fb == 0);
  CHECK(strstr(stratacache_last_error(), "held by another owner") != NULL);
  CHECK_RC(stratacache_lock_acquire(&lb, NULL, b, "job", 3, 0, 0, NULL), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_lock_acquire(&lb, NULL, b, "job", 3, 1000, -1, NULL), STRATACACHE_EINVAL);
  /* A waiting acquire on a completion queue completes when the holder releases. */
  stratacache_queue *q = NULL;
  CHECK_RC(stratacache_queue_new(&q), 0);
  struct lock_outcome got = {0, 0, NULL, 0};
  CHECK_RC(stratacache_submit_lock_acquire(b, "job", 3, 60000, 10000, NULL, q, on_lock, &got), 0);
  drain_until(q, &got.ran, 200);
  CHECK(got.ran == 0);
  CHECK_RC(stratacache_lock_extend(la, 120000), 0);
  double t0 = now_ms();
  CHECK_RC(stratacache_lock_release(la), 0);
  drain_until(q, &got.ran, 5000);
  CHECK(got.ran == 1 && got.status == 0 && got.lock != NULL);
  CHECK(now_ms() - t0 < 250); /* woken (or at worst one 200 ms poll), not at the end of the wait */
  CHECK(got.fence > fa);
  /* Extend and release without blocking. */
  struct lock_outcome ext = {0, -1, NULL, 0};
  CHECK_RC(stratacache_submit_lock_extend(got.lock, 30000, q, on_lock_done, &ext), 0);
  drain_until(q, &ext.ran, 5000);
  CHECK(ext.ran == 1 && ext.status == 0);
  struct lock_outcome rel = {0, -1, NULL, 0};
  CHECK_RC(stratacache_submit_lock_release(got.lock, q, on_lock_done, &rel), 0);
  drain_until(q, &rel.ran, 5000);
  CHECK(rel.ran == 1 && rel.status == 0);
  /* A lock that expired and was taken: its extend and release are refused (the release
   * still frees it). */
  stratacache_lock *old = NULL, *now = NULL;
  CHECK_RC(stratacache_lock_acquire(&old, NULL, a, "exp", 3, 50, 0, NULL), 0);
  CHECK_RC(stratacache_lock_acquire(&now, NULL, b, "exp", 3, 60000, 5000, NULL), 0);
  CHECK_RC(stratacache_lock_extend(old, 1000), STRATACACHE_EABORTED);
  CHECK(strstr(stratacache_last_error(), "no longer holds") != NULL);
  CHECK_RC(stratacache_lock_release(old), STRATACACHE_EABORTED);
  uint64_t lost = 0;
  CHECK_RC(stratacache_stat(&lost, a, "lock.lost"), 0);
  CHECK(lost == 2);
  uint64_t acquired = 0;
  CHECK_RC(stratacache_stat(&acquired, b, "lock.acquired"), 0);
  CHECK(acquired == (shared ? 4 : 2));
  /* stratacache_lock_free releases a held lock: the next acquire gets it. */
  stratacache_lock_free(now);
  stratacache_lock_free(NULL);
  stratacache_lock *again = NULL;
  CHECK_RC(stratacache_lock_acquire(&again, NULL, a, "exp", 3, 60000, 2000, NULL), 0);
  /* After close the lock answers ECLOSED; release still frees it. */
  stratacache_close(a);
  CHECK_RC(stratacache_lock_extend(again, 1000), STRATACACHE_ECLOSED);
  CHECK_RC(stratacache_lock_release(again), STRATACACHE_ECLOSED);
  stratacache_queue_free(q);
  stratacache_close(b);
}

/* Server info (0.5): the one server, its role and address; mem:// has none. */
static void check_server_info(stratacache_cache *c, unsigned short port) {
  char *json = NULL;
  size_t len = 0;
  CHECK_RC(stratacache_server_info_json(&json, &len, c, NULL), 0);
  char address[64];
  snprintf(address, sizeof address, "\"address\":\"127.0.0.1:%u\"", port);
  CHECK(json && strlen(json) == len && strstr(json, address) && strstr(json, "\"role\":\"master\"") &&
        strstr(json, "\"total\":{") && strstr(json, "\"used_memory_bytes\":"));
  stratacache_free(json);
  CHECK(health_has(c, "\"used_memory_bytes\":"));
  stratacache_cache *mem = NULL;
  CHECK_RC(stratacache_open(&mem, "mem://"), 0);
  json = (char *)0x1;
  CHECK_RC(stratacache_server_info_json(&json, &len, mem, NULL), STRATACACHE_EUNSUPPORTED);
  CHECK(json == NULL && len == 0);
  stratacache_close(mem);
}

/* The log hook (0.5): each event once, at its level; removal stops delivery. */
struct log_box {
  atomic_int lost, other;
  atomic_int level;
};
static void on_log(void *user, int level, const char *event, size_t event_len, const char *message,
                   size_t message_len) {
  struct log_box *box = user;
  (void)message;
  if (event_len == 18 && memcmp(event, "l2.connection_lost", 18) == 0 && message_len > 0) {
    atomic_fetch_add(&box->lost, 1);
    atomic_store(&box->level, level);
  } else {
    atomic_fetch_add(&box->other, 1);
  }
}
static void check_log_hook(void) {
  struct log_box box;
  atomic_init(&box.lost, 0);
  atomic_init(&box.other, 0);
  atomic_init(&box.level, 0);
  CHECK_RC(stratacache_set_log_handler(-1, on_log, &box), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_set_log_handler(STRATACACHE_LOG_WARNING, on_log, &box), 0);
  char url[128];
  /* Nothing listens there: the first failed connect is the outage, logged once. */
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?socket_timeout=0.5&circuit_breaker_threshold=0", free_port());
  stratacache_cache *c = NULL;
  CHECK_RC(stratacache_open(&c, url), 0);
  for (int i = 0; c && i < 3; ++i) CHECK_RC(stratacache_set(c, "k", 1, "v", 1, 0, 0, NULL), STRATACACHE_EUNAVAILABLE);
  CHECK(atomic_load(&box.lost) == 1);
  CHECK(atomic_load(&box.level) == STRATACACHE_LOG_WARNING);
  CHECK(atomic_load(&box.other) == 0); /* no breaker here: nothing else at WARNING */
  stratacache_close(c);
  CHECK_RC(stratacache_set_log_handler(0, NULL, NULL), 0);
  c = NULL;
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?socket_timeout=0.5", free_port());
  CHECK_RC(stratacache_open(&c, url), 0);
  if (c) CHECK_RC(stratacache_set(c, "k", 1, "v", 1, 0, 0, NULL), STRATACACHE_EUNAVAILABLE);
  stratacache_close(c);
  CHECK(atomic_load(&box.lost) == 1); /* removed: nothing more arrives */
}

static void check_redis(void) {
  unsigned short port = free_port();
  pid_t pid = start_redis(port);
  if (pid <= 0) {
    fprintf(stderr, "redis-server could not be started: FAIL\n");
    failures++;
    return;
  }
  char url[256];
  /* l1_coherence=off: L1 keeps serving through the outage below (with coherence on,
   * losing the invalidation channel empties it; docs/coherence.md). */
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0?prefix=ctest:&socket_timeout=0.5&l1_ttl=30&l1_coherence=off", port);
  stratacache_cache *c = NULL;
  CHECK_RC(stratacache_open(&c, url), 0);
  if (!c) return;
  check_basics(c, url);
  check_async(c, 1);
  check_queue(c, free_port());
  check_error_buffer(c);
  check_crossings(c);
  check_get_or_load(c);
  check_leases(c, url);
  check_write_behind(c);
  check_tags(c);
  check_server_info(c, port);
  check_lifetimes(port, pid);
  char lock_url[256];
  snprintf(lock_url, sizeof lock_url, "redis://127.0.0.1:%u/0?prefix=ctest-lock:", port);
  check_locks(lock_url);
  check_locks("mem://");

  /* A second handle shares nothing in-process: it reads the value from Redis. */
  stratacache_cache *other = NULL;
  CHECK_RC(stratacache_open(&other, url), 0);
  CHECK_RC(stratacache_set(c, "shared", 6, "from-c", 6, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  void *got = NULL;
  size_t got_len = 0;
  CHECK_RC(stratacache_get(&got, &got_len, NULL, other, "shared", 6, NULL), 0);
  CHECK(got_len == 6 && memcmp(got, "from-c", 6) == 0);
  stratacache_free(got);
  uint64_t l2_hits = 0;
  CHECK_RC(stratacache_stat(&l2_hits, other, "l2.hits"), 0);
  CHECK(l2_hits == 1);
  check_warm(other, c);

  /* Encryption: a handle with the key reads; one without it sees a miss + decode error. */
  stratacache_options *opts = NULL;
  CHECK_RC(stratacache_options_from_url(&opts, url), 0);
  unsigned char k32[32];
  for (int i = 0; i < 32; i++) k32[i] = (unsigned char)(i * 7 + 1);
  CHECK_RC(stratacache_options_add_key(opts, 1, k32, 31, 1), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_options_add_key(opts, 1, k32, 32, 1), 0);
  stratacache_cache *enc = NULL;
  CHECK_RC(stratacache_open_with(&enc, opts), 0);
  stratacache_options_free(opts);
  CHECK_RC(stratacache_set(enc, "secret", 6, "top", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  stratacache_callopts *l2only = NULL;
  CHECK_RC(stratacache_callopts_new(&l2only), 0);
  stratacache_callopts_set_flags(l2only, STRATACACHE_SKIP_L1);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, enc, "secret", 6, l2only), 0);
  CHECK(got_len == 3 && memcmp(got, "top", 3) == 0);
  stratacache_free(got);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, other, "secret", 6, l2only), STRATACACHE_ENOTFOUND);
  uint64_t decode_errors = 0;
  CHECK_RC(stratacache_stat(&decode_errors, other, "decode_errors"), 0);
  CHECK(decode_errors == 1);
  check_coherence(port);

  /* Redis dies: L1 keeps serving, L2 calls fail within their deadline. */
  CHECK_RC(stratacache_set(c, "warm", 4, "hot", 3, STRATACACHE_FORMAT_RAW, 60000, NULL), 0);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_RC(stratacache_get(&got, &got_len, NULL, c, "warm", 4, NULL), 0);
  stratacache_free(got);
  double t0 = now_ms();
  int rc = stratacache_get(&got, &got_len, NULL, c, "cold", 4, NULL);
  double took = now_ms() - t0;
  CHECK(rc == STRATACACHE_EUNAVAILABLE || rc == STRATACACHE_ETIMEDOUT);
  CHECK(took < 600);
  CHECK(strlen(stratacache_last_error()) > 0);
  /* The same through the asynchronous API: a failure code and its message in the callback. */
  struct done_box cold = {0};
  t0 = now_ms();
  CHECK_RC(stratacache_get_async(c, "cold", 4, NULL, on_done, &cold), 0);
  CHECK(wait_done(&cold));
  CHECK(cold.status == STRATACACHE_EUNAVAILABLE || cold.status == STRATACACHE_ETIMEDOUT);
  CHECK(strlen(cold.error) > 0);
  CHECK(now_ms() - t0 < 600);

  stratacache_callopts_free(l2only);
  stratacache_close(enc);
  stratacache_close(other);
  stratacache_close(c);
}

/* Named shared caches (0.5): handles of one name share one L1; each closes on its own;
 * another URL, parameter or key under an open name is EINVAL naming it. */
static void check_shared(void) {
  stratacache_cache *a = NULL, *b = NULL, *c = NULL, *bad = (stratacache_cache *)0x1;
  CHECK_RC(stratacache_open_shared(&a, "capi-app", "mem://"), 0);
  CHECK_RC(stratacache_open_shared(&b, "capi-app", "mem://"), 0);
  CHECK(a != NULL && b != NULL && a != b);
  if (!a || !b) return;
  CHECK_RC(stratacache_set(a, "k", 1, "one", 3, STRATACACHE_FORMAT_RAW, 0, NULL), 0);
  void *v = NULL;
  size_t len = 0;
  CHECK_RC(stratacache_get(&v, &len, NULL, b, "k", 1, NULL), 0); /* mem://: only a shared L1 has it */
  CHECK(v && len == 3 && memcmp(v, "one", 3) == 0);
  stratacache_free(v);
  uint64_t hits = 0;
  CHECK_RC(stratacache_stat(&hits, a, "l1.hits"), 0);
  CHECK(hits == 1); /* b's read counted in the one L1 a sees */

  CHECK_RC(stratacache_open_shared(&bad, "capi-app", "mem://?max_key_length=64"), STRATACACHE_EINVAL);
  CHECK(bad == NULL && strstr(stratacache_last_error(), "capi-app") != NULL);
  stratacache_options *o = NULL;
  CHECK_RC(stratacache_options_from_url(&o, "mem://"), 0);
  CHECK_RC(stratacache_open_shared_with(&c, "capi-app", o), 0); /* the same URL, nothing set */
  unsigned char key[32] = {0};
  CHECK_RC(stratacache_options_add_key(o, 1, key, sizeof key, 1), 0);
  CHECK_RC(stratacache_open_shared_with(&bad, "capi-app", o), STRATACACHE_EINVAL); /* other keys */
  stratacache_options_free(o);
  CHECK_RC(stratacache_open_shared(&bad, "capi-app", NULL), STRATACACHE_EINVAL);
  CHECK_RC(stratacache_open_shared(&bad, NULL, "mem://"), STRATACACHE_EINVAL);

  stratacache_close(a); /* b and c keep the cache */
  CHECK_RC(stratacache_get(&v, &len, NULL, a, "k", 1, NULL), STRATACACHE_ECLOSED);
  CHECK_RC(stratacache_get(&v, &len, NULL, c, "k", 1, NULL), 0);
  stratacache_free(v);
  stratacache_close(b);
  stratacache_close(c);
  /* The last handle took the cache with it: the name opens afresh, with any URL. */
  CHECK_RC(stratacache_open_shared(&a, "capi-app", "mem://?max_key_length=64"), 0);
  CHECK_RC(stratacache_get(&v, &len, NULL, a, "k", 1, NULL), STRATACACHE_ENOTFOUND);
  stratacache_close(a);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print-counters") == 0) { /* the README's counter table */
    print_counter_rows();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "--print-metrics") == 0) { /* the README's metric table */
    print_metric_rows();
    return 0;
  }
  CHECK(stratacache_version_number() == STRATACACHE_VERSION_NUMBER);
  CHECK(strcmp(stratacache_version_string(), STRATACACHE_VERSION_STRING) == 0);
  CHECK(strcmp(stratacache_strerror(STRATACACHE_ENOTFOUND), "not found") == 0);
  CHECK(stratacache_strerror(-999) != NULL);

  stratacache_cache *c = NULL;
  CHECK_RC(stratacache_open(&c, "redis://localhost:6379/0?socket_timeout=abc"), STRATACACHE_EINVAL);
  CHECK(strstr(stratacache_last_error(), "socket_timeout") != NULL);
  CHECK(c == NULL);
  CHECK_RC(stratacache_open(&c, "mem://?no_such_param=1"), STRATACACHE_EINVAL);
  CHECK(strstr(stratacache_last_error(), "no_such_param") != NULL);
  CHECK_RC(stratacache_open(&c, NULL), STRATACACHE_EINVAL);

  /* Out-parameters are defined even when the call fails. */
  void *junk = (void *)0x1;
  size_t junk_len = 99;
  int junk_fmt = 5;
  CHECK_RC(stratacache_get(&junk, &junk_len, &junk_fmt, NULL, "k", 1, NULL), STRATACACHE_EINVAL);
  CHECK(junk == NULL && junk_len == 0 && junk_fmt == -1);
  int64_t junk_n = 42;
  CHECK_RC(stratacache_increment(&junk_n, NULL, "k", 1, 1, 0, NULL), STRATACACHE_EINVAL);
  CHECK(junk_n == 0);

  /* Per-call options refuse what they do not understand. */
  stratacache_callopts *co = NULL;
  CHECK_RC(stratacache_callopts_new(&co), 0);
  CHECK_RC(stratacache_callopts_set_flags(co, 0x80u), STRATACACHE_EUNSUPPORTED);
  CHECK_RC(stratacache_callopts_set_flags(co, STRATACACHE_SKIP_L2), 0);
  CHECK(strlen(stratacache_last_error()) == 0); /* cleared by the successful call */
  CHECK_RC(stratacache_callopts_set_timeout_ms(NULL, 5), STRATACACHE_EINVAL);
  stratacache_callopts_free(co);

  CHECK_RC(stratacache_open(&c, "mem://?max_key_length=16"), 0);
  if (c) {
    CHECK_RC(stratacache_set(c, "k", 1, "v", 1, STRATACACHE_FORMAT_RAW, -5, NULL), STRATACACHE_EINVAL);
    CHECK(strstr(stratacache_last_error(), "ttl_ms") != NULL);
    check_basics(c, "mem://");
    check_async(c, 0);
    check_counters(c);
    check_write_behind(c);
    check_tags(c);
    CHECK_RC(stratacache_set(c, "a-key-longer-than-sixteen", 25, "v", 1, 0, 0, NULL), STRATACACHE_EINVAL);
    CHECK(strstr(stratacache_last_error(), "max_key_length") != NULL);
    CHECK_RC(stratacache_set(c, "k", 1, "v", 1, 7, 0, NULL), STRATACACHE_EINVAL);
    stratacache_close(c);
  }
  stratacache_close(NULL);
  stratacache_free(NULL);

  check_golden();
  check_shared();
  check_log_hook();
  check_metrics();
  check_close_race();
  check_redis();

  if (failures) {
    fprintf(stderr, "capi_test: %d check(s) FAILED\n", failures);
    return 1;
  }
  fprintf(stderr, "capi_test: all checks passed\n");
  return 0;
}
