// Command stratacache-matrix is the Go participant of the cross-language value matrix
// (tests/matrix): it writes every case of a cases file through this package, or reads
// them back and prints them as typed JSON (TJ).
//
//	stratacache-matrix write URL PREFIX LANG CASES_JSON [--key ID:HEX]
//	stratacache-matrix read  URL PREFIX LANG CASES_JSON [--key ID:HEX]
//
// Keys are PREFIX:LANG:<case name>. read prints one JSON object {"<name>": TJ, ...};
// any error (a missing key included) goes to stderr with a non-zero exit.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	stratacache "github.com/stratacache/stratacache/bindings/go"
)

type matrixCase struct {
	Name   string          `json:"name"`
	Format string          `json:"format"`
	Value  json.RawMessage `json:"value"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stratacache-matrix:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) != 5 && !(len(args) == 7 && args[5] == "--key") {
		return fmt.Errorf("usage: stratacache-matrix write|read URL PREFIX LANG CASES_JSON [--key ID:HEX]")
	}
	mode, url, prefix, lang, casesPath := args[0], args[1], args[2], args[3], args[4]
	var opts []stratacache.Option
	if len(args) == 7 {
		key, err := parseKey(args[6])
		if err != nil {
			return err
		}
		opts = append(opts, stratacache.WithKey(key))
	}
	data, err := os.ReadFile(casesPath)
	if err != nil {
		return err
	}
	var file struct {
		Cases []matrixCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("%s: %w", casesPath, err)
	}
	cache, err := stratacache.Open(url, opts...)
	if err != nil {
		return err
	}
	defer cache.Close()
	ctx := context.Background()
	switch mode {
	case "write":
		for _, c := range file.Cases {
			if err := write(ctx, cache, prefix+":"+lang+":"+c.Name, c); err != nil {
				return fmt.Errorf("case %s: %w", c.Name, err)
			}
		}
		return nil
	case "read":
		out := make(map[string]json.RawMessage, len(file.Cases))
		for _, c := range file.Cases {
			value, err := cache.GetValue(ctx, prefix+":"+lang+":"+c.Name)
			if err != nil {
				return fmt.Errorf("case %s: %w", c.Name, err)
			}
			tj, err := toTJ(value)
			if err != nil {
				return fmt.Errorf("case %s: %w", c.Name, err)
			}
			out[c.Name] = tj
		}
		text, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(text, '\n'))
		return err
	}
	return fmt.Errorf("unknown mode %q (write or read)", mode)
}

func parseKey(spec string) (stratacache.Key, error) {
	id, secretHex, ok := strings.Cut(spec, ":")
	n, err := strconv.ParseUint(id, 10, 32)
	if !ok || err != nil {
		return stratacache.Key{}, fmt.Errorf("--key wants ID:HEX, got %q", spec)
	}
	secret, err := hex.DecodeString(secretHex)
	if err != nil {
		return stratacache.Key{}, fmt.Errorf("--key: %w", err)
	}
	return stratacache.Key{ID: uint32(n), Secret: secret, Primary: true}, nil
}

// write stores one case through the package API in the case's format.
func write(ctx context.Context, cache *stratacache.Cache, key string, c matrixCase) error {
	value, err := fromTJ(c.Value)
	if err != nil {
		return err
	}
	switch c.Format {
	case "msgpack":
		return cache.SetValue(ctx, key, value, stratacache.NoExpiry)
	case "json":
		text, err := appendJSON(nil, value)
		if err != nil {
			return err
		}
		return cache.SetJSON(ctx, key, json.RawMessage(text), stratacache.NoExpiry)
	case "raw":
		raw, ok := value.([]byte)
		if !ok {
			return fmt.Errorf("a raw case's value must be $bytes, got %T", value)
		}
		return cache.Set(ctx, key, raw, stratacache.NoExpiry)
	}
	return fmt.Errorf("unknown format %q", c.Format)
}
