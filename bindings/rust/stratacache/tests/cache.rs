//! The synchronous API against a real Redis: every operation, formats, serde,
//! encryption keys, per-call options, degradation to L1 and sharing across threads.
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stratacache::{CallOptions, Cache, Entry, ErrorKind, Format, Options, Ttl, Value};
use support::Redis;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn cache_options_and_errors_are_send_and_sync() {
    assert_send_sync::<Cache>();
    assert_send_sync::<Options>();
    assert_send_sync::<CallOptions>();
    assert_send_sync::<stratacache::Error>();
}

#[test]
fn set_get_delete_exists_and_a_miss() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    assert_eq!(cache.get("k").unwrap(), None);
    cache.set("k", b"v\0\r\n*", Ttl::Default).unwrap();
    assert_eq!(cache.get("k").unwrap().as_deref(), Some(&b"v\0\r\n*"[..]));
    assert!(cache.exists("k").unwrap());
    // A second handle has an empty L1: the value comes from Redis.
    let other = Cache::open(&redis.url()).unwrap();
    assert_eq!(other.get_entry("k").unwrap(), Some(Entry::raw(&b"v\0\r\n*"[..])));
    assert!(cache.delete("k").unwrap());
    assert!(!cache.delete("k").unwrap());
    assert!(!cache.exists("k").unwrap());
    // (`other` may serve its L1 copy for its coherence delay; a new handle may not.)
    assert_eq!(Cache::open(&redis.url()).unwrap().get("k").unwrap(), None);
}

#[test]
fn ttl_reports_remaining_lifetime_never_and_missing() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    cache.set("short", b"x", Duration::from_secs(60)).unwrap();
    cache.set("forever", b"x", Ttl::Never).unwrap();
    match cache.ttl("short").unwrap() {
        Some(Ttl::After(d)) => assert!(d > Duration::from_secs(50) && d <= Duration::from_secs(60), "{d:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(cache.ttl("forever").unwrap(), Some(Ttl::Never));
    assert_eq!(cache.ttl("missing").unwrap(), None);
}

#[test]
fn increment_counts_and_refuses_non_integers() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    assert_eq!(cache.increment("n", 5, Ttl::Never).unwrap(), 5);
    assert_eq!(cache.increment("n", -7, Ttl::Never).unwrap(), -2);
    cache.set("text", b"abc", Ttl::Never).unwrap();
    let err = cache.increment("text", 1, Ttl::Never).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "{err}");
}

#[test]
fn get_many_set_many_and_clear_pattern() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    cache.set_many(&[("user:1", "a"), ("user:2", "bb"), ("other", "c")], Format::Json, Ttl::Never).unwrap();
    let got = Cache::open(&redis.url()).unwrap().get_many(&["user:1", "nope", "user:2"]).unwrap();
    assert_eq!(got, vec![Some(Entry::new("a", Format::Json)), None, Some(Entry::new("bb", Format::Json))]);
    assert_eq!(cache.clear_pattern("user:*").unwrap(), 2);
    assert_eq!(cache.get_many(&["user:1", "user:2", "other"]).unwrap(), vec![None, None, Some(Entry::new("c", Format::Json))]);
    assert_eq!(cache.delete_many(&["other", "none"]).unwrap(), 1);
}

#[test]
fn health_and_stats_are_json_with_counters() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    assert_eq!(cache.health().unwrap()["healthy"], true);
    cache.set("k", b"v", Ttl::Never).unwrap();
    cache.get("k").unwrap();
    cache.get("missing").unwrap();
    assert!(cache.stat("l1.hits").unwrap() >= 1);
    let stats = cache.stats().unwrap();
    assert!(stats["l1"]["hits"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(cache.stat("no.such.counter").unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn a_bad_url_or_parameter_is_invalid_argument() {
    assert_eq!(Cache::open("nosuch://x").err().unwrap().kind(), ErrorKind::InvalidArgument);
    let mut options = Options::from_url("mem://").unwrap();
    let err = options.set("socket_timeout", "soon").err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("socket_timeout"), "{err}");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    tags: Vec<String>,
    scores: BTreeMap<String, f64>,
}

#[test]
fn serde_values_round_trip_as_msgpack_maps() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let user = User { id: u64::MAX, name: "Zoë".into(), tags: vec!["a".into()], scores: [("x".to_string(), 1.5)].into() };
    cache.set_serde("user", &user, Ttl::Never).unwrap();
    let back: User = Cache::open(&redis.url()).unwrap().get_serde("user").unwrap().unwrap();
    assert_eq!(back, user);
    // Named fields: other languages see a map, not an array.
    match cache.get_value("user").unwrap().unwrap() {
        Value::Map(pairs) => assert_eq!(pairs[0], ("id".to_string(), Value::UInt(u64::MAX))),
        other => panic!("{other:?}"),
    }
    // JSON stored by another writer deserializes too; raw bytes are WrongType.
    cache.set_entry("json", r#"{"id":1,"name":"n","tags":[],"scores":{}}"#, Format::Json, Ttl::Never).unwrap();
    assert_eq!(cache.get_serde::<User>("json").unwrap().unwrap().id, 1);
    cache.set("raw", b"x", Ttl::Never).unwrap();
    assert_eq!(cache.get_serde::<User>("raw").unwrap_err().kind(), ErrorKind::WrongType);
}

#[test]
fn every_value_type_round_trips_in_msgpack_and_json() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let reader = Cache::open(&redis.url()).unwrap();
    let shared = Value::Map(vec![
        ("nil".into(), Value::Nil),
        ("min".into(), Value::Int(i64::MIN)),
        ("max".into(), Value::UInt(u64::MAX)),
        ("f".into(), Value::Float(0.1)),
        ("s".into(), Value::Str("Zoë".into())),
        ("a".into(), Value::Array(vec![Value::Bool(true), Value::Int(-1)])),
    ]);
    let msgpack_only = Value::Array(vec![
        shared.clone(),
        Value::Bytes(vec![0, 255]),
        Value::DateTime("2026-11-25T12:34:56.789+02:00".into()),
        Value::Date("2026-11-25".into()),
        Value::Uuid(stratacache::uuid_from_str("1b4e28ba-2fa1-11d2-883f-0016d3cca427").unwrap()),
        Value::Decimal("12.50".into()),
    ]);
    cache.set_value("m", &msgpack_only, Format::MsgPack, Ttl::Never).unwrap();
    assert_eq!(reader.get_value("m").unwrap().unwrap(), msgpack_only);
    cache.set_value("j", &shared, Format::Json, Ttl::Never).unwrap();
    assert_eq!(reader.get_value("j").unwrap().unwrap(), shared);
    assert_eq!(cache.set_value("x", &Value::Bytes(vec![1]), Format::Json, Ttl::Never).unwrap_err().kind(), ErrorKind::WrongType);
    assert_eq!(cache.set_value("x", &Value::Float(f64::NAN), Format::Json, Ttl::Never).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Integers take their smallest MessagePack encoding.
    assert_eq!(Value::Int(1).encode(Format::MsgPack).unwrap(), vec![0x01]);
    assert_eq!(Value::Int(-33).encode(Format::MsgPack).unwrap(), vec![0xd0, 0xdf]);
    assert_eq!(Value::Int(300).encode(Format::MsgPack).unwrap(), vec![0xcd, 0x01, 0x2c]);
}

#[test]
fn encrypted_values_need_the_key_and_are_misses_without_it() {
    let redis = Redis::start();
    let key = [7u8; 32];
    let mut with_key = Options::from_url(&redis.url()).unwrap();
    with_key.add_key(3, &key, true).unwrap();
    Cache::open_with(&with_key).unwrap().set("secret", b"plain text", Ttl::Never).unwrap();
    assert_eq!(Cache::open_with(&with_key).unwrap().get("secret").unwrap().as_deref(), Some(&b"plain text"[..]));
    // Another key id cannot decrypt it: a corrupt value is a miss, never an error.
    let mut wrong = Options::from_url(&redis.url()).unwrap();
    wrong.add_key(4, &[9u8; 32], true).unwrap();
    let wrong = Cache::open_with(&wrong).unwrap();
    assert_eq!(wrong.get("secret").unwrap(), None);
    assert!(wrong.stat("decode_errors").unwrap() >= 1);
}

#[test]
fn call_options_skip_a_tier() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let l1_only = cache.with(CallOptions::new().skip_l2().unwrap());
    l1_only.set("local", b"v", Ttl::Never).unwrap();
    assert_eq!(cache.get("local").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(Cache::open(&redis.url()).unwrap().get("local").unwrap(), None, "SKIP_L2 wrote to Redis");
    cache.set("both", b"v", Ttl::Never).unwrap();
    cache.with(CallOptions::new().skip_l2().unwrap()).delete("both").unwrap();
    let l2_only = cache.with(CallOptions::new().skip_l1().unwrap());
    assert_eq!(l2_only.get("both").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_redis_outage_degrades_to_l1() {
    let mut redis = Redis::start();
    let mut options = Options::from_url(&redis.url()).unwrap();
    // With coherence off, L1 keeps its copies through an outage (README, l1_coherence).
    options.set("socket_timeout", "0.5").unwrap().set("l1_coherence", "off").unwrap();
    let cache = Cache::open_with(&options).unwrap();
    cache.set("k", b"v", Ttl::Never).unwrap();
    redis.kill();
    assert_eq!(cache.get("k").unwrap().as_deref(), Some(&b"v"[..]), "L1 still serves");
    let err = cache.set("k2", b"v", Ttl::Never).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::TimedOut), "{err}");
    assert_eq!(cache.health().unwrap()["healthy"], false);
}

#[test]
fn threads_share_one_handle() {
    let redis = Redis::start();
    let cache = Arc::new(Cache::open(&redis.url()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("t{t}:{i}");
                    cache.set(&key, key.as_bytes(), Ttl::Never).unwrap();
                    assert_eq!(cache.get(&key).unwrap().unwrap(), key.as_bytes());
                    cache.increment("total", 1, Ttl::Never).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(cache.increment("total", 0, Ttl::Never).unwrap(), 200);
}

#[test]
fn calls_after_the_last_clone_is_gone_cannot_happen_and_clones_share() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    let clone = cache.clone();
    drop(cache);
    clone.set("k", b"v", Ttl::Never).unwrap();
    assert_eq!(clone.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn an_empty_value_is_a_hit_not_a_miss() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    cache.set("empty", b"", Ttl::Never).unwrap();
    assert_eq!(cache.get("empty").unwrap(), Some(Vec::new()));
    assert_eq!(Cache::open(&redis.url()).unwrap().get("empty").unwrap(), Some(Vec::new()));
}

#[test]
fn a_zero_deadline_fails_l2_calls_but_l1_hits_answer() {
    let redis = Redis::start();
    let cache = Cache::open(&redis.url()).unwrap();
    cache.set("k", b"v", Ttl::Never).unwrap();
    let due = cache.with(CallOptions::new().timeout(Duration::ZERO).unwrap());
    assert_eq!(due.get("k").unwrap().unwrap(), b"v", "an L1 hit needs no time");
    let err = due.set("k2", b"v", Ttl::Never).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
}

#[test]
fn two_handles_on_one_shared_name_share_one_cache_and_close_on_their_own() {
    let options = Options::from_url("mem://").unwrap();
    let a = Cache::open_shared("rust-shared-test", &options).unwrap();
    let b = Cache::open_shared("rust-shared-test", &options).unwrap();
    a.set("k", b"v", Ttl::Default).unwrap();
    // mem:// has no Redis: only one shared L1 lets `b` see `a`'s write.
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(a.stat("l1.hits").unwrap(), 1);
    // Other options under the same name are refused, naming it.
    let other = Options::from_url("mem://?l1_max_entries=5").unwrap();
    let err = match Cache::open_shared("rust-shared-test", &other) {
        Ok(_) => panic!("other options under an open shared name were accepted"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("rust-shared-test"), "{}", err.message());
    drop(a);
    assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    drop(b);
    // After the last handle the name opens a new, empty cache.
    let c = Cache::open_shared("rust-shared-test", &options).unwrap();
    assert_eq!(c.get("k").unwrap(), None);
}
