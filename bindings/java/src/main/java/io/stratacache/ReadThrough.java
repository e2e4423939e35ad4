package io.stratacache;

import com.sun.jna.Pointer;
import java.time.Duration;

/**
 * Settings of one {@link StrataCache#getOrLoad} call (docs/read-through.md); unset ones
 * keep the library's defaults. Immutable: each setter returns a new ReadThrough.
 */
public final class ReadThrough {
    private final Duration ttl;
    private final Duration staleTtl;
    private final Duration negativeTtl;
    private final Duration timeout;
    private final double earlyRefresh;
    private final boolean lock;

    /** The defaults: ttl = the cache's default_ttl, no stale period, no negative entries, a Redis lease. */
    public static final ReadThrough DEFAULTS = new ReadThrough(null, null, null, null, 0, true);

    private ReadThrough(Duration ttl, Duration staleTtl, Duration negativeTtl, Duration timeout, double earlyRefresh,
                        boolean lock) {
        this.ttl = ttl;
        this.staleTtl = staleTtl;
        this.negativeTtl = negativeTtl;
        this.timeout = timeout;
        this.earlyRefresh = earlyRefresh;
        this.lock = lock;
    }

    /** Fresh period of a loaded value. */
    public ReadThrough ttl(Duration d) {
        return new ReadThrough(d, staleTtl, negativeTtl, timeout, earlyRefresh, lock);
    }

    /** Stale period after the fresh one: served when the reload fails or times out. */
    public ReadThrough staleTtl(Duration d) {
        return new ReadThrough(ttl, d, negativeTtl, timeout, earlyRefresh, lock);
    }

    /** How long "does not exist" (a loader's {@code Optional.empty()}) is remembered. */
    public ReadThrough negativeTtl(Duration d) {
        return new ReadThrough(ttl, staleTtl, d, timeout, earlyRefresh, lock);
    }

    /** The hard timeout of the call's waits (Redis, another caller's load), not of the loader. */
    public ReadThrough timeout(Duration d) {
        return new ReadThrough(ttl, staleTtl, negativeTtl, d, earlyRefresh, lock);
    }

    /** XFetch's beta: 0 off (default), 1 optimal, larger refreshes earlier. */
    public ReadThrough earlyRefresh(double beta) {
        return new ReadThrough(ttl, staleTtl, negativeTtl, timeout, beta, lock);
    }

    /** false: one load per process only (no Redis lease). */
    public ReadThrough lock(boolean on) {
        return new ReadThrough(ttl, staleTtl, negativeTtl, timeout, earlyRefresh, on);
    }

    /** Applies these settings to a native callopts; a non-zero return is the failing setter's code. */
    int applyTo(Pointer co) {
        int rc = 0;
        if (ttl != null) {
            rc = NativeApi.stratacache_callopts_set_ttl_ms(co, ttl.toMillis());
        }
        if (rc == 0 && staleTtl != null) {
            rc = NativeApi.stratacache_callopts_set_stale_ttl_ms(co, staleTtl.toMillis());
        }
        if (rc == 0 && negativeTtl != null) {
            rc = NativeApi.stratacache_callopts_set_negative_ttl_ms(co, negativeTtl.toMillis());
        }
        if (rc == 0 && timeout != null) {
            rc = NativeApi.stratacache_callopts_set_timeout_ms(co, timeout.toMillis());
        }
        if (rc == 0 && earlyRefresh != 0) {
            rc = NativeApi.stratacache_callopts_set_early_refresh(co, earlyRefresh);
        }
        if (rc == 0 && !lock) {
            rc = NativeApi.stratacache_callopts_set_lock(co, 0);
        }
        return rc;
    }
}
