package stratacache.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Replays a trace of little-endian uint64 keys through Caffeine, once per cache size.
 *
 * <p>Usage: {@code java -jar caffeine-replay.jar TRACE.u64 SIZE[,SIZE...] [RUNS]}. Prints
 * CSV {@code size,requests,hits,hit_ratio,min_ratio,max_ratio} to stdout, one line per
 * size: hits and hit_ratio are the mean over RUNS replays (default 1). Maintenance runs
 * on the calling thread ({@code executor(Runnable::run)}), so eviction happens at the
 * same point of the trace on every run; what still varies between runs is Caffeine's
 * random admission of a warm candidate (its hash-flooding defence), hence RUNS. A
 * request is a hit when the key is present; on a miss the key is inserted: the same
 * definition the C++ driver uses for every policy.
 */
public final class CaffeineReplay {
  private CaffeineReplay() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2 || args.length > 3) {
      System.err.println("usage: caffeine-replay TRACE.u64 SIZE[,SIZE...] [RUNS]");
      System.exit(2);
    }
    long[] keys = read(Path.of(args[0]));
    int runs = args.length == 3 ? Integer.parseInt(args[2]) : 1;
    double n = Math.max(1, keys.length);
    System.out.println("size,requests,hits,hit_ratio,min_ratio,max_ratio");
    for (String s : args[1].split(",")) {
      long size = Long.parseLong(s.trim());
      long total = 0;
      long min = Long.MAX_VALUE;
      long max = 0;
      for (int r = 0; r < runs; r++) {
        long hits = replay(keys, size);
        total += hits;
        min = Math.min(min, hits);
        max = Math.max(max, hits);
      }
      double mean = (double) total / runs;
      System.out.printf("%d,%d,%.0f,%.6f,%.6f,%.6f%n", size, keys.length, mean, mean / n, min / n, max / n);
    }
  }

  static long replay(long[] keys, long size) {
    Cache<Long, Long> cache = Caffeine.newBuilder()
        .maximumSize(size)
        .executor(Runnable::run)
        .build();
    long hits = 0;
    for (long k : keys) {
      Long key = k;
      if (cache.getIfPresent(key) == null) {
        cache.put(key, key);
      } else {
        hits++;
      }
    }
    return hits;
  }

  static long[] read(Path path) throws IOException {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long bytes = ch.size();
      if (bytes % 8 != 0) throw new IOException(path + ": size is not a multiple of 8");
      LongBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes)
          .order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
      long[] keys = new long[buf.remaining()];
      buf.get(keys);
      return keys;
    }
  }
}
