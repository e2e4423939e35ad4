package stratacache

/*
#include <stdint.h>
#include <stdlib.h>
#include <stratacache.h>

extern int stratacacheGoLoad(uintptr_t, void *, size_t, stratacache_sink *);

static int stratacache_go_loader(void *ctx, const void *key, size_t key_len, stratacache_sink *sink) {
	return stratacacheGoLoad((uintptr_t)ctx, (void *)key, key_len, sink);
}

static int go_get_or_load(void **out_value, size_t *out_len, int *out_format, unsigned *out_info,
                          stratacache_cache *cache, const void *key, size_t key_len, uintptr_t h,
                          const stratacache_callopts *co) {
	return stratacache_get_or_load(out_value, out_len, out_format, out_info, cache, key, key_len,
	                               stratacache_go_loader, (void *)h, co);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Loader loads the value of key when the cache has none (or only a stale one). Return
// ErrNotFound when the key does not exist (remembered for LoadOptions.NegativeTTL); any
// other error is the caller's (and the waiting callers') error, never cached.
type Loader func(ctx context.Context, key string) ([]byte, error)

// LoadOptions are the read-through settings of GetOrLoad (docs/read-through.md); zero
// fields keep the library's defaults.
type LoadOptions struct {
	TTL          time.Duration // fresh period of a loaded value (default: default_ttl)
	StaleTTL     time.Duration // stale period after it, served when a reload fails
	NegativeTTL  time.Duration // how long "does not exist" is remembered
	EarlyRefresh float64       // XFetch beta (0: off, 1: optimal)
	NoLock       bool          // one load per process only (no Redis lease)
}

// loadCall carries a GetOrLoad's loader into the C callback.
type loadCall struct {
	ctx  context.Context
	load Loader
}

func runLoader(lc *loadCall, key string, sink *C.stratacache_sink) (rc C.int) {
	fail := func(err error) C.int {
		msg := C.CString(err.Error())
		C.stratacache_sink_fail(sink, msg)
		C.free(unsafe.Pointer(msg))
		var code Code
		if errors.As(err, &code) && code < 0 {
			return C.int(code)
		}
		return C.STRATACACHE_ELOADFAILED
	}
	defer func() {
		if r := recover(); r != nil { // a panic must not unwind through C frames
			rc = fail(fmt.Errorf("loader panicked: %v", r))
		}
	}()
	value, err := lc.load(lc.ctx, key)
	if errors.Is(err, ErrNotFound) {
		return C.STRATACACHE_ENOTFOUND
	}
	if err != nil {
		return fail(err)
	}
	return C.stratacache_sink_put(sink, bytesPtr(value), C.size_t(len(value)), C.int(FormatRaw), -1)
}

// GetOrLoad returns the value of key, calling load (on this goroutine) when it is
// missing or past its fresh period: one load per key across goroutines, languages and
// processes sharing the Redis. ErrNotFound: the key does not exist. ctx's deadline
// bounds every wait of the call, not the loader itself.
func (c *Cache) GetOrLoad(ctx context.Context, key string, load Loader, opts LoadOptions) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var co *C.stratacache_callopts
	if C.stratacache_callopts_new(&co) != 0 {
		return nil, &Error{Op: "get_or_load", Code: ErrNoMemory}
	}
	defer C.stratacache_callopts_free(co)
	buf := (*C.char)(C.calloc(errBufSize, 1))
	defer C.free(unsafe.Pointer(buf))
	C.stratacache_callopts_set_error_buffer(co, buf, errBufSize)
	C.stratacache_callopts_set_timeout_ms(co, C.int64_t(timeoutMs(ctx)))
	settings := []struct {
		set bool
		rc  func() C.int
	}{
		{opts.TTL > 0, func() C.int { return C.stratacache_callopts_set_ttl_ms(co, ttlMs(opts.TTL)) }},
		{opts.StaleTTL > 0, func() C.int { return C.stratacache_callopts_set_stale_ttl_ms(co, ttlMs(opts.StaleTTL)) }},
		{opts.NegativeTTL > 0, func() C.int { return C.stratacache_callopts_set_negative_ttl_ms(co, ttlMs(opts.NegativeTTL)) }},
		{opts.EarlyRefresh != 0, func() C.int { return C.stratacache_callopts_set_early_refresh(co, C.double(opts.EarlyRefresh)) }},
		{opts.NoLock, func() C.int { return C.stratacache_callopts_set_lock(co, 0) }},
	}
	for _, s := range settings {
		if s.set {
			if rc := s.rc(); rc != 0 {
				return nil, codeError("get_or_load", rc, C.GoString(buf))
			}
		}
	}
	h := cgo.NewHandle(&loadCall{ctx: ctx, load: load})
	defer h.Delete()
	var value unsafe.Pointer
	var n C.size_t
	rc := C.go_get_or_load(&value, &n, nil, nil, c.h, stringPtr(key), C.size_t(len(key)), C.uintptr_t(h), co)
	if rc != 0 {
		return nil, codeError("get_or_load", rc, C.GoString(buf))
	}
	defer C.stratacache_free(value)
	return C.GoBytes(value, C.int(n)), nil
}
