package io.stratacache;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * JNA direct mapping of libstratacache's C ABI (capi/include/stratacache.h): the
 * functions this package calls, declared {@code native} and bound once with
 * {@link Native#register}. Direct mapping is what makes an L1 hit cost a few hundred
 * nanoseconds instead of several microseconds through interface mapping.
 *
 * <p>Type mapping (64-bit Linux): {@code size_t} and {@code int64_t} are {@code long};
 * out-parameters are one-element primitive arrays ({@code long[]} also holds an
 * out-pointer), which direct mapping copies in and out without allocating native memory;
 * opaque handles are {@link Pointer}s; C strings are NUL-terminated UTF-8 {@code byte[]}s
 * ({@link #cString}), whatever the platform charset. The library is {@code $STRATACACHE_LIB} when set,
 * else {@code stratacache} found through {@code jna.library.path} or the system.
 */
final class NativeApi {
    private NativeApi() {}

    static final NativeLibrary LIBRARY;

    static {
        String path = System.getenv("STRATACACHE_LIB");
        LIBRARY = NativeLibrary.getInstance(path != null && !path.isEmpty() ? path : "stratacache");
        Native.register(NativeApi.class, LIBRARY);
    }

    /** A C string argument: the UTF-8 bytes of {@code s} and a NUL. */
    static byte[] cString(String s) {
        byte[] utf8 = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(utf8, utf8.length + 1);
    }

    /** stratacache_callback: completions drained from a queue. */
    interface Completion extends Callback {
        void invoke(Pointer payload, int status, Pointer message, Pointer value, long len, int format, long count);
    }

    /** stratacache_acquire_callback: read-through acquires drained from a queue. */
    interface AcquireCompletion extends Callback {
        void invoke(Pointer payload, int status, Pointer message, Pointer value, long len, int format, int info,
                    Pointer lease);
    }

    /** stratacache_loader: read-through loads, run on the calling thread. */
    interface Loader extends Callback {
        int invoke(Pointer ctx, Pointer key, long keyLen, Pointer sink);
    }

    // ---- version, errors, memory
    static native String stratacache_version_string();
    static native Pointer stratacache_strerror(int code);
    static native Pointer stratacache_last_error();
    static native void stratacache_free(Pointer buffer);

    // ---- options
    static native int stratacache_options_from_url(long[] out, byte[] url);
    static native int stratacache_options_set(Pointer opts, byte[] name, byte[] value);
    static native int stratacache_options_add_key(Pointer opts, int id, byte[] key, long keyLen, int primary);
    static native void stratacache_options_free(Pointer opts);

    // ---- open / close
    static native int stratacache_open_with(long[] out, Pointer opts);
    static native int stratacache_open_shared_with(long[] out, byte[] name, Pointer opts);
    static native void stratacache_close(Pointer cache);

    // ---- per-call options
    static native int stratacache_callopts_new(long[] out);
    static native int stratacache_callopts_set_timeout_ms(Pointer co, long timeoutMs);
    static native int stratacache_callopts_set_flags(Pointer co, int flags);
    static native int stratacache_callopts_set_error_buffer(Pointer co, Pointer buf, long cap);
    static native int stratacache_callopts_set_ttl_ms(Pointer co, long ms);
    static native int stratacache_callopts_set_stale_ttl_ms(Pointer co, long ms);
    static native int stratacache_callopts_set_negative_ttl_ms(Pointer co, long ms);
    static native int stratacache_callopts_set_early_refresh(Pointer co, double beta);
    static native int stratacache_callopts_set_lock(Pointer co, int lock);
    static native void stratacache_callopts_free(Pointer co);

    static native int stratacache_callopts_set_tags(Pointer co, long[] tags, long[] lens, long n);
    static native int stratacache_callopts_set_depends_on(Pointer co, long[] keys, long[] lens, long n);

    // ---- operations
    /** The read hot path: every pointer as its address (primitive-only calls are direct mapping's fastest). */
    static native int stratacache_get_into(long outLen, long outFormat, long cache, long key, long keyLen, long buf,
                                           long cap, long co);
    static native int stratacache_get_json(long[] outJson, long[] outLen, Pointer cache, byte[] key, long keyLen,
                                           Pointer co);
    static native int stratacache_set(Pointer cache, byte[] key, long keyLen, byte[] value, long valueLen, int format,
                                      long ttlMs, Pointer co);
    static native int stratacache_set_json(Pointer cache, byte[] key, long keyLen, byte[] json, long jsonLen,
                                           long ttlMs, Pointer co);
    static native int stratacache_delete_packed(long[] outDeleted, Pointer cache, byte[] keys, long[] keyLens, long n,
                                                Pointer co);
    static native int stratacache_exists(int[] outExists, Pointer cache, byte[] key, long keyLen, Pointer co);
    static native int stratacache_ttl(long[] outTtlMs, Pointer cache, byte[] key, long keyLen, Pointer co);
    static native int stratacache_increment(long[] outValue, Pointer cache, byte[] key, long keyLen, long amount,
                                            long ttlMs, Pointer co);
    static native int stratacache_clear_pattern(long[] outDeleted, Pointer cache, byte[] pattern, long patternLen,
                                                Pointer co);
    static native int stratacache_mget_packed(long[] outPacked, long[] outLen, Pointer cache, byte[] keys,
                                              long[] keyLens, long n, Pointer co);
    static native int stratacache_mset_packed(Pointer cache, byte[] keys, long[] keyLens, byte[] values,
                                              long[] valueLens, int[] formats, long n, long ttlMs, Pointer co);
    static native void stratacache_flush_l1(Pointer cache);

    // ---- completions
    static native int stratacache_queue_new(long[] out);
    static native int stratacache_queue_fd(Pointer queue);
    static native int stratacache_queue_drain(long[] outRan, Pointer queue, long max);
    static native int stratacache_submit_get(Pointer cache, byte[] key, long keyLen, Pointer co, Pointer queue,
                                             Completion done, Pointer payload);
    static native int stratacache_submit_set(Pointer cache, byte[] key, long keyLen, byte[] value, long valueLen,
                                             int format, long ttlMs, Pointer co, Pointer queue, Completion done,
                                             Pointer payload);
    static native int stratacache_submit_delete(Pointer cache, byte[] keys, long[] keyLens, long n, Pointer co,
                                                Pointer queue, Completion done, Pointer payload);
    static native int stratacache_submit_exists(Pointer cache, byte[] key, long keyLen, Pointer co, Pointer queue,
                                                Completion done, Pointer payload);
    static native int stratacache_submit_ttl(Pointer cache, byte[] key, long keyLen, Pointer co, Pointer queue,
                                             Completion done, Pointer payload);
    static native int stratacache_submit_increment(Pointer cache, byte[] key, long keyLen, long amount, long ttlMs,
                                                   Pointer co, Pointer queue, Completion done, Pointer payload);
    static native int stratacache_submit_mget(Pointer cache, byte[] keys, long[] keyLens, long n, Pointer co,
                                              Pointer queue, Completion done, Pointer payload);
    static native int stratacache_submit_clear_pattern(Pointer cache, byte[] pattern, long patternLen, Pointer co,
                                                       Pointer queue, Completion done, Pointer payload);
    static native int stratacache_submit_health(Pointer cache, Pointer co, Pointer queue, Completion done,
                                                Pointer payload);

    // ---- envelopes
    static native int stratacache_envelope_decode(long[] outValue, long[] outLen, int[] outFormat, byte[] envelope,
                                                  long envelopeLen, byte[] prefix, long prefixLen, byte[] key,
                                                  long keyLen, Pointer opts);

    // ---- read-through
    static native int stratacache_sink_put(Pointer sink, byte[] value, long len, int format, long ttlMs);
    static native int stratacache_sink_fail(Pointer sink, byte[] message);
    static native int stratacache_get_or_load(long[] outValue, long[] outLen, int[] outFormat, int[] outInfo,
                                              Pointer cache, byte[] key, long keyLen, Loader loader, Pointer ctx,
                                              Pointer co);

    // ---- tags (0.4)
    static native int stratacache_invalidate_tags(long[] outRemoved, Pointer cache, long[] tags, long[] lens, long n,
                                                  Pointer co);

    // ---- locks (0.4)
    static native int stratacache_lock_acquire(long[] out, long[] outFence, Pointer cache, byte[] name, long nameLen,
                                               long ttlMs, long waitMs, Pointer co);
    static native long stratacache_lock_fence(Pointer lock);
    static native int stratacache_lock_extend(Pointer lock, long ttlMs);
    static native int stratacache_lock_release(Pointer lock);
    static native void stratacache_lock_free(Pointer lock);

    // ---- warming (0.4)
    static native int stratacache_warm(long[] outFound, long[] outLoaded, long[] outMissing, int[] outCodes,
                                       Pointer cache, long[] keys, long[] keyLens, long n, Loader loader, Pointer ctx,
                                       Pointer co);

    // ---- read-through, lease form
    static native int stratacache_submit_acquire(Pointer cache, byte[] key, long keyLen, Pointer co, Pointer queue,
                                                 AcquireCompletion done, Pointer payload);
    static native int stratacache_submit_lease_fill(Pointer lease, byte[] value, long len, int format, long ttlMs,
                                                    Pointer queue, Completion done, Pointer payload);
    static native int stratacache_submit_lease_fill_not_found(Pointer lease, Pointer queue, Completion done,
                                                              Pointer payload);
    static native void stratacache_lease_abandon(Pointer lease, int code, byte[] message);

    // ---- observability
    static native int stratacache_stat(long[] outValue, Pointer cache, byte[] name);
    static native int stratacache_stats_json(long[] outJson, long[] outLen, Pointer cache);
    static native int stratacache_health_json(long[] outJson, long[] outLen, Pointer cache, Pointer co);

    // ---- libc, for the completion thread
    static final class LibC {
        private LibC() {}

        static {
            Native.register(LibC.class, NativeLibrary.getInstance("c"));
        }

        /** poll(2) on one struct pollfd {int fd; short events; short revents;} held in 8 bytes. */
        static native int poll(Pointer fds, long nfds, int timeoutMs);
    }
}
