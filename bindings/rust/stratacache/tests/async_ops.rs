//! Futures from the completion queue under two executors: `futures::executor` and a
//! twenty-line thread-parking one (proof that nothing needs a particular runtime).
mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::thread::Thread;

use futures_executor::block_on;
use stratacache::{Cache, Entry, ErrorKind, Format, Ttl};
use support::Redis;

/// The smallest executor: poll, park until woken, poll again.
fn park_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn every_operation_completes_under_futures_executor() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    block_on(async {
        assert_eq!(cache.get_async("k").await.unwrap(), None);
        cache.set_async("k", b"v", Format::Raw, Ttl::Never).await.unwrap();
        assert_eq!(cache.get_async("k").await.unwrap(), Some(Entry::raw(&b"v"[..])));
        assert!(cache.exists_async("k").await.unwrap());
        assert_eq!(cache.ttl_async("k").await.unwrap(), Some(Ttl::Never));
        assert_eq!(cache.ttl_async("missing").await.unwrap(), None);
        assert_eq!(cache.increment_async("n", 3, Ttl::Never).await.unwrap(), 3);
        cache.set_many_async(&[("a:1", "x"), ("a:2", "yy")], Format::Json, Ttl::Never).await.unwrap();
        let many = cache.get_many_async(&["a:1", "none", "a:2"]).await.unwrap();
        assert_eq!(many, vec![Some(Entry::new("x", Format::Json)), None, Some(Entry::new("yy", Format::Json))]);
        assert_eq!(cache.clear_pattern_async("a:*").await.unwrap(), 2);
        assert_eq!(cache.delete_many_async(&["k", "n", "none"]).await.unwrap(), 2);
        assert_eq!(cache.health_async().await.unwrap()["healthy"], true);
    });
    // The values really are in Redis, for a handle that did none of it.
    let other = Cache::open(&redis.url()).unwrap();
    assert_eq!(other.get("k").unwrap(), None);
    assert_eq!(other.get("a:1").unwrap(), None);
}

#[test]
fn many_concurrent_futures_under_a_hand_made_executor() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let writes: Vec<_> = (0..200).map(|i| cache.set_async(format!("k{i}"), i.to_string(), Format::Raw, Ttl::Never)).collect();
    for w in writes {
        park_on(w).unwrap();
    }
    let reads: Vec<_> = (0..200).map(|i| cache.get_async(format!("k{i}"))).collect();
    for (i, r) in reads.into_iter().enumerate() {
        assert_eq!(park_on(r).unwrap().unwrap().value, i.to_string().into_bytes());
    }
}

#[test]
fn errors_and_closing_complete_the_future() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    cache.set("text", b"abc", Ttl::Never).unwrap();
    let err = block_on(cache.increment_async("text", 1, Ttl::Never)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(!err.message().is_empty());
    // A future may outlive its handle: closing completes it (or it had finished).
    let pending = cache.get_async("text");
    drop(cache);
    match block_on(pending) {
        Ok(v) => assert_eq!(v.unwrap().value, b"abc"),
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Closed), "{e}"),
    }
}

#[test]
fn a_dropped_future_is_harmless() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    for i in 0..50 {
        drop(cache.set_async(format!("d{i}"), b"v", Format::Raw, Ttl::Never));
    }
    // Submitted writes still happen; their completions find no one waiting.
    block_on(cache.set_async("last", b"v", Format::Raw, Ttl::Never)).unwrap();
    assert!(cache.get_many(&["d0", "d49"]).unwrap().iter().all(Option::is_some));
}
