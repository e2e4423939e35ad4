package stratacache

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The golden envelopes of tests/golden (docs/envelope.md), decoded through this
// package: every "ok" vector to its Go value, every "error" vector to an error.
func TestGoldenVectors(t *testing.T) {
	manifestPath := filepath.Join("..", "..", "tests", "golden", "manifest.json")
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Vectors []struct {
			Name      string  `json:"name"`
			Hex       string  `json:"hex"`
			Namespace string  `json:"namespace"`
			Key       string  `json:"key"`
			KeyID     *uint32 `json:"key_id"`
			KeyHex    *string `json:"key_hex"`
			Expect    string  `json:"expect"`
			Error     string  `json:"error"`
			Negative  bool    `json:"negative"`
			ValueJSON *string `json:"value_json"`
			ValueHex  *string `json:"value_hex"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	wantCode := map[string]Code{"data_loss": ErrCorrupt, "unsupported": ErrUnsupported, "too_large": ErrTooBig}
	for _, v := range manifest.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			envelope, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			var opts []Option
			if v.KeyHex != nil {
				secret, _ := hex.DecodeString(*v.KeyHex)
				opts = append(opts, WithKey(Key{ID: *v.KeyID, Secret: secret, Primary: true}))
			}
			data, format, err := DecodeEnvelope(envelope, v.Namespace, v.Key, opts...)
			switch {
			case v.Expect == "error":
				want, known := wantCode[v.Error]
				if !known || !errors.Is(err, want) {
					t.Fatalf("want %s (%v), got %v", v.Error, want, err)
				}
				return
			case v.Negative:
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("negative marker: want ErrNotFound, got %v", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got, err := DecodeValue(data, format)
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if v.ValueHex != nil {
				want, _ = hex.DecodeString(*v.ValueHex)
			} else if want, err = decodeJSONValue([]byte(*v.ValueJSON)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded value differs:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}
