//! stratacache for Rust: a multi-level cache (in-process W-TinyLFU L1 + Redis L2) over
//! the stratacache C ABI (`libstratacache`, linked by `stratacache-sys`).
//!
//! ```no_run
//! use std::time::Duration;
//! use stratacache::{Cache, Ttl};
//!
//! let cache = Cache::open("redis://127.0.0.1:6379/0")?;
//! cache.set("greeting", b"hello", Duration::from_secs(60))?;
//! assert_eq!(cache.get("greeting")?, Some(b"hello".to_vec()));
//! assert_eq!(cache.get("absent")?, None);
//! cache.set("forever", b"x", Ttl::Never)?;
//! # Ok::<(), stratacache::Error>(())
//! ```
//!
//! Every call returns `Result<_, Error>`; a miss is `Ok(None)`, never an error. A
//! [`Cache`] is `Send + Sync` and cheap to clone; the last clone dropped closes it.
mod cache;
mod completion;
pub mod envelope;
mod error;
mod options;
mod value;

pub use cache::{Cache, Loaded, Lock, Ttl, Warmed};
pub use completion::OpFuture;
pub use error::{Error, ErrorKind, Result};
pub use options::{CallOptions, Options};
pub use value::{ext, uuid_from_str, uuid_to_string, Entry, Format, Value};

/// The loaded library's version text (`"0.5.0"`).
pub fn library_version() -> String {
    unsafe { std::ffi::CStr::from_ptr(stratacache_sys::stratacache_version_string()) }.to_string_lossy().into_owned()
}

// The README's examples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
