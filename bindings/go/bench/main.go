// Command bench puts the Go package side by side with the C ABI and with
// go-redis/cache (go-redis v9, its TinyLFU local cache) on one Redis, in one run:
// L1 hit in ns and L2 GET in µs, the median of -runs repeated measurements.
//
//	go run . [-runs 5]
//
// It starts its own redis-server ($REDIS_SERVER_BIN or PATH) on a free loopback port.
package main

/*
#cgo pkg-config: stratacache
#include <stdlib.h>
#include <time.h>
#include <stratacache.h>

// The C baseline: the same read in a C loop, no Go in between.
static double c_get_into_ns(stratacache_cache *c, const char *key, size_t key_len, long iters) {
	char buf[256];
	size_t n;
	int format;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++) {
		if (stratacache_get_into(&n, &format, c, key, key_len, buf, sizeof buf, NULL) != 0) return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)iters;
}
*/
import "C"

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
	"unsafe"

	rcache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	stratacache "github.com/stratacache/stratacache/bindings/go"
	"github.com/stratacache/stratacache/bindings/go/internal/redisserver"
)

const key = "bench:key"

var value = bytes.Repeat([]byte("v"), 100)

func main() {
	runs := flag.Int("runs", 5, "repeated measurements (the median is printed)")
	flag.Parse()
	server, err := redisserver.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = run(server, *runs)
	server.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// row is one line of a table: its name and one measurement (ns/op).
type row struct {
	name    string
	measure func() (float64, error)
	results []float64
}

// goRow measures f with testing.Benchmark (about a second per measurement).
func goRow(name string, f func() error) *row {
	return &row{name: name, measure: func() (float64, error) {
		if err := f(); err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				_ = f()
			}
		})
		return float64(r.T.Nanoseconds()) / float64(r.N), nil
	}}
}

// cRow measures the C loop on its own handle of url.
func cRow(name, url string, iters int) (*row, func(), error) {
	curl := C.CString(url)
	defer C.free(unsafe.Pointer(curl))
	var h *C.stratacache_cache
	if rc := C.stratacache_open(&h, curl); rc != 0 {
		return nil, nil, fmt.Errorf("C open: %d", rc)
	}
	ckey := C.CString(key)
	closeC := func() { C.stratacache_close(h); C.free(unsafe.Pointer(ckey)) }
	return &row{name: name, measure: func() (float64, error) {
		ns := float64(C.c_get_into_ns(h, ckey, C.size_t(len(key)), C.long(iters)))
		if ns < 0 {
			return 0, fmt.Errorf("C get_into failed")
		}
		return ns, nil
	}}, closeC, nil
}

func (r *row) median() float64 {
	s := slices.Sorted(slices.Values(r.results))
	return s[len(s)/2]
}

func run(server *redisserver.Server, runs int) error {
	ctx := context.Background()
	base := server.URL("")
	l2Only := server.URL("?l1_promote_after=1000000000") // reads never enter L1: every Get is a GET
	sc, err := stratacache.Open(base)
	if err != nil {
		return err
	}
	defer sc.Close()
	if err := sc.Set(ctx, key, value, stratacache.NoExpiry); err != nil {
		return err
	}
	scL2, err := stratacache.Open(l2Only)
	if err != nil {
		return err
	}
	defer scL2.Close()

	rdb := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer rdb.Close()
	withLocal := rcache.New(&rcache.Options{Redis: rdb, LocalCache: rcache.NewTinyLFU(10000, time.Minute)})
	redisOnly := rcache.New(&rcache.Options{Redis: rdb})
	if err := withLocal.Set(&rcache.Item{Ctx: ctx, Key: "grc:" + key, Value: value}); err != nil {
		return err
	}
	if err := rdb.Set(ctx, "plain:"+key, value, 0).Err(); err != nil {
		return err
	}

	cL1, closeL1, err := cRow("C stratacache_get_into (anchor)", base, 2_000_000)
	if err != nil {
		return err
	}
	defer closeL1()
	cL2, closeL2, err := cRow("C stratacache_get_into (anchor)", l2Only, 20_000)
	if err != nil {
		return err
	}
	defer closeL2()
	buf := make([]byte, 256)
	var out []byte
	l1 := []*row{cL1,
		goRow("stratacache-go GetInto", func() error { _, _, err := sc.GetInto(ctx, key, buf); return err }),
		goRow("stratacache-go Get", func() error { _, err := sc.Get(ctx, key); return err }),
		goRow("go-redis/cache TinyLFU hit", func() error { return withLocal.Get(ctx, "grc:"+key, &out) }),
	}
	l2 := []*row{cL2,
		goRow("stratacache-go Get", func() error { _, err := scL2.Get(ctx, key); return err }),
		goRow("stratacache-go GetAsync().Wait()", func() error { _, err := scL2.GetAsync(ctx, key).Wait(); return err }),
		goRow("go-redis/cache (no local cache)", func() error { return redisOnly.Get(ctx, "grc:"+key, &out) }),
		goRow("go-redis v9 GET", func() error { _, err := rdb.Get(ctx, "plain:"+key).Bytes(); return err }),
	}
	// Rounds: every row once per round, each round starting one row later, so load that
	// comes and goes (and what a row leaves behind) hits all rows alike.
	all := slices.Concat(l1, l2)
	for round := range runs {
		for i := range all {
			r := all[(round+i)%len(all)]
			ns, err := r.measure()
			if err != nil {
				return err
			}
			r.results = append(r.results, ns)
		}
	}
	fmt.Printf("Go package vs C and go-redis/cache: 100-byte value, median of %d interleaved runs, one Redis on loopback\n\n", runs)
	fmt.Printf("| %-34s | %12s | %10s |\n", "L1 hit", "ns/op", "x C")
	fmt.Printf("|%s|%s|%s|\n", dashes(36), dashes(14), dashes(12))
	for _, r := range l1 {
		fmt.Printf("| %-34s | %12.0f | %10.2f |\n", r.name, r.median(), r.median()/cL1.median())
	}
	fmt.Printf("\n| %-34s | %12s | %10s |\n", "L2 GET (Redis round trip)", "µs/op", "x C")
	fmt.Printf("|%s|%s|%s|\n", dashes(36), dashes(14), dashes(12))
	for _, r := range l2 {
		fmt.Printf("| %-34s | %12.1f | %10.2f |\n", r.name, r.median()/1000, r.median()/cL2.median())
	}
	return nil
}

func dashes(n int) string { return string(bytes.Repeat([]byte("-"), n)) }
