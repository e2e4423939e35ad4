package example;

import io.stratacache.StrataCache;
import java.time.Duration;
import java.util.Map;

/** Uses the installed package as an application would; exits non-zero if a value does not round-trip. */
public final class Consumer {
    public static void main(String[] args) {
        try (StrataCache cache = StrataCache.open(args.length > 0 ? args[0] : "mem://")) {
            cache.set("user:1", Map.of("name", "Ada"), Duration.ofMinutes(5));
            Object back = cache.get("user:1").orElseThrow().decode();
            if (!Map.of("name", "Ada").equals(back)) {
                throw new AssertionError("round trip gave " + back);
            }
            System.out.println("consumer ok: stratacache " + StrataCache.libraryVersion() + " " + back);
        }
    }
}
