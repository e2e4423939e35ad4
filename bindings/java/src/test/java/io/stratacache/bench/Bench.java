package io.stratacache.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.stratacache.RedisServer;
import io.stratacache.StrataCache;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * The Java package against its anchors in one run on one redis-server (bindings/java/bench.sh):
 * an L1 hit ({@code getBytes}) vs Caffeine {@code getIfPresent}, an L2 GET (L1 off:
 * {@code l1_max_entries=0}) vs Lettuce's synchronous GET, and the same reads made in C
 * through the C ABI (bench/capi_bench.c, on the handle the Java case uses). 100-byte
 * values. The cases take turns round by round, in a rotating order; the table shows
 * medians of the rounds.
 *   Bench LIBCAPI_BENCH [L1_ITERS L2_ITERS ROUNDS]
 */
public final class Bench {
    private Bench() {}

    private static volatile long sink;

    /** The C loop (bench/capi_bench.c). */
    static final class CapiBench {
        private CapiBench() {}

        static void load(String path) {
            Native.register(CapiBench.class, NativeLibrary.getInstance(path));
        }

        static native double capi_bench_round(Pointer cache, String key, long iters);
    }

    /** ns per call of a Java loop. */
    private static DoubleSupplier javaRound(long iters, LongSupplier body) {
        return () -> {
            long acc = 0;
            long t0 = System.nanoTime();
            for (long i = 0; i < iters; i++) {
                acc += body.getAsLong();
            }
            sink = acc;
            return (System.nanoTime() - t0) / (double) iters;
        };
    }

    private static DoubleSupplier cRound(StrataCache cache, String key, long iters) {
        Pointer handle = nativeHandle(cache);
        return () -> {
            double ns = CapiBench.capi_bench_round(handle, key, iters);
            if (ns < 0) {
                throw new IllegalStateException("capi_bench: a read of " + key + " failed");
            }
            return ns;
        };
    }

    /** The cases' medians after a warm-up round each, taking turns round by round (order rotated). */
    private static Map<String, Double> interleaved(int rounds, Map<String, DoubleSupplier> cases) {
        Map<String, List<Double>> samples = new LinkedHashMap<>();
        cases.forEach((name, c) -> {
            c.getAsDouble(); // warm-up (JIT, connections, L1)
            samples.put(name, new ArrayList<>());
        });
        List<String> names = new ArrayList<>(cases.keySet());
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < names.size(); i++) { // each round starts with the next case
                String name = names.get((r + i) % names.size());
                samples.get(name).add(cases.get(name).getAsDouble());
            }
        }
        Map<String, Double> medians = new LinkedHashMap<>();
        samples.forEach((name, s) -> {
            double[] a = s.stream().mapToDouble(Double::doubleValue).toArray();
            Arrays.sort(a);
            medians.put(name, a[a.length / 2]);
        });
        return medians;
    }

    /** The C handle of a cache, for the C loop (same handle, same L1). */
    private static Pointer nativeHandle(StrataCache cache) {
        try {
            java.lang.reflect.Field f = StrataCache.class.getDeclaredField("handle");
            f.setAccessible(true);
            return (Pointer) f.get(cache);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void main(String[] args) throws Exception {
        CapiBench.load(args[0]);
        long l1Iters = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000;
        long l2Iters = args.length > 2 ? Long.parseLong(args[2]) : 10_000;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 9;
        RedisServer redis = new RedisServer();
        redis.start();
        byte[] value = new byte[100];
        Arrays.fill(value, (byte) 'v');
        try (StrataCache l1 = StrataCache.open(redis.url() + "?compression=none");
             StrataCache l2 = StrataCache.open(redis.url() + "?compression=none&l1_max_entries=0")) {
            l1.set("bench:l1", value, Duration.ZERO);
            l2.set("bench:l2", value, Duration.ZERO);
            Cache<String, byte[]> caffeine = Caffeine.newBuilder().maximumSize(100_000).build();
            caffeine.put("bench:l1", value);

            Map<String, DoubleSupplier> l1Cases = new LinkedHashMap<>();
            l1Cases.put("java", javaRound(l1Iters, () -> l1.getBytes("bench:l1").length));
            byte[] dst = new byte[4096];
            l1Cases.put("java-into", javaRound(l1Iters, () -> l1.getInto("bench:l1", dst)));
            l1Cases.put("caffeine", javaRound(l1Iters, () -> caffeine.getIfPresent("bench:l1").length));
            l1Cases.put("c", cRound(l1, "bench:l1", l1Iters));
            Map<String, Double> l1Ns = interleaved(rounds, l1Cases);

            long l2HitsBefore = l2.stat("l2.hits");
            RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", redis.port()));
            Map<String, Double> l2Ns;
            try (StatefulRedisConnection<byte[], byte[]> conn = client.connect(ByteArrayCodec.INSTANCE)) {
                RedisCommands<byte[], byte[]> sync = conn.sync();
                byte[] key = "bench:lettuce".getBytes(StandardCharsets.UTF_8);
                sync.set(key, value);
                Map<String, DoubleSupplier> l2Cases = new LinkedHashMap<>();
                l2Cases.put("java", javaRound(l2Iters, () -> l2.getBytes("bench:l2").length));
                l2Cases.put("lettuce", javaRound(l2Iters, () -> sync.get(key).length));
                l2Cases.put("c", cRound(l2, "bench:l2", l2Iters));
                l2Ns = interleaved(rounds, l2Cases);
            } finally {
                client.shutdown();
            }
            if (l2.stat("l2.hits") - l2HitsBefore < 2 * (rounds + 1) * l2Iters) {
                throw new IllegalStateException("the L2 cases did not all reach Redis");
            }

            System.out.printf("%nstratacache-java (JNA direct mapping) vs anchors, 100-byte values, Java %s;"
                    + " medians of %d interleaved rounds (L1: %d calls/round, L2: %d)%n%n",
                    System.getProperty("java.version"), rounds, l1Iters, l2Iters);
            System.out.println("| case | stratacache-java | anchor | C ABI, same handle | java / C | java / anchor |");
            System.out.println("|---|---:|---:|---:|---:|---:|");
            System.out.printf("| L1 hit, `getBytes` | %.0f ns | Caffeine `getIfPresent` %.0f ns | %.0f ns | %.2f | %.2f |%n",
                    l1Ns.get("java"), l1Ns.get("caffeine"), l1Ns.get("c"), l1Ns.get("java") / l1Ns.get("c"),
                    l1Ns.get("java") / l1Ns.get("caffeine"));
            System.out.printf("| L1 hit, `getInto` (caller's array) | %.0f ns | | | %.2f | %.2f |%n",
                    l1Ns.get("java-into"), l1Ns.get("java-into") / l1Ns.get("c"),
                    l1Ns.get("java-into") / l1Ns.get("caffeine"));
            System.out.printf("| L2 GET, `l1_max_entries=0` | %.1f us | Lettuce sync GET %.1f us | %.1f us | %.2f | %.2f |%n",
                    l2Ns.get("java") / 1000, l2Ns.get("lettuce") / 1000, l2Ns.get("c") / 1000,
                    l2Ns.get("java") / l2Ns.get("c"), l2Ns.get("java") / l2Ns.get("lettuce"));
        } finally {
            redis.stop();
        }
    }
}
