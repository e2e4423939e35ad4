package io.stratacache;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Per-thread state of blocking calls: a stratacache_callopts with an error buffer (the
 * library writes each call's message there, so no thread-local of the library is read
 * after the call), reusable out-parameter arrays, and for the read hot path
 * (stratacache_get_into) native scratch memory for the key and the out-parameters plus a
 * value buffer, written and read through direct ByteBuffer views: plain memory accesses,
 * no JNI array copies, so an L1 hit allocates nothing but the returned array.
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
    final long coAddress;
    final long[] long1 = new long[1];
    final long[] long2 = new long[1];
    final int[] int1 = new int[1];
    final int[] int2 = new int[1];
    /** Out-parameters at [0, 16) (out_len, out_format), the key from KEY_OFFSET. */
    private Memory scratch;
    private ByteBuffer scratchView;
    private Memory value;
    private ByteBuffer valueView;
    private static final int KEY_OFFSET = 16;

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
        coAddress = out[0];
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

    /** Address of out_len (size_t) for {@link #putKey}'s call. */
    long outLenAddress() {
        return Pointer.nativeValue(scratch);
    }

    long outFormatAddress() {
        return Pointer.nativeValue(scratch) + 8;
    }

    long keyAddress() {
        return Pointer.nativeValue(scratch) + KEY_OFFSET;
    }

    long outLen() {
        return scratchView.getLong(0);
    }

    int outFormat() {
        return scratchView.getInt(8);
    }

    /** Writes the key's UTF-8 bytes into the scratch memory; returns their length. */
    int putKey(String key) {
        int n = key.length();
        ensureScratch(n);
        for (int i = 0; i < n; i++) {
            char ch = key.charAt(i);
            if (ch >= 0x80) {
                byte[] utf8 = key.getBytes(StandardCharsets.UTF_8);
                ensureScratch(utf8.length);
                scratchView.put(KEY_OFFSET, utf8);
                return utf8.length;
            }
            scratchView.put(KEY_OFFSET + i, (byte) ch);
        }
        return n;
    }

    private void ensureScratch(int keyLen) {
        if (scratch == null || scratch.size() < KEY_OFFSET + keyLen) {
            if (scratch != null) {
                scratch.close();
            }
            scratch = new Memory(KEY_OFFSET + Math.max(keyLen, 240));
            scratchView = scratch.getByteBuffer(0, scratch.size()).order(ByteOrder.nativeOrder());
        }
    }

    /** Address of a value buffer of at least {@code size} bytes (kept unless very large). */
    long valueBuffer(long size) {
        if (value == null || value.size() < size) {
            if (value != null) {
                value.close();
            }
            value = new Memory(Math.max(size, INITIAL_BUFFER));
            valueView = value.getByteBuffer(0, value.size());
        }
        return Pointer.nativeValue(value);
    }

    long valueCapacity() {
        return value.size();
    }

    /** The first {@code len} bytes of the value buffer, copied out. */
    byte[] valueBytes(int len) {
        byte[] out = new byte[len];
        valueView.get(0, out);
        return out;
    }

    /** Copies the first {@code len} bytes of the value buffer into {@code dst}. */
    void copyValue(byte[] dst, int len) {
        valueView.get(0, dst, 0, len);
    }

    /** Shrinks the value buffer back when a very large value grew it. */
    void trimValueBuffer() {
        if (value != null && value.size() > MAX_KEPT_BUFFER) {
            value.close();
            value = null;
            valueView = null;
        }
    }
}
