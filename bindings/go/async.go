package stratacache

/*
#include <stdint.h>
#include <stratacache.h>

extern void stratacacheGoCompletion(uintptr_t, int, char *, void *, size_t, int, int64_t);

static void stratacache_go_done(void *payload, int status, const char *message, void *value, size_t len, int format,
                                int64_t count) {
	stratacacheGoCompletion((uintptr_t)payload, status, (char *)message, value, len, format, count);
}

static int go_submit_get(stratacache_cache *c, const void *key, size_t key_len, const stratacache_callopts *co,
                         stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_get(c, key, key_len, co, q, stratacache_go_done, (void *)h);
}
static int go_submit_set(stratacache_cache *c, const void *key, size_t key_len, const void *value, size_t value_len,
                         int format, int64_t ttl_ms, const stratacache_callopts *co, stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_set(c, key, key_len, value, value_len, format, ttl_ms, co, q, stratacache_go_done,
	                              (void *)h);
}
static int go_submit_delete(stratacache_cache *c, const void *keys, const size_t *lens, size_t n,
                            const stratacache_callopts *co, stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_delete(c, keys, lens, n, co, q, stratacache_go_done, (void *)h);
}
static int go_submit_exists(stratacache_cache *c, const void *key, size_t key_len, const stratacache_callopts *co,
                            stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_exists(c, key, key_len, co, q, stratacache_go_done, (void *)h);
}
static int go_submit_ttl(stratacache_cache *c, const void *key, size_t key_len, const stratacache_callopts *co,
                         stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_ttl(c, key, key_len, co, q, stratacache_go_done, (void *)h);
}
static int go_submit_increment(stratacache_cache *c, const void *key, size_t key_len, int64_t amount, int64_t ttl_ms,
                               const stratacache_callopts *co, stratacache_queue *q, uintptr_t h) {
	return stratacache_submit_increment(c, key, key_len, amount, ttl_ms, co, q, stratacache_go_done, (void *)h);
}
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"syscall"
	"time"
)

// Asynchronous calls go through one completion queue per process. A goroutine waits
// for the queue's eventfd in Go's netpoller and drains it, so callbacks run on that
// goroutine (never on a library thread) and no OS thread is blocked on Redis.

type outcome struct {
	value  []byte
	format Format
	count  int64
	err    error
}

// pending is one submission: the drainer delivers its outcome on done (capacity 1).
type pending struct {
	op   string
	done chan outcome
}

type completionQueue struct {
	q   *C.stratacache_queue
	err error
}

var theQueue = sync.OnceValue(func() *completionQueue {
	cq := &completionQueue{}
	if err := onThread("queue", func() C.int { return C.stratacache_queue_new(&cq.q) }); err != nil {
		cq.err = err
		return cq
	}
	// The queue owns its fd: watch a duplicate, so the poller never closes the original.
	fd, err := syscall.Dup(int(C.stratacache_queue_fd(cq.q)))
	if err != nil {
		cq.err = fmt.Errorf("stratacache: completion queue: %w", err)
		return cq
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		cq.err = fmt.Errorf("stratacache: completion queue: %w", err)
		return cq
	}
	file := os.NewFile(uintptr(fd), "stratacache-queue")
	raw, err := file.SyscallConn()
	if err != nil {
		cq.err = fmt.Errorf("stratacache: completion queue: %w", err)
		return cq
	}
	go cq.drainForever(raw)
	return cq
})

// drainForever runs completions whenever the eventfd is readable. The fd is
// level-triggered but the netpoller is edge-triggered: drain until a drain runs
// nothing, so the next completion makes the fd readable again (a new edge).
func (cq *completionQueue) drainForever(raw syscall.RawConn) {
	drain := func(uintptr) bool {
		for {
			var ran C.size_t
			C.stratacache_queue_drain(&ran, cq.q, 0)
			if ran == 0 {
				return false // wait for readability
			}
		}
	}
	for {
		if err := raw.Read(drain); err != nil {
			// Not pollable here: drain on a short timer instead of spinning.
			time.Sleep(time.Millisecond)
			drain(0)
		}
	}
}

// Future is the outcome of an asynchronous call.
type Future[T any] struct {
	ctx     context.Context
	done    chan outcome
	refused error
	convert func(outcome) T
}

// Wait returns the call's result, or ctx.Err() as soon as the submitting context is
// done (the completion is still drained and freed when it arrives).
func (f *Future[T]) Wait() (T, error) {
	var zero T
	if f.refused != nil {
		return zero, f.refused
	}
	select {
	case o := <-f.done:
		if o.err != nil {
			return zero, o.err
		}
		return f.convert(o), nil
	case <-f.ctx.Done():
		return zero, f.ctx.Err()
	}
}

// submit runs one submission with a fresh pending handle and returns its Future.
func submit[T any](ctx context.Context, op string, convert func(outcome) T,
	do func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int) *Future[T] {
	f := &Future[T]{ctx: ctx, convert: convert}
	cq := theQueue()
	if cq.err != nil {
		f.refused = cq.err
		return f
	}
	cl, err := getCall(ctx, 0)
	if err != nil {
		f.refused = err
		return f
	}
	defer cl.release()
	p := &pending{op: op, done: make(chan outcome, 1)}
	h := cgo.NewHandle(p)
	if rc := do(cl, cq.q, C.uintptr_t(h)); rc != 0 {
		h.Delete() // refused: the callback never runs
		f.refused = cl.err(op, rc)
		return f
	}
	f.done = p.done
	return f
}

// GetAsync submits Get; Wait returns its value (ErrNotFound on a miss).
func (c *Cache) GetAsync(ctx context.Context, key string) *Future[[]byte] {
	return submit(ctx, "get", func(o outcome) []byte { return o.value },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_get(c.h, stringPtr(key), C.size_t(len(key)), cl.co, q, h)
		})
}

// SetAsync submits Set (key and value are copied at once).
func (c *Cache) SetAsync(ctx context.Context, key string, value []byte, ttl time.Duration) *Future[struct{}] {
	return submit(ctx, "set", func(outcome) struct{} { return struct{}{} },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_set(c.h, stringPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)),
				C.int(FormatRaw), ttlMs(ttl), cl.co, q, h)
		})
}

// DeleteAsync submits Delete; Wait returns how many keys existed.
func (c *Cache) DeleteAsync(ctx context.Context, keys ...string) *Future[int64] {
	packed, lens := packKeys(keys)
	return submit(ctx, "delete", func(o outcome) int64 { return o.count },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_delete(c.h, bytesPtr(packed), sizesPtr(lens), C.size_t(len(keys)), cl.co, q, h)
		})
}

// ExistsAsync submits Exists.
func (c *Cache) ExistsAsync(ctx context.Context, key string) *Future[bool] {
	return submit(ctx, "exists", func(o outcome) bool { return o.count != 0 },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_exists(c.h, stringPtr(key), C.size_t(len(key)), cl.co, q, h)
		})
}

// TTLAsync submits TTL (NoExpiry for a key that never expires, ErrNotFound when missing).
func (c *Cache) TTLAsync(ctx context.Context, key string) *Future[time.Duration] {
	return submit(ctx, "ttl", func(o outcome) time.Duration { return max(0, time.Duration(o.count)*time.Millisecond) },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_ttl(c.h, stringPtr(key), C.size_t(len(key)), cl.co, q, h)
		})
}

// IncrementAsync submits Increment; Wait returns the new value.
func (c *Cache) IncrementAsync(ctx context.Context, key string, amount int64, ttl time.Duration) *Future[int64] {
	return submit(ctx, "increment", func(o outcome) int64 { return o.count },
		func(cl *call, q *C.stratacache_queue, h C.uintptr_t) C.int {
			return C.go_submit_increment(c.h, stringPtr(key), C.size_t(len(key)), C.int64_t(amount), ttlMs(ttl), cl.co, q, h)
		})
}
