package stratacache

// The Go functions the library calls back. This file holds only exports (cgo forbids C
// definitions next to //export); the C trampolines that call them are in async.go and
// readthrough.go.

/*
#include <stratacache.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export stratacacheGoCompletion
func stratacacheGoCompletion(payload C.uintptr_t, status C.int, message *C.char, value unsafe.Pointer, length C.size_t,
	format C.int, count C.int64_t) {
	h := cgo.Handle(payload)
	p := h.Value().(*pending)
	h.Delete()
	var o outcome
	o.count = int64(count)
	o.format = Format(format)
	if value != nil {
		o.value = C.GoBytes(value, C.int(length))
		C.stratacache_free(value)
	}
	o.err = codeError(p.op, status, C.GoString(message))
	p.done <- o // buffered: never blocks, even when the waiter gave up
}

//export stratacacheGoLoad
func stratacacheGoLoad(ctx C.uintptr_t, key unsafe.Pointer, keyLen C.size_t, sink *C.stratacache_sink) C.int {
	return runLoader(cgo.Handle(ctx).Value().(*loadCall), C.GoStringN((*C.char)(key), C.int(keyLen)), sink)
}
