//! Futures over the C ABI's completion queue: one process-wide `stratacache_queue`
//! drained by one library-independent thread of this crate ("stratacache-completions"),
//! which waits on the queue's eventfd with poll(2). Each submission carries an
//! `Arc<Slot>` as its payload; the callback, run on that thread, stores the outcome and
//! wakes the task's `Waker`. Nothing here knows an executor, so the futures work under
//! any of them (tokio, async-std, `futures::executor::block_on`, a hand-made one).
//!
//! A future may be dropped before its completion arrives: the callback still runs later
//! and drops the slot. Closing the cache completes pending calls with `Unavailable`.
use std::future::Future;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use stratacache_sys as sys;

use crate::error::{Error, Result};

struct Queue(*mut sys::stratacache_queue);
// The queue is made for threads: submissions from any thread, drains from ours.
unsafe impl Send for Queue {}
unsafe impl Sync for Queue {}

fn queue() -> *mut sys::stratacache_queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let mut raw = ptr::null_mut();
            let code = unsafe { sys::stratacache_queue_new(&mut raw) };
            assert!(code == sys::STRATACACHE_OK, "stratacache_queue_new failed: {}", Error::last(code));
            let q = Queue(raw);
            let fd = unsafe { sys::stratacache_queue_fd(raw) };
            std::thread::Builder::new()
                .name("stratacache-completions".into())
                .spawn(move || drain_forever(q, fd))
                .expect("spawn the stratacache completion thread");
            Queue(raw)
        })
        .0
}

fn drain_forever(q: Queue, fd: c_int) {
    loop {
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // Level-triggered: readable exactly while completions wait.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n > 0 {
            unsafe { sys::stratacache_queue_drain(ptr::null_mut(), q.0, 0) };
        }
    }
}

/// A shared one-shot: the outcome (once) and the waker of the task that waits.
pub(crate) struct Slot<T> {
    state: Mutex<(Option<T>, Option<Waker>)>,
}

impl<T> Slot<T> {
    fn complete(&self, outcome: T) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.0 = Some(outcome);
            state.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The future of one call, submitted when the future was made; resolves to the call's
/// result. Dropping it does not cancel the call, only its result.
#[must_use = "the call is submitted; await the future for its result"]
pub struct OpFuture<T> {
    slot: Option<Arc<Slot<Result<T>>>>,
    ready: Option<Result<T>>,
}

impl<T> Unpin for OpFuture<T> {}

impl<T> Future for OpFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if let Some(r) = self.ready.take() {
            return Poll::Ready(r);
        }
        let slot = self.slot.as_ref().expect("OpFuture polled after completion");
        let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = state.0.take() {
            drop(state);
            self.slot = None;
            return Poll::Ready(r);
        }
        match &state.1 {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.1 = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// What a `stratacache_callback` delivered, with the value buffer copied out.
pub(crate) struct Completion {
    pub status: c_int,
    pub message: *const c_char,
    pub value: *mut c_void,
    pub len: usize,
    pub format: c_int,
    pub count: i64,
}

impl Completion {
    /// The error for a status other than OK / ENOTFOUND.
    pub fn error(&self) -> Error {
        Error::from_code_message(self.status, self.message)
    }

    /// The value buffer as a slice (empty when none).
    pub fn bytes(&self) -> &[u8] {
        if self.value.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.value.cast::<u8>(), self.len) }
        }
    }
}

struct Submitted<T> {
    slot: Arc<Slot<Result<T>>>,
    convert: fn(&Completion) -> Result<T>,
}

unsafe extern "C" fn on_completion<T>(
    payload: *mut c_void,
    status: c_int,
    message: *const c_char,
    value: *mut c_void,
    len: usize,
    format: c_int,
    count: i64,
) {
    let submitted = unsafe { Box::from_raw(payload.cast::<Submitted<T>>()) };
    let c = Completion { status, message, value, len, format, count };
    // Converting copies what it keeps; the library's buffer is the callee's to free.
    let outcome = (submitted.convert)(&c);
    unsafe { sys::stratacache_free(value) };
    submitted.slot.complete(outcome);
}

/// Submits one call: `submit(queue, callback, payload)` is the `stratacache_submit_*`
/// call; `convert` turns its completion into the future's output. A refused submission
/// is a future that is ready with the refusal.
pub(crate) fn submit<T>(
    convert: fn(&Completion) -> Result<T>,
    submit: impl FnOnce(*mut sys::stratacache_queue, sys::stratacache_callback, *mut c_void) -> c_int,
) -> OpFuture<T> {
    let slot = Arc::new(Slot { state: Mutex::new((None, None)) });
    let payload = Box::into_raw(Box::new(Submitted { slot: slot.clone(), convert })).cast::<c_void>();
    let code = submit(queue(), Some(on_completion::<T>), payload);
    if code != sys::STRATACACHE_OK {
        drop(unsafe { Box::from_raw(payload.cast::<Submitted<T>>()) });
        return OpFuture { slot: None, ready: Some(Err(Error::last(code))) };
    }
    OpFuture { slot: Some(slot), ready: None }
}

/// What `stratacache_submit_acquire` delivered (status OK or ENOTFOUND): the value
/// (copied) and the lease.
pub(crate) struct Acquired {
    pub found: bool,
    pub value: Vec<u8>,
    pub format: c_int,
    pub info: c_uint,
    pub lease: *mut sys::stratacache_lease,
}

unsafe impl Send for Acquired {}

impl Drop for Acquired {
    fn drop(&mut self) {
        // A lease nobody took (the future was dropped): another caller loads instead.
        if !self.lease.is_null() {
            unsafe { sys::stratacache_lease_abandon(self.lease, sys::STRATACACHE_EABORTED, ptr::null()) };
        }
    }
}

unsafe extern "C" fn on_acquired(
    payload: *mut c_void,
    status: c_int,
    message: *const c_char,
    value: *mut c_void,
    len: usize,
    format: c_int,
    info: c_uint,
    lease: *mut sys::stratacache_lease,
) {
    let slot = unsafe { Arc::from_raw(payload.cast::<Slot<Result<Acquired>>>()) };
    let c = Completion { status, message, value, len, format, count: 0 };
    let outcome = match status {
        sys::STRATACACHE_OK | sys::STRATACACHE_ENOTFOUND => {
            Ok(Acquired { found: status == sys::STRATACACHE_OK, value: c.bytes().to_vec(), format, info, lease })
        }
        _ => Err(c.error()),
    };
    unsafe { sys::stratacache_free(value) };
    slot.complete(outcome);
}

/// `stratacache_submit_acquire` as a future (see `Cache::get_or_load_async`).
pub(crate) fn submit_acquire(
    submit: impl FnOnce(*mut sys::stratacache_queue, sys::stratacache_acquire_callback, *mut c_void) -> c_int,
) -> OpFuture<Acquired> {
    let slot: Arc<Slot<Result<Acquired>>> = Arc::new(Slot { state: Mutex::new((None, None)) });
    let payload = Arc::into_raw(slot.clone()).cast_mut().cast::<c_void>();
    let code = submit(queue(), Some(on_acquired), payload);
    if code != sys::STRATACACHE_OK {
        drop(unsafe { Arc::from_raw(payload.cast::<Slot<Result<Acquired>>>()) });
        return OpFuture { slot: None, ready: Some(Err(Error::last(code))) };
    }
    OpFuture { slot: Some(slot), ready: None }
}
