package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stratacache/stratacache/bindings/go/internal/redisserver"
)

// A few cases of every kind; tests/matrix/cases.json is used too when the checkout has it.
const smallCases = `{"cases": [
 {"name": "i", "format": "msgpack", "value": {"$int": "18446744073709551615"}},
 {"name": "f", "format": "msgpack", "value": {"$float": "1e+300"}},
 {"name": "m", "format": "msgpack", "value": {"a": [{"$bytes": "00ff"}, null, true, {"$date": "2026-11-25"}],
   "t": {"$datetime": "2025-06-30T23:59:59.001-05:30"}, "u": {"$uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
   "d": {"$decimal": "-0.001"}, "r": {"$repeat": ["ab", 3]}}},
 {"name": "j", "format": "json", "value": {"one": {"$float": "1"}, "n": {"$int": "-9223372036854775808"}, "s": "x\ny"}},
 {"name": "r", "format": "raw", "value": {"$bytes": "fe5301"}}
]}`

// sameTJ compares two TJ documents as values (datetimes as instants).
func sameTJ(t *testing.T, want, got json.RawMessage) bool {
	t.Helper()
	w, err := fromTJ(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := fromTJ(got)
	if err != nil {
		t.Fatalf("output is not TJ: %v", err)
	}
	return reflect.DeepEqual(normalize(w), normalize(g))
}

func normalize(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UnixNano()
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

func runMatrix(t *testing.T, server *redisserver.Server, casesPath string, extra ...string) {
	url := server.URL("?compression_threshold=64")
	args := append([]string{"write", url, "t", "go", casesPath}, extra...)
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	args[0] = "read"
	if err := run(args, &stdout); err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(casesPath)
	var file struct{ Cases []matrixCase }
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range file.Cases {
		if !sameTJ(t, c.Value, out[c.Name]) {
			t.Errorf("%s: wrote %s, read %s", c.Name, c.Value, out[c.Name])
		}
	}
}

func TestWriteThenReadGivesBackEveryCase(t *testing.T) {
	server, err := redisserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	small := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(small, []byte(smallCases), 0o600); err != nil {
		t.Fatal(err)
	}
	key := "--key"
	secret := "7:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	runMatrix(t, server, small)
	runMatrix(t, server, small, key, secret)
	shared := filepath.Join("..", "..", "..", "..", "tests", "matrix", "cases.json")
	if _, err := os.Stat(shared); err == nil {
		runMatrix(t, server, shared, key, secret)
	}
	// A missing key is an error.
	if err := run([]string{"read", server.URL(""), "absent", "go", small}, io.Discard); err == nil {
		t.Fatal("reading cases never written must fail")
	}
}
