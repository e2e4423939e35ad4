package stratacache

import (
	"bytes"
	"context"
	"testing"
)

// go test -bench . -run '^$' : the per-call cost of the package. bench/ puts these side
// by side with C and go-redis/cache in one run.

func benchCache(b *testing.B, params string) *Cache {
	c, err := Open(testRedis.URL(params))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	if err := c.Set(context.Background(), "bench:key", bytes.Repeat([]byte("v"), 100), NoExpiry); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkL1HitGetInto(b *testing.B) {
	c := benchCache(b, "")
	ctx := context.Background()
	buf := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.GetInto(ctx, "bench:key", buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkL1HitGet(b *testing.B) {
	c := benchCache(b, "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "bench:key"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkL1HitParallel(b *testing.B) {
	c := benchCache(b, "")
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		buf := make([]byte, 256)
		for pb.Next() {
			if _, _, err := c.GetInto(ctx, "bench:key", buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// L2: values never enter L1 (promotion threshold out of reach), so every Get is a GET.
func BenchmarkL2Get(b *testing.B) {
	c := benchCache(b, "?l1_promote_after=1000000000")
	c.FlushL1()
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Get(ctx, "bench:key"); err != nil {
			b.Fatal(err)
		}
	}
}
