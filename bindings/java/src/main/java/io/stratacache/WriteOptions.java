package io.stratacache;

import com.sun.jna.Pointer;
import java.time.Duration;
import java.util.List;

/**
 * Settings of one {@link StrataCache#set(String, Object, WriteOptions)}: TTL, format, and
 * the tags and dependencies of the entry (docs/tags.md). Immutable: each setter returns a
 * new WriteOptions.
 */
public final class WriteOptions {
    /** The cache's default TTL, the format chosen by the value's type, no tags, no dependencies. */
    public static final WriteOptions DEFAULTS = new WriteOptions(null, null, List.of(), List.of());

    private final Duration ttl;
    private final Format format;
    private final List<String> tags;
    private final List<String> dependsOn;

    private WriteOptions(Duration ttl, Format format, List<String> tags, List<String> dependsOn) {
        this.ttl = ttl;
        this.format = format;
        this.tags = tags;
        this.dependsOn = dependsOn;
    }

    /** null: the cache's default_ttl; {@link Duration#ZERO}: never expires. */
    public WriteOptions ttl(Duration d) {
        return new WriteOptions(d, format, tags, dependsOn);
    }

    /** The format to encode the value in (default: {@code byte[]} RAW, else MessagePack). */
    public WriteOptions format(Format f) {
        return new WriteOptions(ttl, f, tags, dependsOn);
    }

    /** Tags: {@link StrataCache#invalidateTags} of one of them removes the entry everywhere. */
    public WriteOptions tags(String... t) {
        return new WriteOptions(ttl, format, List.of(t), dependsOn);
    }

    /** Keys the entry depends on: writing, deleting or invalidating one removes it. */
    public WriteOptions dependsOn(String... keys) {
        return new WriteOptions(ttl, format, tags, List.of(keys));
    }

    Duration ttl() {
        return ttl;
    }

    Format format() {
        return format;
    }

    /** stratacache_callopts_set_tags with these tags (shared with {@link ReadThrough}). */
    static int setTags(Pointer co, List<String> tags) {
        ByteStrings t = new ByteStrings(tags);
        int rc = NativeApi.stratacache_callopts_set_tags(co, t.addresses, t.lens, t.n);
        t.keepAlive();
        return rc;
    }

    /** Applies tags and dependencies to a native callopts; a non-zero return is the failing setter's code. */
    int applyTo(Pointer co) {
        int rc = 0;
        if (!tags.isEmpty()) {
            rc = setTags(co, tags);
        }
        if (rc == 0 && !dependsOn.isEmpty()) {
            ByteStrings d = new ByteStrings(dependsOn);
            rc = NativeApi.stratacache_callopts_set_depends_on(co, d.addresses, d.lens, d.n);
            d.keepAlive();
        }
        return rc;
    }
}
