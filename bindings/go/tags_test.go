package stratacache

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWarmFillsL1FromRedis(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	writer := openTestPrefix(t, prefix, "")
	for _, k := range []string{"a", "b"} {
		if err := writer.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Reads from Redis never enter this handle's L1 on their own.
	reader := openTestPrefix(t, prefix, "&l1_promote_after=1000000")
	if found, err := reader.Warm(ctx, "a", "b", "absent"); found != 2 || err != nil {
		t.Fatalf("warm: %d %v", found, err)
	}
	if _, err := reader.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	stats, _ := reader.Stats()
	if stats["l1.hits"] != 1 {
		t.Fatalf("a warmed key is an L1 hit: %v", stats["l1.hits"])
	}
}

func TestTagsAndDependenciesAreInvalidated(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	if err := c.Set(ctx, "report", []byte("v"), time.Minute, Tags("user:42", "reports")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetValue(ctx, "summary", "s", time.Minute, DependsOn("report")); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "untagged", []byte("u"), time.Minute); err != nil { // the pooled options were cleared
		t.Fatal(err)
	}
	if n, err := c.InvalidateTags(ctx, "user:42"); n < 1 || err != nil {
		t.Fatalf("invalidate: %d %v", n, err)
	}
	for _, k := range []string{"report", "summary"} {
		if _, err := c.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: an invalidated entry and its dependent are gone: %v", k, err)
		}
	}
	if _, err := c.Get(ctx, "untagged"); err != nil {
		t.Fatalf("an untagged entry stays: %v", err)
	}
	if err := c.Set(ctx, "bad", []byte("v"), time.Minute, Tags("")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty tag is refused: %v", err)
	}
	if n, err := c.InvalidateTags(ctx); n != 0 || err != nil {
		t.Fatalf("no tags: %d %v", n, err)
	}
}
