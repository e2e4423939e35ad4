package stratacache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetOrLoadLoadsOncePerKeyAcrossGoroutines(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(ctx context.Context, key string) ([]byte, error) {
		loads.Add(1)
		<-release
		return []byte("loaded:" + key), nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := c.GetOrLoad(ctx, "user:1", load, LoadOptions{TTL: time.Minute})
			if err != nil || string(got) != "loaded:user:1" {
				t.Errorf("get or load: %q %v", got, err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let the callers pile up behind the first load
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loader ran %d times, want 1", n)
	}
	if got, err := c.Get(ctx, "user:1"); err != nil || string(got) != "loaded:user:1" {
		t.Fatalf("the loaded value is cached: %q %v", got, err)
	}
}

func TestGetOrLoadNotFoundFailureAndPanic(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	var calls atomic.Int32
	missing := func(context.Context, string) ([]byte, error) { calls.Add(1); return nil, ErrNotFound }
	for range 2 {
		if _, err := c.GetOrLoad(ctx, "ghost", missing, LoadOptions{NegativeTTL: time.Minute}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("negative entry not remembered: %d loads", n)
	}
	failing := func(context.Context, string) ([]byte, error) { return nil, errors.New("database down") }
	_, err := c.GetOrLoad(ctx, "broken", failing, LoadOptions{})
	if !errors.Is(err, ErrLoadFailed) || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("failing loader: %v", err)
	}
	panicking := func(context.Context, string) ([]byte, error) { panic("boom") }
	_, err = c.GetOrLoad(ctx, "panics", panicking, LoadOptions{})
	if !errors.Is(err, ErrLoadFailed) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking loader: %v", err)
	}
	if _, err := c.Get(ctx, "broken"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed load is never cached: %v", err)
	}
}
