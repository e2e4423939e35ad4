// Package stratacache is the Go package of stratacache, a multi-level cache: L1 in this
// process (W-TinyLFU), L2 in Redis (standalone, Sentinel, Cluster), values in an
// authenticated envelope (MessagePack, JSON or raw bytes; LZ4/zlib; AES-256-GCM) that
// every stratacache language reads. It is a cgo package over the C ABI
// (#cgo pkg-config: stratacache).
//
// A *Cache is safe for concurrent use by any number of goroutines, and nothing asks the
// caller to lock OS threads: every call that can block carries its own error buffer, so
// an *Error's message is this call's even when the goroutine moved between threads.
//
// Errors: a miss is ErrNotFound; failures are *Error values whose Code is reachable with
// errors.Is (ErrTimedOut, ErrUnavailable, ErrWrongType, ...). A context's deadline
// becomes the call's timeout (Redis round trips included); a context already done
// fails at once with ctx.Err().
//
// Values: Set/Get move bytes; SetJSON/GetJSON use encoding/json; SetValue/GetValue use
// the MessagePack every language shares (see EncodeMsgpack for the Go types: int64 and
// uint64, float64, string, []byte, []any, map[string]any, time.Time, Date, UUID,
// Decimal).
//
// Asynchronous calls (GetAsync, SetAsync, DeleteAsync, ExistsAsync, TTLAsync,
// IncrementAsync) go through one completion queue drained by a goroutine woken by Go's
// netpoller: no OS thread waits on Redis and no Go code runs on a library thread. Future.Wait returns ctx.Err() when the context is done
// first; the late completion is still drained and freed.
//
// Read-through: GetOrLoad runs a Loader on the calling goroutine, once per key across
// goroutines, languages and processes sharing the Redis (docs/read-through.md).
//
// Also: distributed locks with fencing tokens (Cache.Lock), tags and dependencies on
// writes (Tags, DependsOn, Cache.InvalidateTags) and L1 warming (Cache.Warm).
package stratacache
