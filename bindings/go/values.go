package stratacache

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The MessagePack ext types every stratacache language shares (docs/envelope.md,
// "Shared MessagePack ext types").
const (
	extDateTime int8 = 1
	extDate     int8 = 2
	extUUID     int8 = 3
	extDecimal  int8 = 4
)

// Date is a calendar date (MessagePack ext 2).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// ParseDate parses an ISO-8601 date ("2026-11-25").
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// UUID is a UUID in RFC 4122 byte order (MessagePack ext 3).
type UUID [16]byte

func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ParseUUID parses the canonical text form (hex digits with or without hyphens).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("stratacache: bad UUID %q", s)
	}
	copy(u[:], b)
	return u, nil
}

// Decimal is an exact decimal number kept as its text ("12.50"; MessagePack ext 4).
type Decimal string

// dateTimeLayout writes the offset as +hh:mm (UTC as +00:00), as the other languages do.
const dateTimeLayout = "2006-01-02T15:04:05.999999999-07:00"

// EncodeMsgpack encodes v as the MessagePack that every stratacache language decodes to
// its natural types. Values:
//
//	nil, bool                 nil, bool
//	signed and unsigned ints  the smallest int encoding that holds them
//	float32, float64          float64
//	string / []byte           str / bin
//	[]any, map[string]any     array, map with str keys
//	time.Time                 ext 1 (ISO-8601, offset kept)
//	Date, UUID, Decimal       ext 2, 3, 4
//
// Other types (structs...) are encoded by github.com/vmihailenco/msgpack with compact
// integers; DecodeValue gives them back as maps and slices.
func EncodeMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := encodeValue(enc, &buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeExt(enc *msgpack.Encoder, buf *bytes.Buffer, id int8, payload []byte) error {
	if err := enc.EncodeExtHeader(id, len(payload)); err != nil {
		return err
	}
	buf.Write(payload)
	return nil
}

func encodeValue(enc *msgpack.Encoder, buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(x)
	case int:
		return enc.EncodeInt(int64(x))
	case int8:
		return enc.EncodeInt(int64(x))
	case int16:
		return enc.EncodeInt(int64(x))
	case int32:
		return enc.EncodeInt(int64(x))
	case int64:
		return enc.EncodeInt(x)
	case uint:
		return enc.EncodeUint(uint64(x))
	case uint8:
		return enc.EncodeUint(uint64(x))
	case uint16:
		return enc.EncodeUint(uint64(x))
	case uint32:
		return enc.EncodeUint(uint64(x))
	case uint64:
		return enc.EncodeUint(x)
	case float32:
		return enc.EncodeFloat64(float64(x))
	case float64:
		return enc.EncodeFloat64(x)
	case string:
		return enc.EncodeString(x)
	case []byte:
		return enc.EncodeBytes(x)
	case time.Time:
		return encodeExt(enc, buf, extDateTime, []byte(x.Format(dateTimeLayout)))
	case Date:
		return encodeExt(enc, buf, extDate, []byte(x.String()))
	case UUID:
		return encodeExt(enc, buf, extUUID, x[:])
	case Decimal:
		return encodeExt(enc, buf, extDecimal, []byte(x))
	case []any:
		if err := enc.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, e := range x {
			if err := encodeValue(enc, buf, e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := enc.EncodeMapLen(len(x)); err != nil {
			return err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the same bytes for the same map
		for _, k := range keys {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := encodeValue(enc, buf, x[k]); err != nil {
				return err
			}
		}
		return nil
	}
	return enc.Encode(v)
}

// DecodeValue decodes stored bytes by their format: MessagePack and JSON to the types
// listed under EncodeMsgpack (integers as int64, or uint64 above math.MaxInt64; maps
// as map[string]any; arrays as []any), raw bytes to []byte.
func DecodeValue(data []byte, format Format) (any, error) {
	switch format {
	case FormatRaw:
		return data, nil
	case FormatJSON:
		return decodeJSONValue(data)
	case FormatMsgpack:
		dec := msgpack.NewDecoder(bytes.NewReader(data))
		v, err := decodeMsgpackValue(dec)
		if err != nil {
			return nil, fmt.Errorf("stratacache: bad MessagePack value: %w", err)
		}
		if _, err := dec.PeekCode(); err == nil {
			return nil, fmt.Errorf("stratacache: bad MessagePack value: trailing bytes")
		}
		return v, nil
	}
	return nil, fmt.Errorf("stratacache: unknown value format %d", format)
}

func decodeMsgpackValue(dec *msgpack.Decoder) (any, error) {
	code, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case code == msgpcode.Nil:
		return nil, dec.DecodeNil()
	case code == msgpcode.True || code == msgpcode.False:
		return dec.DecodeBool()
	case code == msgpcode.Float || code == msgpcode.Double:
		return dec.DecodeFloat64()
	case code == msgpcode.Uint64:
		n, err := dec.DecodeUint64()
		if err != nil || n > math.MaxInt64 {
			return n, err
		}
		return int64(n), nil
	case msgpcode.IsFixedNum(code) || (code >= msgpcode.Uint8 && code <= msgpcode.Int64):
		return dec.DecodeInt64()
	case msgpcode.IsString(code):
		return dec.DecodeString()
	case msgpcode.IsBin(code):
		return dec.DecodeBytes()
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		arr := make([]any, 0, max(n, 0))
		for range n {
			e, err := decodeMsgpackValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, e)
		}
		return arr, nil
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, max(n, 0))
		for range n {
			k, err := decodeMsgpackValue(dec)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("map key of type %T (only string keys are shared)", k)
			}
			if m[ks], err = decodeMsgpackValue(dec); err != nil {
				return nil, err
			}
		}
		return m, nil
	case msgpcode.IsExt(code):
		id, n, err := dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		payload := make([]byte, n)
		if err := dec.ReadFull(payload); err != nil {
			return nil, err
		}
		return decodeExt(id, payload)
	}
	return nil, fmt.Errorf("unexpected MessagePack code 0x%02x", code)
}

func decodeExt(id int8, payload []byte) (any, error) {
	switch id {
	case extDateTime:
		return parseDateTime(string(payload))
	case extDate:
		return ParseDate(string(payload))
	case extUUID:
		if len(payload) != 16 {
			return nil, fmt.Errorf("UUID ext of %d bytes", len(payload))
		}
		return UUID(payload), nil
	case extDecimal:
		return Decimal(payload), nil
	}
	return nil, fmt.Errorf("MessagePack ext type %d has no shared meaning", id)
}

// parseDateTime reads ISO-8601 with an offset, or without one (taken as UTC).
func parseDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

// decodeJSONValue decodes JSON text keeping integers exact (int64, or uint64 above
// math.MaxInt64) and numbers with a fraction or exponent as float64.
func decodeJSONValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("stratacache: bad JSON value: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("stratacache: bad JSON value: trailing data")
	}
	return convertJSONNumbers(v)
}

func convertJSONNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				return n, nil
			}
		}
		return strconv.ParseFloat(s, 64)
	case []any:
		for i, e := range x {
			c, err := convertJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case map[string]any:
		for k, e := range x {
			c, err := convertJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	}
	return v, nil
}
