package io.stratacache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** CompletableFuture calls: completions drained on the library-wide completion thread. */
class AsyncTest {
    @RegisterExtension
    static final RedisServer REDIS = new RedisServer();

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void everyOperationCompletesWithItsResult() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=async:")) {
            await(cache.setAsync("a", "alpha", Duration.ofMinutes(1)));
            await(cache.setAsync("b", new byte[] {1, 2}, Duration.ZERO));
            cache.flushL1();
            assertEquals("alpha", await(cache.getAsync("a")).orElseThrow().decode());
            assertEquals(Optional.empty(), await(cache.getAsync("missing")));
            assertTrue(await(cache.existsAsync("a")));
            assertFalse(await(cache.existsAsync("missing")));
            long ttl = await(cache.ttlAsync("a")).orElseThrow().toMillis();
            assertTrue(ttl > 50_000 && ttl <= 60_000, "ttl " + ttl);
            assertEquals(StrataCache.NO_EXPIRY, await(cache.ttlAsync("b")).orElseThrow());
            assertEquals(Optional.empty(), await(cache.ttlAsync("missing")));
            assertEquals(7, await(cache.incrementAsync("n", 7, null)));
            Map<String, Value> many = await(cache.getManyAsync(List.of("a", "missing", "b")));
            assertEquals(List.of("a", "b"), List.copyOf(many.keySet()));
            assertArrayEquals(new byte[] {1, 2}, many.get("b").bytes());
            assertEquals(true, await(cache.healthAsync()).get("healthy"));
            assertEquals(2, await(cache.deleteAsync(List.of("a", "b", "missing"))));
            assertEquals(1, await(cache.clearPatternAsync("n*")));
        }
    }

    @Test
    void dependentStagesNeverRunOnTheCompletionThread() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=async2:")) {
            cache.set("k", "v");
            cache.flushL1();
            AtomicReference<String> thread = new AtomicReference<>();
            await(cache.getAsync("k").thenAccept(v -> thread.set(Thread.currentThread().getName())));
            assertNotEquals("stratacache-completions", thread.get());
            assertNotEquals(null, thread.get());
        }
    }

    @Test
    void manyConcurrentSubmissionsAllComplete() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=async3:")) {
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                futures.add(cache.incrementAsync("counter", 1, null));
            }
            CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
            assertEquals(2000, cache.increment("counter", 0, null));
        }
    }

    @Test
    void closingWithCallsInFlightCompletesEveryFuture() throws Exception {
        StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=async5:");
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            futures.add(cache.incrementAsync("c", 1, null));
        }
        cache.close();
        int ok = 0;
        for (CompletableFuture<Long> f : futures) {
            try {
                f.get(10, TimeUnit.SECONDS);
                ok++;
            } catch (ExecutionException e) {
                int code = ((StrataCacheException) e.getCause()).code();
                assertTrue(code == StrataCacheException.EUNAVAILABLE || code == StrataCacheException.ECLOSED,
                        e.getCause().toString());
            }
        }
        assertTrue(ok <= 500);
        try (StrataCache again = StrataCache.open(REDIS.url() + "?prefix=async5:")) {
            long stored = again.increment("c", 0, null);
            assertTrue(stored >= ok, "every increment reported done was made: " + stored + " >= " + ok);
        }
    }

    @Test
    void errorsCompleteTheFutureExceptionallyWithTheirType() throws Exception {
        try (StrataCache cache = StrataCache.open(REDIS.url() + "?prefix=async4:")) {
            cache.set("text", "abc");
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> await(cache.incrementAsync("text", 1, null)));
            assertTrue(e.getCause() instanceof StrataCacheException.WrongType, e.getCause().toString());
        }
        StrataCache closed = StrataCache.open("mem://");
        closed.close();
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> await(closed.incrementAsync("k", 1, null)));
        assertEquals(StrataCacheException.ECLOSED, ((StrataCacheException) e.getCause()).code());
    }
}
