//! Raw declarations of the stratacache C ABI (`stratacache.h`), written by hand and
//! checked against the installed header by `tests/header_match.rs`, which turns every
//! declaration below into a C assignment that the C compiler type-checks against the
//! header's prototype. Ownership and error conventions are the header's; the safe
//! wrapper is the `stratacache` crate.
//!
//! Layout rules the checker relies on: one item per line group, `pub fn` signatures
//! end with `;`, callback types are `Option<unsafe extern "C" fn(...)>` aliases named
//! like their C typedefs.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub const STRATACACHE_OK: c_int = 0;
pub const STRATACACHE_ENOTFOUND: c_int = -1;
pub const STRATACACHE_EINVAL: c_int = -2;
pub const STRATACACHE_EUNAVAILABLE: c_int = -3;
pub const STRATACACHE_ETIMEDOUT: c_int = -4;
pub const STRATACACHE_ECORRUPT: c_int = -5;
pub const STRATACACHE_ETOOBIG: c_int = -6;
pub const STRATACACHE_EAUTH: c_int = -7;
pub const STRATACACHE_EWRONGTYPE: c_int = -8;
pub const STRATACACHE_EUNSUPPORTED: c_int = -9;
pub const STRATACACHE_EINTERNAL: c_int = -10;
pub const STRATACACHE_ENOMEM: c_int = -11;
pub const STRATACACHE_ECLOSED: c_int = -12;
pub const STRATACACHE_EABORTED: c_int = -13;
pub const STRATACACHE_ELOADFAILED: c_int = -14;

pub const STRATACACHE_FORMAT_RAW: c_int = 0;
pub const STRATACACHE_FORMAT_JSON: c_int = 1;
pub const STRATACACHE_FORMAT_MSGPACK: c_int = 2;

pub const STRATACACHE_SKIP_L1: u32 = 0x1;
pub const STRATACACHE_SKIP_L2: u32 = 0x2;
pub const STRATACACHE_TTL_DEFAULT: i64 = -1;
pub const STRATACACHE_PACKED_HEADER_SIZE: usize = 16;

pub const STRATACACHE_INFO_STALE: c_uint = 0x1;
pub const STRATACACHE_INFO_LOADED: c_uint = 0x2;
pub const STRATACACHE_INFO_REFRESH: c_uint = 0x4;

/// Opaque C types: only ever behind pointers.
macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(stratacache_cache, stratacache_options, stratacache_callopts, stratacache_queue, stratacache_sink, stratacache_lease, stratacache_lock);

pub type stratacache_callback = Option<
    unsafe extern "C" fn(
        payload: *mut c_void,
        status: c_int,
        message: *const c_char,
        value: *mut c_void,
        len: usize,
        format: c_int,
        count: i64,
    ),
>;
pub type stratacache_loader =
    Option<unsafe extern "C" fn(ctx: *mut c_void, key: *const c_void, key_len: usize, sink: *mut stratacache_sink) -> c_int>;
pub type stratacache_acquire_callback = Option<
    unsafe extern "C" fn(
        payload: *mut c_void,
        status: c_int,
        message: *const c_char,
        value: *mut c_void,
        len: usize,
        format: c_int,
        info: c_uint,
        lease: *mut stratacache_lease,
    ),
>;

extern "C" {
    pub fn stratacache_version_number() -> c_uint;
    pub fn stratacache_version_string() -> *const c_char;
    pub fn stratacache_strerror(code: c_int) -> *const c_char;
    pub fn stratacache_last_error() -> *const c_char;
    pub fn stratacache_free(buffer: *mut c_void);

    pub fn stratacache_options_new(out: *mut *mut stratacache_options) -> c_int;
    pub fn stratacache_options_from_url(out: *mut *mut stratacache_options, url: *const c_char) -> c_int;
    pub fn stratacache_options_set(opts: *mut stratacache_options, name: *const c_char, value: *const c_char) -> c_int;
    pub fn stratacache_options_add_key(opts: *mut stratacache_options, id: u32, key: *const c_void, key_len: usize, primary: c_int) -> c_int;
    pub fn stratacache_options_free(opts: *mut stratacache_options);

    pub fn stratacache_open(out: *mut *mut stratacache_cache, url: *const c_char) -> c_int;
    pub fn stratacache_open_with(out: *mut *mut stratacache_cache, opts: *const stratacache_options) -> c_int;
    pub fn stratacache_open_shared(out: *mut *mut stratacache_cache, name: *const c_char, url: *const c_char) -> c_int;
    pub fn stratacache_open_shared_with(
        out: *mut *mut stratacache_cache,
        name: *const c_char,
        opts: *const stratacache_options,
    ) -> c_int;
    pub fn stratacache_close(cache: *mut stratacache_cache);

    pub fn stratacache_callopts_new(out: *mut *mut stratacache_callopts) -> c_int;
    pub fn stratacache_callopts_set_timeout_ms(co: *mut stratacache_callopts, timeout_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_flags(co: *mut stratacache_callopts, flags: u32) -> c_int;
    pub fn stratacache_callopts_set_error_buffer(co: *mut stratacache_callopts, buf: *mut c_char, cap: usize) -> c_int;
    pub fn stratacache_callopts_free(co: *mut stratacache_callopts);
    pub fn stratacache_callopts_set_ttl_ms(co: *mut stratacache_callopts, ttl_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_stale_ttl_ms(co: *mut stratacache_callopts, stale_ttl_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_negative_ttl_ms(co: *mut stratacache_callopts, negative_ttl_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_early_refresh(co: *mut stratacache_callopts, beta: f64) -> c_int;
    pub fn stratacache_callopts_set_soft_timeout_ms(co: *mut stratacache_callopts, soft_timeout_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_lease_ttl_ms(co: *mut stratacache_callopts, lease_ttl_ms: i64) -> c_int;
    pub fn stratacache_callopts_set_lock(co: *mut stratacache_callopts, lock: c_int) -> c_int;
    pub fn stratacache_callopts_set_tags(co: *mut stratacache_callopts, tags: *const *const c_void, lens: *const usize, n: usize) -> c_int;
    pub fn stratacache_callopts_set_depends_on(co: *mut stratacache_callopts, keys: *const *const c_void, lens: *const usize, n: usize) -> c_int;

    pub fn stratacache_get(out_value: *mut *mut c_void, out_len: *mut usize, out_format: *mut c_int, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_get_into(out_len: *mut usize, out_format: *mut c_int, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, buf: *mut c_void, cap: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_get_json(out_json: *mut *mut c_char, out_len: *mut usize, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_set(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, value: *const c_void, value_len: usize, format: c_int, ttl_ms: i64, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_set_json(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, json: *const c_char, json_len: usize, ttl_ms: i64, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_exists(out_exists: *mut c_int, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_ttl(out_ttl_ms: *mut i64, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_increment(out_value: *mut i64, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, amount: i64, ttl_ms: i64, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_clear_pattern(out_deleted: *mut i64, cache: *mut stratacache_cache, pattern: *const c_void, pattern_len: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_mget_packed(out_packed: *mut *mut c_void, out_len: *mut usize, cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, n: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_mset_packed(cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, values: *const c_void, value_lens: *const usize, formats: *const c_int, n: usize, ttl_ms: i64, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_delete_packed(out_deleted: *mut i64, cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, n: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_flush_l1(cache: *mut stratacache_cache);

    pub fn stratacache_queue_new(out: *mut *mut stratacache_queue) -> c_int;
    pub fn stratacache_queue_fd(queue: *const stratacache_queue) -> c_int;
    pub fn stratacache_queue_drain(out_ran: *mut usize, queue: *mut stratacache_queue, max: usize) -> c_int;
    pub fn stratacache_queue_free(queue: *mut stratacache_queue);

    pub fn stratacache_submit_get(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_set(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, value: *const c_void, value_len: usize, format: c_int, ttl_ms: i64, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_delete(cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, n: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_exists(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_ttl(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_increment(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, amount: i64, ttl_ms: i64, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_mget(cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, n: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_mset(cache: *mut stratacache_cache, keys: *const c_void, key_lens: *const usize, values: *const c_void, value_lens: *const usize, formats: *const c_int, n: usize, ttl_ms: i64, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_clear_pattern(cache: *mut stratacache_cache, pattern: *const c_void, pattern_len: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_health(cache: *mut stratacache_cache, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;

    pub fn stratacache_envelope_decode(out_value: *mut *mut c_void, out_len: *mut usize, out_format: *mut c_int, envelope: *const c_void, envelope_len: usize, prefix: *const c_void, prefix_len: usize, key: *const c_void, key_len: usize, opts: *const stratacache_options) -> c_int;

    pub fn stratacache_sink_put(sink: *mut stratacache_sink, value: *const c_void, len: usize, format: c_int, ttl_ms: i64) -> c_int;
    pub fn stratacache_sink_fail(sink: *mut stratacache_sink, message: *const c_char) -> c_int;
    pub fn stratacache_get_or_load(out_value: *mut *mut c_void, out_len: *mut usize, out_format: *mut c_int, out_info: *mut c_uint, cache: *mut stratacache_cache, key: *const c_void, key_len: usize, loader: stratacache_loader, ctx: *mut c_void, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_submit_acquire(cache: *mut stratacache_cache, key: *const c_void, key_len: usize, co: *const stratacache_callopts, queue: *mut stratacache_queue, done: stratacache_acquire_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_lease_fill(lease: *mut stratacache_lease, value: *const c_void, len: usize, format: c_int, ttl_ms: i64, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_submit_lease_fill_not_found(lease: *mut stratacache_lease, queue: *mut stratacache_queue, done: stratacache_callback, payload: *mut c_void) -> c_int;
    pub fn stratacache_lease_abandon(lease: *mut stratacache_lease, code: c_int, message: *const c_char);

    pub fn stratacache_invalidate_tags(out_removed: *mut i64, cache: *mut stratacache_cache, tags: *const *const c_void, lens: *const usize, n: usize, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_lock_acquire(out: *mut *mut stratacache_lock, out_fence: *mut u64, cache: *mut stratacache_cache, name: *const c_void, name_len: usize, ttl_ms: i64, wait_ms: i64, co: *const stratacache_callopts) -> c_int;
    pub fn stratacache_lock_fence(lock: *const stratacache_lock) -> u64;
    pub fn stratacache_lock_extend(lock: *mut stratacache_lock, ttl_ms: i64) -> c_int;
    pub fn stratacache_lock_release(lock: *mut stratacache_lock) -> c_int;
    pub fn stratacache_lock_free(lock: *mut stratacache_lock);

    pub fn stratacache_warm(out_found: *mut usize, out_loaded: *mut usize, out_missing: *mut usize, out_codes: *mut c_int, cache: *mut stratacache_cache, keys: *const *const c_void, key_lens: *const usize, n: usize, loader: stratacache_loader, ctx: *mut c_void, co: *const stratacache_callopts) -> c_int;

    pub fn stratacache_stat(out_value: *mut u64, cache: *mut stratacache_cache, name: *const c_char) -> c_int;
    pub fn stratacache_stats_json(out_json: *mut *mut c_char, out_len: *mut usize, cache: *mut stratacache_cache) -> c_int;
    pub fn stratacache_health_json(out_json: *mut *mut c_char, out_len: *mut usize, cache: *mut stratacache_cache, co: *const stratacache_callopts) -> c_int;
}
