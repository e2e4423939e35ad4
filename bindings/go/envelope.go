package stratacache

/*
#include <stdlib.h>
#include <stratacache.h>
*/
import "C"

import "unsafe"

// DecodeEnvelope reads a stored envelope (docs/envelope.md): the bytes Redis holds
// under prefix+key. opts supply the key ring (WithKey) and decode settings. A negative
// marker ("the key does not exist") is ErrNotFound; tampered, truncated or wrong-key
// input is ErrCorrupt; unreadable here (unknown version, key id) is ErrUnsupported.
func DecodeEnvelope(envelope []byte, prefix, key string, opts ...Option) ([]byte, Format, error) {
	var value []byte
	var format Format
	err := withOptions("mem://", opts, func(o *C.stratacache_options) error {
		var out unsafe.Pointer
		var n C.size_t
		var f C.int
		err := onThread("envelope_decode", func() C.int {
			return C.stratacache_envelope_decode(&out, &n, &f, bytesPtr(envelope), C.size_t(len(envelope)),
				stringPtr(prefix), C.size_t(len(prefix)), stringPtr(key), C.size_t(len(key)), o)
		})
		if err == nil {
			value, format = C.GoBytes(out, C.int(n)), Format(f)
			C.stratacache_free(out)
		}
		return err
	})
	return value, format, err
}
