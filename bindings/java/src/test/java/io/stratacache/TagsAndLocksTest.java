package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Tags and dependencies (docs/tags.md), warming and distributed locks (docs/locks.md) through the Java API. */
class TagsAndLocksTest {
    @RegisterExtension
    static final RedisServer REDIS = new RedisServer();

    @Test
    void invalidatingATagRemovesItsEntriesAndTheirDependents() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=tags:");
             StrataCache other = StrataCache.open(REDIS.url() + "?prefix=tags:")) {
            cache.set("product:1", "p1", WriteOptions.DEFAULTS.tags("products", "shop:7"));
            cache.set("product:2", "p2", WriteOptions.DEFAULTS.tags("products"));
            cache.set("page:home", "html", WriteOptions.DEFAULTS.dependsOn("product:1").ttl(Duration.ofMinutes(1)));
            cache.set("unrelated", "u", WriteOptions.DEFAULTS.format(Format.JSON));
            assertEquals("p1", other.get("product:1").orElseThrow().decode(), "in the other handle's L1 too");
            assertTrue(cache.invalidateTags("shop:7") >= 1);
            assertEquals(Optional.empty(), cache.get("product:1"));
            assertEquals(Optional.empty(), cache.get("page:home"), "a dependent goes with it");
            assertEquals("p2", cache.get("product:2").orElseThrow().decode());
            assertEquals(Format.JSON, cache.get("unrelated").orElseThrow().format());
            assertTrue(cache.invalidateTags("products") >= 1);
            assertFalse(cache.exists("product:2"));
            assertThrows(StrataCacheException.InvalidArgument.class,
                    () -> cache.set("k", "v", WriteOptions.DEFAULTS.tags("")), "an empty tag is refused");
        }
    }

    @Test
    void readThroughFillsCarryTheirTags() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=tags2:")) {
            java.util.concurrent.atomic.AtomicInteger loads = new java.util.concurrent.atomic.AtomicInteger();
            ReadThrough settings = ReadThrough.DEFAULTS.tags("users").ttl(Duration.ofMinutes(5));
            StrataCache.Loader loader = key -> Optional.of("v" + loads.incrementAndGet());
            assertEquals("v1", cache.getOrLoad("user:1", settings, loader).orElseThrow().decode());
            assertEquals("v1", cache.getOrLoad("user:1", settings, loader).orElseThrow().decode());
            assertEquals(1, cache.invalidateTags("users"));
            assertEquals("v2", cache.getOrLoad("user:1", settings, loader).orElseThrow().decode(), "loaded again");
        }
    }

    @Test
    void warmingFillsL1FromRedisAndLoadsTheRest() {
        try (StrataCache writer = StrataCache.open(REDIS.url() + "?prefix=warm:");
             StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=warm:")) {
            writer.set("w1", "one");
            writer.set("w2", "two");
            StrataCache.WarmResult r = cache.warm(java.util.List.of("w1", "w2", "w3", "w4"),
                    key -> key.equals("w3") ? Optional.of("loaded " + key) : Optional.empty());
            assertEquals(2, r.found(), r.toString());
            assertEquals(1, r.loaded(), r.toString());
            assertEquals(1, r.missing(), r.toString());
            long hits = cache.stat("l1.hits");
            assertEquals("one", cache.get("w1").orElseThrow().decode());
            assertEquals("loaded w3", cache.get("w3").orElseThrow().decode());
            assertEquals(hits + 2, cache.stat("l1.hits"), "both served from L1");
            assertEquals(0, cache.warm(java.util.List.of("w4"), null).found());
        }
    }

    @Test
    void aLockExcludesOtherOwnersUntilReleasedAndFencesGrow() {
        try (StrataCache a = StrataCache.open(REDIS.url() + "?prefix=locks:");
             StrataCache b = StrataCache.open(REDIS.url() + "?prefix=locks:")) {
            long firstFence;
            try (Lock held = a.tryLock("job", Duration.ofSeconds(30), Duration.ZERO).orElseThrow()) {
                firstFence = held.fence();
                assertEquals(Optional.empty(), b.tryLock("job", Duration.ofSeconds(30), Duration.ofMillis(50)),
                        "held by the other owner");
                held.extend(Duration.ofSeconds(60));
            }
            try (Lock next = b.tryLock("job", Duration.ofSeconds(30), Duration.ofSeconds(5)).orElseThrow()) {
                assertTrue(Long.compareUnsigned(next.fence(), firstFence) > 0, next.fence() + " > " + firstFence);
                next.release();
                next.release(); // a second release does nothing
            }
        }
    }

    @Test
    void anExpiredLockCannotBeExtendedOrReleased() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=locks2:")) {
            Lock lock = cache.tryLock("short", Duration.ofMillis(50), Duration.ZERO).orElseThrow();
            Lock taker = cache.tryLock("short", Duration.ofSeconds(30), Duration.ofSeconds(5)).orElseThrow();
            assertThrows(StrataCacheException.Aborted.class, () -> lock.extend(Duration.ofSeconds(1)));
            StrataCacheException e = assertThrows(StrataCacheException.Aborted.class, lock::release);
            assertEquals(StrataCacheException.EABORTED, e.code());
            taker.close();
        }
    }
}
