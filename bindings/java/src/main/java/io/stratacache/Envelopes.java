package io.stratacache;

import com.sun.jna.Pointer;
import java.util.Optional;

/**
 * The stored form of values (docs/envelope.md), for tools and for checking the golden
 * vectors of tests/golden: a thin wrapper over stratacache_envelope_decode.
 */
public final class Envelopes {
    private Envelopes() {}

    /**
     * The value in {@code envelope}, stored under {@code key} by a cache whose key prefix
     * is {@code prefix}; {@code options} supplies the key ring and decode limits. Empty for
     * a negative marker (the key does not exist). Malformed, tampered or wrong-key input is
     * {@link StrataCacheException.Corrupt}; well-formed but unreadable here is
     * {@link StrataCacheException.Unsupported}; over the limits {@link StrataCacheException.TooBig}.
     */
    public static Optional<Value> decode(byte[] envelope, String prefix, String key, Options options) {
        Pointer opts = options.toNative();
        try {
            long[] out = new long[1];
            long[] len = new long[1];
            int[] format = new int[1];
            byte[] p = StrataCache.utf8(prefix);
            byte[] k = StrataCache.utf8(key);
            int rc = NativeApi.stratacache_envelope_decode(out, len, format, envelope, envelope.length, p, p.length,
                    k, k.length, opts);
            if (rc == -1) {
                return Optional.empty();
            }
            if (rc != 0) {
                throw StrataCache.lastError(rc);
            }
            Pointer value = new Pointer(out[0]);
            try {
                return Optional.of(new Value(Format.of(format[0]), value.getByteArray(0, (int) len[0])));
            } finally {
                NativeApi.stratacache_free(value);
            }
        } finally {
            NativeApi.stratacache_options_free(opts);
        }
    }
}
