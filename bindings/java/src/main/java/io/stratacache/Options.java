package io.stratacache;

import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Settings for {@link StrataCache#open(Options)}: a stratacache URL ({@code mem://},
 * {@code redis://[user:pass@]host:port/db?param=value...}, {@code rediss://},
 * {@code redis+sentinel://}, {@code redis+cluster://}, {@code unix://}), parameters by
 * their URL names, and AES-256-GCM keys. Immutable: each setter returns a new Options.
 * Names and values are checked by the library when the cache is opened
 * ({@link StrataCacheException.InvalidArgument} names the parameter).
 */
public final class Options {
    private final String url;
    private final List<String[]> params;
    private final List<Key> keys;
    private final boolean failSilently;

    private static final class Key {
        final int id;
        final byte[] key;
        final boolean primary;

        Key(int id, byte[] key, boolean primary) {
            this.id = id;
            this.key = key;
            this.primary = primary;
        }
    }

    private Options(String url, List<String[]> params, List<Key> keys, boolean failSilently) {
        this.url = url;
        this.params = params;
        this.keys = keys;
        this.failSilently = failSilently;
    }

    /** Options from a URL ({@code mem://} when null). */
    public static Options fromUrl(String url) {
        return new Options(url == null ? "mem://" : url, List.of(), List.of(), true);
    }

    /** With one parameter set by its URL name (e.g. {@code "socket_timeout", "1.5"}). */
    public Options set(String name, String value) {
        List<String[]> p = new ArrayList<>(params);
        p.add(new String[] {Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value")});
        return new Options(url, List.copyOf(p), keys, failSilently);
    }

    /**
     * With an AES-256-GCM key (exactly 32 bytes, copied) stored under {@code id} in each
     * envelope. The first key, or one added with {@code primary}, encrypts new values;
     * every key decrypts.
     */
    public Options addKey(int id, byte[] key, boolean primary) {
        List<Key> k = new ArrayList<>(keys);
        k.add(new Key(id, key.clone(), primary));
        return new Options(url, params, List.copyOf(k), failSilently);
    }

    /**
     * Whether Redis failures ({@link StrataCacheException.Unavailable},
     * {@link StrataCacheException.Timeout}, {@link StrataCacheException.Auth}) are absorbed
     * (the default, true): reads then answer a miss, {@code exists} false, {@code ttl}
     * empty, deletes 0, writes return (L1 still holds what this process wrote),
     * {@code getOrLoad} runs the loader and returns its value uncached; each absorbed
     * failure is counted in {@code stats().get("errors_absorbed")}. {@code increment},
     * {@code health} and {@code stat} are never absorbed. false: every failure is thrown.
     */
    public Options failSilently(boolean on) {
        return new Options(url, params, keys, on);
    }

    public boolean failSilently() {
        return failSilently;
    }

    public String url() {
        return url;
    }

    /** A native stratacache_options for these settings; the caller frees it. */
    Pointer toNative() {
        long[] out = new long[1];
        int rc = NativeApi.stratacache_options_from_url(out, NativeApi.cString(url));
        if (rc != 0) {
            throw StrataCache.lastError(rc);
        }
        Pointer opts = new Pointer(out[0]);
        try {
            for (String[] p : params) {
                rc = NativeApi.stratacache_options_set(opts, NativeApi.cString(p[0]), NativeApi.cString(p[1]));
                if (rc != 0) {
                    throw StrataCache.lastError(rc);
                }
            }
            for (Key k : keys) {
                rc = NativeApi.stratacache_options_add_key(opts, k.id, k.key, k.key.length, k.primary ? 1 : 0);
                if (rc != 0) {
                    throw StrataCache.lastError(rc);
                }
            }
            return opts;
        } catch (RuntimeException e) {
            NativeApi.stratacache_options_free(opts);
            throw e;
        }
    }

    @Override
    public String toString() {
        return "Options(" + params.size() + " parameters, " + keys.size() + " keys)";
    }
}
