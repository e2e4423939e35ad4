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
 * <p>Usage: {@code java -jar caffeine-replay.jar TRACE.u64 SIZE[,SIZE...]}. Prints CSV
 * {@code size,requests,hits,hit_ratio} to stdout, one line per size. Maintenance runs on
 * the calling thread ({@code executor(Runnable::run)}), so eviction happens at the same
 * point of the trace on every run. A request is a hit when the key is present; on a miss
 * the key is inserted: the same definition the C++ driver uses for every policy.
 */
public final class CaffeineReplay {
  private CaffeineReplay() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: caffeine-replay TRACE.u64 SIZE[,SIZE...]");
      System.exit(2);
    }
    long[] keys = read(Path.of(args[0]));
    System.out.println("size,requests,hits,hit_ratio");
    for (String s : args[1].split(",")) {
      long size = Long.parseLong(s.trim());
      long hits = replay(keys, size);
      System.out.printf("%d,%d,%d,%.6f%n", size, keys.length, hits,
          keys.length == 0 ? 0.0 : (double) hits / keys.length);
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
