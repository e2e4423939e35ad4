package stratacache

/*
#include <stratacache.h>
*/
import "C"

import "context"

// InvalidateTags removes every entry written with one of tags (by any language's
// package; docs/tags.md), and their dependents, from Redis and from every process's
// L1; it returns how many entries were removed.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	list := newCList(tags)
	defer list.free()
	var removed C.int64_t
	rc := C.stratacache_invalidate_tags(&removed, c.h, list.pointers(), sizesPtr(list.lens), C.size_t(len(tags)), cl.co)
	return int64(removed), cl.err("invalidate_tags", rc)
}

// Warm fills this handle's L1 from Redis with keys (batches of 1000 per round trip,
// past the promotion threshold) and returns how many were found there.
func (c *Cache) Warm(ctx context.Context, keys ...string) (found int, err error) {
	cl, err := getCall(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer cl.release()
	list := newCList(keys)
	defer list.free()
	var n C.size_t
	rc := C.stratacache_warm(&n, nil, nil, nil, c.h, list.pointers(), sizesPtr(list.lens), C.size_t(len(keys)), nil, nil, cl.co)
	return int(n), cl.err("warm", rc)
}
