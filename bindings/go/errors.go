package stratacache

/*
#include <stratacache.h>
*/
import "C"

import "fmt"

// Code is a stratacache result code (the C ABI's STRATACACHE_E* values). Every Code is
// an error, so errors.Is(err, stratacache.ErrNotFound) works on any error this package
// returns.
type Code int

// The result codes; their values are pinned by the C ABI.
const (
	ErrNotFound    Code = C.STRATACACHE_ENOTFOUND    // a miss / the key does not exist
	ErrInvalid     Code = C.STRATACACHE_EINVAL       // bad argument, URL or parameter
	ErrUnavailable Code = C.STRATACACHE_EUNAVAILABLE // Redis unreachable (L1 still served)
	ErrTimedOut    Code = C.STRATACACHE_ETIMEDOUT    // the call's deadline passed
	ErrCorrupt     Code = C.STRATACACHE_ECORRUPT     // stored data unreadable
	ErrTooBig      Code = C.STRATACACHE_ETOOBIG      // value or reply over a configured limit
	ErrAuth        Code = C.STRATACACHE_EAUTH        // AUTH / ACL refused
	ErrWrongType   Code = C.STRATACACHE_EWRONGTYPE   // e.g. Increment on a non-integer
	ErrUnsupported Code = C.STRATACACHE_EUNSUPPORTED // not supported by this build or configuration
	ErrInternal    Code = C.STRATACACHE_EINTERNAL    // unexpected reply or library bug
	ErrNoMemory    Code = C.STRATACACHE_ENOMEM       // allocation failed
	ErrClosed      Code = C.STRATACACHE_ECLOSED      // the cache was closed
	ErrAborted     Code = C.STRATACACHE_EABORTED     // a read-through lease expired or was taken over
	ErrLoadFailed  Code = C.STRATACACHE_ELOADFAILED  // a read-through loader failed
)

// Error returns the library's static description of the code.
func (c Code) Error() string { return C.GoString(C.stratacache_strerror(C.int(c))) }

// Error is a failed call: the operation, the code (also reachable with errors.Is /
// errors.As through Unwrap) and the library's message for this call.
type Error struct {
	Op      string // "get", "set", "open", ...
	Code    Code
	Message string // the library's message; may be empty
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("stratacache %s: %s", e.Op, e.Code.Error())
	}
	return fmt.Sprintf("stratacache %s: %s: %s", e.Op, e.Code.Error(), e.Message)
}

// Unwrap gives the Code, so errors.Is(err, stratacache.ErrTimedOut) holds.
func (e *Error) Unwrap() error { return e.Code }

// codeError turns a C return code into nil, the bare ErrNotFound (a miss is an
// expected outcome and carries no message) or an *Error with its message.
func codeError(op string, rc C.int, message string) error {
	switch Code(rc) {
	case 0:
		return nil
	case ErrNotFound:
		return ErrNotFound
	}
	return &Error{Op: op, Code: Code(rc), Message: message}
}
