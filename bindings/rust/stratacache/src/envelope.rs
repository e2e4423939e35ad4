//! The stored form of values (docs/envelope.md), for tools and for the golden vectors.
use std::ptr;

use stratacache_sys as sys;

use crate::cache::take_buffer;
use crate::error::{check_found, Result};
use crate::options::Options;
use crate::value::{Entry, Format};

/// Decodes an envelope stored under `prefix` + `key` with the compression settings,
/// decode limits and key ring of `options`. `Ok(None)`: a negative entry (the key does
/// not exist). Undecodable bytes are `Corrupt`, a too-large value `TooBig`, an unknown
/// version or key id `Unsupported`.
pub fn decode(envelope: &[u8], prefix: &[u8], key: &[u8], options: &Options) -> Result<Option<Entry>> {
    let (mut buf, mut len, mut format) = (ptr::null_mut(), 0usize, 0);
    let code = unsafe {
        sys::stratacache_envelope_decode(
            &mut buf, &mut len, &mut format, envelope.as_ptr().cast(), envelope.len(), prefix.as_ptr().cast(), prefix.len(),
            key.as_ptr().cast(), key.len(), options.raw,
        )
    };
    if !check_found(code)? {
        return Ok(None);
    }
    Ok(Some(Entry::new(take_buffer(buf, len), Format::from_code(format)?)))
}
