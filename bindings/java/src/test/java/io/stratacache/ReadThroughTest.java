package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** getOrLoad: a Java loader called back from stratacache_get_or_load on the calling thread. */
class ReadThroughTest {
    @RegisterExtension
    static final RedisServer REDIS = new RedisServer();

    @Test
    void loadsOnceThenServesTheCachedValue() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rt1:")) {
            AtomicInteger loads = new AtomicInteger();
            StrataCache.Loader loader = key -> {
                loads.incrementAndGet();
                return Optional.of(Map.of("user", key));
            };
            assertEquals(Map.of("user", "u:1"), cache.getOrLoad("u:1", loader).orElseThrow().decode());
            assertEquals(Map.of("user", "u:1"), cache.getOrLoad("u:1", loader).orElseThrow().decode());
            assertEquals(1, loads.get());
            assertEquals(Map.of("user", "u:1"), cache.get("u:1").orElseThrow().decode(), "stored for plain reads");
        }
    }

    @Test
    void concurrentCallersShareOneLoad() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rt2:")) {
            AtomicInteger loads = new AtomicInteger();
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Optional<Value>>> results = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    results.add(pool.submit(() -> {
                        start.await();
                        return cache.getOrLoad("shared", key -> {
                            loads.incrementAndGet();
                            Thread.sleep(200); // holds the flight open while the others arrive
                            return Optional.of(new byte[] {42});
                        });
                    }));
                }
                start.countDown();
                for (Future<Optional<Value>> f : results) {
                    assertEquals(42, f.get(20, TimeUnit.SECONDS).orElseThrow().bytes()[0]);
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(1, loads.get());
        }
    }

    @Test
    void notFoundIsEmptyAndRememberedForTheNegativeTtl() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rt3:")) {
            AtomicInteger loads = new AtomicInteger();
            ReadThrough settings = ReadThrough.DEFAULTS.negativeTtl(Duration.ofMinutes(1)).ttl(Duration.ofMinutes(5));
            StrataCache.Loader loader = key -> {
                loads.incrementAndGet();
                return Optional.empty();
            };
            assertEquals(Optional.empty(), cache.getOrLoad("ghost", settings, loader));
            assertEquals(Optional.empty(), cache.getOrLoad("ghost", settings, loader));
            assertEquals(1, loads.get());
        }
    }

    @Test
    void aLoaderExceptionIsLoadFailedWithItAsTheCauseAndNothingIsCached() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rt4:")) {
            IllegalStateException boom = new IllegalStateException("database down");
            StrataCacheException e = assertThrows(StrataCacheException.LoadFailed.class,
                    () -> cache.getOrLoad("k", key -> {
                        throw boom;
                    }));
            assertEquals(StrataCacheException.ELOADFAILED, e.code());
            assertSame(boom, e.getCause());
            assertTrue(e.getMessage().contains("database down"), e.getMessage());
            assertEquals(Optional.empty(), cache.get("k"));
            assertEquals("ok", cache.getOrLoad("k", key -> Optional.of("ok")).orElseThrow().decode());
        }
    }

    @Test
    void aLoaderMayUseTheCacheForOtherKeys() {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rt5:")) {
            Value outer = cache.getOrLoad("outer", key -> Optional.of(
                    "outer+" + cache.getOrLoad("inner", k -> Optional.of("inner")).orElseThrow().decode()))
                    .orElseThrow();
            assertEquals("outer+inner", outer.decode());
            assertEquals("inner", cache.get("inner").orElseThrow().decode());
        }
    }

    private static <T> T await(java.util.concurrent.CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    @Test
    void asyncLoadsOnceAcrossConcurrentCallersWithoutBlockingThem() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rta1:")) {
            AtomicInteger loads = new AtomicInteger();
            java.util.concurrent.CompletableFuture<Optional<?>> gate = new java.util.concurrent.CompletableFuture<>();
            StrataCache.AsyncLoader loader = key -> {
                loads.incrementAndGet();
                return gate.thenApply(ignored -> Optional.of(Map.of("user", key)));
            };
            List<java.util.concurrent.CompletableFuture<Optional<Value>>> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                calls.add(cache.getOrLoadAsync("u:1", ReadThrough.DEFAULTS, loader));
            }
            assertTrue(calls.stream().noneMatch(java.util.concurrent.CompletableFuture::isDone),
                    "nobody has a value before the load ends");
            gate.complete(null);
            for (java.util.concurrent.CompletableFuture<Optional<Value>> f : calls) {
                assertEquals(Map.of("user", "u:1"), await(f).orElseThrow().decode());
            }
            assertEquals(1, loads.get());
            assertEquals(Map.of("user", "u:1"), cache.get("u:1").orElseThrow().decode(), "stored by the fill");
        }
    }

    @Test
    void asyncNotFoundFailureAndStaleValues() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=rta2:")) {
            ReadThrough negative = ReadThrough.DEFAULTS.negativeTtl(Duration.ofMinutes(1));
            assertEquals(Optional.empty(), await(cache.getOrLoadAsync("ghost", negative,
                    key -> java.util.concurrent.CompletableFuture.completedFuture(Optional.empty()))));
            assertEquals(Optional.empty(), await(cache.getOrLoadAsync("ghost", negative,
                    key -> { throw new AssertionError("remembered: not loaded again"); })));

            IllegalStateException boom = new IllegalStateException("backend down");
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> await(cache.getOrLoadAsync("k", ReadThrough.DEFAULTS,
                            key -> java.util.concurrent.CompletableFuture.failedFuture(boom))));
            assertTrue(e.getCause() instanceof StrataCacheException.LoadFailed, e.getCause().toString());
            assertSame(boom, e.getCause().getCause());
            assertEquals(Optional.empty(), cache.get("k"), "a failure is never cached");

            ReadThrough shortLived = ReadThrough.DEFAULTS.ttl(Duration.ofMillis(100)).staleTtl(Duration.ofMinutes(1));
            assertEquals("v1", await(cache.getOrLoadAsync("s", shortLived,
                    key -> java.util.concurrent.CompletableFuture.completedFuture(Optional.of("v1")))).orElseThrow()
                    .decode());
            Thread.sleep(300); // past the fresh period, within the stale one
            assertEquals("v1", await(cache.getOrLoadAsync("s", shortLived,
                    key -> java.util.concurrent.CompletableFuture.failedFuture(boom))).orElseThrow().decode(),
                    "the stale value is served when the reload fails");
        }
    }
}
