package stratacache

/*
#cgo pkg-config: stratacache
#include <stdlib.h>
#include <stratacache.h>
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// errBufSize bounds a message written into a call's error buffer.
const errBufSize = 512

// call is one set of per-call options with its own error buffer, so the message of a
// failure is right whichever OS thread the goroutine ran the call on (the C ABI's
// thread-local last error would not be). Calls take one from callPool and give it back.
type call struct {
	co        *C.stratacache_callopts
	buf       *C.char
	timeoutMs int64 // what co holds now; -1: the cache's socket_timeout
	flags     uint32
	scratch   []byte // a Get's landing buffer (see Cache.Get)
	// Out-parameters live here: a Go variable whose address goes to C escapes to the heap.
	n      C.size_t
	format C.int
}

type callResources struct {
	co  *C.stratacache_callopts
	buf *C.char
}

var callPool = sync.Pool{New: func() any {
	c := &call{timeoutMs: -1}
	if C.stratacache_callopts_new(&c.co) != 0 {
		panic("stratacache: out of memory creating call options")
	}
	c.buf = (*C.char)(C.calloc(errBufSize, 1))
	if c.buf == nil || C.stratacache_callopts_set_error_buffer(c.co, c.buf, errBufSize) != 0 {
		panic("stratacache: out of memory creating an error buffer")
	}
	// A call the pool drops is freed with its C side.
	runtime.AddCleanup(c, func(r callResources) {
		C.stratacache_callopts_free(r.co)
		C.free(unsafe.Pointer(r.buf))
	}, callResources{c.co, c.buf})
	return c
}}

// timeoutMs is ctx's deadline as a call timeout in ms (-1: none, the cache's
// socket_timeout), rounded up: a deadline 0.4 ms away is not "already due" (0).
func timeoutMs(ctx context.Context) int64 {
	deadline, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	return max(0, int64((time.Until(deadline)+time.Millisecond-1)/time.Millisecond))
}

// getCall returns per-call options carrying ctx's deadline (as the call's timeout) and
// flags, or ctx.Err() when ctx is already done.
func getCall(ctx context.Context, flags uint32) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := callPool.Get().(*call)
	timeout := timeoutMs(ctx)
	if timeout != c.timeoutMs {
		C.stratacache_callopts_set_timeout_ms(c.co, C.int64_t(timeout))
		c.timeoutMs = timeout
	}
	if flags != c.flags {
		if rc := C.stratacache_callopts_set_flags(c.co, C.uint32_t(flags)); rc != 0 {
			callPool.Put(c)
			return nil, codeError("callopts", rc, "unknown call flags")
		}
		c.flags = flags
	}
	return c, nil
}

func (c *call) release() { callPool.Put(c) }

// err turns rc into an error carrying this call's message.
func (c *call) err(op string, rc C.int) error {
	if rc == 0 || Code(rc) == ErrNotFound {
		return codeError(op, rc, "")
	}
	return codeError(op, rc, C.GoString(c.buf))
}

// onThread runs f with the goroutine locked to its OS thread, for the calls that take
// no callopts (options, open, stat) and report their message thread-locally; it
// returns f's code as an error with that message.
func onThread(op string, f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc == 0 || Code(rc) == ErrNotFound {
		return codeError(op, rc, "")
	}
	return codeError(op, rc, C.GoString(C.stratacache_last_error()))
}

// bytesPtr is the address of b's first byte (nil for an empty b): Go memory the C
// call borrows for its duration only.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

func stringPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// packKeys lays n keys back to back, the C ABI's packed key list.
func packKeys(keys []string) ([]byte, []C.size_t) {
	total := 0
	for _, k := range keys {
		total += len(k)
	}
	packed := make([]byte, 0, total)
	lens := make([]C.size_t, len(keys))
	for i, k := range keys {
		packed = append(packed, k...)
		lens[i] = C.size_t(len(k))
	}
	return packed, lens
}

// cList holds n byte strings for the C ABI's pointer-array arguments: the bytes are
// copied into C memory, so the Go array of pointers holds no Go pointer (cgo's rule).
type cList struct {
	data unsafe.Pointer
	ptrs []unsafe.Pointer
	lens []C.size_t
}

func newCList(items []string) *cList {
	packed, lens := packKeys(items)
	l := &cList{data: C.CBytes(packed), ptrs: make([]unsafe.Pointer, len(items)), lens: lens}
	off := 0
	for i, item := range items {
		l.ptrs[i] = unsafe.Add(l.data, off)
		off += len(item)
	}
	return l
}

func (l *cList) free() { C.free(l.data) }

func (l *cList) pointers() *unsafe.Pointer {
	if len(l.ptrs) == 0 {
		return nil
	}
	return &l.ptrs[0]
}

func sizesPtr(s []C.size_t) *C.size_t {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// ttlMs converts a TTL argument: DefaultTTL, NoExpiry (0) or a positive duration
// (rounded up to whole milliseconds).
func ttlMs(ttl time.Duration) C.int64_t {
	if ttl < 0 {
		return C.STRATACACHE_TTL_DEFAULT
	}
	return C.int64_t((ttl + time.Millisecond - 1) / time.Millisecond)
}
