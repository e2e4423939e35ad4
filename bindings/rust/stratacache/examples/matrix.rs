//! The value-matrix participant (tests/matrix): writes every case of a cases file
//! through this crate, or reads them back and prints them as typed JSON (TJ).
//!
//!     matrix write URL PREFIX LANG CASES_JSON [--key ID:HEX]
//!     matrix read  URL PREFIX LANG CASES_JSON [--key ID:HEX]
//!
//! Keys are `PREFIX:LANG:<case name>`; values are written with no TTL. `read` prints
//! one JSON object `{"<name>": TJ, ...}`; any error (a missing key included) goes to
//! stderr with a non-zero exit.
use std::process::ExitCode;

use serde_json::{json, Map, Value as J};
use stratacache::{uuid_from_str, uuid_to_string, Cache, Format, Options, Ttl, Value};

fn hex_decode(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return Err(format!("bad hex {text:?}"));
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("bad hex {text:?}"))).collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TJ value (typed JSON) as a [`Value`].
pub fn from_tj(tj: &J) -> Result<Value, String> {
    Ok(match tj {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::String(s) => Value::Str(s.clone()),
        J::Number(_) => Value::from_json(tj.clone()).map_err(|e| e.to_string())?,
        J::Array(items) => Value::Array(items.iter().map(from_tj).collect::<Result<_, _>>()?),
        J::Object(map) if map.len() == 1 && map.keys().next().is_some_and(|k| k.starts_with('$')) => {
            let (tag, arg) = map.iter().next().unwrap();
            let text = || arg.as_str().ok_or_else(|| format!("{tag} wants a string, got {arg}"));
            match tag.as_str() {
                "$int" => {
                    let t = text()?;
                    match t.parse::<i64>() {
                        Ok(n) => Value::Int(n),
                        Err(_) => Value::from_u64(t.parse::<u64>().map_err(|_| format!("bad $int {t:?}"))?),
                    }
                }
                "$float" => Value::Float(text()?.parse::<f64>().map_err(|_| format!("bad $float {arg}"))?),
                "$bytes" => Value::Bytes(hex_decode(text()?)?),
                "$datetime" => Value::DateTime(text()?.to_string()),
                "$date" => Value::Date(text()?.to_string()),
                "$uuid" => Value::Uuid(uuid_from_str(text()?).map_err(|e| e.to_string())?),
                "$decimal" => Value::Decimal(text()?.to_string()),
                "$repeat" => match arg.as_array().map(Vec::as_slice) {
                    Some([J::String(s), n]) if n.is_u64() => Value::Str(s.repeat(n.as_u64().unwrap() as usize)),
                    _ => return Err(format!("bad $repeat {arg}")),
                },
                other => return Err(format!("unknown tag {other}")),
            }
        }
        J::Object(map) => Value::Map(map.iter().map(|(k, v)| Ok((k.clone(), from_tj(v)?))).collect::<Result<_, String>>()?),
    })
}

/// A [`Value`] in canonical TJ.
pub fn to_tj(v: &Value) -> Result<J, String> {
    Ok(match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => json!({"$int": n.to_string()}),
        Value::UInt(n) => json!({"$int": n.to_string()}),
        // Debug prints the shortest text that parses back to the same double.
        Value::Float(f) => json!({"$float": format!("{f:?}")}),
        Value::Str(s) => J::String(s.clone()),
        Value::Bytes(b) => json!({"$bytes": hex_encode(b)}),
        Value::Array(items) => J::Array(items.iter().map(to_tj).collect::<Result<_, _>>()?),
        Value::Map(pairs) => J::Object(pairs.iter().map(|(k, v)| Ok((k.clone(), to_tj(v)?))).collect::<Result<Map<_, _>, String>>()?),
        Value::DateTime(t) => json!({"$datetime": t}),
        Value::Date(t) => json!({"$date": t}),
        Value::Uuid(u) => json!({"$uuid": uuid_to_string(u)}),
        Value::Decimal(t) => json!({"$decimal": t}),
        Value::Ext(id, _) => return Err(format!("MessagePack ext type {id} has no TJ form")),
    })
}

fn format_of(name: &str) -> Result<Format, String> {
    match name {
        "msgpack" => Ok(Format::MsgPack),
        "json" => Ok(Format::Json),
        "raw" => Ok(Format::Raw),
        other => Err(format!("unknown format {other:?}")),
    }
}

/// Runs `write` or `read`; `read` returns the JSON text to print.
pub fn run(args: &[String]) -> Result<Option<String>, String> {
    let usage = "usage: matrix write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]";
    let [mode, url, prefix, lang, cases_path, rest @ ..] = args else { return Err(usage.into()) };
    let mut options = Options::from_url(url).map_err(|e| e.to_string())?;
    match rest {
        [] => {}
        [flag, spec] if flag == "--key" => {
            let (id, hex) = spec.split_once(':').ok_or("--key wants ID:HEX")?;
            let id: u32 = id.parse().map_err(|_| format!("bad key id {id:?}"))?;
            let key: [u8; 32] = hex_decode(hex)?.try_into().map_err(|_| "the key must be 32 bytes")?;
            options.add_key(id, &key, true).map_err(|e| e.to_string())?;
        }
        _ => return Err(usage.into()),
    }
    let cache = Cache::open_with(&options).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(cases_path).map_err(|e| format!("{cases_path}: {e}"))?;
    let doc: J = serde_json::from_str(&text).map_err(|e| format!("{cases_path}: {e}"))?;
    let cases = doc["cases"].as_array().ok_or("cases file has no \"cases\" array")?;
    let mut out = Map::new();
    for case in cases {
        let name = case["name"].as_str().ok_or("a case without a name")?;
        let format = format_of(case["format"].as_str().unwrap_or_default())?;
        let key = format!("{prefix}:{lang}:{name}");
        match mode.as_str() {
            "write" => {
                let value = from_tj(&case["value"]).map_err(|e| format!("{name}: {e}"))?;
                cache.set_value(&key, &value, format, Ttl::Never).map_err(|e| format!("{name}: {e}"))?;
            }
            "read" => {
                let entry = cache.get_entry(&key).map_err(|e| format!("{name}: {e}"))?.ok_or_else(|| format!("{name}: {key} is missing"))?;
                let value = entry.to_value().map_err(|e| format!("{name}: {e}"))?;
                out.insert(name.to_string(), to_tj(&value).map_err(|e| format!("{name}: {e}"))?);
            }
            other => return Err(format!("unknown mode {other:?}; {usage}")),
        }
    }
    Ok((mode == "read").then(|| J::Object(out).to_string()))
}

#[allow(dead_code)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(Some(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matrix: {e}");
            ExitCode::FAILURE
        }
    }
}
