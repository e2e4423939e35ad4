package io.stratacache;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A held distributed lock (docs/locks.md), from {@link StrataCache#tryLock}: mutual
 * exclusion between processes through Redis, with a TTL and a fencing token that is
 * strictly greater for every new holder. {@link #close()} releases it (try-with-resources);
 * a lock that becomes unreachable unreleased is freed (released best effort) by a Cleaner.
 * One call at a time per lock, from any thread.
 */
public final class Lock implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /** The native lock's address; 0 once consumed (released or freed). */
    private final AtomicLong lock;
    private final long fence;
    private final Cleaner.Cleanable cleanable;

    Lock(long address, long fence) {
        AtomicLong a = new AtomicLong(address);
        this.lock = a;
        this.fence = fence;
        this.cleanable = CLEANER.register(this, () -> {
            long p = a.getAndSet(0);
            if (p != 0) {
                NativeApi.stratacache_lock_free(new Pointer(p));
            }
        });
    }

    /** The fencing token (an unsigned 64-bit value): pass it to the resource the lock guards. */
    public long fence() {
        return fence;
    }

    /**
     * Sets the remaining lifetime to {@code ttl} if this caller still holds the lock.
     * {@link StrataCacheException.Aborted}: no longer the owner (it expired; another may
     * hold it); the lock object stays this caller's to close.
     */
    public void extend(Duration ttl) {
        long p = lock.get();
        if (p == 0) {
            throw new StrataCacheException.InvalidArgument(StrataCacheException.EINVAL, "lock already released");
        }
        int rc = NativeApi.stratacache_lock_extend(new Pointer(p), ttl.toMillis());
        if (rc != 0) {
            throw StrataCache.lastError(rc);
        }
    }

    /**
     * Releases the lock (only while this caller still holds it). {@link StrataCacheException.Aborted}:
     * it had expired and may be another's; Unavailable / Timeout: Redis failed and the lock
     * expires by its TTL. The lock is consumed in every case; a second release does nothing.
     */
    public void release() {
        long p = lock.getAndSet(0);
        if (p == 0) {
            return;
        }
        cleanable.clean(); // nothing left to free: p is consumed below
        int rc = NativeApi.stratacache_lock_release(new Pointer(p));
        if (rc != 0) {
            throw StrataCache.lastError(rc);
        }
    }

    /** {@link #release()}. */
    @Override
    public void close() {
        release();
    }
}
