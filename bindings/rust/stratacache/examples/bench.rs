//! The Rust side of bindings/rust/bench.sh: the same reads as bench/capi_get.c through
//! this crate (`Cache::get`, `Cache::get_async`). Prints `NAME NS` lines: the median
//! over rounds of the mean per call.
//! Usage: bench REDIS_URL ROUNDS L1_CALLS L2_CALLS
use std::time::Instant;

use futures_executor::block_on;
use stratacache::{CallOptions, Cache, Ttl};

fn median_ns(rounds: usize, calls: usize, mut op: impl FnMut()) -> f64 {
    let mut per_call: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                op();
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[rounds / 2]
}

fn open_with_value(url: &str) -> Cache {
    let cache = Cache::open(url).expect("open");
    cache.set("bench:key", [b'v'; 100], Ttl::Never).expect("set");
    cache
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rounds, l1_calls, l2_calls] = &args[..] else { panic!("usage: bench REDIS_URL ROUNDS L1_CALLS L2_CALLS") };
    let (rounds, l1_calls, l2_calls): (usize, usize, usize) = (rounds.parse().unwrap(), l1_calls.parse().unwrap(), l2_calls.parse().unwrap());
    let mem = open_with_value("mem://");
    println!("rust_l1_hit {:.1}", median_ns(rounds, l1_calls, || assert!(mem.get("bench:key").unwrap().is_some())));
    let redis = open_with_value(url).with(CallOptions::new().skip_l1().unwrap());
    println!("rust_l2_get {:.1}", median_ns(rounds, l2_calls, || assert!(redis.get("bench:key").unwrap().is_some())));
    println!("rust_l2_get_async {:.1}", median_ns(rounds, l2_calls, || assert!(block_on(redis.get_async("bench:key")).unwrap().is_some())));
}
