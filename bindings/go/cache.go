package stratacache

/*
#include <stdlib.h>
#include <stratacache.h>
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sync"
	"time"
	"unsafe"
)

// Format labels stored bytes; readers in every language get it back with the value.
type Format int

const (
	FormatRaw     Format = C.STRATACACHE_FORMAT_RAW     // opaque bytes
	FormatJSON    Format = C.STRATACACHE_FORMAT_JSON    // UTF-8 JSON text
	FormatMsgpack Format = C.STRATACACHE_FORMAT_MSGPACK // one MessagePack object
)

// TTL arguments: a positive duration (rounded up to whole milliseconds), NoExpiry, or
// DefaultTTL (the cache's default_ttl URL parameter).
const (
	NoExpiry   time.Duration = 0
	DefaultTTL time.Duration = -1
)

// Cache is a handle on one stratacache (L1 in this process, L2 in Redis). It is safe
// for concurrent use by any number of goroutines; no call needs runtime.LockOSThread.
type Cache struct {
	h         *C.stratacache_cache
	closeOnce sync.Once
}

// Key is an AES-256-GCM key: 32 bytes and the id stored in each envelope. The primary
// key (the first one, or the one marked Primary) encrypts; every key decrypts.
type Key struct {
	ID      uint32
	Secret  []byte
	Primary bool
}

// Option adjusts the options parsed from the URL.
type Option func(*C.stratacache_options) error

// WithParam sets one URL parameter by name (e.g. "socket_timeout", "1.5").
func WithParam(name, value string) Option {
	return func(o *C.stratacache_options) error {
		n, v := C.CString(name), C.CString(value)
		defer C.free(unsafe.Pointer(n))
		defer C.free(unsafe.Pointer(v))
		return onThread("option "+name, func() C.int { return C.stratacache_options_set(o, n, v) })
	}
}

// WithKey adds an encryption key (copied; the library wipes its copy when done).
func WithKey(k Key) Option {
	return func(o *C.stratacache_options) error {
		primary := C.int(0)
		if k.Primary {
			primary = 1
		}
		return onThread("add key", func() C.int {
			return C.stratacache_options_add_key(o, C.uint32_t(k.ID), bytesPtr(k.Secret), C.size_t(len(k.Secret)), primary)
		})
	}
}

// withOptions builds the options object of url + opts, runs f with it and frees it.
func withOptions(url string, opts []Option, f func(*C.stratacache_options) error) error {
	curl := C.CString(url)
	defer C.free(unsafe.Pointer(curl))
	var o *C.stratacache_options
	if err := onThread("open", func() C.int { return C.stratacache_options_from_url(&o, curl) }); err != nil {
		return err
	}
	defer C.stratacache_options_free(o)
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return err
		}
	}
	return f(o)
}

// Open opens a cache from a stratacache URL (mem://, redis://host:port/db?...,
// rediss://, unix://; README "Configuration"). It never blocks on the network: while
// Redis is unreachable, L2 calls fail with ErrUnavailable and L1 still answers.
func Open(url string, opts ...Option) (*Cache, error) {
	return open("open", url, opts, func(h **C.stratacache_cache, o *C.stratacache_options) C.int {
		return C.stratacache_open_with(h, o)
	})
}

// open makes the options of url + opts and opens a handle with them through f.
func open(op, url string, opts []Option, f func(**C.stratacache_cache, *C.stratacache_options) C.int) (*Cache, error) {
	c := &Cache{}
	err := withOptions(url, opts, func(o *C.stratacache_options) error {
		return onThread(op, func() C.int { return f(&c.h, o) })
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// OpenShared returns a handle on the process-wide cache called name (one L1, one set of
// connections), opened from url + opts by its first user: a Python application's
// Cache(url, shared=name), a C extension and this package in one process share it. Each
// handle closes on its own; the cache closes with the last. The same name with another
// URL, parameters or keys is ErrInvalid, naming it.
func OpenShared(name, url string, opts ...Option) (*Cache, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return open("open shared", url, opts, func(h **C.stratacache_cache, o *C.stratacache_options) C.int {
		return C.stratacache_open_shared_with(h, cname, o)
	})
}

// Close closes the handle and its connections. Later calls fail with ErrClosed;
// pending asynchronous calls complete with ErrUnavailable. A second Close is a no-op.
func (c *Cache) Close() {
	c.closeOnce.Do(func() { C.stratacache_close(c.h) })
}

// get reads key into dst's spare capacity when it fits (one copy, no library buffer),
// else into a buffer of the size the library reported.
func (c *Cache) get(cl *call, key string, dst []byte) ([]byte, Format, error) {
	for {
		spare := dst[len(dst):cap(dst)]
		rc := C.stratacache_get_into(&cl.n, &cl.format, c.h, stringPtr(key), C.size_t(len(key)),
			bytesPtr(spare), C.size_t(len(spare)), cl.co)
		n := int(cl.n)
		switch {
		case rc == 0:
			return dst[:len(dst)+n], Format(cl.format), nil
		case Code(rc) == ErrTooBig && n > len(spare):
			grown := make([]byte, len(dst), len(dst)+n) // the value may change again: loop
			copy(grown, dst)
			dst = grown
		default:
			return nil, 0, cl.err("get", rc)
		}
	}
}

// maxScratch bounds the landing buffer a call keeps for the next Get.
const maxScratch = 64 << 10

// Get returns the stored bytes of key, whatever their format; a miss is ErrNotFound.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer cl.release()
	if cl.scratch == nil {
		cl.scratch = make([]byte, 0, 512)
	}
	got, _, err := c.get(cl, key, cl.scratch)
	if err != nil {
		return nil, err
	}
	if cap(got) <= maxScratch {
		cl.scratch = got[:0]
	}
	out := make([]byte, len(got))
	copy(out, got)
	return out, nil
}

// GetInto reads key into buf without allocating: n bytes were copied and format is the
// value's. A value larger than buf is ErrTooBig with n = the size needed (a retry is
// a new read).
func (c *Cache) GetInto(ctx context.Context, key string, buf []byte) (n int, format Format, err error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, 0, err
	}
	defer cl.release()
	rc := C.stratacache_get_into(&cl.n, &cl.format, c.h, stringPtr(key), C.size_t(len(key)), bytesPtr(buf),
		C.size_t(len(buf)), cl.co)
	if rc != 0 {
		if Code(rc) == ErrTooBig {
			return int(cl.n), Format(cl.format), cl.err("get", rc)
		}
		return 0, 0, cl.err("get", rc)
	}
	return int(cl.n), Format(cl.format), nil
}

// GetJSON reads key as JSON (whatever format it was stored in: MessagePack values of
// every language convert) and unmarshals it into out with encoding/json.
func (c *Cache) GetJSON(ctx context.Context, key string, out any) error {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return err
	}
	var text *C.char
	var n C.size_t
	rc := C.stratacache_get_json(&text, &n, c.h, stringPtr(key), C.size_t(len(key)), cl.co)
	err = cl.err("get_json", rc)
	cl.release()
	if err != nil {
		return err
	}
	data := C.GoBytes(unsafe.Pointer(text), C.int(n))
	C.stratacache_free(unsafe.Pointer(text))
	return json.Unmarshal(data, out)
}

// GetValue reads key as a Go value: MessagePack and JSON values decode to the types
// listed under "Values" in the package documentation, raw values are []byte.
func (c *Cache) GetValue(ctx context.Context, key string) (any, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer cl.release()
	data, format, err := c.get(cl, key, nil)
	if err != nil {
		return nil, err
	}
	return DecodeValue(data, format)
}

// WriteOption adds tags or dependencies to a write (docs/tags.md).
type WriteOption struct {
	tags, dependsOn []string
}

// Tags: InvalidateTags of one of them removes the entry, from Redis and every L1.
func Tags(tags ...string) WriteOption { return WriteOption{tags: tags} }

// DependsOn: writing, deleting or invalidating one of these keys removes the entry
// (transitively).
func DependsOn(keys ...string) WriteOption { return WriteOption{dependsOn: keys} }

// applyWrite puts opts on the call's callopts and returns the function that takes them
// off again (the callopts go back to the pool).
func (cl *call) applyWrite(opts []WriteOption) (func(), error) {
	var tags, deps []string
	for _, o := range opts {
		tags = append(tags, o.tags...)
		deps = append(deps, o.dependsOn...)
	}
	tagList, depList := newCList(tags), newCList(deps)
	undo := func() {
		C.stratacache_callopts_set_tags(cl.co, nil, nil, 0)
		C.stratacache_callopts_set_depends_on(cl.co, nil, nil, 0)
		tagList.free()
		depList.free()
	}
	rc := C.stratacache_callopts_set_tags(cl.co, tagList.pointers(), sizesPtr(tagList.lens), C.size_t(len(tags)))
	if rc == 0 {
		rc = C.stratacache_callopts_set_depends_on(cl.co, depList.pointers(), sizesPtr(depList.lens), C.size_t(len(deps)))
	}
	if rc != 0 {
		undo()
		return nil, codeError("write options", rc, "bad tags or dependencies")
	}
	return undo, nil
}

func (c *Cache) set(ctx context.Context, op, key string, value []byte, format Format, ttl time.Duration,
	opts []WriteOption) error {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return err
	}
	defer cl.release()
	if len(opts) > 0 {
		undo, err := cl.applyWrite(opts)
		if err != nil {
			return err
		}
		defer undo()
	}
	rc := C.stratacache_set(c.h, stringPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)),
		C.int(format), ttlMs(ttl), cl.co)
	return cl.err(op, rc)
}

// Set stores value (copied) as raw bytes for ttl (NoExpiry, DefaultTTL or a duration).
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration, opts ...WriteOption) error {
	return c.set(ctx, "set", key, value, FormatRaw, ttl, opts)
}

// SetJSON stores v marshalled by encoding/json, labelled JSON.
func (c *Cache) SetJSON(ctx context.Context, key string, v any, ttl time.Duration, opts ...WriteOption) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.set(ctx, "set_json", key, data, FormatJSON, ttl, opts)
}

// SetValue stores v as MessagePack, the format every stratacache language reads back
// as its natural types (see EncodeMsgpack).
func (c *Cache) SetValue(ctx context.Context, key string, v any, ttl time.Duration, opts ...WriteOption) error {
	data, err := EncodeMsgpack(v)
	if err != nil {
		return err
	}
	return c.set(ctx, "set_value", key, data, FormatMsgpack, ttl, opts)
}

// Delete removes keys from both tiers and returns how many existed.
func (c *Cache) Delete(ctx context.Context, keys ...string) (int64, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	packed, lens := packKeys(keys)
	var deleted C.int64_t
	rc := C.stratacache_delete_packed(&deleted, c.h, bytesPtr(packed), sizesPtr(lens), C.size_t(len(keys)), cl.co)
	return int64(deleted), cl.err("delete", rc)
}

// Exists reports whether key is stored.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return false, err
	}
	defer cl.release()
	var exists C.int
	rc := C.stratacache_exists(&exists, c.h, stringPtr(key), C.size_t(len(key)), cl.co)
	return exists != 0, cl.err("exists", rc)
}

// TTL returns the remaining lifetime of key: NoExpiry (0) when it never expires,
// ErrNotFound when it is missing.
func (c *Cache) TTL(ctx context.Context, key string) (time.Duration, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	var ms C.int64_t
	rc := C.stratacache_ttl(&ms, c.h, stringPtr(key), C.size_t(len(key)), cl.co)
	if rc != 0 || ms < 0 {
		return NoExpiry, cl.err("ttl", rc)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Increment atomically adds amount to the integer stored at key and returns the new
// value. A missing key starts at 0 and gets ttl; an existing TTL is never extended. A
// non-integer value is ErrWrongType.
func (c *Cache) Increment(ctx context.Context, key string, amount int64, ttl time.Duration) (int64, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	var value C.int64_t
	rc := C.stratacache_increment(&value, c.h, stringPtr(key), C.size_t(len(key)), C.int64_t(amount), ttlMs(ttl), cl.co)
	return int64(value), cl.err("increment", rc)
}

// ClearPattern deletes every key matching a Redis glob from both tiers (SCAN + UNLINK)
// and returns how many were deleted.
func (c *Cache) ClearPattern(ctx context.Context, pattern string) (int64, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	var deleted C.int64_t
	rc := C.stratacache_clear_pattern(&deleted, c.h, stringPtr(pattern), C.size_t(len(pattern)), cl.co)
	return int64(deleted), cl.err("clear_pattern", rc)
}

// GetMany reads keys in one L2 round trip and returns the ones found. A key that
// failed (not a miss) is left out and the first such failure is returned with the
// values that were read.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer cl.release()
	packed, lens := packKeys(keys)
	var out unsafe.Pointer
	var n C.size_t
	rc := C.stratacache_mget_packed(&out, &n, c.h, bytesPtr(packed), sizesPtr(lens), C.size_t(len(keys)), cl.co)
	if rc != 0 {
		return nil, cl.err("get_many", rc)
	}
	defer C.stratacache_free(out)
	return unpackMget(unsafe.Slice((*byte)(out), int(n)), keys, func() string { return C.GoString(cl.buf) })
}

// unpackMget reads the C ABI's packed mget result (records of int32 status, int32
// format, uint64 len, value, padding to 8 bytes).
func unpackMget(packed []byte, keys []string, message func() string) (map[string][]byte, error) {
	const header = C.STRATACACHE_PACKED_HEADER_SIZE
	found := make(map[string][]byte, len(keys))
	var firstErr error
	pos := 0
	for _, key := range keys {
		if pos+header > len(packed) {
			return found, &Error{Op: "get_many", Code: ErrInternal, Message: "packed result too short"}
		}
		status := int32(binary.NativeEndian.Uint32(packed[pos:]))
		length := int(binary.NativeEndian.Uint64(packed[pos+8:]))
		value := packed[pos+header : pos+header+length]
		switch {
		case status == 0:
			found[key] = bytes.Clone(value)
		case Code(status) != ErrNotFound && firstErr == nil:
			firstErr = &Error{Op: "get_many", Code: Code(status), Message: message()}
		}
		pos += header + (length+7)&^7
	}
	return found, firstErr
}

// SetMany writes items (raw bytes, copied) in one L2 round trip, all with ttl and opts.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration, opts ...WriteOption) error {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return err
	}
	defer cl.release()
	if len(opts) > 0 {
		undo, err := cl.applyWrite(opts)
		if err != nil {
			return err
		}
		defer undo()
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	packedKeys, keyLens := packKeys(keys)
	var values []byte
	valueLens := make([]C.size_t, len(keys))
	for i, k := range keys {
		values = append(values, items[k]...)
		valueLens[i] = C.size_t(len(items[k]))
	}
	rc := C.stratacache_mset_packed(c.h, bytesPtr(packedKeys), sizesPtr(keyLens), bytesPtr(values), sizesPtr(valueLens),
		nil, C.size_t(len(keys)), ttlMs(ttl), cl.co)
	return cl.err("set_many", rc)
}

// Health is a cache's view of its Redis and of its L1 coherence.
type Health struct {
	Healthy           bool    `json:"healthy"`
	LatencyMs         float64 `json:"latency_ms"`
	Version           string  `json:"version"`
	UsedMemory        string  `json:"used_memory"`
	ConnectedClients  int64   `json:"connected_clients"`
	UptimeSeconds     int64   `json:"uptime_seconds"`
	Error             string  `json:"error"`
	Coherence         string  `json:"coherence"`
	CoherenceUp       bool    `json:"coherence_up"`
	CoherenceChannels int64   `json:"coherence_channels"`
	CoherenceError    string  `json:"coherence_error"`
}

// Health pings Redis; an unhealthy cache is a Health with Healthy false, not an error.
func (c *Cache) Health(ctx context.Context) (Health, error) {
	var h Health
	cl, err := getCall(ctx, 0)
	if err != nil {
		return h, err
	}
	var text *C.char
	var n C.size_t
	rc := C.stratacache_health_json(&text, &n, c.h, cl.co)
	err = cl.err("health", rc)
	cl.release()
	if err != nil {
		return h, err
	}
	data := C.GoBytes(unsafe.Pointer(text), C.int(n))
	C.stratacache_free(unsafe.Pointer(text))
	return h, json.Unmarshal(data, &h)
}

var statNames = sync.OnceValue(func() []*C.char {
	var names []*C.char
	for i := 0; ; i++ {
		var name *C.char
		if C.stratacache_stat_info(&name, nil, C.size_t(i)) != 0 {
			return names
		}
		names = append(names, name)
	}
})

// Stats returns every counter by its name ("l1.hits", "l2.misses", ...; README).
func (c *Cache) Stats() (map[string]uint64, error) {
	names := statNames()
	stats := make(map[string]uint64, len(names))
	for _, name := range names {
		var v C.uint64_t
		if err := onThread("stats", func() C.int { return C.stratacache_stat(&v, c.h, name) }); err != nil {
			return nil, err
		}
		stats[C.GoString(name)] = uint64(v)
	}
	return stats, nil
}

// FlushL1 drops this handle's L1 entries (Redis untouched).
func (c *Cache) FlushL1() { C.stratacache_flush_l1(c.h) }
