package io.stratacache;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;

/**
 * Per-thread state of blocking calls: a stratacache_callopts with an error buffer (the
 * library writes each call's message there, so no thread-local of the library is read
 * after the call), reusable out-parameter arrays and a value buffer for
 * stratacache_get_into, so an L1 hit allocates nothing but the returned array.
 * Callopts serve one call at a time, hence one per thread; a Cleaner frees the native
 * parts when the thread's context is collected.
 */
final class CallContext {
    private static final int ERROR_CAP = 1024;
    private static final long INITIAL_BUFFER = 4096;
    /** Values up to this size keep the buffer grown for them; larger ones get a one-call buffer. */
    private static final long MAX_KEPT_BUFFER = 1 << 20;
    private static final Cleaner CLEANER = Cleaner.create();
    private static final ThreadLocal<CallContext> LOCAL = ThreadLocal.withInitial(() -> new CallContext(null));

    final Pointer co;
    private final Memory error;
    final long[] long1 = new long[1];
    final long[] long2 = new long[1];
    final int[] int1 = new int[1];
    final int[] int2 = new int[1];
    Memory buffer;

    /** The calling thread's context with default per-call settings. */
    static CallContext get() {
        return LOCAL.get();
    }

    /**
     * A context of its own, for calls with non-default settings (the builder sets them on
     * the new callopts); release it with {@link #free()} after the call.
     */
    static CallContext custom(java.util.function.ToIntFunction<Pointer> configure) {
        return new CallContext(configure);
    }

    private CallContext(java.util.function.ToIntFunction<Pointer> configure) {
        long[] out = new long[1];
        int rc = NativeApi.stratacache_callopts_new(out);
        if (rc != 0) {
            throw StrataCacheException.of(rc, "");
        }
        co = new Pointer(out[0]);
        error = new Memory(ERROR_CAP);
        error.setByte(0, (byte) 0);
        NativeApi.stratacache_callopts_set_error_buffer(co, error, ERROR_CAP);
        if (configure == null) {
            Pointer coRef = co;
            Memory errorRef = error;
            CLEANER.register(this, () -> {
                NativeApi.stratacache_callopts_free(coRef);
                errorRef.close();
            });
        } else {
            rc = configure.applyAsInt(co);
            if (rc != 0) {
                StrataCacheException e = failure(rc);
                free();
                throw e;
            }
        }
    }

    /** Frees a {@link #custom} context. */
    void free() {
        NativeApi.stratacache_callopts_free(co);
        error.close();
    }

    /** The exception for a failed call made with this context (its message from the error buffer). */
    StrataCacheException failure(int rc) {
        return StrataCacheException.of(rc, error.getString(0, StandardCharsets.UTF_8.name()));
    }

    /** A value buffer of at least {@code size} bytes (kept for the next call unless very large). */
    Memory buffer(long size) {
        if (buffer != null && buffer.size() >= size) {
            return buffer;
        }
        if (size > MAX_KEPT_BUFFER) {
            return new Memory(size);
        }
        if (buffer != null) {
            buffer.close();
        }
        buffer = new Memory(Math.max(size, INITIAL_BUFFER));
        return buffer;
    }
}
