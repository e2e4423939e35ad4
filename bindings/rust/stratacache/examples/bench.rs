//! The Rust side of bindings/rust/bench.sh. Each round times the same reads twice, back
//! to back in this process: on the C ABI directly (`stratacache_get` + `stratacache_free`
//! through stratacache-sys, what a C caller does) and through this crate (`Cache::get`,
//! and `Cache::get_async` under `futures::executor::block_on`). Prints `NAME VALUE` lines:
//! the median over rounds of the mean ns per call, and `ratio_*`: the median of the
//! per-round ratios crate / C ABI (paired rounds cancel most of a shared VM's drift).
//! Usage: bench REDIS_URL ROUNDS L1_CALLS L2_CALLS
use std::ptr;
use std::time::Instant;

use futures_executor::block_on;
use stratacache::{CallOptions, Cache, Ttl};
use stratacache_sys as sys;

fn mean_ns(calls: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        op();
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One `stratacache_get` + `stratacache_free` on a raw handle, as C does it.
fn c_get(cache: *mut sys::stratacache_cache, co: *const sys::stratacache_callopts) {
    let (mut buf, mut len) = (ptr::null_mut(), 0usize);
    let rc = unsafe { sys::stratacache_get(&mut buf, &mut len, ptr::null_mut(), cache, b"bench:key".as_ptr().cast(), 9, co) };
    assert_eq!(rc, sys::STRATACACHE_OK);
    unsafe { sys::stratacache_free(buf) };
}

fn open_raw(url: &str) -> *mut sys::stratacache_cache {
    let url = std::ffi::CString::new(url).unwrap();
    let mut raw = ptr::null_mut();
    assert_eq!(unsafe { sys::stratacache_open(&mut raw, url.as_ptr()) }, sys::STRATACACHE_OK);
    raw
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rounds, l1_calls, l2_calls] = &args[..] else { panic!("usage: bench REDIS_URL ROUNDS L1_CALLS L2_CALLS") };
    let (rounds, l1_calls, l2_calls): (usize, usize, usize) = (rounds.parse().unwrap(), l1_calls.parse().unwrap(), l2_calls.parse().unwrap());

    let mem = Cache::open("mem://").unwrap();
    mem.set("bench:key", [b'v'; 100], Ttl::Never).unwrap();
    let raw_mem = open_raw("mem://");
    let v = [b'v'; 100];
    unsafe { sys::stratacache_set(raw_mem, b"bench:key".as_ptr().cast(), 9, v.as_ptr().cast(), 100, 0, 0, ptr::null()) };
    let redis = Cache::open(url).unwrap().with(CallOptions::new().skip_l1().unwrap());
    redis.set("bench:key", [b'v'; 100], Ttl::Never).unwrap();
    let raw_redis = open_raw(url);
    let skip_l1 = CallOptions::new().skip_l1().unwrap();
    let skip_l1_raw = {
        let mut co = ptr::null_mut();
        unsafe {
            sys::stratacache_callopts_new(&mut co);
            sys::stratacache_callopts_set_flags(co, sys::STRATACACHE_SKIP_L1);
        }
        co
    };
    drop(skip_l1);

    let mut rows: Vec<(&str, Vec<f64>)> = ["ffi_l1_hit", "rust_l1_hit", "ratio_l1_hit", "ffi_l2_get", "rust_l2_get", "ratio_l2_get", "rust_l2_get_async", "ratio_l2_get_async"]
        .iter()
        .map(|n| (*n, Vec::new()))
        .collect();
    for _ in 0..rounds {
        let ffi = mean_ns(l1_calls, || c_get(raw_mem, ptr::null()));
        let rust = mean_ns(l1_calls, || assert!(mem.get("bench:key").unwrap().is_some()));
        let ffi2 = mean_ns(l2_calls, || c_get(raw_redis, skip_l1_raw));
        let rust2 = mean_ns(l2_calls, || assert!(redis.get("bench:key").unwrap().is_some()));
        let fut = mean_ns(l2_calls, || assert!(block_on(redis.get_async("bench:key")).unwrap().is_some()));
        for (i, x) in [ffi, rust, rust / ffi, ffi2, rust2, rust2 / ffi2, fut, fut / ffi2].into_iter().enumerate() {
            rows[i].1.push(x);
        }
    }
    for (name, values) in rows {
        println!("{name} {:.3}", median(values));
    }
    unsafe {
        sys::stratacache_callopts_free(skip_l1_raw);
        sys::stratacache_close(raw_redis);
        sys::stratacache_close(raw_mem);
    }
}
