package io.stratacache;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * The asynchronous calls' completion path: one process-wide stratacache_queue and one
 * long-lived daemon thread ("stratacache-completions") that waits on the queue's fd
 * with poll(2) and drains it. Each submission's payload is an id into a table of
 * pending futures; the drain thread converts the result (library code only) and
 * completes the future on {@link ForkJoinPool#commonPool()}, so callers' dependent
 * stages never run on the drain thread.
 */
final class Completions {
    /** Turns a completion's arguments into the future's value (runs on the drain thread). */
    interface Result<T> {
        T convert(int status, Pointer value, long len, int format, long count);
    }

    /** Submits with the given payload; returns the C ABI's submission code. */
    interface Submitter {
        int submit(Pointer queue, NativeApi.Completion done, Pointer payload);
    }

    private static final class Pending {
        final CompletableFuture<Object> future;
        final Result<?> result;

        Pending(CompletableFuture<Object> future, Result<?> result) {
            this.future = future;
            this.result = result;
        }
    }

    private static final short POLLIN = 1;
    private static final Completions SHARED = new Completions();

    private final Pointer queue;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Map<Long, Consumer<Acquired>> acquires = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final Executor executor = ForkJoinPool.commonPool();
    /** Held for the life of the process: the library keeps its function pointer. */
    private final NativeApi.Completion callback = this::complete;
    private final NativeApi.AcquireCompletion acquireCallback = this::acquired;

    static Completions shared() {
        return SHARED;
    }

    private Completions() {
        long[] out = new long[1];
        int rc = NativeApi.stratacache_queue_new(out);
        if (rc != 0) {
            throw StrataCacheException.of(rc, "");
        }
        queue = new Pointer(out[0]);
        int fd = NativeApi.stratacache_queue_fd(queue);
        Thread t = new Thread(() -> drainForever(fd), "stratacache-completions");
        t.setDaemon(true);
        t.start();
    }

    /** Submits one call; the future completes with the converted result or the call's exception. */
    @SuppressWarnings("unchecked")
    <T> CompletableFuture<T> submit(IntFunction<StrataCacheException> rejected, Submitter submitter,
                                    Result<T> result) {
        CompletableFuture<Object> future = new CompletableFuture<>();
        long id = ids.incrementAndGet();
        pending.put(id, new Pending(future, result));
        int rc = submitter.submit(queue, callback, new Pointer(id));
        if (rc != 0) {
            pending.remove(id);
            future.completeExceptionally(rejected.apply(rc));
        }
        return (CompletableFuture<T>) (CompletableFuture<?>) future;
    }

    /** What stratacache_submit_acquire's completion carried (the value copied, the lease the receiver's). */
    static final class Acquired {
        final int status;
        final String message;
        final byte[] value;
        final int format;
        final int info;
        final Pointer lease;

        Acquired(int status, String message, byte[] value, int format, int info, Pointer lease) {
            this.status = status;
            this.message = message;
            this.value = value;
            this.format = format;
            this.info = info;
            this.lease = lease;
        }
    }

    /**
     * Submits a read-through acquire; {@code handler} gets its outcome on the executor
     * (never on the drain thread: it may run a loader). A refused submission is handed to
     * it as an Acquired with that code.
     */
    void submitAcquire(IntFunction<StrataCacheException> rejected, AcquireSubmitter submitter,
                       Consumer<Acquired> handler) {
        long id = ids.incrementAndGet();
        acquires.put(id, handler);
        int rc = submitter.submit(queue, acquireCallback, new Pointer(id));
        if (rc != 0) {
            acquires.remove(id);
            String message = rejected.apply(rc).getMessage();
            executor.execute(() -> handler.accept(new Acquired(rc, message, null, -1, 0, null)));
        }
    }

    /** Submits an acquire with the given payload; returns the C ABI's submission code. */
    interface AcquireSubmitter {
        int submit(Pointer queue, NativeApi.AcquireCompletion done, Pointer payload);
    }

    private void acquired(Pointer payload, int status, Pointer message, Pointer value, long len, int format,
                          int info, Pointer lease) {
        Consumer<Acquired> handler = acquires.remove(Pointer.nativeValue(payload));
        byte[] bytes = value == null ? null : value.getByteArray(0, (int) len);
        if (value != null) {
            NativeApi.stratacache_free(value);
        }
        if (handler == null) {
            if (lease != null) {
                NativeApi.stratacache_lease_abandon(lease, StrataCacheException.EABORTED, null);
            }
            return;
        }
        Acquired a = new Acquired(status, message == null ? "" : message.getString(0, StandardCharsets.UTF_8.name()),
                bytes, format, info, lease);
        executor.execute(() -> handler.accept(a));
    }

    private void drainForever(int fd) {
        Memory pollfd = new Memory(8);
        pollfd.setInt(0, fd);
        pollfd.setShort(4, POLLIN);
        long[] ran = new long[1];
        while (true) {
            pollfd.setShort(6, (short) 0);
            NativeApi.LibC.poll(pollfd, 1, -1); // EINTR and spurious wake-ups: a drain runs nothing
            NativeApi.stratacache_queue_drain(ran, queue, 0);
        }
    }

    private void complete(Pointer payload, int status, Pointer message, Pointer value, long len, int format,
                          long count) {
        Pending p = pending.remove(Pointer.nativeValue(payload));
        try {
            if (p == null) {
                return;
            }
            Object out;
            boolean ok;
            try {
                if (status == 0 || status == -1) {
                    out = p.result.convert(status, value, len, format, count);
                    ok = true;
                } else {
                    out = StrataCacheException.of(status,
                            message == null ? "" : message.getString(0, StandardCharsets.UTF_8.name()));
                    ok = false;
                }
            } catch (RuntimeException e) {
                out = e;
                ok = false;
            }
            Object result = out;
            boolean success = ok;
            executor.execute(() -> {
                if (success) {
                    p.future.complete(result);
                } else {
                    p.future.completeExceptionally((Throwable) result);
                }
            });
        } finally {
            if (value != null) {
                NativeApi.stratacache_free(value);
            }
        }
    }
}
