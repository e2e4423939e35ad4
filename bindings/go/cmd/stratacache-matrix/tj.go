package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	stratacache "github.com/stratacache/stratacache/bindings/go"
)

// fromTJ turns typed JSON into the Go values the package stores: $int as int64 (or
// uint64 above math.MaxInt64), $float float64, $bytes []byte, $datetime time.Time,
// $date/$uuid/$decimal the package's Date/UUID/Decimal, $repeat the repeated string.
func fromTJ(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convertTJ(v)
}

func convertTJ(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		return nil, fmt.Errorf("bare number %s (TJ writes numbers as $int or $float)", x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := convertTJ(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for tag, arg := range x {
				if strings.HasPrefix(tag, "$") {
					return convertTag(tag, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := convertTJ(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

func convertTag(tag string, arg any) (any, error) {
	if tag == "$repeat" {
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, fmt.Errorf("$repeat wants [string, count]")
		}
		s, ok1 := parts[0].(string)
		n, err := parts[1].(json.Number).Int64()
		if !ok1 || err != nil || n < 0 {
			return nil, fmt.Errorf("$repeat wants [string, count]")
		}
		return strings.Repeat(s, int(n)), nil
	}
	text, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("%s wants a string", tag)
	}
	switch tag {
	case "$int":
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		return strconv.ParseUint(text, 10, 64)
	case "$float":
		f, err := strconv.ParseFloat(text, 64)
		if err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, fmt.Errorf("$float %q is not finite", text)
		}
		return f, err
	case "$bytes":
		return hex.DecodeString(text)
	case "$datetime":
		return time.Parse(time.RFC3339Nano, text)
	case "$date":
		return stratacache.ParseDate(text)
	case "$uuid":
		return stratacache.ParseUUID(text)
	case "$decimal":
		return stratacache.Decimal(text), nil
	}
	return nil, fmt.Errorf("unknown tag %s", tag)
}

// toTJ writes a value read back as canonical TJ.
func toTJ(v any) (json.RawMessage, error) {
	var buf []byte
	err := appendTJ(&buf, v)
	return buf, err
}

func tagged(buf *[]byte, tag, text string) {
	*buf = append(*buf, `{"`...)
	*buf = append(*buf, tag...)
	*buf = append(*buf, `":`...)
	appendString(buf, text)
	*buf = append(*buf, '}')
}

func appendString(buf *[]byte, s string) {
	quoted, _ := json.Marshal(s) // valid JSON for any UTF-8 text
	*buf = append(*buf, quoted...)
}

func appendTJ(buf *[]byte, v any) error {
	switch x := v.(type) {
	case nil:
		*buf = append(*buf, "null"...)
	case bool:
		*buf = strconv.AppendBool(*buf, x)
	case int64:
		tagged(buf, "$int", strconv.FormatInt(x, 10))
	case uint64:
		tagged(buf, "$int", strconv.FormatUint(x, 10))
	case float64:
		tagged(buf, "$float", strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		appendString(buf, x)
	case []byte:
		tagged(buf, "$bytes", hex.EncodeToString(x))
	case time.Time:
		tagged(buf, "$datetime", x.Format("2006-01-02T15:04:05.999999999-07:00"))
	case stratacache.Date:
		tagged(buf, "$date", x.String())
	case stratacache.UUID:
		tagged(buf, "$uuid", x.String())
	case stratacache.Decimal:
		tagged(buf, "$decimal", string(x))
	case []any:
		*buf = append(*buf, '[')
		for i, e := range x {
			if i > 0 {
				*buf = append(*buf, ',')
			}
			if err := appendTJ(buf, e); err != nil {
				return err
			}
		}
		*buf = append(*buf, ']')
	case map[string]any:
		*buf = append(*buf, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				*buf = append(*buf, ',')
			}
			appendString(buf, k)
			*buf = append(*buf, ':')
			if err := appendTJ(buf, x[k]); err != nil {
				return err
			}
		}
		*buf = append(*buf, '}')
	default:
		return fmt.Errorf("no TJ form for %T", v)
	}
	return nil
}

// appendJSON writes a json-format case: plain JSON, with floats that keep a fraction
// or exponent so that every reader reads them back as floats.
func appendJSON(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case float64:
		text := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(text, ".e") {
			text += ".0"
		}
		return append(buf, text...), nil
	case string:
		quoted, _ := json.Marshal(x)
		return append(buf, quoted...), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		buf = append(buf, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				buf = append(buf, ',')
			}
			quoted, _ := json.Marshal(k)
			buf = append(append(buf, quoted...), ':')
			var err error
			if buf, err = appendJSON(buf, x[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	return nil, fmt.Errorf("%T has no JSON form (json cases hold null, bool, $int, $float, string, array, map)", v)
}
