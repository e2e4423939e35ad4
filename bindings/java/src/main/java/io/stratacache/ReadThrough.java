package io.stratacache;

import com.sun.jna.Pointer;
import java.time.Duration;
import java.util.List;

/**
 * Settings of one {@link StrataCache#getOrLoad} call (docs/read-through.md); unset ones
 * keep the library's defaults. Immutable: each setter returns a new ReadThrough.
 */
public final class ReadThrough {
    private Duration ttl;
    private Duration staleTtl;
    private Duration negativeTtl;
    private Duration timeout;
    private double earlyRefresh;
    private boolean lock = true;
    private List<String> tags = List.of();

    /** The defaults: ttl = the cache's default_ttl, no stale period, no negative entries, a Redis lease. */
    public static final ReadThrough DEFAULTS = new ReadThrough();

    private ReadThrough() {}

    /** A copy with one setting changed. */
    private ReadThrough with(java.util.function.Consumer<ReadThrough> change) {
        ReadThrough r = new ReadThrough();
        r.ttl = ttl;
        r.staleTtl = staleTtl;
        r.negativeTtl = negativeTtl;
        r.timeout = timeout;
        r.earlyRefresh = earlyRefresh;
        r.lock = lock;
        r.tags = tags;
        change.accept(r);
        return r;
    }

    /** Fresh period of a loaded value. */
    public ReadThrough ttl(Duration d) {
        return with(r -> r.ttl = d);
    }

    /** Stale period after the fresh one: served when the reload fails or times out. */
    public ReadThrough staleTtl(Duration d) {
        return with(r -> r.staleTtl = d);
    }

    /** How long "does not exist" (a loader's {@code Optional.empty()}) is remembered. */
    public ReadThrough negativeTtl(Duration d) {
        return with(r -> r.negativeTtl = d);
    }

    /** The hard timeout of the call's waits (Redis, another caller's load), not of the loader. */
    public ReadThrough timeout(Duration d) {
        return with(r -> r.timeout = d);
    }

    /** XFetch's beta: 0 off (default), 1 optimal, larger refreshes earlier. */
    public ReadThrough earlyRefresh(double beta) {
        return with(r -> r.earlyRefresh = beta);
    }

    /** false: one load per process only (no Redis lease). */
    public ReadThrough lock(boolean on) {
        return with(r -> r.lock = on);
    }

    /** Tags of the loaded entry ({@link StrataCache#invalidateTags}; docs/tags.md). */
    public ReadThrough tags(String... t) {
        return with(r -> r.tags = List.of(t));
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
        if (rc == 0 && !tags.isEmpty()) {
            rc = WriteOptions.setTags(co, tags);
        }
        return rc;
    }
}
