#!/usr/bin/env bash
# The Go package against the installed library (pkg-config): go vet, the tests under the
# race detector (they start their own redis-server), a fresh module that imports the
# package, and the value-matrix participant.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

go vet ./...
go test -race -count=1 ./...
(cd bench && go vet ./...)
go build -o bin/stratacache-matrix ./cmd/stratacache-matrix

# A user's module: require the package, point it here with a replace directive.
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
cat > "$fresh/go.mod" <<MOD
module example.com/freshuser

go 1.26

require github.com/stratacache/stratacache/bindings/go v0.0.0

replace github.com/stratacache/stratacache/bindings/go => $here
MOD
cat > "$fresh/main.go" <<'GO'
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	stratacache "github.com/stratacache/stratacache/bindings/go"
)

func main() {
	cache, err := stratacache.Open("mem://")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cache.Close()
	ctx := context.Background()
	if err := cache.SetValue(ctx, "greeting", map[string]any{"hello": "world"}, stratacache.NoExpiry); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	v, err := cache.GetValue(ctx, "greeting")
	_, miss := cache.Get(ctx, "absent")
	if err != nil || !errors.Is(miss, stratacache.ErrNotFound) {
		fmt.Fprintln(os.Stderr, "fresh module:", v, err, miss)
		os.Exit(1)
	}
	fmt.Println("fresh module:", v)
}
GO
# The package's go.sum vouches for its dependencies: no download beyond setup.sh's.
cp go.sum "$fresh/go.sum"
(cd "$fresh" && GOFLAGS=-mod=mod go run .)
