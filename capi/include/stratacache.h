/*
 * stratacache C ABI — a multi-level cache (in-process L1 + Redis L2).
 *
 * Conventions (stable from 0.1; later versions only add):
 *  - Every type is opaque. Settings are passed as URL strings or through setter
 *    functions taking the URL parameter names, so bindings never mirror a struct.
 *  - Fallible functions return int: STRATACACHE_OK (0) or a negative STRATACACHE_E*
 *    code. Out-parameters come first. A miss is STRATACACHE_ENOTFOUND, an expected
 *    outcome, not an error with a message.
 *  - How error messages travel (a message is never needed to know *that* a call failed:
 *    the code says it):
 *    1. C callers: stratacache_last_error() after the failing call. The message is kept
 *       per OS thread and cleared by the next call on that thread: read it right after
 *       the failing call, on the same thread.
 *    2. Completions (stratacache_submit_*): the callback's `message` argument, valid
 *       while the callback runs. No thread-local is involved.
 *    3. Callers that may change OS thread between two calls (Go without
 *       runtime.LockOSThread, purego, JNA from a pool, koffi async): give the call a
 *       stratacache_callopts with an error buffer (stratacache_callopts_set_error_buffer,
 *       added in 0.2); the call writes its message there before it returns. Calls that
 *       take no callopts (open, options, stat) are quick and never block on the
 *       network: make them under a thread lock (Go: LockOSThread) to read the thread-local.
 *  - Every out-parameter is set (to NULL / 0) at the start of the call, so it is
 *    defined even when the call fails.
 *  - Ownership is said on every function: "copied" (the library keeps its own copy),
 *    "borrowed until X" (the caller keeps the memory valid until X), "caller owns"
 *    (a buffer the library allocated; release it with stratacache_free(), never with
 *    free()). Unless said otherwise, arguments are borrowed for the duration of the
 *    call only.
 *  - Keys and values are byte strings (pointer + length); NUL, CR, LF and glob
 *    characters are ordinary bytes. A NULL pointer with length 0 is the empty string.
 *    Packed key lists (added in 0.2) are one buffer holding n keys back to back plus an
 *    array of n lengths, so FFI callers never build arrays of pointers.
 *  - Cache handles are thread-safe: one stratacache_cache may be shared by threads,
 *    and closed from any thread, once; a call on a closed handle fails cleanly with
 *    STRATACACHE_ECLOSED (added in 0.2) — it is never a use-after-free.
 *    Options and callopts objects are not thread-safe: set them up on one thread, then
 *    share them read-only (a callopts with an error buffer serves one call at a time).
 *    Free/close functions accept NULL and never fail.
 *  - Foreign code runs on library threads only when the host asks for it: completions
 *    submitted with a queue run on the thread that drains the queue; only a NULL queue
 *    (and the 0.1 *_async functions) run them on the library's I/O thread.
 */
#ifndef STRATACACHE_H
#define STRATACACHE_H

#include <stddef.h>
#include <stdint.h>

/* STRATACACHE_VERSION_{MAJOR,MINOR,PATCH,NUMBER,STRING}, generated from CMakeLists.txt. */
#include "stratacache_version.h"

#if defined(STRATACACHE_BUILDING)
#define STRATACACHE_API __attribute__((visibility("default")))
#else
#define STRATACACHE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Result codes (values are pinned; new codes are only ever added) ---- */
#define STRATACACHE_OK 0
#define STRATACACHE_ENOTFOUND (-1)    /* cache miss / key does not exist */
#define STRATACACHE_EINVAL (-2)       /* bad argument, URL or parameter; message names it */
#define STRATACACHE_EUNAVAILABLE (-3) /* Redis unreachable; retry later, L1 still served */
#define STRATACACHE_ETIMEDOUT (-4)    /* the call's deadline passed */
#define STRATACACHE_ECORRUPT (-5)     /* stored data unreadable (reads report a miss instead) */
#define STRATACACHE_ETOOBIG (-6)      /* value or reply over a configured limit */
#define STRATACACHE_EAUTH (-7)        /* AUTH / ACL refused */
#define STRATACACHE_EWRONGTYPE (-8)   /* e.g. increment on a non-integer value */
#define STRATACACHE_EUNSUPPORTED (-9) /* not supported by this build or configuration */
#define STRATACACHE_EINTERNAL (-10)   /* unexpected reply or library bug */
#define STRATACACHE_ENOMEM (-11)      /* allocation failed */
#define STRATACACHE_ECLOSED (-12)     /* the cache handle was closed (added in 0.2) */
#define STRATACACHE_EABORTED (-13)    /* a read-through lease expired or was taken over; the fill was refused (0.3) */
#define STRATACACHE_ELOADFAILED (-14) /* a read-through loader failed: this call's or the one it waited for (0.3) */

/* ---- Value formats (stored in the envelope; read back with the value) ---- */
#define STRATACACHE_FORMAT_RAW 0     /* opaque bytes */
#define STRATACACHE_FORMAT_JSON 1    /* UTF-8 JSON text */
#define STRATACACHE_FORMAT_MSGPACK 2 /* one MessagePack object */

/* ---- Per-call flags ---- */
#define STRATACACHE_SKIP_L1 0x1u /* neither read nor write the in-process tier */
#define STRATACACHE_SKIP_L2 0x2u /* neither read nor write Redis */

/* ttl_ms arguments: > 0 milliseconds (at most 10 years), 0 never expires,
 * STRATACACHE_TTL_DEFAULT uses the cache's default_ttl; anything else is EINVAL. */
#define STRATACACHE_TTL_DEFAULT (-1)

typedef struct stratacache_cache stratacache_cache; /* a cache handle */
typedef struct stratacache_options stratacache_options;   /* settings for opening */
typedef struct stratacache_callopts stratacache_callopts; /* per-call settings */
typedef struct stratacache_queue stratacache_queue;       /* completion queue (added in 0.2) */

/* ---- Version and errors ---- */
/* STRATACACHE_VERSION_NUMBER of the loaded library. */
STRATACACHE_API unsigned stratacache_version_number(void);
/* Static string, e.g. "0.1.0". */
STRATACACHE_API const char *stratacache_version_string(void);
/* Static description of a result code; never NULL. */
STRATACACHE_API const char *stratacache_strerror(int code);
/* Message of the last error on this thread ("" if none). Valid until the next
 * stratacache call on this thread. Owned by the library. */
STRATACACHE_API const char *stratacache_last_error(void);
/* Free a buffer returned by this library. NULL is ignored. */
STRATACACHE_API void stratacache_free(void *buffer);

/* ---- Options ---- */
/* A new options object with defaults (equivalent to "mem://"). */
STRATACACHE_API int stratacache_options_new(stratacache_options **out);
/* Options parsed from a URL: mem://, redis://[user:pass@]host:port/db?...,
 * rediss://... (TLS, ssl_* parameters), unix:///path/to/redis.sock?db=0. The URL is copied. */
STRATACACHE_API int stratacache_options_from_url(stratacache_options **out, const char *url);
/* Set one parameter by its URL name (e.g. "socket_timeout", "1.5"); both strings are
 * copied. Unknown names and bad values are STRATACACHE_EINVAL naming the parameter. */
STRATACACHE_API int stratacache_options_set(stratacache_options *opts, const char *name, const char *value);
/* Add an AES-256-GCM key (exactly 32 bytes, copied; the copy is wiped when no longer
 * needed). The first key, or one added with primary != 0, encrypts new values; every
 * key decrypts. id is stored in each envelope. */
STRATACACHE_API int stratacache_options_add_key(stratacache_options *opts, uint32_t id, const void *key,
                                                size_t key_len, int primary);
STRATACACHE_API void stratacache_options_free(stratacache_options *opts);

/* ---- Open / close ---- */
/* Open a cache from a URL. Never blocks on the network: an unreachable Redis makes
 * L2 calls fail with STRATACACHE_EUNAVAILABLE until it comes back. */
STRATACACHE_API int stratacache_open(stratacache_cache **out, const char *url);
/* Open from an options object (read, not kept: free it whenever you like). */
STRATACACHE_API int stratacache_open_with(stratacache_cache **out, const stratacache_options *opts);
/* Close the handle and its connections. Never waits for a thread that may be running a
 * foreign callback, and may be called from any thread, including from inside a
 * completion callback. Afterwards every call on the handle fails with
 * STRATACACHE_ECLOSED (a second close is a no-op); completions still pending complete
 * with STRATACACHE_EUNAVAILABLE, to their callback or their queue.
 * When no other call on the handle is in progress (a read-through lease not yet
 * consumed counts as one, 0.3) and no NULL-queue completion is pending, the
 * connections are closed before close returns; otherwise the last call
 * to leave hands the teardown to a short-lived library thread and close returns at
 * once (a process that exits right then may exit while that thread finishes: wait for
 * the completions you care about first). The handle's small shell (about 64 bytes)
 * stays allocated until the process exits, so that late calls from garbage-collected
 * runtimes find it. */
STRATACACHE_API void stratacache_close(stratacache_cache *cache);

/* ---- One cache shared by every language in a process (added in 0.5) ----
 * Opens a handle on the process-wide cache called `name` (NUL-terminated text,
 * copied): the first open of a name opens its cache (one L1, one set of Redis
 * connections), later opens return new handles on that same cache, so a Python module,
 * a Node addon and a C library loaded into one process read and write one L1. Each
 * handle is closed with stratacache_close on its own and its ECLOSED semantics are its
 * own: closing one never affects the others. The cache itself is closed when its last
 * handle closes (its teardown runs on a short-lived library thread); a later open of
 * the name opens a fresh one.
 * A name already open with another URL, other parameters (stratacache_options_set) or
 * other keys is STRATACACHE_EINVAL with a message naming it; options count as the same
 * when they come from the same URL text with the same parameters and keys set.
 * stratacache_open_shared(out, name, url) equals stratacache_open_shared_with on
 * stratacache_options_from_url(url) with nothing set. Thread-safe; *out is NULL on
 * failure; opts are read, not kept. */
STRATACACHE_API int stratacache_open_shared(stratacache_cache **out, const char *name, const char *url);
STRATACACHE_API int stratacache_open_shared_with(stratacache_cache **out, const char *name,
                                                 const stratacache_options *opts);

/* ---- Per-call options (NULL everywhere means the defaults) ---- */
STRATACACHE_API int stratacache_callopts_new(stratacache_callopts **out);
/* Deadline of each call made with these options, in ms; < 0 restores socket_timeout.
 * 0 means "already due": L2 calls fail with ETIMEDOUT, L1 hits still answer. */
STRATACACHE_API int stratacache_callopts_set_timeout_ms(stratacache_callopts *co, int64_t timeout_ms);
/* STRATACACHE_SKIP_L1 | STRATACACHE_SKIP_L2. Bits this library does not know are
 * STRATACACHE_EUNSUPPORTED (never silently ignored). Read-through calls (0.3) honour
 * SKIP_L1 and refuse SKIP_L2 with STRATACACHE_EUNSUPPORTED (their one-load-per-key
 * lease lives in Redis; stratacache_callopts_set_lock(co, 0) keeps it per process). */
STRATACACHE_API int stratacache_callopts_set_flags(stratacache_callopts *co, uint32_t flags);
/* Every call made with these callopts writes what stratacache_last_error() would say
 * after it into buf: the message of a failure, "" after success or a miss (truncated
 * to cap - 1 bytes, always NUL-terminated when cap > 0). For callers that may change
 * OS thread between two calls. buf is borrowed until the callopts are freed or given
 * another buffer (NULL, 0 removes it). Such callopts serve one call at a time; a
 * submission writes only its synchronous rejection here (its completion carries its
 * own message). Added in 0.2. */
STRATACACHE_API int stratacache_callopts_set_error_buffer(stratacache_callopts *co, char *buf, size_t cap);
STRATACACHE_API void stratacache_callopts_free(stratacache_callopts *co);

/* ---- Operations ---- */
/* Read a value. On STRATACACHE_OK, *out_value is a new buffer of *out_len bytes owned
 * by the caller (free with stratacache_free; never NULL, even for an empty value) and
 * *out_format (if not NULL) is its STRATACACHE_FORMAT_*. A corrupt stored value is a
 * miss. */
STRATACACHE_API int stratacache_get(void **out_value, size_t *out_len, int *out_format, stratacache_cache *cache,
                                    const void *key, size_t key_len, const stratacache_callopts *co);
/* Read a value as JSON text, whatever format it was stored in. MessagePack ext values
 * of the shared types (date-time, date, UUID, decimal; docs/envelope.md) become
 * strings; raw values, MessagePack bytes and other ext types are EWRONGTYPE.
 * Undecodable stored bytes are a miss. *out_json is NUL-terminated, caller-owned. */
STRATACACHE_API int stratacache_get_json(char **out_json, size_t *out_len, stratacache_cache *cache, const void *key,
                                         size_t key_len, const stratacache_callopts *co);
/* Store bytes in the given STRATACACHE_FORMAT_* (not validated: the format labels the
 * bytes for readers). Copied. With Redis, a write that skips L1 still removes this
 * handle's L1 copy; with only L1 (mem://), a value that cannot fit is ETOOBIG. */
STRATACACHE_API int stratacache_set(stratacache_cache *cache, const void *key, size_t key_len, const void *value,
                                    size_t value_len, int format, int64_t ttl_ms, const stratacache_callopts *co);
/* Parse JSON text and store it with the cache's serializer (msgpack by default), so
 * readers in any language get the same value. Invalid JSON: STRATACACHE_EINVAL. */
STRATACACHE_API int stratacache_set_json(stratacache_cache *cache, const void *key, size_t key_len, const char *json,
                                         size_t json_len, int64_t ttl_ms, const stratacache_callopts *co);
/* Delete n keys from both tiers; *out_deleted (may be NULL) = how many existed. */
STRATACACHE_API int stratacache_delete(int64_t *out_deleted, stratacache_cache *cache, const void *const *keys,
                                       const size_t *key_lens, size_t n, const stratacache_callopts *co);
/* *out_exists = 1 or 0. */
STRATACACHE_API int stratacache_exists(int *out_exists, stratacache_cache *cache, const void *key, size_t key_len,
                                       const stratacache_callopts *co);
/* Remaining TTL in ms, -1 when the key never expires; STRATACACHE_ENOTFOUND if missing. */
STRATACACHE_API int stratacache_ttl(int64_t *out_ttl_ms, stratacache_cache *cache, const void *key, size_t key_len,
                                    const stratacache_callopts *co);
/* Atomically add amount (INCRBY in Redis). A missing key starts at 0 and gets ttl_ms;
 * incrementing never extends an existing TTL. Non-integer value: EWRONGTYPE. */
STRATACACHE_API int stratacache_increment(int64_t *out_value, stratacache_cache *cache, const void *key, size_t key_len,
                                          int64_t amount, int64_t ttl_ms, const stratacache_callopts *co);
/* Delete every key matching a Redis glob (*, ?, [..], \ escapes) from L1 and L2
 * (SCAN + UNLINK, never KEYS). *out_deleted may be NULL. */
STRATACACHE_API int stratacache_clear_pattern(int64_t *out_deleted, stratacache_cache *cache, const void *pattern,
                                              size_t pattern_len, const stratacache_callopts *co);
/* Read n keys in one L2 round trip. The caller passes arrays of n elements; for each i,
 * out_codes[i] is STRATACACHE_OK (then out_values[i]/out_lens[i]/out_formats[i] are set
 * and out_values[i] is caller-owned), STRATACACHE_ENOTFOUND or an error code
 * (out_values[i] = NULL). out_formats may be NULL. Returns OK when the call ran. */
STRATACACHE_API int stratacache_mget(void **out_values, size_t *out_lens, int *out_formats, int *out_codes,
                                     stratacache_cache *cache, const void *const *keys, const size_t *key_lens, size_t n,
                                     const stratacache_callopts *co);
/* Write n values in one L2 round trip, all with ttl_ms. formats may be NULL (raw). */
STRATACACHE_API int stratacache_mset(stratacache_cache *cache, const void *const *keys, const size_t *key_lens,
                                     const void *const *values, const size_t *value_lens, const int *formats,
                                     size_t n, int64_t ttl_ms, const stratacache_callopts *co);
/* Read a value into a caller-supplied buffer (buf: cap bytes, borrowed for the call):
 * no library buffer, nothing to free. On OK, *out_len bytes were copied and
 * *out_format (may be NULL) is the value's STRATACACHE_FORMAT_*. When the value is
 * larger than cap: STRATACACHE_ETOOBIG, *out_len = the size needed, *out_format set,
 * buf untouched; a retry with a larger buffer is a new read (the value may have changed,
 * a hit is counted again). Added in 0.2. */
STRATACACHE_API int stratacache_get_into(size_t *out_len, int *out_format, stratacache_cache *cache, const void *key,
                                         size_t key_len, void *buf, size_t cap, const stratacache_callopts *co);
/* stratacache_mget with packed keys (n keys back to back in `keys`, their lengths in
 * key_lens) and one packed result (*out_packed, *out_len bytes, caller-owned; layout
 * under "Packed mget result" below). Returns OK when the call ran; per-key outcomes are
 * in the records, and the first failed key's message is the last error. Added in 0.2. */
STRATACACHE_API int stratacache_mget_packed(void **out_packed, size_t *out_len, stratacache_cache *cache,
                                            const void *keys, const size_t *key_lens, size_t n,
                                            const stratacache_callopts *co);
/* stratacache_mset with packed keys and values (each one buffer plus n lengths);
 * formats: n STRATACACHE_FORMAT_* or NULL (raw). Copied. Added in 0.2. */
STRATACACHE_API int stratacache_mset_packed(stratacache_cache *cache, const void *keys, const size_t *key_lens,
                                            const void *values, const size_t *value_lens, const int *formats, size_t n,
                                            int64_t ttl_ms, const stratacache_callopts *co);
/* stratacache_delete with packed keys; *out_deleted (may be NULL) = how many existed.
 * Added in 0.2. */
STRATACACHE_API int stratacache_delete_packed(int64_t *out_deleted, stratacache_cache *cache, const void *keys,
                                              const size_t *key_lens, size_t n, const stratacache_callopts *co);
/* Drop every L1 entry of this handle (L2 untouched). */
STRATACACHE_API void stratacache_flush_l1(stratacache_cache *cache);

/* ---- Asynchronous operations (0.1; prefer stratacache_submit_* below) ----
 * stratacache_X_async(..., done, payload) is stratacache_submit_X(..., NULL queue) with
 * a callback that has no message argument: the message is the thread-local last error
 * while `done` runs. The same operations as above without blocking the caller on L2: the request is queued
 * on the cache's shared, auto-pipelined Redis connections and `done` runs when the
 * reply is read, on the cache's internal I/O thread (or on a thread that was reading
 * replies anyway). An L1 hit, skip_l2 and failures known at once (breaker open, no
 * connection) complete inline, before the submitting function returns.
 *
 * Returns STRATACACHE_OK once submitted: `done` then runs exactly once. Any other code
 * means the arguments were rejected (stratacache_last_error() says why) and `done` is
 * never called.
 *
 * `done(payload, status, value, len, format, count)`: status is a STRATACACHE_* code
 * (ENOTFOUND: a miss); on an error other than ENOTFOUND, stratacache_last_error() on
 * that thread describes it while `done` runs. get: on STRATACACHE_OK, `value` is a new
 * buffer of `len` bytes owned by the callee (free with stratacache_free; never NULL)
 * and `format` its STRATACACHE_FORMAT_*; otherwise value NULL, len 0, format -1.
 * delete: `count` is how many keys existed. set: count 0, value NULL.
 * `done` must not block and must not call synchronous functions on the same cache
 * (asynchronous ones are fine). stratacache_close waits for no callback: pending calls
 * complete with STRATACACHE_EUNAVAILABLE during or shortly after it (on a library
 * thread), so `payload` must stay valid until `done` has run. */
typedef void (*stratacache_completion)(void *payload, int status, void *value, size_t len, int format,
                                       int64_t count);
STRATACACHE_API int stratacache_get_async(stratacache_cache *cache, const void *key, size_t key_len,
                                          const stratacache_callopts *co, stratacache_completion done, void *payload);
STRATACACHE_API int stratacache_set_async(stratacache_cache *cache, const void *key, size_t key_len, const void *value,
                                          size_t value_len, int format, int64_t ttl_ms, const stratacache_callopts *co,
                                          stratacache_completion done, void *payload);
STRATACACHE_API int stratacache_delete_async(stratacache_cache *cache, const void *const *keys, const size_t *key_lens,
                                             size_t n, const stratacache_callopts *co, stratacache_completion done,
                                             void *payload);

/* ---- Completions for foreign runtimes (added in 0.2) ----
 * Every operation can be submitted without blocking the caller: stratacache_submit_*
 * take the operation's arguments (copied), the per-call options (borrowed for the
 * call), a queue, a callback and a payload (borrowed until the callback has run).
 *
 * Returns STRATACACHE_OK once submitted: `done` then runs exactly once (unless its
 * queue is freed first, see stratacache_queue_free). Any other code means the
 * submission was refused (bad argument, closed handle) and `done` never runs.
 *
 * Where `done` runs:
 *  - queue != NULL: on the thread that calls stratacache_queue_drain for that queue,
 *    never on a library thread. Completions known at once (L1 hit, skip_l2, fast
 *    failure) are queued too, so `done` never runs inside the submitting call. It
 *    may make any call, synchronous ones included, and may close the cache.
 *  - queue == NULL: on the cache's I/O thread, or inline before the submitting
 *    function returns when no round trip is needed. `done` must then not block and
 *    must not make synchronous calls on the same cache (submissions are fine).
 *
 * `done(payload, status, message, value, len, format, count)`:
 *  - status: STRATACACHE_OK, STRATACACHE_ENOTFOUND (a miss / missing key) or an error.
 *  - message: NUL-terminated description of the error, "" for OK and ENOTFOUND. Owned
 *    by the library, valid while `done` runs.
 *  - value, len: a buffer the callee owns (release with stratacache_free; never NULL
 *    when given) for get (the value), mget (one packed result, layout below) and health
 *    (JSON text, NUL-terminated); NULL and 0 otherwise and on every error.
 *  - format: STRATACACHE_FORMAT_* of a get's value, FORMAT_JSON for health, -1 otherwise.
 *  - count: delete and clear_pattern: how many keys were deleted; exists: 1 or 0; ttl:
 *    the remaining TTL in ms (-1: never expires); increment: the new value; mget: n;
 *    0 otherwise.
 *
 * Packed mget result (also returned by stratacache_mget_packed): n records, record i for
 * key i, each
 *     int32 status | int32 format | uint64 len | len bytes | 0-7 zero bytes of padding
 * in host byte order, the padding making every record start at a multiple of 8 bytes
 * from the buffer's start (the buffer itself is 8-byte aligned): the next record starts
 * STRATACACHE_PACKED_HEADER_SIZE + ((len + 7) & ~7) bytes after this one. status is
 * STRATACACHE_OK (then format is the value's STRATACACHE_FORMAT_*), ENOTFOUND or an
 * error (format -1, len 0). The completion's message is the first failed key's. */
#define STRATACACHE_PACKED_HEADER_SIZE 16
typedef void (*stratacache_callback)(void *payload, int status, const char *message, void *value, size_t len,
                                     int format, int64_t count);

/* A completion queue: completions of submissions that name it wait in it until a host
 * thread drains it. One queue may serve many caches and many threads' submissions.
 * Caller owns *out (stratacache_queue_free). Added in 0.2. */
STRATACACHE_API int stratacache_queue_new(stratacache_queue **out);
/* An eventfd that is readable exactly while completions wait in the queue
 * (level-triggered: it stays readable until a drain empties the queue, so an event
 * loop may watch it with epoll/poll/select in level mode, asyncio add_reader, libuv
 * uv_poll, Go's netpoller or a Java selector). Owned by the queue: never read, write or
 * close it; it is valid until stratacache_queue_free. -1 for NULL. Added in 0.2. */
STRATACACHE_API int stratacache_queue_fd(const stratacache_queue *queue);
/* Run up to max waiting completions (0: all that wait when the call starts) on the
 * calling thread, oldest first; *out_ran (may be NULL) = how many ran. Callbacks may
 * submit, drain and close caches; completions they cause wait for the next drain.
 * Never blocks: an empty queue runs nothing. Added in 0.2. */
STRATACACHE_API int stratacache_queue_drain(size_t *out_ran, stratacache_queue *queue, size_t max);
/* Free the queue and close its fd. Completions still waiting, and those of submissions
 * still in flight that arrive later, are dropped: their value buffers are freed and
 * their callbacks never run (so their payloads are never handed back). To get every
 * callback, close the caches that use the queue (their pending calls complete with
 * EUNAVAILABLE), drain, then free. Accepts NULL. Added in 0.2. */
STRATACACHE_API void stratacache_queue_free(stratacache_queue *queue);

/* Read a value (as stratacache_get). Added in 0.2. */
STRATACACHE_API int stratacache_submit_get(stratacache_cache *cache, const void *key, size_t key_len,
                                           const stratacache_callopts *co, stratacache_queue *queue,
                                           stratacache_callback done, void *payload);
/* Store a value (as stratacache_set; key and value are copied). Added in 0.2. */
STRATACACHE_API int stratacache_submit_set(stratacache_cache *cache, const void *key, size_t key_len,
                                           const void *value, size_t value_len, int format, int64_t ttl_ms,
                                           const stratacache_callopts *co, stratacache_queue *queue,
                                           stratacache_callback done, void *payload);
/* Delete n packed keys (keys: n keys back to back, key_lens: their lengths); count =
 * how many existed. Added in 0.2. */
STRATACACHE_API int stratacache_submit_delete(stratacache_cache *cache, const void *keys, const size_t *key_lens,
                                              size_t n, const stratacache_callopts *co, stratacache_queue *queue,
                                              stratacache_callback done, void *payload);
/* count = 1 when the key exists, else 0. Added in 0.2. */
STRATACACHE_API int stratacache_submit_exists(stratacache_cache *cache, const void *key, size_t key_len,
                                              const stratacache_callopts *co, stratacache_queue *queue,
                                              stratacache_callback done, void *payload);
/* count = remaining TTL in ms, -1 when it never expires; ENOTFOUND when missing.
 * Added in 0.2. */
STRATACACHE_API int stratacache_submit_ttl(stratacache_cache *cache, const void *key, size_t key_len,
                                           const stratacache_callopts *co, stratacache_queue *queue,
                                           stratacache_callback done, void *payload);
/* As stratacache_increment; count = the new value. Added in 0.2. */
STRATACACHE_API int stratacache_submit_increment(stratacache_cache *cache, const void *key, size_t key_len,
                                                 int64_t amount, int64_t ttl_ms, const stratacache_callopts *co,
                                                 stratacache_queue *queue, stratacache_callback done,
                                                 void *payload);
/* Read n packed keys in one L2 round trip; value = the packed result (layout above),
 * count = n. status is OK when the call ran (per-key outcomes are in the records).
 * Added in 0.2. */
STRATACACHE_API int stratacache_submit_mget(stratacache_cache *cache, const void *keys, const size_t *key_lens,
                                            size_t n, const stratacache_callopts *co, stratacache_queue *queue,
                                            stratacache_callback done, void *payload);
/* Write n values in one L2 round trip, all with ttl_ms: keys and values packed (each
 * one buffer plus n lengths), formats an array of n STRATACACHE_FORMAT_* (NULL: raw).
 * Copied. Added in 0.2. */
STRATACACHE_API int stratacache_submit_mset(stratacache_cache *cache, const void *keys, const size_t *key_lens,
                                            const void *values, const size_t *value_lens, const int *formats,
                                            size_t n, int64_t ttl_ms, const stratacache_callopts *co,
                                            stratacache_queue *queue, stratacache_callback done, void *payload);
/* As stratacache_clear_pattern; count = how many keys were deleted. Added in 0.2. */
STRATACACHE_API int stratacache_submit_clear_pattern(stratacache_cache *cache, const void *pattern,
                                                     size_t pattern_len, const stratacache_callopts *co,
                                                     stratacache_queue *queue, stratacache_callback done,
                                                     void *payload);
/* Health; value = the JSON text of stratacache_health_json (status OK even when
 * unhealthy). Added in 0.2. */
STRATACACHE_API int stratacache_submit_health(stratacache_cache *cache, const stratacache_callopts *co,
                                              stratacache_queue *queue, stratacache_callback done,
                                              void *payload);


/* 1 when the *_async calls never block on L2 (mem://, standalone Redis, Sentinel, Cluster:
 * a cluster's first call loads its slot map, docs/cluster.md); 0 when they run the L2
 * round trip inline: call them from a worker thread then. */
STRATACACHE_API int stratacache_async_native(const stratacache_cache *cache);

/* ---- Envelopes (added in 0.2) ----
 * The stored form of a value (docs/envelope.md), for tools and for checking the golden
 * vectors of tests/golden from any language. prefix is the cache's key prefix and key
 * the key without it: both are authenticated with the header when encrypting, so a
 * value cannot be moved to another key. opts (read, not kept; NULL: defaults) supplies
 * compression, compression_threshold, the decode limits and the key ring
 * (stratacache_options_add_key). */
/* *out_envelope (caller-owned) = value (in format) wrapped: serialized bytes as given,
 * compressed when over the threshold and smaller, encrypted with the primary key. */
STRATACACHE_API int stratacache_envelope_encode(void **out_envelope, size_t *out_len, const void *value,
                                                size_t value_len, int format, const void *prefix, size_t prefix_len,
                                                const void *key, size_t key_len, const stratacache_options *opts);
/* *out_value (caller-owned, never NULL on OK) and *out_format (may be NULL) from an
 * envelope. Malformed, truncated, tampered or wrong-key input, or plaintext when keys
 * are given: STRATACACHE_ECORRUPT; well-formed but unreadable here (unknown version,
 * key id or compression): STRATACACHE_EUNSUPPORTED; over the limits: STRATACACHE_ETOOBIG.
 * A negative marker (an envelope whose entry metadata says the key does not exist,
 * docs/envelope.md "Entry metadata"): STRATACACHE_ENOTFOUND, *out_value NULL, no
 * message. Other entry metadata is not returned: the value decodes as without it.
 * Added in 0.2. */
STRATACACHE_API int stratacache_envelope_decode(void **out_value, size_t *out_len, int *out_format,
                                                const void *envelope, size_t envelope_len, const void *prefix,
                                                size_t prefix_len, const void *key, size_t key_len,
                                                const stratacache_options *opts);

/* ---- Read-through (added in 0.3; docs/read-through.md) ----
 * get-or-load: one load per key across threads, languages on one handle, and processes
 * (a lease in Redis); a fresh period (the value's TTL) and an optional stale period
 * (served when the reload fails, times out or Redis is unavailable); early refresh;
 * negative entries ("does not exist"). Two forms:
 *  - stratacache_get_or_load: the loader is a callback run on the calling thread;
 *  - stratacache_acquire / stratacache_submit_acquire: no callback. The caller gets the
 *    value, or a lease: the duty to load the key and then fill or abandon the lease,
 *    from any thread, exactly once (stratacache_lease_* consume it).
 * Read-through settings are per-call options (below); the callopts timeout is the hard
 * timeout: it bounds every wait of the call (Redis round trips, waiting for another
 * caller's load), not the loader itself. */
typedef struct stratacache_sink stratacache_sink;   /* where a loader puts its value */
typedef struct stratacache_lease stratacache_lease; /* the duty to load one key */

/* Bits of *out_info. */
#define STRATACACHE_INFO_STALE 0x1u   /* the value is from the stale period (the reload failed / timed out) */
#define STRATACACHE_INFO_LOADED 0x2u  /* this call ran the loader and stored its value */
#define STRATACACHE_INFO_REFRESH 0x4u /* acquire: the lease is an early refresh; the value is fresh */

/* Read-through settings (durations in ms; < 0 restores the default). ttl: the fresh
 * period of a loaded value when the loader gives none (default: default_ttl). stale_ttl:
 * the stale period after it (default 0: none). negative_ttl: how long "does not exist"
 * is remembered (default 0: not cached). early_refresh: XFetch's beta (0, the default:
 * off; 1: optimal; larger refreshes earlier); negative, NaN or infinite: EINVAL. soft_timeout: a
 * caller holding a stale value waits at most this long for another caller's load, then
 * gets the stale value (default: the hard timeout). lease_ttl: lifetime of the Redis
 * lease (default max(10 s, 2 x timeout)); a holder that dies is taken over after it.
 * lock: 0 turns the Redis lease off (one load per process only); default 1. */
STRATACACHE_API int stratacache_callopts_set_ttl_ms(stratacache_callopts *co, int64_t ttl_ms);
STRATACACHE_API int stratacache_callopts_set_stale_ttl_ms(stratacache_callopts *co, int64_t stale_ttl_ms);
STRATACACHE_API int stratacache_callopts_set_negative_ttl_ms(stratacache_callopts *co, int64_t negative_ttl_ms);
STRATACACHE_API int stratacache_callopts_set_early_refresh(stratacache_callopts *co, double beta);
STRATACACHE_API int stratacache_callopts_set_soft_timeout_ms(stratacache_callopts *co, int64_t soft_timeout_ms);
STRATACACHE_API int stratacache_callopts_set_lease_ttl_ms(stratacache_callopts *co, int64_t lease_ttl_ms);
STRATACACHE_API int stratacache_callopts_set_lock(stratacache_callopts *co, int lock);

/* A loader: puts the value with stratacache_sink_put (once) and returns STRATACACHE_OK;
 * returns STRATACACHE_ENOTFOUND when the key does not exist (cached for negative_ttl);
 * any other code is a failure (never cached; a stale value is served instead when
 * there is one), optionally described with stratacache_sink_fail first. The caller
 * (and the callers waiting for this load) get that code; one with no meaning for a
 * load (ENOMEM, ECLOSED, unknown or positive codes) becomes STRATACACHE_ELOADFAILED,
 * and OK without a put is STRATACACHE_EINTERNAL. key is borrowed while the loader
 * runs; the sink is valid only while the loader runs. */
typedef int (*stratacache_loader)(void *ctx, const void *key, size_t key_len, stratacache_sink *sink);
/* value copied; format STRATACACHE_FORMAT_*; ttl_ms: its fresh period (< 0: the
 * callopts ttl; 0: no expiry). A second put or a bad format: EINVAL. */
STRATACACHE_API int stratacache_sink_put(stratacache_sink *sink, const void *value, size_t len, int format,
                                         int64_t ttl_ms);
/* The message the caller's error carries when the loader fails (copied). */
STRATACACHE_API int stratacache_sink_fail(stratacache_sink *sink, const char *message);

/* The value of `key`, loading it with `loader` when it is missing or past its fresh
 * period. OK: *out_value is a new buffer (caller frees with stratacache_free) and
 * *out_info (may be NULL) tells STALE / LOADED. ENOTFOUND: the key does not exist (the
 * loader said so, now or within negative_ttl). The loader's code when it failed and no
 * stale value exists; ETIMEDOUT when the timeout passed waiting for another caller's
 * load. The loader runs at most once per call, on this thread, without any library lock
 * held: it may call this cache (not for the same key). */
STRATACACHE_API int stratacache_get_or_load(void **out_value, size_t *out_len, int *out_format, unsigned *out_info,
                                            stratacache_cache *cache, const void *key, size_t key_len,
                                            stratacache_loader loader, void *ctx, const stratacache_callopts *co);

/* The lease form. The return code is about the value, *out_lease about the duty:
 *  - OK, *out_lease NULL: the value (fresh; STALE when a reload failed elsewhere).
 *  - OK, lease, INFO_REFRESH: a fresh value; refresh it in the background.
 *  - OK, lease, INFO_STALE: a stale value; load the key, and serve this value if the
 *    load fails (then abandon the lease).
 *  - ENOTFOUND, lease: nothing to serve; load the key.
 *  - ENOTFOUND, no lease: the key does not exist (a negative entry).
 *  - any other error: no lease.
 * The value buffer is the caller's (stratacache_free); so is the lease, which must be
 * given to exactly one of stratacache_lease_fill, _fill_not_found, _abandon or
 * stratacache_submit_lease_fill (each consumes it, even when it fails). A lease may be
 * consumed on any thread. Until then it counts as a call in progress on the handle:
 * stratacache_close does not wait for it, but the connections are closed only once
 * it is consumed (a lease never consumed keeps them open). After stratacache_close
 * the lease functions abandon and free it and return ECLOSED (abandon just frees it).
 * The lease functions take no callopts: their message is the thread-local last error;
 * callers that change OS thread get it from stratacache_submit_lease_fill's callback. */
STRATACACHE_API int stratacache_acquire(void **out_value, size_t *out_len, int *out_format, unsigned *out_info,
                                        stratacache_lease **out_lease, stratacache_cache *cache, const void *key,
                                        size_t key_len, const stratacache_callopts *co);
/* Stores the loaded value in both tiers and wakes the callers waiting for it (value
 * copied; ttl_ms as in stratacache_sink_put). Blocks on Redis, at most the timeout of
 * the acquire's callopts. Consumes the lease (bad arguments abandon it). EABORTED: the
 * Redis lease had expired or been taken over, so Redis kept the newer value (the
 * waiters in this process still got this one). */
STRATACACHE_API int stratacache_lease_fill(stratacache_lease *lease, const void *value, size_t len, int format,
                                           int64_t ttl_ms);
/* The key does not exist: a negative entry for negative_ttl (if > 0); waiters get
 * ENOTFOUND. Consumes the lease. */
STRATACACHE_API int stratacache_lease_fill_not_found(stratacache_lease *lease);
/* The load failed: releases the lease; waiters get `code` (a STRATACACHE_E* code,
 * typically ELOADFAILED; codes with no meaning for a load become ELOADFAILED) and
 * `message` (copied; may be NULL), or their stale value. EABORTED
 * instead makes the waiters look again, one of them loading (e.g. for a result the
 * caller chose not to cache). Consumes the lease; NULL is a no-op. */
STRATACACHE_API void stratacache_lease_abandon(stratacache_lease *lease, int code, const char *message);
/* Submission forms (the completion model above). acquire's callback gets what
 * stratacache_acquire returns: status, message, the value buffer (callee owns it),
 * info and the lease (callee owns it; NULL when none). With a NULL queue it may also
 * run on a library timer thread (a wait that ended at its deadline). A completion
 * dropped by stratacache_queue_free abandons its lease; one that arrives after
 * stratacache_close carries no lease (a lease it would have carried is abandoned and
 * the status is EUNAVAILABLE). */
typedef void (*stratacache_acquire_callback)(void *payload, int status, const char *message, void *value,
                                             size_t len, int format, unsigned info, stratacache_lease *lease);
STRATACACHE_API int stratacache_submit_acquire(stratacache_cache *cache, const void *key, size_t key_len,
                                               const stratacache_callopts *co, stratacache_queue *queue,
                                               stratacache_acquire_callback done, void *payload);
/* The fill without blocking: `done` gets OK, EABORTED or an error (value NULL, count
 * 0). Consumes the lease, even when the submission is refused (ECLOSED after
 * stratacache_close, EINVAL for bad arguments: the lease is abandoned). */
STRATACACHE_API int stratacache_submit_lease_fill(stratacache_lease *lease, const void *value, size_t len, int format,
                                                  int64_t ttl_ms, stratacache_queue *queue, stratacache_callback done,
                                                  void *payload);
/* stratacache_lease_fill_not_found without blocking: `done` gets OK or an error. Consumes
 * the lease, even when the submission is refused. */
STRATACACHE_API int stratacache_submit_lease_fill_not_found(stratacache_lease *lease, stratacache_queue *queue,
                                                            stratacache_callback done, void *payload);

/* ---- Warming (added in 0.4) ----
 * Fill this handle's L1 from Redis: the n keys are read in batches of 1000 per round
 * trip (per node on a Cluster) and every value found enters L1, past the promotion
 * threshold (l1_promote_after). loader may be NULL; else the keys still missing are then
 * loaded one after another through read-through, as stratacache_get_or_load does (co's
 * read-through settings apply). Counts (each pointer may be NULL): keys found in Redis,
 * keys loaded, keys that exist nowhere; out_codes (NULL, or n ints): per key OK (found
 * or loaded), ENOTFOUND (exists nowhere) or the code of the first failure (a key that
 * failed). Returns OK when every key was answered (found, loaded or missing); else the
 * first failure's code and message, the other keys having still been tried. */
STRATACACHE_API int stratacache_warm(size_t *out_found, size_t *out_loaded, size_t *out_missing, int *out_codes,
                                     stratacache_cache *cache, const void *const *keys, const size_t *key_lens,
                                     size_t n, stratacache_loader loader, void *ctx, const stratacache_callopts *co);
/* stratacache_warm without a loader, submitted (packed keys, as stratacache_submit_mget):
 * status as stratacache_warm's return, count = keys found, value = n int32 codes in host
 * byte order (len = 4n; the per-key codes of stratacache_warm's out_codes). */
STRATACACHE_API int stratacache_submit_warm(stratacache_cache *cache, const void *keys, const size_t *key_lens,
                                            size_t n, const stratacache_callopts *co, stratacache_queue *queue,
                                            stratacache_callback done, void *payload);

/* ---- Observability ---- */
/* One counter by name: "l1.hits", "l1.misses", "l1.evictions", "l1.expirations",
 * "l1.entries", "l1.bytes", "l2.hits", "l2.misses", "l2.errors", "l2.timeouts",
 * "l2.connect_failures", "l2.fast_failures", "decode_errors", ... (every name is listed
 * by stratacache_stat_info and in the README). Reads that counter only.
 * Unknown name: STRATACACHE_EINVAL. */
STRATACACHE_API int stratacache_stat(uint64_t *out_value, stratacache_cache *cache, const char *name);
/* The counter at index (0, 1, ...): *out_name and *out_description (may be NULL) are
 * static strings. STRATACACHE_ENOTFOUND past the last one. The list only grows: a new
 * counter is appended, so an index keeps naming the same counter (the L1 coherence
 * counters "l1.invalidations", "l1.coherence_flushes", "l1.flushes_channel",
 * "l1.flushes_connection", "l1.flushes_topology", "l1.flushes_server" and
 * "l1.flushes_fork" come after "decode_errors"). Added in 0.2. */
STRATACACHE_API int stratacache_stat_info(const char **out_name, const char **out_description, size_t index);
/* All counters as a JSON object {"l1": {...}, "l2": {...}, "decode_errors": n};
 * NUL-terminated, caller-owned. */
STRATACACHE_API int stratacache_stats_json(char **out_json, size_t *out_len, stratacache_cache *cache);
/* Metrics (added in 0.5; docs/metrics.md lists every name): the counters above and the
 * latency histograms per tier and operation, in the Prometheus text exposition format
 * 0.0.4 (HELP and TYPE lines; families named stratacache_*_total, *_bytes,
 * stratacache_operation_duration_seconds with its _bucket/_sum/_count samples; labels
 * tier, op, result, kind, reason, ...; no instance label: the scraper or collector adds
 * it). Every family is always present; a histogram series appears once its operation
 * has been timed. *out_text is NUL-terminated, caller-owned (stratacache_free);
 * *out_len excludes the NUL. Never blocks on the network. */
STRATACACHE_API int stratacache_metrics_prometheus(char **out_text, size_t *out_len, stratacache_cache *cache);
/* The same as JSON (added in 0.5): {"counters": <stratacache_stats_json's object>,
 * "operations": [{"tier", "op", "count", "sum_seconds", "mean_seconds", "p50_seconds",
 * "p90_seconds", "p99_seconds", "p999_seconds", "buckets": [[le, n], ...]}, ...],
 * "l1_sample_every": n, "histogram": {"sub_buckets", "min_exponent", "max_exponent"}}.
 * buckets lists the non-empty fine buckets (le: upper bound in seconds; null for the
 * overflow bucket). NUL-terminated, caller-owned (stratacache_free). */
STRATACACHE_API int stratacache_metrics_json(char **out_json, size_t *out_len, stratacache_cache *cache);
/* Health as JSON: {"healthy": bool, "latency_ms": f, "version": s, "used_memory": s,
 * "used_memory_bytes": n, "connected_clients": n, "uptime_seconds": n, "error": s, "coherence": s,
 * "coherence_up": bool, "coherence_channels": n, "coherence_error": s}. The coherence
 * fields (0.2) describe the L1 (option l1_coherence): the mode in effect ("tracking",
 * "broadcast" or "off"), whether every invalidation channel is up (always true when
 * off; while false, reads do not fill L1), how many channels there are (one per Redis
 * server; 0 when off) and the last channel error ("" if none). Returns OK even when
 * unhealthy; NUL-terminated, caller-owned. The same JSON is the value of
 * stratacache_submit_health. used_memory is Redis's human form ("2.50M"),
 * used_memory_bytes the number (added in 0.5); on a Cluster both are the masters' sum. */
STRATACACHE_API int stratacache_health_json(char **out_json, size_t *out_len, stratacache_cache *cache,
                                            const stratacache_callopts *co);

/* Server INFO of every Redis node the cache knows (added in 0.5; docs/operations.md):
 * standalone, the server; Sentinel, the current master; Cluster, every master and
 * replica of the last slot map. One INFO per node, all in flight at once. JSON:
 *   {"nodes": [{"address": s, "role": s, "version": s, "error": s,
 *               "connected_clients": n, "used_memory_bytes": n, "used_memory_human": s,
 *               "keyspace_hits": n, "keyspace_misses": n, "evicted_keys": n,
 *               "expired_keys": n, "keys": {"db0": n, ...}}, ...],
 *    "total": {the same numbers summed over the nodes that answered, "keys" summed
 *              per db, "used_memory_human" of the sum}}
 * role is "master" or "slave" as INFO says; a node that did not answer has its error
 * in "error" (else "") and zeros; a field INFO did not report is 0 or "". Returns OK
 * when at least one node answered, else the first node's error (EUNAVAILABLE,
 * ETIMEDOUT, EAUTH, ...). mem:// has no server: STRATACACHE_EUNSUPPORTED.
 * NUL-terminated, caller-owned (stratacache_free). */
STRATACACHE_API int stratacache_server_info_json(char **out_json, size_t *out_len, stratacache_cache *cache,
                                                 const stratacache_callopts *co);
/* stratacache_server_info_json without blocking: value = the JSON text (format
 * FORMAT_JSON) or an error status, as stratacache_submit_health. Added in 0.5. */
STRATACACHE_API int stratacache_submit_server_info(stratacache_cache *cache, const stratacache_callopts *co,
                                                   stratacache_queue *queue, stratacache_callback done,
                                                   void *payload);

/* ---- Inspection (added in 0.5; docs/monitoring.md) ----
 * Read-only views for tools (the `stratacache` command line tool): they decode no
 * value, count no L1 hit or miss and delete nothing. */
/* What `key` holds, as JSON: {"tier": "l2" | "l1", "in_l1": bool, "kind": s,
 * "serializer": "raw" | "json" | "msgpack", "compression": "none" | "lz4" | "zlib",
 * "encrypted": bool, "key_id": n, "stored_bytes": n, "payload_bytes": n, "ttl_ms": n,
 * "negative": bool, "stale_ms": n, "load_ms": n, "stale": bool, "error": s}. With L2
 * (and without STRATACACHE_SKIP_L2) the stored bytes are read from Redis (GET +
 * PTTL, one L2 read counted) and the envelope header is parsed (docs/envelope.md), the
 * body neither decompressed nor decrypted; "kind" is "envelope", "counter" (an INCRBY
 * integer) or "foreign" (not an envelope); an envelope whose header does not parse has
 * "error" set (else ""). Without L2 it describes the L1 entry ("tier" "l1", "kind"
 * "payload", stored_bytes = payload_bytes). ttl_ms is -1 without expiry; negative,
 * stale_ms and load_ms are the read-through entry metadata (0/false without it); "stale":
 * the value is in its stale period. A missing key: STRATACACHE_ENOTFOUND, no message.
 * key: copied; *out_json: NUL-terminated, caller-owned (stratacache_free). */
STRATACACHE_API int stratacache_inspect_json(char **out_json, size_t *out_len, stratacache_cache *cache,
                                             const void *key, size_t key_len, const stratacache_callopts *co);
/* *out_count = how many keys match a Redis glob (the syntax of stratacache_clear_pattern):
 * SCAN MATCH on every master (never KEYS), each key counted once; without L2 (or with
 * STRATACACHE_SKIP_L2), the live L1 entries. Deletes nothing: clear_pattern's dry
 * run. Keys written or deleted meanwhile may or may not be counted. */
STRATACACHE_API int stratacache_count_pattern(int64_t *out_count, stratacache_cache *cache, const void *pattern,
                                              size_t pattern_len, const stratacache_callopts *co);
/* ---- Log hook (added in 0.5; docs/operations.md "Log events") ----
 * One process-wide handler receives what the library has to say: connections opened,
 * lost and restored, circuit breaker transitions, Sentinel failovers, Cluster topology
 * changes, decode errors, coherence channel loss, slow operations and (debug) every
 * operation. Levels are Python logging's: */
#define STRATACACHE_LOG_DEBUG 10
#define STRATACACHE_LOG_INFO 20
#define STRATACACHE_LOG_WARNING 30
#define STRATACACHE_LOG_ERROR 40
/* fn(user, level, event, event_len, message, message_len):
 *  - level: STRATACACHE_LOG_* of the event;
 *  - event: its stable dotted name ("l2.connection_lost", "breaker.open", ...; the
 *    table is in docs/operations.md), message: the human text naming the server, key
 *    or reason. Both are pointer + length (not NUL-terminated), borrowed while fn runs.
 * fn runs on the thread where the event happened: a library I/O or timer thread, or
 * the host's thread inside a call. It must be quick, must not block and must not call
 * any stratacache_* function (stratacache_set_log_handler included: that deadlocks);
 * copy what it needs and hand it to a thread of the host's own (the Python package
 * queues it in a bounded buffer, docs/operations.md). It may run on several threads at
 * once. */
typedef void (*stratacache_log_fn)(void *user, int level, const char *event, size_t event_len, const char *message,
                                   size_t message_len);
/* Installs fn for events at min_level and above (events below it are not even
 * formatted), replacing the previous handler; fn NULL removes it (min_level ignored).
 * `user` is borrowed until the handler is replaced or removed: when this call returns,
 * the previous handler runs nowhere any more (calls under way finished), so its user
 * data may be freed. Without a handler the library formats and delivers nothing.
 * min_level < 0: STRATACACHE_EINVAL. Thread-safe. Added in 0.5. */
STRATACACHE_API int stratacache_set_log_handler(int min_level, stratacache_log_fn fn, void *user);

/* ---- Write-behind (added in 0.4; docs/write-behind.md) ----
 * A queue in front of the host's own store (a database): stratacache_write_behind_set
 * caches the value at once (both tiers) and queues it; the host's writer is called
 * later with each queued write, one call at a time per key, in write order. While a
 * write still waits, a newer write of its key replaces it (coalescing, counted). A
 * writer failure is retried with exponential backoff (later writes of that key wait
 * behind it; other keys go on); EINVAL, ECORRUPT, ETOOBIG, EWRONGTYPE and EUNSUPPORTED
 * are final and not retried. A write that is finally given up (retries exhausted, or
 * still queued when close's deadline passed) is counted ("failed" / "abandoned") and
 * given to the failure callback: nothing is dropped silently.
 *
 * Two ways to run the writer (stratacache_wb_options_set "workers"):
 *  - workers >= 1 (default 1): the writer runs on that many library threads (the host
 *    asked for it).
 *  - workers = 0: the writer runs on the host's thread that drains the queue given with
 *    stratacache_wb_options_set_queue (Node, Java, asyncio). In this mode flush and
 *    close wait for the draining thread: never call them on it with a timeout > 0.
 * Either way the writer returns the outcome (then `op` is done with), or returns
 * STRATACACHE_WB_PENDING and gives `op` to stratacache_write_behind_ack exactly once,
 * from any thread (with a message; with workers >= 1 the worker waits for the ack; with
 * workers = 0 the queue goes on).
 * A write-behind pins its cache handle (like a lease): after stratacache_close its
 * set/delete fail with ECLOSED, while flush, stats and close still work; the cache's
 * connections stay open until the write-behind is closed. */
typedef struct stratacache_write_behind stratacache_write_behind;
typedef struct stratacache_wb_options stratacache_wb_options;
typedef struct stratacache_wb_op stratacache_wb_op; /* one write handed to a queue-mode writer */

#define STRATACACHE_WB_SET 0     /* store value under key */
#define STRATACACHE_WB_DELETE 1  /* delete key (value is NULL, 0) */
#define STRATACACHE_WB_PENDING 1 /* writer return: it will ack `op` later */

/* The writer. kind: STRATACACHE_WB_SET or _DELETE; key, value: borrowed while the
 * writer runs (and, with STRATACACHE_WB_PENDING, until `op` is acked); format: the
 * value's STRATACACHE_FORMAT_*; attempt: 1 for the first call, 2 for the first retry...
 * Returns STRATACACHE_OK, a negative STRATACACHE_E* code (the write failed), or
 * STRATACACHE_WB_PENDING (the outcome comes later through `op`). */
typedef int (*stratacache_wb_writer)(void *ctx, stratacache_wb_op *op, int kind, const void *key, size_t key_len,
                                     const void *value, size_t value_len, int format, int attempt);
/* A write that will not be made: status is the writer's last code, or EABORTED when
 * close's deadline passed first; message says why. Arguments valid while it runs. Runs
 * on a library worker thread (workers >= 1), on the draining thread (workers = 0), or
 * on the thread that calls stratacache_write_behind_close (abandoned writes). */
typedef void (*stratacache_wb_failure)(void *ctx, int kind, const void *key, size_t key_len, const void *value,
                                       size_t value_len, int format, int status, const char *message);

/* Options with defaults: max_pending 10000, max_retries 5, backoff_initial_ms 100,
 * backoff_max_ms 10000, backoff_jitter 0.2, workers 1, close_timeout_ms 5000. Caller
 * owns *out (stratacache_wb_options_free). */
STRATACACHE_API int stratacache_wb_options_new(stratacache_wb_options **out);
/* Set one of the names above (value copied, parsed as a number). Unknown names and bad
 * values are STRATACACHE_EINVAL naming the parameter. */
STRATACACHE_API int stratacache_wb_options_set(stratacache_wb_options *opts, const char *name, const char *value);
/* workers = 0: the queue that carries the writer's calls (and the failure callbacks).
 * Borrowed: keep it until the write-behind is closed. */
STRATACACHE_API int stratacache_wb_options_set_queue(stratacache_wb_options *opts, stratacache_queue *queue);
/* The failure callback and its ctx (borrowed until the write-behind is closed). */
STRATACACHE_API int stratacache_wb_options_set_failure(stratacache_wb_options *opts, stratacache_wb_failure on_failure,
                                                       void *ctx);
STRATACACHE_API void stratacache_wb_options_free(stratacache_wb_options *opts);

/* A write-behind on `cache` calling writer(ctx, ...). opts: read, not kept (NULL:
 * defaults); ctx: borrowed until stratacache_write_behind_close returns. Caller owns
 * *out (stratacache_write_behind_free). EINVAL: no writer, bad options, workers = 0
 * without a queue. */
STRATACACHE_API int stratacache_write_behind_open(stratacache_write_behind **out, stratacache_cache *cache,
                                                  const stratacache_wb_options *opts, stratacache_wb_writer writer,
                                                  void *ctx);
/* Cache key -> value (as stratacache_set with co; copied) and queue the write.
 * EUNAVAILABLE "write-behind queue full" (max_pending writes pending and none of this key
 * waiting to be replaced) or "write-behind closed": nothing cached, nothing queued.
 * The cache's EINVAL / ETOOBIG: nothing queued. A Redis failure of the cache write (L1
 * holds the value) still queues it and returns OK. */
STRATACACHE_API int stratacache_write_behind_set(stratacache_write_behind *wb, const void *key, size_t key_len,
                                                 const void *value, size_t value_len, int format,
                                                 const stratacache_callopts *co);
/* Delete key from the cache and queue a delete for the writer (same contract). */
STRATACACHE_API int stratacache_write_behind_delete(stratacache_write_behind *wb, const void *key, size_t key_len,
                                                    const stratacache_callopts *co);
/* The outcome of a write whose writer returned STRATACACHE_WB_PENDING: STRATACACHE_OK
 * or a negative code, and why (message may be NULL; copied). Consumes op, from any
 * thread, even after the write-behind was closed (then it only frees it: a queue-mode
 * write acked after close's deadline was already counted abandoned). NULL: no-op. */
STRATACACHE_API void stratacache_write_behind_ack(stratacache_wb_op *op, int status, const char *message);
/* Wait until every write queued before this call was written or finally failed.
 * ETIMEDOUT after timeout_ms (the writes stay queued); timeout_ms < 0 waits forever. */
STRATACACHE_API int stratacache_write_behind_flush(stratacache_write_behind *wb, int64_t timeout_ms);
/* Flush (bounded by timeout_ms; < 0: the close_timeout_ms option), then stop the
 * workers (waiting for writer calls in progress to return) and release the pin on the
 * cache. Writes still queued are abandoned: counted in "abandoned", given to the
 * failure callback with EABORTED, and close returns ETIMEDOUT naming how many. After
 * close, set/delete fail with EUNAVAILABLE "write-behind closed"; stats and last_error
 * still answer; a second close is a no-op (OK). Never call it from the writer. */
STRATACACHE_API int stratacache_write_behind_close(stratacache_write_behind *wb, int64_t timeout_ms);
/* Close (with close_timeout_ms, if not closed yet) and free wb. NULL is a no-op. */
STRATACACHE_API void stratacache_write_behind_free(stratacache_write_behind *wb);
/* One counter of this write-behind: "pending", "written", "failed", "retries",
 * "coalesced", "rejected", "abandoned" (the same as the cache's "write_behind.*"
 * counters, which sum the cache's write-behinds). Unknown name: EINVAL. */
STRATACACHE_API int stratacache_write_behind_stat(uint64_t *out_value, const stratacache_write_behind *wb,
                                                  const char *name);
/* The last writer failure as "key: CODE: message" ("" if none); NUL-terminated,
 * caller-owned (stratacache_free). */
STRATACACHE_API int stratacache_write_behind_last_error(char **out_message, size_t *out_len,
                                                        const stratacache_write_behind *wb);
/* ---- Tags and dependencies (added in 0.4; docs/tags.md) ---- */
/* The tags of the entries written with these callopts (set, set_json, mset, and
 * read-through fills: get_or_load, acquire + lease_fill): n tags, tags[i] of lens[i]
 * bytes, copied. Invalidating one of them (stratacache_invalidate_tags) removes those
 * entries from Redis and from every process's L1. n = 0 clears them. An empty tag is
 * refused by the write (EINVAL). */
STRATACACHE_API int stratacache_callopts_set_tags(stratacache_callopts *co, const void *const *tags,
                                                  const size_t *lens, size_t n);
/* The keys the entries written with these callopts depend on: writing, deleting or
 * invalidating one of them removes those entries (transitively; cycles end). n keys,
 * copied; n = 0 clears them. */
STRATACACHE_API int stratacache_callopts_set_depends_on(stratacache_callopts *co, const void *const *keys,
                                                        const size_t *lens, size_t n);
/* Remove every entry written with one of the n tags (tags[i] of lens[i] bytes,
 * borrowed for the call), and their dependents; *out_removed (may be NULL) = how many
 * entries were removed. When it returns, this process serves none of them; other
 * processes stop within their coherence delay (docs/coherence.md); a write that
 * overlaps the call may survive it. */
STRATACACHE_API int stratacache_invalidate_tags(int64_t *out_removed, stratacache_cache *cache,
                                                const void *const *tags, const size_t *lens, size_t n,
                                                const stratacache_callopts *co);
/* stratacache_invalidate_tags without blocking (tags copied); count = entries removed. */
STRATACACHE_API int stratacache_submit_invalidate_tags(stratacache_cache *cache, const void *const *tags,
                                                       const size_t *lens, size_t n, const stratacache_callopts *co,
                                                       stratacache_queue *queue, stratacache_callback done,
                                                       void *payload);

/* ---- Distributed locks (added in 0.4; docs/locks.md) ----
 * Mutual exclusion between processes through Redis (mem://: between the users of one
 * handle), with a TTL, a bounded wait that is woken when the holder lets go (not
 * polled, unless l1_coherence=off), extension and release by the owner only, and a
 * fencing token: strictly greater for every new holder of a name. A lock never
 * degrades to this process: with Redis unreachable, acquire fails (EUNAVAILABLE).
 * Under failover a lock can be lost (asynchronous replication): docs/locks.md.
 * A stratacache_lock is the caller's from a successful acquire until it is given to
 * stratacache_lock_release, stratacache_submit_lock_release or stratacache_lock_free
 * (each consumes it, even when it fails). Until then it counts as a call in progress
 * on the handle, like a read-through lease: stratacache_close does not wait for it,
 * but the connections are closed only once it is consumed. After stratacache_close
 * the lock functions answer ECLOSED (release and free still consume the lock; its
 * Redis key then expires by its TTL). A lock may be used from any thread, one call at
 * a time. The callopts timeout bounds each Redis round trip; SKIP_L2 is EUNSUPPORTED. */
typedef struct stratacache_lock stratacache_lock; /* a held lock */

/* Acquire the lock `name` (bytes, copied) for ttl_ms (> 0, at most 10 years), waiting
 * up to wait_ms (0: try once) for its holder to release it or for it to expire.
 * OK: *out is the caller's lock and *out_fence (may be NULL) its fencing token.
 * ETIMEDOUT: still held by another owner when the wait ran out (or Redis did not answer
 * within the timeout); EUNAVAILABLE: Redis failed; EINVAL: bad ttl_ms, wait_ms or a
 * name over max_key_length. Blocks at most wait_ms + the callopts timeout. */
STRATACACHE_API int stratacache_lock_acquire(stratacache_lock **out, uint64_t *out_fence, stratacache_cache *cache,
                                             const void *name, size_t name_len, int64_t ttl_ms, int64_t wait_ms,
                                             const stratacache_callopts *co);
/* The lock's fencing token (0 for NULL). Never fails. */
STRATACACHE_API uint64_t stratacache_lock_fence(const stratacache_lock *lock);
/* Set the lock's remaining lifetime to ttl_ms, if the caller still holds it. EABORTED:
 * no longer the owner (it expired; another owner may hold it); nothing changed. The
 * lock stays the caller's in every case. */
STRATACACHE_API int stratacache_lock_extend(stratacache_lock *lock, int64_t ttl_ms);
/* Release (compare-and-delete: only while the caller still holds it) and free the lock.
 * EABORTED: it was no longer the caller's (expired, maybe taken); EUNAVAILABLE /
 * ETIMEDOUT: Redis failed, the lock expires by its TTL. Consumes the lock in every
 * case; NULL is EINVAL. */
STRATACACHE_API int stratacache_lock_release(stratacache_lock *lock);
/* Free the lock, releasing it first if it is still held (best effort, without waiting
 * for Redis). For finalizers and error paths. NULL is a no-op. */
STRATACACHE_API void stratacache_lock_free(stratacache_lock *lock);
/* Submission forms (the completion model above). acquire's callback gets the status,
 * message, the lock (the callee's; NULL unless OK) and its fence. With a NULL queue it
 * may also run on a library timer thread (a wait that ended at its deadline). A
 * completion dropped by stratacache_queue_free frees its lock (released); one that
 * arrives after stratacache_close carries no lock (EUNAVAILABLE). */
typedef void (*stratacache_lock_callback)(void *payload, int status, const char *message, stratacache_lock *lock,
                                          uint64_t fence);
STRATACACHE_API int stratacache_submit_lock_acquire(stratacache_cache *cache, const void *name, size_t name_len,
                                                    int64_t ttl_ms, int64_t wait_ms, const stratacache_callopts *co,
                                                    stratacache_queue *queue, stratacache_lock_callback done,
                                                    void *payload);
/* stratacache_lock_extend without blocking: `done` gets OK, EABORTED or an error. The
 * lock stays the caller's (it may be released or freed before `done` runs). */
STRATACACHE_API int stratacache_submit_lock_extend(stratacache_lock *lock, int64_t ttl_ms, stratacache_queue *queue,
                                                   stratacache_callback done, void *payload);
/* stratacache_lock_release without blocking: `done` gets OK, EABORTED or an error.
 * Consumes the lock, even when the submission is refused. */
STRATACACHE_API int stratacache_submit_lock_release(stratacache_lock *lock, stratacache_queue *queue,
                                                    stratacache_callback done, void *payload);

#ifdef __cplusplus
}
#endif

#endif /* STRATACACHE_H */
