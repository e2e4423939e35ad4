package stratacache

/*
#include <stratacache.h>
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Lock is a distributed lock held by this process (docs/locks.md): mutual exclusion
// between processes through Redis, with a TTL and a fencing token strictly greater for
// every new holder. Release it; one dropped unreleased is released (best effort) when
// garbage collected, and otherwise expires by its TTL.
type Lock struct {
	mu      sync.Mutex // one call at a time, as the C ABI asks
	l       *C.stratacache_lock
	fence   uint64
	cleanup runtime.Cleanup
}

// Lock acquires the lock name for ttl, waiting up to wait (0: try once) for its holder
// to release it or for it to expire; never past ctx's deadline. ErrTimedOut: still held
// by another owner when the wait ran out. With Redis unreachable: ErrUnavailable (a
// lock never degrades to this process).
func (c *Cache) Lock(ctx context.Context, name string, ttl, wait time.Duration) (*Lock, error) {
	if deadline, ok := ctx.Deadline(); ok {
		wait = max(0, min(wait, time.Until(deadline)))
	}
	cl, err := getCall(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer cl.release()
	lk := &Lock{}
	var fence C.uint64_t
	rc := C.stratacache_lock_acquire(&lk.l, &fence, c.h, stringPtr(name), C.size_t(len(name)),
		C.int64_t(ttl/time.Millisecond), C.int64_t(wait/time.Millisecond), cl.co)
	if err := cl.err("lock", rc); err != nil {
		return nil, err
	}
	lk.fence = uint64(fence)
	lk.cleanup = runtime.AddCleanup(lk, func(l *C.stratacache_lock) { C.stratacache_lock_free(l) }, lk.l)
	return lk, nil
}

// Fence is the lock's fencing token: pass it to the resource the lock protects, which
// refuses tokens lower than one it has seen.
func (lk *Lock) Fence() uint64 { return lk.fence }

// Extend sets the lock's remaining lifetime to ttl if this process still holds it.
// ErrAborted: it is no longer ours (it expired; another owner may hold it).
func (lk *Lock) Extend(ttl time.Duration) error {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.l == nil {
		return &Error{Op: "lock extend", Code: ErrInvalid, Message: "lock already released"}
	}
	return onThread("lock extend", func() C.int { return C.stratacache_lock_extend(lk.l, C.int64_t(ttl/time.Millisecond)) })
}

// Release lets the lock go (only while this process still holds it). ErrAborted: it
// was no longer ours. The Lock is spent afterwards, whatever the outcome.
func (lk *Lock) Release() error {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.l == nil {
		return &Error{Op: "lock release", Code: ErrInvalid, Message: "lock already released"}
	}
	lk.cleanup.Stop()
	l := lk.l
	lk.l = nil
	return onThread("lock release", func() C.int { return C.stratacache_lock_release(l) })
}
