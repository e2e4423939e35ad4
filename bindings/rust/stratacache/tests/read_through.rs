//! get_or_load, blocking and asynchronous: one load per key, negative results, loader
//! errors, stale values and panics.
mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use futures_executor::block_on;
use stratacache::{CallOptions, Cache, Entry, Error, ErrorKind, Format};
use support::Redis;

#[test]
fn loads_once_then_serves_the_cached_value() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let loads = AtomicUsize::new(0);
    let load = |key: &[u8]| {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Entry::new([b"value of ", key].concat(), Format::Raw)))
    };
    let first = cache.get_or_load("user:1", load).unwrap().unwrap();
    assert_eq!(first.entry.value, b"value of user:1");
    assert!(first.loaded && !first.stale);
    let second = cache.get_or_load("user:1", load).unwrap().unwrap();
    assert_eq!(second.entry.value, b"value of user:1");
    assert!(!second.loaded);
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // Stored for everyone: a plain read on another handle sees it.
    assert_eq!(Cache::open(&redis.url()).unwrap().get("user:1").unwrap().unwrap(), b"value of user:1");
}

#[test]
fn concurrent_callers_share_one_load() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cache, loads, barrier) = (cache.clone(), loads.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                cache
                    .get_or_load("hot", |_| {
                        loads.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(Some(Entry::raw(&b"v"[..])))
                    })
                    .unwrap()
                    .unwrap()
                    .entry
                    .value
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), b"v");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn not_found_and_loader_errors() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let negative = cache.with(CallOptions::new().negative_ttl(Duration::from_secs(60)).unwrap());
    assert_eq!(negative.get_or_load("ghost", |_| Ok(None)).unwrap(), None);
    // Remembered: the loader is not asked again.
    assert_eq!(negative.get_or_load("ghost", |_| panic!("loaded a negative entry")).unwrap(), None);
    let err = cache.get_or_load("broken", |_| Err(Error::new(ErrorKind::Unavailable, "database down"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.message().contains("database down"), "{err}");
    assert_eq!(cache.get("broken").unwrap(), None, "a failure is never cached");
}

#[test]
fn a_failed_reload_serves_the_stale_value() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let opts = CallOptions::new().ttl(Duration::from_millis(50)).unwrap().stale_ttl(Duration::from_secs(60)).unwrap();
    let cache = cache.with(opts);
    cache.get_or_load("k", |_| Ok(Some(Entry::raw(&b"old"[..])))).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let got = cache.get_or_load("k", |_| Err(Error::new(ErrorKind::LoadFailed, "no"))).unwrap().unwrap();
    assert_eq!(got.entry.value, b"old");
    assert!(got.stale);
}

#[test]
fn a_panicking_loader_panics_in_the_caller_and_releases_the_key() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.get_or_load("p", |_| panic!("boom"))));
    assert_eq!(*caught.unwrap_err().downcast::<&str>().unwrap(), "boom");
    // The key was released: the next caller loads.
    let got = cache.get_or_load("p", |_| Ok(Some(Entry::raw(&b"ok"[..])))).unwrap().unwrap();
    assert_eq!(got.entry.value, b"ok");
}

#[test]
fn asynchronous_read_through() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let loads = AtomicUsize::new(0);
    block_on(async {
        for _ in 0..2 {
            let got = cache
                .get_or_load_async("a", |key| {
                    loads.fetch_add(1, Ordering::SeqCst);
                    async move { Ok(Some(Entry::new([&key[..], b"!"].concat(), Format::Raw))) }
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.entry.value, b"a!");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get_or_load_async("none", |_| async { Ok(None) }).await.unwrap(), None);
        let err = cache.get_or_load_async("bad", |_| async { Err(Error::new(ErrorKind::TimedOut, "slow db")) }).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
    assert_eq!(cache.get("a").unwrap().unwrap(), b"a!");
}

#[test]
fn a_dropped_asynchronous_load_lets_the_next_caller_load() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    // Poll until the loader runs (it never finishes), then drop the future holding the lease.
    {
        let mut fut = Box::pin(cache.get_or_load_async("k", |_| std::future::pending()));
        let waker = futures_executor::block_on(async { std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await });
        let mut cx = std::task::Context::from_waker(&waker);
        for _ in 0..200 {
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let got = block_on(cache.get_or_load_async("k", |_| async { Ok(Some(Entry::raw(&b"second"[..]))) })).unwrap().unwrap();
    assert_eq!(got.entry.value, b"second");
}
