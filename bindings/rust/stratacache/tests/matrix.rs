//! The matrix participant (examples/matrix.rs), run in process: writing the cases and
//! reading them back prints every case in canonical typed JSON, with and without an
//! encryption key; a missing key is an error. Uses tests/matrix/cases.json as well
//! when the checkout has it.
mod support;

#[path = "../examples/matrix.rs"]
mod participant;

use serde_json::{json, Value as J};
use support::Redis;

fn small_cases() -> J {
    json!({"cases": [
        {"name": "nil", "format": "msgpack", "value": null},
        {"name": "ints", "format": "msgpack", "value": [{"$int": "0"}, {"$int": "-1"}, {"$int": "127"}, {"$int": "-33"},
            {"$int": "65536"}, {"$int": "-9223372036854775808"}, {"$int": "18446744073709551615"}]},
        {"name": "floats", "format": "msgpack", "value": [{"$float": "1.5"}, {"$float": "-0.0"}, {"$float": "1e300"}, {"$float": "0.1"}]},
        {"name": "text", "format": "msgpack", "value": "Zoë \u{0} \"quoted\""},
        {"name": "bytes", "format": "msgpack", "value": {"$bytes": "00ff10"}},
        {"name": "tagged", "format": "msgpack", "value": {"when": {"$datetime": "2026-11-25T12:34:56.789+02:00"},
            "day": {"$date": "2026-11-25"}, "id": {"$uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, "price": {"$decimal": "12.50"}}},
        {"name": "nested", "format": "json", "value": {"a": [true, false, null, {"$int": "7"}, {"$float": "2.5"}], "b": {"c": "d"}}},
        {"name": "large", "format": "msgpack", "value": {"$repeat": ["abc", 40000]}},
        {"name": "raw", "format": "raw", "value": {"$bytes": "deadbeef"}}
    ]})
}

/// What `read` must print for `cases`: each value, with `$repeat` written out and
/// `$float` text in this participant's round-trip spelling (`1e+300` prints `1e300`).
fn expected(cases: &J) -> J {
    fn expand(v: &J) -> J {
        match v {
            J::Object(m) if m.len() == 1 && m.contains_key("$float") => {
                json!({"$float": format!("{:?}", m["$float"].as_str().unwrap().parse::<f64>().unwrap())})
            }
            J::Object(m) if m.len() == 1 && m.contains_key("$repeat") => {
                let r = m["$repeat"].as_array().unwrap();
                J::String(r[0].as_str().unwrap().repeat(r[1].as_u64().unwrap() as usize))
            }
            J::Object(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), expand(v))).collect()),
            J::Array(a) => J::Array(a.iter().map(expand).collect()),
            other => other.clone(),
        }
    }
    J::Object(cases["cases"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_string(), expand(&c["value"]))).collect())
}

fn round_trip(url: &str, cases: &J, key: &[String]) {
    let path = std::env::temp_dir().join(format!("stratacache-rust-matrix-{}.json", std::process::id()));
    std::fs::write(&path, cases.to_string()).unwrap();
    let args = |mode: &str| -> Vec<String> {
        [mode, url, "mx", "rust", path.to_str().unwrap()].iter().map(|s| s.to_string()).chain(key.iter().cloned()).collect()
    };
    assert_eq!(participant::run(&args("write")).unwrap(), None);
    let printed = participant::run(&args("read")).unwrap().unwrap();
    let got: J = serde_json::from_str(&printed).unwrap();
    assert_eq!(got, expected(cases));
}

#[test]
fn cases_round_trip_in_canonical_typed_json() {
    let redis = Redis::start();
    let url = format!("{}?compression_threshold=64", redis.url());
    round_trip(&url, &small_cases(), &[]);
    let key = vec!["--key".to_string(), format!("5:{}", "ab".repeat(32))];
    round_trip(&url, &small_cases(), &key);
}

#[test]
fn the_shared_cases_file_round_trips_when_present() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/matrix/cases.json");
    let Ok(text) = std::fs::read_to_string(&shared) else { return };
    let redis = Redis::start();
    round_trip(&redis.url(), &serde_json::from_str(&text).unwrap(), &[]);
}

#[test]
fn a_missing_key_or_a_bad_case_is_an_error() {
    let redis = Redis::start();
    let path = std::env::temp_dir().join(format!("stratacache-rust-matrix-missing-{}.json", std::process::id()));
    std::fs::write(&path, json!({"cases": [{"name": "never_written", "format": "msgpack", "value": 1}]}).to_string()).unwrap();
    let args: Vec<String> = ["read", &redis.url(), "mx", "rust", path.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    assert!(participant::run(&args).unwrap_err().contains("missing"));
    std::fs::write(&path, json!({"cases": [{"name": "bad", "format": "msgpack", "value": {"$int": "1.5"}}]}).to_string()).unwrap();
    let args: Vec<String> = ["write", &redis.url(), "mx", "rust", path.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    assert!(participant::run(&args).unwrap_err().contains("$int"));
}
