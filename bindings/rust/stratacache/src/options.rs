//! Settings: [`Options`] for opening a cache (a URL plus named parameters and
//! encryption keys) and [`CallOptions`] for single calls (deadline, tier flags,
//! read-through settings, tags).
use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr;
use std::time::Duration;

use stratacache_sys as sys;

use crate::error::{check, Error, ErrorKind, Result};

pub(crate) fn c_string(text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{text:?} contains a NUL byte")))
}

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Settings for [`crate::Cache::open_with`]: a stratacache URL (`mem://`,
/// `redis://host:port/db?param=value`, `rediss://`, `unix://`), parameters by their URL
/// names, and AES-256-GCM keys. Not shared between threads while being built.
pub struct Options {
    pub(crate) raw: *mut sys::stratacache_options,
}

unsafe impl Send for Options {}
unsafe impl Sync for Options {}

impl Options {
    /// Options parsed from a URL; a bad URL is `InvalidArgument` naming the problem.
    pub fn from_url(url: &str) -> Result<Options> {
        let url = c_string(url)?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::stratacache_options_from_url(&mut raw, url.as_ptr()) })?;
        Ok(Options { raw })
    }

    /// Sets one parameter by its URL name (`"compression_threshold"`, `"64"`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<&mut Options> {
        let (name, value) = (c_string(name)?, c_string(value)?);
        check(unsafe { sys::stratacache_options_set(self.raw, name.as_ptr(), value.as_ptr()) })?;
        Ok(self)
    }

    /// Adds a 32-byte AES-256-GCM key stored as `id` in each envelope. The first key, or
    /// one added with `primary`, encrypts new values; every key decrypts.
    pub fn add_key(&mut self, id: u32, key: &[u8; 32], primary: bool) -> Result<&mut Options> {
        check(unsafe { sys::stratacache_options_add_key(self.raw, id, key.as_ptr().cast(), key.len(), primary as i32) })?;
        Ok(self)
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        unsafe { sys::stratacache_options_free(self.raw) }
    }
}

/// Per-call settings, given to the `*_with` calls and to read-through. Build once,
/// share read-only.
pub struct CallOptions {
    pub(crate) raw: *mut sys::stratacache_callopts,
    flags: u32,
}

unsafe impl Send for CallOptions {}
unsafe impl Sync for CallOptions {}

impl CallOptions {
    pub fn new() -> CallOptions {
        let mut raw = ptr::null_mut();
        let code = unsafe { sys::stratacache_callopts_new(&mut raw) };
        assert!(code == sys::STRATACACHE_OK && !raw.is_null(), "stratacache_callopts_new failed: out of memory");
        CallOptions { raw, flags: 0 }
    }

    /// The deadline of each call (L1 hits still answer when it is zero).
    pub fn timeout(self, timeout: Duration) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_timeout_ms(self.raw, millis(timeout)) })?;
        Ok(self)
    }

    /// Neither read nor write the in-process tier.
    pub fn skip_l1(self) -> Result<CallOptions> {
        self.add_flags(sys::STRATACACHE_SKIP_L1)
    }

    /// Neither read nor write Redis.
    pub fn skip_l2(self) -> Result<CallOptions> {
        self.add_flags(sys::STRATACACHE_SKIP_L2)
    }

    fn add_flags(mut self, flag: u32) -> Result<CallOptions> {
        // The C setter replaces the flags; the builders add to those already set.
        self.flags |= flag;
        check(unsafe { sys::stratacache_callopts_set_flags(self.raw, self.flags) })?;
        Ok(self)
    }

    /// Read-through: the fresh period of a loaded value.
    pub fn ttl(self, ttl: Duration) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_ttl_ms(self.raw, millis(ttl)) })?;
        Ok(self)
    }

    /// Read-through: how long a stale value is served after its fresh period when a
    /// reload fails.
    pub fn stale_ttl(self, stale: Duration) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_stale_ttl_ms(self.raw, millis(stale)) })?;
        Ok(self)
    }

    /// Read-through: how long "does not exist" is remembered.
    pub fn negative_ttl(self, negative: Duration) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_negative_ttl_ms(self.raw, millis(negative)) })?;
        Ok(self)
    }

    /// Read-through: XFetch's beta (0: off, 1: optimal).
    pub fn early_refresh(self, beta: f64) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_early_refresh(self.raw, beta) })?;
        Ok(self)
    }

    /// Read-through: `false` keeps the one-load-per-key lease per process (no Redis lease).
    pub fn lock(self, lock: bool) -> Result<CallOptions> {
        check(unsafe { sys::stratacache_callopts_set_lock(self.raw, lock as i32) })?;
        Ok(self)
    }

    /// The tags of the entries written with these options (docs/tags.md).
    pub fn tags<T: AsRef<[u8]>>(self, tags: &[T]) -> Result<CallOptions> {
        let (ptrs, lens): (Vec<*const c_void>, Vec<usize>) =
            tags.iter().map(|t| (t.as_ref().as_ptr().cast::<c_void>(), t.as_ref().len())).unzip();
        check(unsafe { sys::stratacache_callopts_set_tags(self.raw, ptrs.as_ptr(), lens.as_ptr(), tags.len()) })?;
        Ok(self)
    }
}

impl Default for CallOptions {
    fn default() -> CallOptions {
        CallOptions::new()
    }
}

impl Drop for CallOptions {
    fn drop(&mut self) {
        unsafe { sys::stratacache_callopts_free(self.raw) }
    }
}
