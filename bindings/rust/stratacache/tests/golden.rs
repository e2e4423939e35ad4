//! The golden vectors of tests/golden: every `expect: ok` vector decodes through this
//! crate to the manifest's value; every `expect: error` vector fails with its error.
use std::path::PathBuf;

use serde_json::Value as J;
use stratacache::{envelope, ErrorKind, Format, Options, Value};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn manifest() -> J {
    let path = std::env::var_os("STRATACACHE_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/golden/manifest.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn options(vector: &J) -> Options {
    let mut options = Options::from_url("mem://").unwrap();
    if let Some(id) = vector["key_id"].as_u64() {
        let key: [u8; 32] = hex(vector["key_hex"].as_str().unwrap()).try_into().unwrap();
        options.add_key(id as u32, &key, true).unwrap();
    }
    options
}

fn decode(vector: &J) -> stratacache::Result<Option<stratacache::Entry>> {
    let ns = vector["namespace"].as_str().unwrap();
    let key = vector["key"].as_str().unwrap();
    envelope::decode(&hex(vector["hex"].as_str().unwrap()), ns.as_bytes(), key.as_bytes(), &options(vector))
}

#[test]
fn ok_vectors_decode_to_their_values() {
    let m = manifest();
    let mut checked = 0;
    for v in m["vectors"].as_array().unwrap().iter().filter(|v| v["expect"] == "ok") {
        let name = v["name"].as_str().unwrap();
        let decoded = decode(v).unwrap_or_else(|e| panic!("{name}: {e}"));
        if v["negative"] == true {
            assert_eq!(decoded, None, "{name}: a negative marker is a miss");
            checked += 1;
            continue;
        }
        let entry = decoded.unwrap_or_else(|| panic!("{name}: decoded to nothing"));
        let want_format = match v["serializer"].as_str().unwrap() {
            "raw" => Format::Raw,
            "json" => Format::Json,
            _ => Format::MsgPack,
        };
        assert_eq!(entry.format, want_format, "{name}");
        assert_eq!(entry.value, hex(v["payload_hex"].as_str().unwrap()), "{name}: payload");
        let value = entry.to_value().unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = match v["value_json"].as_str() {
            Some(text) => Value::from_json(serde_json::from_str(text).unwrap()).unwrap(),
            None => Value::Bytes(hex(v["value_hex"].as_str().unwrap())),
        };
        assert_eq!(value, want, "{name}");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} ok vectors");
}

#[test]
fn error_vectors_fail_with_their_error() {
    let m = manifest();
    let mut checked = 0;
    for v in m["vectors"].as_array().unwrap().iter().filter(|v| v["expect"] == "error") {
        let name = v["name"].as_str().unwrap();
        let want = match v["error"].as_str().unwrap() {
            "data_loss" => ErrorKind::Corrupt,
            "too_large" => ErrorKind::TooBig,
            "unsupported" => ErrorKind::Unsupported,
            other => panic!("{name}: unknown error {other}"),
        };
        let err = decode(v).expect_err(name);
        assert_eq!(err.kind(), want, "{name}: {err}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} error vectors");
}
