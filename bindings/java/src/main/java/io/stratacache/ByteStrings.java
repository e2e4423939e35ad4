package io.stratacache;

import com.sun.jna.Memory;
import java.util.Collection;

/**
 * n strings as the C ABI's pointer lists ({@code const void *const *items, const size_t
 * *lens, size_t n}): their UTF-8 bytes back to back in one native block, an array of their
 * addresses (pointer-sized on 64-bit: {@code long}) and their lengths. Direct mapping
 * passes {@code long[]} without building an array of Pointer objects. Keep the object
 * reachable until the call returns (the addresses point into {@link #block}).
 */
final class ByteStrings {
    final long[] addresses;
    final long[] lens;
    final int n;
    private final Memory block;

    ByteStrings(Collection<String> items) {
        n = items.size();
        addresses = new long[n];
        lens = new long[n];
        byte[][] bytes = new byte[n][];
        long total = 0;
        int i = 0;
        for (String s : items) {
            bytes[i] = StrataCache.utf8(s);
            total += bytes[i++].length;
        }
        block = new Memory(Math.max(total, 1));
        long at = 0;
        for (i = 0; i < n; i++) {
            block.write(at, bytes[i], 0, bytes[i].length);
            addresses[i] = com.sun.jna.Pointer.nativeValue(block) + at;
            lens[i] = bytes[i].length;
            at += bytes[i].length;
        }
    }

    /** Keeps the native block reachable up to this call (after the native call that uses it). */
    void keepAlive() {
        java.lang.ref.Reference.reachabilityFence(block);
    }
}
