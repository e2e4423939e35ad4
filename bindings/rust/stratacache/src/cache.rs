//! [`Cache`]: a handle on one stratacache (L1 in process + Redis L2), shared by clones
//! and threads, closed when the last clone is dropped.
use std::any::Any;
use std::ffi::CString;
use std::future::Future;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use stratacache_sys as sys;

use crate::completion::{self, Completion, OpFuture};
use crate::error::{check, check_found, Error, ErrorKind, Result};
use crate::options::{c_string, millis, CallOptions, Options};
use crate::value::{Entry, Format, Value};

/// The lifetime a write gives its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The cache's `default_ttl`.
    Default,
    /// Never expires.
    Never,
    /// Expires after this long (at least 1 ms, at most 10 years).
    After(Duration),
}

impl Ttl {
    fn millis(self) -> i64 {
        match self {
            Ttl::Default => sys::STRATACACHE_TTL_DEFAULT,
            Ttl::Never => 0,
            Ttl::After(d) => millis(d).max(1),
        }
    }

    /// A remaining lifetime as the C ABI reports it (-1: never expires).
    fn remaining(ms: i64) -> Ttl {
        if ms < 0 {
            Ttl::Never
        } else {
            Ttl::After(Duration::from_millis(ms as u64))
        }
    }
}

impl From<Duration> for Ttl {
    fn from(d: Duration) -> Ttl {
        Ttl::After(d)
    }
}

/// A read-through result: the entry, whether it is a stale value (the reload failed)
/// and whether this call ran the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub entry: Entry,
    pub stale: bool,
    pub loaded: bool,
}

/// What [`Cache::warm`] did: keys found in Redis (now in L1) and keys that exist nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmed {
    pub found: usize,
    pub missing: usize,
}

/// A held distributed lock. Release it with [`Lock::release`]; dropping it releases it
/// without waiting for Redis (best effort; otherwise it expires by its TTL).
pub struct Lock {
    raw: *mut sys::stratacache_lock,
    fence: u64,
}

// C ABI: a lock may be used from any thread, one call at a time (&mut self).
unsafe impl Send for Lock {}

impl Lock {
    /// The fencing token: strictly greater for every new holder of the name.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// Sets the remaining lifetime to `ttl` if this owner still holds it; `Aborted`
    /// when it expired meanwhile (another owner may hold it now).
    pub fn extend(&mut self, ttl: Duration) -> Result<()> {
        check(unsafe { sys::stratacache_lock_extend(self.raw, millis(ttl)) })
    }

    /// Releases the lock; `Aborted` when it was no longer this owner's.
    pub fn release(mut self) -> Result<()> {
        let raw = std::mem::replace(&mut self.raw, ptr::null_mut());
        check(unsafe { sys::stratacache_lock_release(raw) })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        unsafe { sys::stratacache_lock_free(self.raw) }
    }
}

struct Handle(*mut sys::stratacache_cache);

// C ABI: cache handles are thread-safe and may be closed from any thread, once.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { sys::stratacache_close(self.0) }
    }
}

/// A cache handle. `Clone` is cheap and shares the connections; the last clone dropped
/// closes them (pending asynchronous calls then complete with `Unavailable`).
/// [`Cache::with`] gives a clone whose calls use per-call options.
#[derive(Clone)]
pub struct Cache {
    handle: Arc<Handle>,
    co: Option<Arc<CallOptions>>,
}

/// n keys back to back plus their lengths (the C ABI's packed key lists).
struct Packed {
    bytes: Vec<u8>,
    lens: Vec<usize>,
}

impl Packed {
    fn new<K: AsRef<[u8]>>(items: impl Iterator<Item = K>) -> Packed {
        let mut p = Packed { bytes: Vec::new(), lens: Vec::new() };
        for k in items {
            p.bytes.extend_from_slice(k.as_ref());
            p.lens.push(k.as_ref().len());
        }
        p
    }
}

/// Copies a library-owned buffer and frees it.
pub(crate) fn take_buffer(buf: *mut c_void, len: usize) -> Vec<u8> {
    let out = if buf.is_null() { Vec::new() } else { unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec() };
    unsafe { sys::stratacache_free(buf) };
    out
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::new(ErrorKind::Internal, format!("library JSON: {e}")))
}

/// The records of a packed mget result (layout in stratacache.h); a failed key is
/// `error(code)`.
fn unpack_mget(buf: &[u8], n: usize, error: impl Fn(c_int) -> Error) -> Result<Vec<Option<Entry>>> {
    let mut out = Vec::with_capacity(n);
    let mut at = 0usize;
    let truncated = || Error::new(ErrorKind::Internal, "packed mget result is truncated");
    for _ in 0..n {
        let header = buf.get(at..at + sys::STRATACACHE_PACKED_HEADER_SIZE).ok_or_else(truncated)?;
        let status = i32::from_ne_bytes(header[0..4].try_into().unwrap());
        let format = i32::from_ne_bytes(header[4..8].try_into().unwrap());
        let len = u64::from_ne_bytes(header[8..16].try_into().unwrap()) as usize;
        let start = at + sys::STRATACACHE_PACKED_HEADER_SIZE;
        match status {
            sys::STRATACACHE_OK => {
                let value = buf.get(start..start + len).ok_or_else(truncated)?;
                out.push(Some(Entry::new(value, Format::from_code(format)?)));
            }
            sys::STRATACACHE_ENOTFOUND => out.push(None),
            code => return Err(error(code)),
        }
        at = start + ((len + 7) & !7);
    }
    Ok(out)
}

fn key_ptr(key: &[u8]) -> *const c_void {
    key.as_ptr().cast()
}

impl Cache {
    /// Opens a cache from a stratacache URL (`mem://`, `redis://127.0.0.1:6379/0?...`).
    /// Never blocks on the network: an unreachable Redis makes L2 calls fail with
    /// `Unavailable` (reads degrade to L1) until it comes back.
    pub fn open(url: &str) -> Result<Cache> {
        Cache::open_with(&Options::from_url(url)?)
    }

    /// Opens a cache from [`Options`] (read, not kept).
    pub fn open_with(options: &Options) -> Result<Cache> {
        let mut raw = ptr::null_mut();
        check(unsafe { sys::stratacache_open_with(&mut raw, options.raw) })?;
        Ok(Cache { handle: Arc::new(Handle(raw)), co: None })
    }

    /// A handle on the process-wide cache named `name` (one L1, one set of connections),
    /// opened with `options` by its first user: a Python application and this crate, or
    /// two crates, in one process share it (`stratacache.Cache(url, shared=name)` in
    /// Python). Every handle closes on its own; the cache closes with the last. The same
    /// name with other options is `InvalidArgument`.
    pub fn open_shared(name: &str, options: &Options) -> Result<Cache> {
        let name = crate::options::c_string(name)?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::stratacache_open_shared_with(&mut raw, name.as_ptr(), options.raw) })?;
        Ok(Cache { handle: Arc::new(Handle(raw)), co: None })
    }

    /// A clone of this handle whose calls use `options` (deadline, tier flags,
    /// read-through settings, tags).
    pub fn with(&self, options: CallOptions) -> Cache {
        Cache { handle: self.handle.clone(), co: Some(Arc::new(options)) }
    }

    fn raw(&self) -> *mut sys::stratacache_cache {
        self.handle.0
    }

    fn co(&self) -> *const sys::stratacache_callopts {
        self.co.as_ref().map_or(ptr::null(), |c| c.raw)
    }

    /// The value of `key`, or `None` on a miss (a corrupt stored value is a miss).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        Ok(self.get_entry(key)?.map(|e| e.value))
    }

    /// The value of `key` with its format.
    pub fn get_entry(&self, key: impl AsRef<[u8]>) -> Result<Option<Entry>> {
        let key = key.as_ref();
        let (mut buf, mut len, mut format) = (ptr::null_mut(), 0usize, 0 as c_int);
        let code = unsafe { sys::stratacache_get(&mut buf, &mut len, &mut format, self.raw(), key_ptr(key), key.len(), self.co()) };
        if !check_found(code)? {
            return Ok(None);
        }
        let value = take_buffer(buf, len);
        Ok(Some(Entry::new(value, Format::from_code(format)?)))
    }

    /// The value of `key` decoded as a [`Value`] (raw values are `Value::Bytes`).
    pub fn get_value(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.get_entry(key)?.map(|e| e.to_value()).transpose()
    }

    /// The value of `key` deserialized into `T` (stored as MessagePack or JSON).
    pub fn get_serde<T: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        self.get_entry(key)?.map(|e| e.deserialize()).transpose()
    }

    /// Stores raw bytes.
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl: impl Into<Ttl>) -> Result<()> {
        self.set_entry(key, value, Format::Raw, ttl)
    }

    /// Stores bytes labelled with `format` (not validated: readers trust the label).
    pub fn set_entry(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, format: Format, ttl: impl Into<Ttl>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check(unsafe {
            sys::stratacache_set(self.raw(), key_ptr(key), key.len(), key_ptr(value), value.len(), format.code(), ttl.into().millis(), self.co())
        })
    }

    /// Stores a [`Value`] in `format`.
    pub fn set_value(&self, key: impl AsRef<[u8]>, value: &Value, format: Format, ttl: impl Into<Ttl>) -> Result<()> {
        self.set_entry(key, value.encode(format)?, format, ttl)
    }

    /// Stores `value` serialized to MessagePack (structs as maps with field names).
    pub fn set_serde<T: Serialize + ?Sized>(&self, key: impl AsRef<[u8]>, value: &T, ttl: impl Into<Ttl>) -> Result<()> {
        let entry = Entry::msgpack(value)?;
        self.set_entry(key, entry.value, entry.format, ttl)
    }

    /// Deletes `key` from both tiers; whether it existed.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.delete_many(&[key])? > 0)
    }

    /// Deletes keys from both tiers; how many existed.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        let p = Packed::new(keys.iter());
        let mut deleted = 0i64;
        check(unsafe { sys::stratacache_delete_packed(&mut deleted, self.raw(), key_ptr(&p.bytes), p.lens.as_ptr(), keys.len(), self.co()) })?;
        Ok(deleted as u64)
    }

    pub fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        let mut exists = 0;
        check(unsafe { sys::stratacache_exists(&mut exists, self.raw(), key_ptr(key), key.len(), self.co()) })?;
        Ok(exists != 0)
    }

    /// The remaining lifetime of `key` (`Ttl::Never` or `Ttl::After`), `None` if missing.
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Ttl>> {
        let key = key.as_ref();
        let mut ms = 0i64;
        let found = check_found(unsafe { sys::stratacache_ttl(&mut ms, self.raw(), key_ptr(key), key.len(), self.co()) })?;
        Ok(found.then(|| Ttl::remaining(ms)))
    }

    /// Atomically adds `amount`; a missing key starts at 0 and gets `ttl` (an existing
    /// TTL is never extended). A non-integer value is `WrongType`.
    pub fn increment(&self, key: impl AsRef<[u8]>, amount: i64, ttl: impl Into<Ttl>) -> Result<i64> {
        let key = key.as_ref();
        let mut value = 0i64;
        check(unsafe { sys::stratacache_increment(&mut value, self.raw(), key_ptr(key), key.len(), amount, ttl.into().millis(), self.co()) })?;
        Ok(value)
    }

    /// Deletes every key matching a Redis glob from both tiers; how many.
    pub fn clear_pattern(&self, pattern: impl AsRef<[u8]>) -> Result<u64> {
        let pattern = pattern.as_ref();
        let mut deleted = 0i64;
        check(unsafe { sys::stratacache_clear_pattern(&mut deleted, self.raw(), key_ptr(pattern), pattern.len(), self.co()) })?;
        Ok(deleted as u64)
    }

    /// Reads keys in one L2 round trip: one entry or `None` per key, in order.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Entry>>> {
        let p = Packed::new(keys.iter());
        let (mut buf, mut len) = (ptr::null_mut(), 0usize);
        check(unsafe { sys::stratacache_mget_packed(&mut buf, &mut len, self.raw(), key_ptr(&p.bytes), p.lens.as_ptr(), keys.len(), self.co()) })?;
        let error = |code| Error::last(code);
        let out = unpack_mget(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }, keys.len(), error);
        unsafe { sys::stratacache_free(buf) };
        out
    }

    /// Writes values of one format in one L2 round trip, all with `ttl`.
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, items: &[(K, V)], format: Format, ttl: impl Into<Ttl>) -> Result<()> {
        let (keys, values) = (Packed::new(items.iter().map(|i| &i.0)), Packed::new(items.iter().map(|i| &i.1)));
        let formats = vec![format.code(); items.len()];
        check(unsafe {
            sys::stratacache_mset_packed(
                self.raw(), key_ptr(&keys.bytes), keys.lens.as_ptr(), key_ptr(&values.bytes), values.lens.as_ptr(),
                formats.as_ptr(), items.len(), ttl.into().millis(), self.co(),
            )
        })
    }

    /// Health of the L2 connection as JSON (`{"healthy": bool, "latency_ms": ...}`);
    /// an unhealthy Redis is `"healthy": false`, not an error.
    pub fn health(&self) -> Result<serde_json::Value> {
        let (mut buf, mut len) = (ptr::null_mut::<c_char>(), 0usize);
        check(unsafe { sys::stratacache_health_json(&mut buf, &mut len, self.raw(), self.co()) })?;
        parse_json(&take_buffer(buf.cast(), len))
    }

    /// Every counter as JSON (`{"l1": {...}, "l2": {...}, "decode_errors": n, ...}`).
    pub fn stats(&self) -> Result<serde_json::Value> {
        let (mut buf, mut len) = (ptr::null_mut::<c_char>(), 0usize);
        check(unsafe { sys::stratacache_stats_json(&mut buf, &mut len, self.raw()) })?;
        parse_json(&take_buffer(buf.cast(), len))
    }

    /// One counter by name (`"l1.hits"`, `"l2.errors"`, ...).
    pub fn stat(&self, name: &str) -> Result<u64> {
        let name = c_string(name)?;
        let mut value = 0u64;
        check(unsafe { sys::stratacache_stat(&mut value, self.raw(), name.as_ptr()) })?;
        Ok(value)
    }

    /// Drops every L1 entry of this handle (Redis untouched).
    pub fn flush_l1(&self) {
        unsafe { sys::stratacache_flush_l1(self.raw()) }
    }

    /// Removes every entry written with one of `tags` (see [`CallOptions::tags`]) and
    /// their dependents; how many were removed.
    pub fn invalidate_tags<T: AsRef<[u8]>>(&self, tags: &[T]) -> Result<u64> {
        let (ptrs, lens): (Vec<*const c_void>, Vec<usize>) = tags.iter().map(|t| (key_ptr(t.as_ref()), t.as_ref().len())).unzip();
        let mut removed = 0i64;
        check(unsafe { sys::stratacache_invalidate_tags(&mut removed, self.raw(), ptrs.as_ptr(), lens.as_ptr(), tags.len(), self.co()) })?;
        Ok(removed as u64)
    }

    /// Acquires the distributed lock `name` for `ttl`, waiting up to `wait` for its holder
    /// to release it (docs/locks.md). `TimedOut`: still held by another owner;
    /// `Unavailable`: Redis failed (a lock never degrades to this process).
    pub fn lock(&self, name: impl AsRef<[u8]>, ttl: Duration, wait: Duration) -> Result<Lock> {
        let name = name.as_ref();
        let (mut raw, mut fence) = (ptr::null_mut(), 0u64);
        check(unsafe { sys::stratacache_lock_acquire(&mut raw, &mut fence, self.raw(), key_ptr(name), name.len(), millis(ttl), millis(wait), self.co()) })?;
        Ok(Lock { raw, fence })
    }

    /// Fills this handle's L1 from Redis with `keys` (batched round trips), past the
    /// promotion threshold; how many were found in Redis and how many exist nowhere.
    pub fn warm<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Warmed> {
        let (ptrs, lens): (Vec<*const c_void>, Vec<usize>) = keys.iter().map(|k| (key_ptr(k.as_ref()), k.as_ref().len())).unzip();
        let (mut found, mut missing) = (0usize, 0usize);
        check(unsafe {
            sys::stratacache_warm(
                &mut found, ptr::null_mut(), &mut missing, ptr::null_mut(), self.raw(), ptrs.as_ptr(), lens.as_ptr(), keys.len(), None,
                ptr::null_mut(), self.co(),
            )
        })?;
        Ok(Warmed { found, missing })
    }

    /// Read-through: the value of `key`, loaded with `loader` when missing or past its
    /// fresh period, once per key across threads and processes (docs/read-through.md).
    /// The loader returns the entry, `Ok(None)` when the key does not exist (then this
    /// returns `Ok(None)`, cached for the negative TTL), or an error (a stale value is
    /// served instead when there is one). It runs on this thread; a panic in it is
    /// resumed here once the library has released the key. Settings come from
    /// [`Cache::with`] (`ttl`, `stale_ttl`, `negative_ttl`, `early_refresh`, `timeout`).
    pub fn get_or_load<F>(&self, key: impl AsRef<[u8]>, loader: F) -> Result<Option<Loaded>>
    where
        F: FnOnce(&[u8]) -> Result<Option<Entry>>,
    {
        let key = key.as_ref();
        let mut ctx = LoaderCtx { loader: Some(loader), panic: None };
        let (mut buf, mut len, mut format, mut info) = (ptr::null_mut(), 0usize, 0 as c_int, 0 as c_uint);
        let code = unsafe {
            sys::stratacache_get_or_load(
                &mut buf, &mut len, &mut format, &mut info, self.raw(), key_ptr(key), key.len(),
                Some(run_loader::<F>), (&mut ctx as *mut LoaderCtx<F>).cast(), self.co(),
            )
        };
        if let Some(p) = ctx.panic {
            unsafe { sys::stratacache_free(buf) };
            panic::resume_unwind(p);
        }
        if !check_found(code)? {
            return Ok(None);
        }
        let entry = Entry::new(take_buffer(buf, len), Format::from_code(format)?);
        Ok(Some(Loaded { entry, stale: info & sys::STRATACACHE_INFO_STALE != 0, loaded: info & sys::STRATACACHE_INFO_LOADED != 0 }))
    }
}

struct LoaderCtx<F> {
    loader: Option<F>,
    panic: Option<Box<dyn Any + Send>>,
}

fn sink_fail(sink: *mut sys::stratacache_sink, message: &str) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    unsafe { sys::stratacache_sink_fail(sink, message.as_ptr()) };
}

unsafe extern "C" fn run_loader<F>(ctx: *mut c_void, key: *const c_void, key_len: usize, sink: *mut sys::stratacache_sink) -> c_int
where
    F: FnOnce(&[u8]) -> Result<Option<Entry>>,
{
    let ctx = unsafe { &mut *ctx.cast::<LoaderCtx<F>>() };
    let Some(loader) = ctx.loader.take() else { return sys::STRATACACHE_EINTERNAL };
    let key = if key.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(key.cast::<u8>(), key_len) } };
    match panic::catch_unwind(AssertUnwindSafe(|| loader(key))) {
        Ok(Ok(Some(entry))) => unsafe { sys::stratacache_sink_put(sink, key_ptr(&entry.value), entry.value.len(), entry.format.code(), -1) },
        Ok(Ok(None)) => sys::STRATACACHE_ENOTFOUND,
        Ok(Err(e)) => {
            sink_fail(sink, e.message());
            load_failure_code(&e)
        }
        Err(p) => {
            ctx.panic = Some(p);
            sink_fail(sink, "loader panicked");
            sys::STRATACACHE_ELOADFAILED
        }
    }
}

/// The code a failed loader reports: its error's, when that is a failure code.
fn load_failure_code(e: &Error) -> c_int {
    match e.kind().code() {
        code if code < 0 => code,
        _ => sys::STRATACACHE_ELOADFAILED,
    }
}

/// Asynchronous calls: each submits at once and returns a future of its result; the
/// future needs no particular executor (see the `completion` module).
impl Cache {
    pub fn get_async(&self, key: impl AsRef<[u8]>) -> OpFuture<Option<Entry>> {
        let key = key.as_ref();
        completion::submit(
            |c| match c.status {
                sys::STRATACACHE_OK => Ok(Some(Entry::new(c.bytes(), Format::from_code(c.format)?))),
                sys::STRATACACHE_ENOTFOUND => Ok(None),
                _ => Err(c.error()),
            },
            |q, cb, p| unsafe { sys::stratacache_submit_get(self.raw(), key_ptr(key), key.len(), self.co(), q, cb, p) },
        )
    }

    pub fn set_async(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, format: Format, ttl: impl Into<Ttl>) -> OpFuture<()> {
        let (key, value, ttl) = (key.as_ref(), value.as_ref(), ttl.into().millis());
        completion::submit(status_only, |q, cb, p| unsafe {
            sys::stratacache_submit_set(self.raw(), key_ptr(key), key.len(), key_ptr(value), value.len(), format.code(), ttl, self.co(), q, cb, p)
        })
    }

    pub fn delete_many_async<K: AsRef<[u8]>>(&self, keys: &[K]) -> OpFuture<u64> {
        let p = Packed::new(keys.iter());
        completion::submit(count, |q, cb, pl| unsafe {
            sys::stratacache_submit_delete(self.raw(), key_ptr(&p.bytes), p.lens.as_ptr(), keys.len(), self.co(), q, cb, pl)
        })
    }

    pub fn exists_async(&self, key: impl AsRef<[u8]>) -> OpFuture<bool> {
        let key = key.as_ref();
        completion::submit(
            |c| Ok(count(c)? != 0),
            |q, cb, p| unsafe { sys::stratacache_submit_exists(self.raw(), key_ptr(key), key.len(), self.co(), q, cb, p) },
        )
    }

    pub fn ttl_async(&self, key: impl AsRef<[u8]>) -> OpFuture<Option<Ttl>> {
        let key = key.as_ref();
        completion::submit(
            |c| match c.status {
                sys::STRATACACHE_OK => Ok(Some(Ttl::remaining(c.count))),
                sys::STRATACACHE_ENOTFOUND => Ok(None),
                _ => Err(c.error()),
            },
            |q, cb, p| unsafe { sys::stratacache_submit_ttl(self.raw(), key_ptr(key), key.len(), self.co(), q, cb, p) },
        )
    }

    pub fn increment_async(&self, key: impl AsRef<[u8]>, amount: i64, ttl: impl Into<Ttl>) -> OpFuture<i64> {
        let (key, ttl) = (key.as_ref(), ttl.into().millis());
        completion::submit(
            |c| status_only(c).map(|()| c.count),
            |q, cb, p| unsafe { sys::stratacache_submit_increment(self.raw(), key_ptr(key), key.len(), amount, ttl, self.co(), q, cb, p) },
        )
    }

    pub fn clear_pattern_async(&self, pattern: impl AsRef<[u8]>) -> OpFuture<u64> {
        let pattern = pattern.as_ref();
        completion::submit(count, |q, cb, p| unsafe {
            sys::stratacache_submit_clear_pattern(self.raw(), key_ptr(pattern), pattern.len(), self.co(), q, cb, p)
        })
    }

    pub fn get_many_async<K: AsRef<[u8]>>(&self, keys: &[K]) -> OpFuture<Vec<Option<Entry>>> {
        let p = Packed::new(keys.iter());
        completion::submit(
            |c| {
                status_only(c)?;
                unpack_mget(c.bytes(), c.count as usize, |code| Error::from_code_message(code, c.message))
            },
            |q, cb, pl| unsafe { sys::stratacache_submit_mget(self.raw(), key_ptr(&p.bytes), p.lens.as_ptr(), keys.len(), self.co(), q, cb, pl) },
        )
    }

    pub fn set_many_async<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, items: &[(K, V)], format: Format, ttl: impl Into<Ttl>) -> OpFuture<()> {
        let (keys, values) = (Packed::new(items.iter().map(|i| &i.0)), Packed::new(items.iter().map(|i| &i.1)));
        let (formats, ttl) = (vec![format.code(); items.len()], ttl.into().millis());
        completion::submit(status_only, |q, cb, p| unsafe {
            sys::stratacache_submit_mset(
                self.raw(), key_ptr(&keys.bytes), keys.lens.as_ptr(), key_ptr(&values.bytes), values.lens.as_ptr(),
                formats.as_ptr(), items.len(), ttl, self.co(), q, cb, p,
            )
        })
    }

    pub fn health_async(&self) -> OpFuture<serde_json::Value> {
        completion::submit(
            |c| status_only(c).and_then(|()| parse_json(c.bytes())),
            |q, cb, p| unsafe { sys::stratacache_submit_health(self.raw(), self.co(), q, cb, p) },
        )
    }

    /// Read-through without blocking a thread: as [`Cache::get_or_load`], with an
    /// asynchronous loader that gets the key. The load duty (lease) this call may hold
    /// is given back if the future is dropped, so another caller loads instead. An early
    /// refresh (`early_refresh`) loads in this call before it returns the new value.
    pub async fn get_or_load_async<F, Fut>(&self, key: impl AsRef<[u8]>, loader: F) -> Result<Option<Loaded>>
    where
        F: FnOnce(Vec<u8>) -> Fut,
        Fut: Future<Output = Result<Option<Entry>>>,
    {
        let key = key.as_ref().to_vec();
        let mut acquired = completion::submit_acquire(|q, cb, p| unsafe {
            sys::stratacache_submit_acquire(self.raw(), key_ptr(&key), key.len(), self.co(), q, cb, p)
        })
        .await?;
        let current = if acquired.found {
            let entry = Entry::new(std::mem::take(&mut acquired.value), Format::from_code(acquired.format)?);
            Some(Loaded { entry, stale: acquired.info & sys::STRATACACHE_INFO_STALE != 0, loaded: false })
        } else {
            None
        };
        if acquired.lease.is_null() {
            return Ok(current);
        }
        // `acquired` keeps the lease until the fill takes it: dropped before (the
        // loader panicked, the future was dropped), it abandons it.
        let loaded = loader(key).await;
        let lease = std::mem::replace(&mut acquired.lease, ptr::null_mut());
        match loaded {
            Ok(Some(entry)) => {
                let fill = completion::submit(fill_outcome, |q, cb, p| unsafe {
                    sys::stratacache_submit_lease_fill(lease, key_ptr(&entry.value), entry.value.len(), entry.format.code(), -1, q, cb, p)
                });
                fill.await?;
                Ok(Some(Loaded { entry, stale: false, loaded: true }))
            }
            Ok(None) => {
                completion::submit(fill_outcome, |q, cb, p| unsafe { sys::stratacache_submit_lease_fill_not_found(lease, q, cb, p) }).await?;
                Ok(None)
            }
            Err(e) => {
                let message = CString::new(e.message().replace('\0', " ")).unwrap_or_default();
                unsafe { sys::stratacache_lease_abandon(lease, load_failure_code(&e), message.as_ptr()) };
                match current {
                    Some(stale) => Ok(Some(Loaded { stale: true, ..stale })),
                    None => Err(e),
                }
            }
        }
    }
}

fn status_only(c: &Completion) -> Result<()> {
    match c.status {
        sys::STRATACACHE_OK => Ok(()),
        _ => Err(c.error()),
    }
}

fn count(c: &Completion) -> Result<u64> {
    status_only(c).map(|()| c.count as u64)
}

/// A fill's outcome: EABORTED (Redis kept a newer value; this process's waiters still
/// got ours) is not the caller's failure.
fn fill_outcome(c: &Completion) -> Result<()> {
    match c.status {
        sys::STRATACACHE_EABORTED => Ok(()),
        _ => status_only(c),
    }
}
