package io.stratacache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stratacache handle: an in-process L1 and, for {@code redis://} URLs, Redis as L2,
 * over libstratacache's C ABI. Thread-safe; close it when done (try-with-resources; a
 * handle that becomes unreachable unclosed is closed by a Cleaner).
 *
 * <p>Keys are strings (UTF-8). Values are stored with a {@link Format}: {@code byte[]}
 * as RAW, other Java values as MessagePack by default (the types of {@link ValueCodec}),
 * or JSON. A miss is {@code Optional.empty()} / {@code null}, never an exception;
 * failures are {@link StrataCacheException}s carrying the C ABI code. With Redis
 * unreachable, reads and writes degrade to L1: Redis failures are absorbed (a miss, a
 * skipped write, counted) unless {@link Options#failSilently(boolean)} turned that off.
 *
 * <p>TTL arguments: {@code null} uses the cache's default_ttl, {@link Duration#ZERO}
 * never expires, a positive duration expires after it (millisecond resolution).
 *
 * <p>The {@code *Async} methods never block on Redis: their futures complete from one
 * process-wide completion thread, handed over to {@code ForkJoinPool.commonPool()}
 * (dependent stages never run on that thread).
 */
public final class StrataCache implements AutoCloseable {
    /** {@link #ttl} of a key that never expires. */
    public static final Duration NO_EXPIRY = ChronoUnit.FOREVER.getDuration();

    private static final int OK = 0;
    private static final int ENOTFOUND = -1;
    private static final long TTL_DEFAULT = -1;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Loads in progress, by the id passed as the loader's ctx. */
    private static final Map<Long, LoadCall> LOADS = new ConcurrentHashMap<>();
    private static final AtomicLong LOAD_IDS = new AtomicLong();
    /** Held for the life of the process: the library keeps its function pointer during calls. */
    private static final NativeApi.Loader LOADER_CALLBACK = StrataCache::runLoader;

    private final Pointer handle;
    private final long handleAddress;
    private final boolean failSilently;
    private final AtomicLong absorbed = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Closes the handle once: from close(), or when a forgotten handle becomes unreachable. */
    private final Cleaner.Cleanable closer;
    private static final Cleaner CLEANER = Cleaner.create();

    /** Produces the value of a key for {@link #getOrLoad}; runs on the calling thread. */
    @FunctionalInterface
    public interface Loader {
        /**
         * The key's value, or {@code Optional.empty()} when the key does not exist. A
         * {@code byte[]} is stored RAW, a {@link Value} as its format and bytes, anything
         * else as MessagePack. An exception fails the load (LoadFailed, with it as the cause).
         */
        Optional<?> load(String key) throws Exception;
    }

    /**
     * Produces the value of a key for {@link #getOrLoadAsync}, without blocking the caller:
     * a stage with the value or {@code Optional.empty()} (the key does not exist), as
     * {@link Loader#load}. Called on {@code ForkJoinPool.commonPool()}.
     */
    @FunctionalInterface
    public interface AsyncLoader {
        CompletionStage<? extends Optional<?>> load(String key);
    }

    private static final class LoadCall {
        final Loader loader;
        Throwable failure;

        LoadCall(Loader loader) {
            this.loader = loader;
        }
    }

    private StrataCache(Pointer handle, boolean failSilently) {
        this.handle = handle;
        this.handleAddress = Pointer.nativeValue(handle);
        AtomicBoolean closedFlag = closed;
        this.closer = CLEANER.register(this, () -> {
            if (closedFlag.compareAndSet(false, true)) {
                NativeApi.stratacache_close(handle);
            }
        });
        this.failSilently = failSilently;
    }

    /** Opens a cache from a URL; never blocks on the network. */
    public static StrataCache open(String url) {
        return open(Options.fromUrl(url));
    }

    /** Opens a cache from options (URL, parameters, encryption keys). */
    public static StrataCache open(Options options) {
        return open(options, null);
    }

    /**
     * A handle on the process-wide cache called {@code name} (one L1, one set of
     * connections), opened from {@code options} by its first user: a Python application's
     * {@code Cache(url, shared=name)}, a C extension and this package in one process share
     * it. Each handle closes on its own; the cache closes with the last. The same name
     * with other options is {@link StrataCacheException.InvalidArgument}, naming it.
     */
    public static StrataCache openShared(String name, Options options) {
        return open(options, NativeApi.cString(name));
    }

    private static StrataCache open(Options options, byte[] sharedName) {
        Pointer opts = options.toNative();
        try {
            long[] out = new long[1];
            int rc = sharedName == null ? NativeApi.stratacache_open_with(out, opts)
                                        : NativeApi.stratacache_open_shared_with(out, sharedName, opts);
            if (rc != OK) {
                throw lastError(rc);
            }
            return new StrataCache(new Pointer(out[0]), options.failSilently());
        } finally {
            NativeApi.stratacache_options_free(opts);
        }
    }

    /** The loaded library's version, e.g. "0.5.0". */
    public static String libraryVersion() {
        return NativeApi.stratacache_version_string();
    }

    /**
     * Closes the handle and its connections; pending asynchronous calls complete with
     * {@link StrataCacheException.Unavailable}, later calls fail with
     * {@link StrataCacheException.Closed}. A second close does nothing.
     */
    @Override
    public void close() {
        closer.clean();
    }

    // ---------------------------------------------------------------- reads

    /** The value of {@code key}, or empty on a miss. */
    public Optional<Value> get(String key) {
        CallContext c = CallContext.get();
        byte[] bytes;
        try {
            bytes = read(c, key);
        } catch (StrataCacheException e) {
            return absorb(e, Optional.empty());
        }
        return bytes == null ? Optional.empty() : Optional.of(new Value(Format.of(c.outFormat()), bytes));
    }

    /** The stored bytes of {@code key} (whatever their format), or null on a miss. */
    public byte[] getBytes(String key) {
        try {
            return read(CallContext.get(), key);
        } catch (StrataCacheException e) {
            return absorb(e, null);
        }
    }

    /**
     * The value of {@code key} as JSON text, or null on a miss. MessagePack values
     * convert (shared ext types become strings); RAW and MessagePack bytes are
     * {@link StrataCacheException.WrongType}.
     */
    public String getJson(String key) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        int rc = NativeApi.stratacache_get_json(c.long1, c.long2, handle, k, k.length, c.co);
        if (rc == ENOTFOUND) {
            return null;
        }
        if (rc != OK) {
            return absorb(c.failure(rc), null);
        }
        return new String(take(c.long1[0], c.long2[0]), StandardCharsets.UTF_8);
    }

    /**
     * get_into with the thread's scratch key and value buffer, grown and retried when the
     * value is larger: the value's length (its bytes in the thread's value buffer, its
     * format in {@code c.outFormat()}), or -1 on a miss.
     */
    private int readToBuffer(CallContext c, String key) {
        long keyLen = c.putKey(key);
        long buf = c.valueBuffer(0);
        long cap = c.valueCapacity();
        int rc = NativeApi.stratacache_get_into(c.outLenAddress(), c.outFormatAddress(), handleAddress,
                c.keyAddress(), keyLen, buf, cap, c.coAddress);
        while (rc == StrataCacheException.ETOOBIG && c.outLen() > cap) {
            buf = c.valueBuffer(c.outLen());
            cap = c.valueCapacity();
            rc = NativeApi.stratacache_get_into(c.outLenAddress(), c.outFormatAddress(), handleAddress,
                    c.keyAddress(), keyLen, buf, cap, c.coAddress);
        }
        if (rc == ENOTFOUND) {
            return -1;
        }
        check(c, rc);
        return (int) c.outLen();
    }

    /** The value of {@code key} copied out of the thread's buffer, or null on a miss. */
    private byte[] read(CallContext c, String key) {
        int len = readToBuffer(c, key);
        if (len < 0) {
            return null;
        }
        byte[] out = c.valueBytes(len);
        c.trimValueBuffer();
        return out;
    }

    /**
     * Copies the stored bytes of {@code key} into {@code dst} and returns their length;
     * -1 on a miss. Allocates nothing on a hit. When the value is longer than
     * {@code dst}, nothing is copied and the length needed is returned.
     */
    public int getInto(String key, byte[] dst) {
        CallContext c = CallContext.get();
        int len;
        try {
            len = readToBuffer(c, key);
        } catch (StrataCacheException e) {
            return absorb(e, -1);
        }
        if (len > 0 && len <= dst.length) {
            c.copyValue(dst, len);
        }
        c.trimValueBuffer();
        return len;
    }

    /** The values of the keys found (in the order given; missing keys are absent), in one L2 round trip. */
    public Map<String, Value> getMany(Collection<String> keys) {
        CallContext c = CallContext.get();
        PackedKeys p = new PackedKeys(keys);
        int rc = NativeApi.stratacache_mget_packed(c.long1, c.long2, handle, p.bytes, p.lens, p.n, c.co);
        if (rc != OK) {
            return absorb(c.failure(rc), new LinkedHashMap<>());
        }
        Pointer packed = new Pointer(c.long1[0]);
        try {
            return unpackMget(p.keys, packed);
        } catch (StrataCacheException e) {
            return absorb(e, new LinkedHashMap<>());
        } finally {
            NativeApi.stratacache_free(packed);
        }
    }

    /** Whether {@code key} exists. */
    public boolean exists(String key) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        int rc = NativeApi.stratacache_exists(c.int1, handle, k, k.length, c.co);
        return rc == OK ? c.int1[0] == 1 : absorb(c.failure(rc), false);
    }

    /** Remaining time to live: empty when the key is missing, {@link #NO_EXPIRY} when it never expires. */
    public Optional<Duration> ttl(String key) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        int rc = NativeApi.stratacache_ttl(c.long1, handle, k, k.length, c.co);
        if (rc == ENOTFOUND) {
            return Optional.empty();
        }
        if (rc != OK) {
            return absorb(c.failure(rc), Optional.empty());
        }
        return Optional.of(ttlOf(c.long1[0]));
    }

    // ---------------------------------------------------------------- writes

    /** Stores {@code value} with the default TTL ({@code byte[]}: RAW, {@link Value}: as is, else MessagePack). */
    public void set(String key, Object value) {
        set(key, value, (Duration) null);
    }

    /** Stores {@code value} with {@code ttl} ({@code byte[]}: RAW, {@link Value}: as is, else MessagePack). */
    public void set(String key, Object value, Duration ttl) {
        Value v = toValue(value);
        store(key, v.bytes(), v.format(), ttl);
    }

    /** Stores {@code value} encoded in {@code format} with {@code ttl}. */
    public void set(String key, Object value, Format format, Duration ttl) {
        store(key, ValueCodec.encode(value, format), format, ttl);
    }

    private void store(String key, byte[] bytes, Format format, Duration ttl) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        checkWrite(c, NativeApi.stratacache_set(handle, k, k.length, bytes, bytes.length, format.code(), ttlMs(ttl),
                c.co));
    }

    /**
     * Parses JSON text and stores it with the cache's serializer (MessagePack unless the
     * URL says otherwise), so every language reads the same value. Invalid JSON:
     * {@link StrataCacheException.InvalidArgument}.
     */
    public void setJson(String key, String json, Duration ttl) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        byte[] j = utf8(json);
        checkWrite(c, NativeApi.stratacache_set_json(handle, k, k.length, j, j.length, ttlMs(ttl), c.co));
    }

    /** Stores every entry in one L2 round trip, all with {@code ttl}, each as {@link #set(String, Object)} would. */
    public void setMany(Map<String, ?> values, Duration ttl) {
        CallContext c = CallContext.get();
        PackedKeys p = new PackedKeys(values.keySet());
        List<byte[]> encoded = new ArrayList<>(p.n);
        int[] formats = new int[p.n];
        long[] valueLens = new long[p.n];
        int total = 0;
        int i = 0;
        for (Object o : values.values()) {
            Value v = toValue(o);
            encoded.add(v.bytes());
            formats[i] = v.format().code();
            valueLens[i++] = v.bytes().length;
            total += v.bytes().length;
        }
        byte[] all = new byte[total];
        int at = 0;
        for (byte[] b : encoded) {
            System.arraycopy(b, 0, all, at, b.length);
            at += b.length;
        }
        checkWrite(c, NativeApi.stratacache_mset_packed(handle, p.bytes, p.lens, all, valueLens, formats, p.n,
                ttlMs(ttl), c.co));
    }

    /** Deletes the keys from both tiers; returns how many existed. */
    public long delete(String... keys) {
        return delete(List.of(keys));
    }

    /** Deletes the keys from both tiers; returns how many existed. */
    public long delete(Collection<String> keys) {
        CallContext c = CallContext.get();
        PackedKeys p = new PackedKeys(keys);
        int rc = NativeApi.stratacache_delete_packed(c.long1, handle, p.bytes, p.lens, p.n, c.co);
        return rc == OK ? c.long1[0] : absorb(c.failure(rc), 0L);
    }

    /**
     * Adds {@code amount} atomically (INCRBY) and returns the new value. A missing key starts
     * at 0 and gets {@code ttl}; an existing TTL is never extended. Non-integer value:
     * {@link StrataCacheException.WrongType}.
     */
    public long increment(String key, long amount, Duration ttl) {
        CallContext c = CallContext.get();
        byte[] k = utf8(key);
        check(c, NativeApi.stratacache_increment(c.long1, handle, k, k.length, amount, ttlMs(ttl), c.co));
        return c.long1[0];
    }

    /** Deletes every key matching a Redis glob from L1 and L2 (SCAN, never KEYS); returns how many. */
    public long clearPattern(String glob) {
        CallContext c = CallContext.get();
        byte[] g = utf8(glob);
        int rc = NativeApi.stratacache_clear_pattern(c.long1, handle, g, g.length, c.co);
        return rc == OK ? c.long1[0] : absorb(c.failure(rc), 0L);
    }

    /** Drops every L1 entry of this handle (Redis untouched). */
    public void flushL1() {
        NativeApi.stratacache_flush_l1(handle);
    }

    /**
     * Stores {@code value} with the TTL, format, tags and dependencies of {@code options}
     * (docs/tags.md).
     */
    public void set(String key, Object value, WriteOptions options) {
        Value v = options.format() == null ? toValue(value)
                : new Value(options.format(), ValueCodec.encode(value, options.format()));
        CallContext c = CallContext.custom(options::applyTo);
        try {
            byte[] k = utf8(key);
            checkWrite(c, NativeApi.stratacache_set(handle, k, k.length, v.bytes(), v.bytes().length,
                    v.format().code(), ttlMs(options.ttl()), c.co));
        } finally {
            c.free();
        }
    }

    /**
     * Removes every entry written with one of {@code tags}, and their dependents, from Redis
     * and from every process's L1; returns how many entries were removed.
     */
    public long invalidateTags(String... tags) {
        CallContext c = CallContext.get();
        ByteStrings t = new ByteStrings(List.of(tags));
        int rc = NativeApi.stratacache_invalidate_tags(c.long1, handle, t.addresses, t.lens, t.n, c.co);
        t.keepAlive();
        check(c, rc);
        return c.long1[0];
    }

    /** What {@link #warm} did: keys found in Redis, keys loaded, keys that exist nowhere. */
    public static final class WarmResult {
        private final long found;
        private final long loaded;
        private final long missing;

        WarmResult(long found, long loaded, long missing) {
            this.found = found;
            this.loaded = loaded;
            this.missing = missing;
        }

        public long found() {
            return found;
        }

        public long loaded() {
            return loaded;
        }

        public long missing() {
            return missing;
        }

        @Override
        public String toString() {
            return "WarmResult(found=" + found + ", loaded=" + loaded + ", missing=" + missing + ")";
        }
    }

    /**
     * Fills this handle's L1 from Redis (batches of 1000 keys per round trip), past the
     * promotion threshold; with a {@code loader} (may be null), the keys still missing are
     * then loaded one after another through read-through, as {@link #getOrLoad} does. Every
     * key is tried; the first failure is thrown after that (a loader's exception as its cause).
     */
    public WarmResult warm(Collection<String> keys, Loader loader) {
        CallContext c = CallContext.get();
        ByteStrings k = new ByteStrings(keys);
        long[] loaded = new long[1];
        long id = LOAD_IDS.incrementAndGet();
        LoadCall call = new LoadCall(loader);
        if (loader != null) {
            LOADS.put(id, call);
        }
        try {
            int rc = NativeApi.stratacache_warm(c.long1, loaded, c.long2, null, handle, k.addresses, k.lens, k.n,
                    loader == null ? null : LOADER_CALLBACK, loader == null ? null : new Pointer(id), c.co);
            k.keepAlive();
            if (rc != OK) {
                StrataCacheException e = c.failure(rc);
                if (call.failure != null) {
                    e.initCause(call.failure);
                }
                throw e;
            }
            return new WarmResult(c.long1[0], loaded[0], c.long2[0]);
        } finally {
            LOADS.remove(id);
        }
    }

    // ---------------------------------------------------------------- locks

    /**
     * Acquires the distributed lock {@code name} for {@code ttl}, waiting up to {@code wait}
     * (ZERO: try once) for its holder to release it or for it to expire (woken, not
     * polled). Empty when another owner still holds it after the wait. A lock never
     * degrades to this process: with Redis unreachable this throws Unavailable whatever
     * failSilently says.
     */
    public java.util.Optional<Lock> tryLock(String name, Duration ttl, Duration wait) {
        CallContext c = CallContext.get();
        byte[] n = utf8(name);
        int rc = NativeApi.stratacache_lock_acquire(c.long1, c.long2, handle, n, n.length, ttl.toMillis(),
                wait.toMillis(), c.co);
        // ETIMEDOUT is both "still held when the wait ran out" (an outcome: empty) and "Redis
        // did not answer" (a failure); the library's message tells them apart.
        if (rc == StrataCacheException.ETIMEDOUT
                && c.failure(rc).getMessage().endsWith("is held by another owner")) {
            return java.util.Optional.empty();
        }
        check(c, rc);
        return java.util.Optional.of(new Lock(c.long1[0], c.long2[0]));
    }

    // ---------------------------------------------------------------- read-through

    /** {@link #getOrLoad(String, ReadThrough, Loader)} with the default settings. */
    public Optional<Value> getOrLoad(String key, Loader loader) {
        return getOrLoad(key, ReadThrough.DEFAULTS, loader);
    }

    /**
     * The value of {@code key}, loading it with {@code loader} when it is missing or past
     * its fresh period: one load per key across threads, languages on one handle and
     * processes (docs/read-through.md). Empty: the key does not exist (the loader said so,
     * now or within the negative TTL). The loader runs at most once, on this thread; it
     * may use this cache for other keys.
     */
    public Optional<Value> getOrLoad(String key, ReadThrough settings, Loader loader) {
        CallContext c = settings == ReadThrough.DEFAULTS ? CallContext.get() : CallContext.custom(settings::applyTo);
        long id = LOAD_IDS.incrementAndGet();
        LoadCall call = new LoadCall(loader);
        LOADS.put(id, call);
        try {
            byte[] k = utf8(key);
            int rc = NativeApi.stratacache_get_or_load(c.long1, c.long2, c.int1, c.int2, handle, k, k.length,
                    LOADER_CALLBACK, new Pointer(id), c.co);
            if (rc == ENOTFOUND) {
                return Optional.empty();
            }
            if (rc != OK) {
                StrataCacheException e = c.failure(rc);
                if (call.failure != null) {
                    e.initCause(call.failure);
                    throw e;
                }
                absorb(e, null);
                return loadUncached(key, loader);
            }
            return Optional.of(new Value(Format.of(c.int1[0]), take(c.long1[0], c.long2[0])));
        } finally {
            LOADS.remove(id);
            if (settings != ReadThrough.DEFAULTS) {
                c.free();
            }
        }
    }

    /** The loader's value when Redis failed and the failure was absorbed: returned, not cached. */
    private static Optional<Value> loadUncached(String key, Loader loader) {
        try {
            Optional<?> loaded = loader.load(key);
            return loaded == null || loaded.isEmpty() ? Optional.empty() : Optional.of(toValue(loaded.get()));
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            StrataCacheException failed = new StrataCacheException.LoadFailed(StrataCacheException.ELOADFAILED,
                    "loader failed: " + e);
            failed.initCause(e);
            throw failed;
        }
    }

    private static int runLoader(Pointer ctx, Pointer key, long keyLen, Pointer sink) {
        LoadCall call = LOADS.get(Pointer.nativeValue(ctx));
        if (call == null) {
            return StrataCacheException.EINTERNAL;
        }
        try {
            String k = new String(key.getByteArray(0, (int) keyLen), StandardCharsets.UTF_8);
            Optional<?> loaded = call.loader.load(k);
            if (loaded == null || loaded.isEmpty()) {
                return ENOTFOUND;
            }
            Value v = toValue(loaded.get());
            return NativeApi.stratacache_sink_put(sink, v.bytes(), v.bytes().length, v.format().code(), -1);
        } catch (Throwable t) { // nothing may unwind through the library's frames
            call.failure = t;
            NativeApi.stratacache_sink_fail(sink, NativeApi.cString("loader failed: " + t));
            return StrataCacheException.ELOADFAILED;
        }
    }

    // ---------------------------------------------------------------- asynchronous

    private static final int INFO_STALE = 0x1;
    private static final int INFO_REFRESH = 0x4;

    /**
     * {@link #getOrLoad} without blocking, through the lease form of read-through
     * (stratacache_submit_acquire): the same one load per key across threads, languages and
     * processes. When this caller holds the lease, {@code loader} runs and its value is
     * stored (stratacache_submit_lease_fill); an early refresh completes the future with
     * the current value at once and reloads in the background; a stale value is served if
     * the reload fails. A loader failure is {@link StrataCacheException.LoadFailed} with it
     * as the cause.
     */
    public CompletableFuture<Optional<Value>> getOrLoadAsync(String key, ReadThrough settings, AsyncLoader loader) {
        byte[] k = utf8(key);
        CompletableFuture<Optional<Value>> out = new CompletableFuture<>();
        CallContext c = settings == ReadThrough.DEFAULTS ? CallContext.get() : CallContext.custom(settings::applyTo);
        try {
            Completions.shared().submitAcquire(c::failure,
                    (q, done, payload) -> NativeApi.stratacache_submit_acquire(handle, k, k.length, c.co, q, done,
                            payload),
                    a -> onAcquired(a, key, loader, out));
        } finally {
            if (settings != ReadThrough.DEFAULTS) {
                c.free();
            }
        }
        return out;
    }

    private void onAcquired(Completions.Acquired a, String key, AsyncLoader loader,
                            CompletableFuture<Optional<Value>> out) {
        Optional<Value> current = a.value == null ? Optional.empty()
                : Optional.of(new Value(Format.of(a.format), a.value));
        if (a.status != OK && a.status != ENOTFOUND) {
            StrataCacheException e = StrataCacheException.of(a.status, a.message);
            try {
                absorb(e, null); // absorbed: load, uncached
                loadAsync(loader, key).whenComplete((v, error) -> settle(out, v, error));
            } catch (StrataCacheException thrown) {
                out.completeExceptionally(thrown);
            }
            return;
        }
        if (a.lease == null) {
            out.complete(current);
            return;
        }
        boolean refresh = (a.info & INFO_REFRESH) != 0;
        boolean stale = (a.info & INFO_STALE) != 0;
        if (refresh) {
            out.complete(current);
        }
        loadAsync(loader, key).whenComplete((loaded, error) -> {
            if (error != null) {
                NativeApi.stratacache_lease_abandon(a.lease, StrataCacheException.ELOADFAILED,
                        NativeApi.cString("loader failed: " + error));
                if (stale) {
                    out.complete(current);
                } else {
                    settle(out, null, error);
                }
                return;
            }
            CompletableFuture<Void> fill = loaded.isEmpty()
                    ? Completions.shared().submit(StrataCache::lastError,
                            (q, done, payload) -> NativeApi.stratacache_submit_lease_fill_not_found(a.lease, q, done,
                                    payload),
                            (status, value, len, format, count) -> null)
                    : Completions.shared().submit(StrataCache::lastError,
                            (q, done, payload) -> NativeApi.stratacache_submit_lease_fill(a.lease,
                                    loaded.get().bytes(), loaded.get().bytes().length,
                                    loaded.get().format().code(), -1, q, done, payload),
                            (status, value, len, format, count) -> null);
            // the caller gets the loaded value whether or not storing it succeeded (EABORTED: a newer one won)
            fill.whenComplete((ignored, fillError) -> out.complete(loaded));
        });
    }

    /** The loader's stage, its value converted; a loader that throws gives a failed stage. */
    private static CompletableFuture<Optional<Value>> loadAsync(AsyncLoader loader, String key) {
        try {
            return loader.load(key).toCompletableFuture().thenApply(
                    o -> o == null || o.isEmpty() ? Optional.<Value>empty() : Optional.of(toValue(o.get())));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static void settle(CompletableFuture<Optional<Value>> out, Optional<Value> value, Throwable error) {
        if (error == null) {
            out.complete(value);
            return;
        }
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause() : error;
        if (cause instanceof StrataCacheException) {
            out.completeExceptionally(cause);
            return;
        }
        StrataCacheException failed = new StrataCacheException.LoadFailed(StrataCacheException.ELOADFAILED,
                "loader failed: " + cause);
        failed.initCause(cause);
        out.completeExceptionally(failed);
    }

    /** {@link #get} without blocking. */
    public CompletableFuture<Optional<Value>> getAsync(String key) {
        byte[] k = utf8(key);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_get(handle, k, k.length, c.co, q, done, payload),
                (status, value, len, format, count) -> status == ENOTFOUND ? Optional.<Value>empty()
                        : Optional.of(new Value(Format.of(format), value.getByteArray(0, (int) len)))), Optional.empty());
    }

    /** {@link #set(String, Object, Duration)} without blocking. */
    public CompletableFuture<Void> setAsync(String key, Object value, Duration ttl) {
        byte[] k = utf8(key);
        Value v = toValue(value);
        long ms = ttlMs(ttl);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_set(handle, k, k.length, v.bytes(),
                        v.bytes().length, v.format().code(), ms, c.co, q, done, payload),
                (status, val, len, format, count) -> null), null);
    }

    /** {@link #delete(Collection)} without blocking. */
    public CompletableFuture<Long> deleteAsync(Collection<String> keys) {
        PackedKeys p = new PackedKeys(keys);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_delete(handle, p.bytes, p.lens, p.n, c.co, q,
                        done, payload),
                (status, value, len, format, count) -> count), 0L);
    }

    /** {@link #exists} without blocking. */
    public CompletableFuture<Boolean> existsAsync(String key) {
        byte[] k = utf8(key);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_exists(handle, k, k.length, c.co, q, done, payload),
                (status, value, len, format, count) -> count == 1), false);
    }

    /** {@link #ttl} without blocking. */
    public CompletableFuture<Optional<Duration>> ttlAsync(String key) {
        byte[] k = utf8(key);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_ttl(handle, k, k.length, c.co, q, done, payload),
                (status, value, len, format, count) -> status == ENOTFOUND ? Optional.<Duration>empty()
                        : Optional.of(ttlOf(count))), Optional.empty());
    }

    /** {@link #increment} without blocking. */
    public CompletableFuture<Long> incrementAsync(String key, long amount, Duration ttl) {
        byte[] k = utf8(key);
        long ms = ttlMs(ttl);
        CallContext c = CallContext.get();
        return Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_increment(handle, k, k.length, amount, ms, c.co,
                        q, done, payload),
                (status, value, len, format, count) -> count);
    }

    /** {@link #getMany} without blocking. */
    public CompletableFuture<Map<String, Value>> getManyAsync(Collection<String> keys) {
        PackedKeys p = new PackedKeys(keys);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_mget(handle, p.bytes, p.lens, p.n, c.co, q, done,
                        payload),
                (status, value, len, format, count) -> unpackMget(p.keys, value)), new LinkedHashMap<>());
    }

    /** {@link #clearPattern} without blocking. */
    public CompletableFuture<Long> clearPatternAsync(String glob) {
        byte[] g = utf8(glob);
        CallContext c = CallContext.get();
        return absorbing(Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_clear_pattern(handle, g, g.length, c.co, q, done,
                        payload),
                (status, value, len, format, count) -> count), 0L);
    }

    /** {@link #health} without blocking. */
    public CompletableFuture<Map<String, Object>> healthAsync() {
        CallContext c = CallContext.get();
        return Completions.shared().submit(c::failure,
                (q, done, payload) -> NativeApi.stratacache_submit_health(handle, c.co, q, done, payload),
                (status, value, len, format, count) -> jsonObject(value.getByteArray(0, (int) len)));
    }

    // ---------------------------------------------------------------- observability

    /**
     * Health: {@code healthy}, {@code latency_ms}, {@code version}, {@code error}, the
     * coherence fields... (stratacache_health_json). Answers even when unhealthy.
     */
    public Map<String, Object> health() {
        CallContext c = CallContext.get();
        check(c, NativeApi.stratacache_health_json(c.long1, c.long2, handle, c.co));
        return jsonObject(take(c.long1[0], c.long2[0]));
    }

    /**
     * Every counter, as {@code {"l1": {...}, "l2": {...}, "decode_errors": n, ...}}, plus
     * this handle's {@code "errors_absorbed"} (Redis failures turned into misses).
     */
    public Map<String, Object> stats() {
        long[] out = new long[1];
        long[] len = new long[1];
        int rc = NativeApi.stratacache_stats_json(out, len, handle);
        if (rc != OK) {
            throw lastError(rc);
        }
        Map<String, Object> stats = jsonObject(take(out[0], len[0]));
        stats.put("errors_absorbed", absorbed.get());
        return stats;
    }

    /** One counter by name ("l1.hits", "l2.misses", ...); unknown names are InvalidArgument. */
    public long stat(String name) {
        long[] out = new long[1];
        int rc = NativeApi.stratacache_stat(out, handle, NativeApi.cString(name));
        if (rc != OK) {
            throw lastError(rc);
        }
        return out[0];
    }

    // ---------------------------------------------------------------- helpers

    /** A failure of a call that takes no callopts: its message is this OS thread's last error. */
    static StrataCacheException lastError(int rc) {
        return StrataCacheException.of(rc, NativeApi.stratacache_last_error().getString(0, "UTF-8"));
    }

    /**
     * The fallback for a Redis failure when this handle absorbs them (counted); any other
     * failure, or every failure with failSilently off, is thrown.
     */
    private <T> T absorb(StrataCacheException e, T fallback) {
        if (!failSilently || !(e instanceof StrataCacheException.Unavailable
                || e instanceof StrataCacheException.Timeout || e instanceof StrataCacheException.Auth)) {
            throw e;
        }
        absorbed.incrementAndGet();
        return fallback;
    }

    private void checkWrite(CallContext c, int rc) {
        if (rc != OK) {
            absorb(c.failure(rc), null);
        }
    }

    private <T> CompletableFuture<T> absorbing(CompletableFuture<T> future, T fallback) {
        return future.handle((value, error) -> {
            if (error == null) {
                return value;
            }
            if (error instanceof StrataCacheException) {
                return absorb((StrataCacheException) error, fallback);
            }
            throw new java.util.concurrent.CompletionException(error);
        });
    }

    private static void check(CallContext c, int rc) {
        if (rc != OK) {
            throw c.failure(rc);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Copies a library-owned buffer out and frees it. */
    private static byte[] take(long address, long len) {
        Pointer p = new Pointer(address);
        try {
            return p.getByteArray(0, (int) len);
        } finally {
            NativeApi.stratacache_free(p);
        }
    }

    private static Value toValue(Object value) {
        if (value instanceof Value) {
            return (Value) value;
        }
        if (value instanceof byte[]) {
            return new Value(Format.RAW, (byte[]) value);
        }
        return new Value(Format.MSGPACK, ValueCodec.encode(value, Format.MSGPACK));
    }

    private static long ttlMs(Duration ttl) {
        if (ttl == null) {
            return TTL_DEFAULT;
        }
        if (ttl.isNegative()) {
            throw new StrataCacheException.InvalidArgument(StrataCacheException.EINVAL, "negative ttl " + ttl);
        }
        long ms = ttl.toMillis();
        if (ms == 0 && !ttl.isZero()) {
            ms = 1; // a positive TTL under a millisecond still expires
        }
        return ms;
    }

    private static Duration ttlOf(long ms) {
        return ms < 0 ? NO_EXPIRY : Duration.ofMillis(ms);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> jsonObject(byte[] json) {
        try {
            return JSON.readValue(json, Map.class);
        } catch (IOException e) {
            throw new StrataCacheException(StrataCacheException.EINTERNAL, "bad JSON from the library: " + e);
        }
    }

    /** The records of a packed mget result (STRATACACHE_PACKED_HEADER_SIZE = 16, 8-byte aligned). */
    private static Map<String, Value> unpackMget(List<String> keys, Pointer packed) {
        Map<String, Value> out = new LinkedHashMap<>();
        long at = 0;
        for (String key : keys) {
            int status = packed.getInt(at);
            int format = packed.getInt(at + 4);
            long len = packed.getLong(at + 8);
            if (status == OK) {
                out.put(key, new Value(Format.of(format), packed.getByteArray(at + 16, (int) len)));
            } else if (status != ENOTFOUND) {
                throw StrataCacheException.of(status, "getMany: key " + key);
            }
            at += 16 + ((len + 7) & ~7L);
        }
        return out;
    }

    /** Keys packed back to back plus their lengths (the C ABI's packed key lists). */
    private static final class PackedKeys {
        final List<String> keys;
        final byte[] bytes;
        final long[] lens;
        final int n;

        PackedKeys(Collection<String> keys) {
            this.keys = List.copyOf(keys);
            n = this.keys.size();
            lens = new long[n];
            byte[][] parts = new byte[n][];
            int total = 0;
            for (int i = 0; i < n; i++) {
                parts[i] = utf8(this.keys.get(i));
                lens[i] = parts[i].length;
                total += parts[i].length;
            }
            bytes = new byte[Math.max(total, 1)];
            int at = 0;
            for (byte[] p : parts) {
                System.arraycopy(p, 0, bytes, at, p.length);
                at += p.length;
            }
        }
    }
}
