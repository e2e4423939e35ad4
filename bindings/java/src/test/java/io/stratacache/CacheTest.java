package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The blocking API against a real redis-server (L1 + L2). */
class CacheTest {
    @RegisterExtension
    static final RedisServer REDIS = new RedisServer();

    private StrataCache cache;

    @BeforeEach
    void open() {
        cache = StrataCache.open(REDIS.url() + "?prefix=cachetest:");
        cache.clearPattern("*");
    }

    @AfterEach
    void close() {
        cache.close();
    }

    @Test
    void openSharedIsOneCacheWhoseHandlesCloseOnTheirOwn() {
        byte[] v = {'v'};
        StrataCache a = StrataCache.openShared("java-shared-test", Options.fromUrl("mem://"));
        StrataCache b = StrataCache.openShared("java-shared-test", Options.fromUrl("mem://"));
        a.set("k", v);
        // mem:// has no Redis: only one shared L1 lets b see a's write.
        assertArrayEquals(v, b.getBytes("k"));
        StrataCacheException e = assertThrows(StrataCacheException.InvalidArgument.class,
                () -> StrataCache.openShared("java-shared-test", Options.fromUrl("mem://?l1_max_entries=5")));
        assertTrue(e.getMessage().contains("java-shared-test"), e.getMessage());
        a.close();
        assertThrows(StrataCacheException.Closed.class, () -> a.getBytes("k"));
        assertArrayEquals(v, b.getBytes("k"));
        b.close();
        try (StrataCache c = StrataCache.openShared("java-shared-test", Options.fromUrl("mem://"))) {
            assertNull(c.getBytes("k"), "after the last close the name opens a new cache");
        }
    }

    @Test
    void bytesRoundTripAndAMissIsEmptyNotAnException() {
        byte[] value = {0, 1, 2, (byte) 0xff, '\r', '\n'};
        cache.set("k\0binary*?", value);
        assertArrayEquals(value, cache.getBytes("k\0binary*?"));
        Value v = cache.get("k\0binary*?").orElseThrow();
        assertEquals(Format.RAW, v.format());
        assertArrayEquals(value, (byte[]) v.decode());
        assertEquals(Optional.empty(), cache.get("absent"));
        assertNull(cache.getBytes("absent"));
        byte[] dst = new byte[16];
        assertEquals(value.length, cache.getInto("k\0binary*?", dst));
        assertArrayEquals(value, java.util.Arrays.copyOf(dst, value.length));
        byte[] small = new byte[2];
        assertEquals(value.length, cache.getInto("k\0binary*?", small), "the length needed");
        assertArrayEquals(new byte[2], small, "nothing copied into a short array");
        assertEquals(-1, cache.getInto("absent", dst));
        assertNull(cache.getJson("absent"));
    }

    @Test
    void nonAsciiAndLongKeysAreTheirUtf8Bytes() {
        String longKey = "k".repeat(1000);
        cache.set("clé-ü-✓", "unicode");
        cache.set(longKey, "long");
        cache.set("short", "after a long key");
        assertEquals("unicode", cache.get("clé-ü-✓").orElseThrow().decode());
        assertEquals("long", cache.get(longKey).orElseThrow().decode());
        assertEquals("after a long key", cache.get("short").orElseThrow().decode());
        assertEquals(Map.of("clé-ü-✓", "unicode"), Map.of("clé-ü-✓", cache.getMany(List.of("clé-ü-✓"))
                .get("clé-ü-✓").decode()), "the same key bytes through the packed path");
        assertFalse(cache.exists("cle-u-✓"));
    }

    @Test
    void valuesLargerThanTheThreadBufferAreReadWhole() {
        byte[] big = new byte[3 * 1024 * 1024 + 17];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        cache.set("big", big);
        assertArrayEquals(big, cache.getBytes("big"));
        cache.flushL1();
        assertArrayEquals(big, cache.getBytes("big"), "read back from Redis");
        cache.set("small", new byte[] {7});
        assertArrayEquals(new byte[] {7}, cache.getBytes("small"));
    }

    @Test
    void objectsAreStoredAsMessagePackAndReadBackFromRedis() {
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("id", 42L);
        user.put("name", "Zoë");
        user.put("tags", List.of("a", "b"));
        user.put("score", 1.5);
        user.put("active", true);
        user.put("none", null);
        cache.set("user:42", user, Duration.ofMinutes(5));
        cache.flushL1();
        Value v = cache.get("user:42").orElseThrow();
        assertEquals(Format.MSGPACK, v.format());
        assertEquals(user, v.decode());
        assertEquals("{\"id\":42,\"name\":\"Zoë\",\"tags\":[\"a\",\"b\"],\"score\":1.5,\"active\":true,\"none\":null}",
                cache.getJson("user:42"));
    }

    @Test
    void sharedExtTypesWrittenFromJavaAreReadByTheCoreCodec() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("when", java.time.OffsetDateTime.parse("2026-11-25T12:34:56.789+02:00"));
        v.put("day", java.time.LocalDate.parse("2026-11-25"));
        v.put("id", java.util.UUID.fromString("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
        v.put("price", new java.math.BigDecimal("12.50"));
        v.put("big", new java.math.BigInteger("18446744073709551615"));
        cache.set("ext", v);
        assertEquals("{\"when\":\"2026-11-25T12:34:56.789+02:00\",\"day\":\"2026-11-25\","
                + "\"id\":\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\",\"price\":\"12.50\","
                + "\"big\":18446744073709551615}", cache.getJson("ext"), "the C++ codec's JSON view");
        assertEquals(v, cache.get("ext").orElseThrow().decode());
    }

    @Test
    void jsonValuesInBothDirections() {
        cache.set("j", Map.of("n", 1L), Format.JSON, null);
        Value v = cache.get("j").orElseThrow();
        assertEquals(Format.JSON, v.format());
        assertEquals("{\"n\":1}", v.text());
        cache.setJson("sj", "{\"a\": [1, 2.5, \"x\"]}", null);
        assertEquals(Map.of("a", List.of(1L, 2.5, "x")), cache.get("sj").orElseThrow().decode());
        StrataCacheException bad = assertThrows(StrataCacheException.InvalidArgument.class,
                () -> cache.setJson("sj", "{not json", null));
        assertEquals(StrataCacheException.EINVAL, bad.code());
        assertThrows(StrataCacheException.InvalidArgument.class,
                () -> cache.set("j", new byte[] {1}, Format.JSON, null), "bytes have no JSON form");
        assertThrows(StrataCacheException.WrongType.class, () -> {
            cache.set("raw", new byte[] {1});
            cache.getJson("raw");
        });
    }

    @Test
    void deleteExistsAndTtl() {
        cache.set("a", "1", Duration.ofSeconds(100));
        cache.set("b", "2", Duration.ZERO);
        assertTrue(cache.exists("a"));
        long ttl = cache.ttl("a").orElseThrow().toMillis();
        assertTrue(ttl > 90_000 && ttl <= 100_000, "ttl " + ttl);
        assertEquals(StrataCache.NO_EXPIRY, cache.ttl("b").orElseThrow());
        assertEquals(Optional.empty(), cache.ttl("c"));
        assertEquals(2, cache.delete("a", "b", "c"));
        assertFalse(cache.exists("a"));
        assertEquals(0, cache.delete("a"));
    }

    @Test
    void incrementCountsAtomicallyAndRefusesText() {
        assertEquals(5, cache.increment("hits", 5, Duration.ofMinutes(1)));
        assertEquals(3, cache.increment("hits", -2, null));
        cache.set("text", "abc");
        StrataCacheException e = assertThrows(StrataCacheException.WrongType.class,
                () -> cache.increment("text", 1, null));
        assertEquals(StrataCacheException.EWRONGTYPE, e.code());
    }

    @Test
    void clearPatternDeletesMatchingKeysOnly() {
        cache.set("user:1", 1L);
        cache.set("user:2", 2L);
        cache.set("order:1", 3L);
        assertEquals(2, cache.clearPattern("user:*"));
        assertFalse(cache.exists("user:1"));
        assertTrue(cache.exists("order:1"));
    }

    @Test
    void getManyAndSetManyInOneRoundTrip() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("m1", "one");
        values.put("m2", new byte[] {2});
        values.put("m3", 3L);
        cache.setMany(values, Duration.ofMinutes(1));
        cache.flushL1();
        Map<String, Value> got = cache.getMany(List.of("m1", "missing", "m2", "m3"));
        assertEquals(List.of("m1", "m2", "m3"), List.copyOf(got.keySet()));
        assertEquals("one", got.get("m1").decode());
        assertArrayEquals(new byte[] {2}, (byte[]) got.get("m2").decode());
        assertEquals(3L, got.get("m3").decode());
        assertEquals(Map.of(), cache.getMany(List.of()));
    }

    @Test
    void threadsShareOneHandleEachWithItsOwnCallContext() throws Exception {
        int threads = 8;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<Integer>> results = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                results.add(pool.submit(() -> {
                    int checked = 0;
                    for (int i = 0; i < 500; i++) {
                        String key = "t" + id + ":" + i + (i % 7 == 0 ? ":ü" : "");
                        byte[] value = new byte[(i * 37) % 9000]; // crosses the 4 KiB initial buffer
                        java.util.Arrays.fill(value, (byte) id);
                        cache.set(key, value);
                        assertArrayEquals(value, cache.getBytes(key), key);
                        checked++;
                    }
                    assertThrows(StrataCacheException.WrongType.class, () -> cache.getJson("t" + id + ":1"),
                            "each thread's error message stays its own");
                    return checked;
                }));
            }
            for (java.util.concurrent.Future<Integer> r : results) {
                assertEquals(500, r.get(60, java.util.concurrent.TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void healthAndStats() {
        Map<String, Object> health = cache.health();
        assertEquals(true, health.get("healthy"));
        cache.set("s", 1L);
        cache.get("s");
        cache.get("nope");
        assertTrue(cache.stat("l1.hits") >= 1);
        assertTrue(cache.stat("l2.misses") >= 1);
        Map<String, Object> stats = cache.stats();
        assertTrue(stats.get("l1") instanceof Map, stats.toString());
        StrataCacheException e = assertThrows(StrataCacheException.InvalidArgument.class,
                () -> cache.stat("no.such.counter"));
        assertTrue(e.getMessage().contains("no.such.counter"), e.getMessage());
    }

    @Test
    void badUrlsAndParametersAreInvalidArgumentsNamingThem() {
        StrataCacheException e = assertThrows(StrataCacheException.InvalidArgument.class,
                () -> StrataCache.open("redis://127.0.0.1:1/0?no_such_param=1"));
        assertTrue(e.getMessage().contains("no_such_param"), e.getMessage());
        e = assertThrows(StrataCacheException.InvalidArgument.class,
                () -> StrataCache.open(Options.fromUrl("mem://").set("socket_timeout", "soon")));
        assertTrue(e.getMessage().contains("socket_timeout"), e.getMessage());
        assertThrows(StrataCacheException.InvalidArgument.class,
                () -> StrataCache.open(Options.fromUrl("mem://").addKey(1, new byte[31], true)));
    }

    @Test
    void urlsAndParametersAreUtf8WhateverThePlatformCharset() {
        try (StrataCache accented = StrataCache.open(Options.fromUrl(REDIS.url()).set("prefix", "préfixe:"));
             StrataCache plain = StrataCache.open(REDIS.url() + "?prefix=prefixe:")) {
            accented.set("k", "v");
            assertEquals("v", accented.get("k").orElseThrow().decode());
            assertFalse(plain.exists("k"), "another prefix");
        }
    }

    @Test
    void aClosedCacheFailsCleanly() {
        StrataCache c = StrataCache.open("mem://");
        c.set("k", "v");
        c.close();
        c.close();
        StrataCacheException e = assertThrows(StrataCacheException.Closed.class, () -> c.get("k"));
        assertEquals(StrataCacheException.ECLOSED, e.code());
    }

    @Test
    void encryptedValuesNeedTheKeyAndAWrongKeyIsAMiss() {
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) i;
        }
        String url = REDIS.url() + "?prefix=enc:";
        try (StrataCache keyed = StrataCache.open(Options.fromUrl(url).addKey(7, key, true));
             StrataCache plain = StrataCache.open(url);
             StrataCache wrong = StrataCache.open(Options.fromUrl(url).addKey(7, new byte[32], true))) {
            keyed.set("secret", "the plans");
            assertEquals("the plans", keyed.get("secret").orElseThrow().decode());
            assertEquals(Optional.empty(), plain.get("secret"), "no key: unreadable, a miss");
            long before = wrong.stat("decode_errors");
            assertEquals(Optional.empty(), wrong.get("secret"), "wrong key: a miss, not an exception");
            assertTrue(wrong.stat("decode_errors") > before);
        }
    }

    @Test
    void aRedisOutageDegradesToL1AndIsCountedUnlessStrict() throws Exception {
        RedisServer own = new RedisServer();
        own.start();
        String url = own.url() + "?socket_timeout=0.5&l1_coherence=off";
        try (StrataCache c = StrataCache.open(url);
             StrataCache strict = StrataCache.open(Options.fromUrl(url).failSilently(false))) {
            c.set("kept", "in L1");
            own.kill();
            assertEquals("in L1", c.get("kept").orElseThrow().decode());
            assertEquals(Optional.empty(), c.get("never-written"), "a miss, not an exception");
            assertFalse(c.exists("never-written"));
            assertEquals(0, c.delete("never-written"));
            c.set("new", "x");
            assertEquals("x", c.get("new").orElseThrow().decode(), "the write reached L1");
            assertTrue((Long) c.stats().get("errors_absorbed") >= 3);
            assertEquals(Optional.empty(), c.getAsync("never-written").get(10, java.util.concurrent.TimeUnit.SECONDS));
            StrataCacheException e = assertThrows(StrataCacheException.Unavailable.class,
                    () -> strict.get("never-written"));
            assertEquals(StrataCacheException.EUNAVAILABLE, e.code());
            assertThrows(StrataCacheException.class, () -> c.increment("n", 1, null), "a count can't be made up");
        } finally {
            own.stop();
        }
    }

    @Test
    void memoryOnlyCachesWork() {
        try (StrataCache mem = StrataCache.open("mem://")) {
            mem.set("k", "v".getBytes(StandardCharsets.UTF_8));
            assertEquals("v", new String(mem.getBytes("k"), StandardCharsets.UTF_8));
            assertTrue(StrataCache.libraryVersion().matches("\\d+\\.\\d+\\.\\d+.*"));
        }
    }
}
