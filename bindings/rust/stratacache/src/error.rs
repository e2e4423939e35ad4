//! One error type for every call: the C ABI's result code as an [`ErrorKind`] plus the
//! message the library gave with it. A miss is never an error (`Ok(None)`).
use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_int};

use stratacache_sys as sys;

/// What went wrong, one variant per C ABI result code (`STRATACACHE_E*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// ENOTFOUND where a value was required (a loader saying the key does not exist).
    NotFound,
    InvalidArgument,
    /// Redis unreachable; retry later (L1 is still served).
    Unavailable,
    TimedOut,
    /// Stored data unreadable.
    Corrupt,
    TooBig,
    Auth,
    WrongType,
    Unsupported,
    Internal,
    NoMemory,
    /// The cache was closed.
    Closed,
    /// A read-through lease expired or was taken over.
    Aborted,
    /// A read-through loader failed.
    LoadFailed,
    /// A code this crate does not know (a newer library).
    Other(i32),
}

impl ErrorKind {
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            sys::STRATACACHE_ENOTFOUND => ErrorKind::NotFound,
            sys::STRATACACHE_EINVAL => ErrorKind::InvalidArgument,
            sys::STRATACACHE_EUNAVAILABLE => ErrorKind::Unavailable,
            sys::STRATACACHE_ETIMEDOUT => ErrorKind::TimedOut,
            sys::STRATACACHE_ECORRUPT => ErrorKind::Corrupt,
            sys::STRATACACHE_ETOOBIG => ErrorKind::TooBig,
            sys::STRATACACHE_EAUTH => ErrorKind::Auth,
            sys::STRATACACHE_EWRONGTYPE => ErrorKind::WrongType,
            sys::STRATACACHE_EUNSUPPORTED => ErrorKind::Unsupported,
            sys::STRATACACHE_EINTERNAL => ErrorKind::Internal,
            sys::STRATACACHE_ENOMEM => ErrorKind::NoMemory,
            sys::STRATACACHE_ECLOSED => ErrorKind::Closed,
            sys::STRATACACHE_EABORTED => ErrorKind::Aborted,
            sys::STRATACACHE_ELOADFAILED => ErrorKind::LoadFailed,
            other => ErrorKind::Other(other),
        }
    }

    /// The C ABI code of this kind.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::NotFound => sys::STRATACACHE_ENOTFOUND,
            ErrorKind::InvalidArgument => sys::STRATACACHE_EINVAL,
            ErrorKind::Unavailable => sys::STRATACACHE_EUNAVAILABLE,
            ErrorKind::TimedOut => sys::STRATACACHE_ETIMEDOUT,
            ErrorKind::Corrupt => sys::STRATACACHE_ECORRUPT,
            ErrorKind::TooBig => sys::STRATACACHE_ETOOBIG,
            ErrorKind::Auth => sys::STRATACACHE_EAUTH,
            ErrorKind::WrongType => sys::STRATACACHE_EWRONGTYPE,
            ErrorKind::Unsupported => sys::STRATACACHE_EUNSUPPORTED,
            ErrorKind::Internal => sys::STRATACACHE_EINTERNAL,
            ErrorKind::NoMemory => sys::STRATACACHE_ENOMEM,
            ErrorKind::Closed => sys::STRATACACHE_ECLOSED,
            ErrorKind::Aborted => sys::STRATACACHE_EABORTED,
            ErrorKind::LoadFailed => sys::STRATACACHE_ELOADFAILED,
            ErrorKind::Other(code) => code,
        }
    }
}

/// A failed call: its kind and the library's message (or this crate's, for values it
/// could not convert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// An error from a code and a C message (NULL or empty: the code's description).
    pub(crate) fn from_code_message(code: c_int, message: *const c_char) -> Error {
        let text = if message.is_null() { String::new() } else { unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned() };
        let text = if text.is_empty() { unsafe { CStr::from_ptr(sys::stratacache_strerror(code)) }.to_string_lossy().into_owned() } else { text };
        Error::new(ErrorKind::from_code(code), text)
    }

    /// An error from a code just returned on this thread (its thread-local message).
    pub(crate) fn last(code: c_int) -> Error {
        Error::from_code_message(code, unsafe { sys::stratacache_last_error() })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// `Ok(())` for STRATACACHE_OK, else the error with this thread's last message.
pub(crate) fn check(code: c_int) -> Result<()> {
    if code == sys::STRATACACHE_OK {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}

/// Like [`check`], with ENOTFOUND as `Ok(false)` (a miss).
pub(crate) fn check_found(code: c_int) -> Result<bool> {
    match code {
        sys::STRATACACHE_OK => Ok(true),
        sys::STRATACACHE_ENOTFOUND => Ok(false),
        _ => Err(Error::last(code)),
    }
}
