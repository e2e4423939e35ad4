//! The 0.4 areas: tags (write with tags, invalidate), distributed locks and warming.
mod support;

use std::time::Duration;

use stratacache::{CallOptions, Cache, ErrorKind, Ttl, Warmed};
use support::Redis;

#[test]
fn invalidating_a_tag_removes_its_entries_everywhere() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let tagged = cache.with(CallOptions::new().tags(&["user:1"]).unwrap());
    tagged.set("profile:1", b"p", Ttl::Never).unwrap();
    tagged.set("posts:1", b"q", Ttl::Never).unwrap();
    cache.set("untagged", b"u", Ttl::Never).unwrap();
    assert_eq!(cache.invalidate_tags(&["user:1"]).unwrap(), 2);
    assert_eq!(cache.get("profile:1").unwrap(), None);
    assert_eq!(Cache::open(&redis.url()).unwrap().get("posts:1").unwrap(), None);
    assert_eq!(cache.get("untagged").unwrap().unwrap(), b"u");
}

#[test]
fn a_lock_excludes_until_released_and_fences_grow() {
    let redis = Redis::start();
    let a = Cache::open(&redis.url()).unwrap();
    let b = Cache::open(&redis.url()).unwrap();
    let mut held = a.lock("report", Duration::from_secs(10), Duration::ZERO).unwrap();
    let err = b.lock("report", Duration::from_secs(10), Duration::ZERO).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    held.extend(Duration::from_secs(20)).unwrap();
    let first = held.fence();
    held.release().unwrap();
    let next = b.lock("report", Duration::from_secs(10), Duration::from_secs(5)).unwrap();
    assert!(next.fence() > first);
    drop(next); // releases without waiting
    let again = a.lock("report", Duration::from_secs(10), Duration::from_secs(5)).unwrap();
    assert!(again.fence() > first);
}

#[test]
fn an_expired_lock_cannot_be_extended() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let mut held = cache.lock("short", Duration::from_millis(50), Duration::ZERO).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(held.extend(Duration::from_secs(1)).unwrap_err().kind(), ErrorKind::Aborted);
    assert_eq!(held.release().unwrap_err().kind(), ErrorKind::Aborted);
}

#[test]
fn warming_fills_l1_from_redis() {
    let redis = Redis::start();
    let writer = Cache::open(&redis.url()).unwrap();
    writer.set_many(&[("w:1", "a"), ("w:2", "b")], stratacache::Format::Raw, Ttl::Never).unwrap();
    let cache = Cache::open(&redis.url()).unwrap();
    assert_eq!(cache.warm(&["w:1", "w:2", "w:none"]).unwrap(), Warmed { found: 2, missing: 1 });
    let hits = cache.stat("l1.hits").unwrap();
    assert_eq!(cache.get("w:1").unwrap().unwrap(), b"a");
    assert_eq!(cache.stat("l1.hits").unwrap(), hits + 1, "the warmed key was an L1 hit");
}
