package stratacache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAsyncCallsCompleteThroughTheQueue(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	var futures []*Future[struct{}]
	for i := range 100 {
		futures = append(futures, c.SetAsync(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), time.Minute))
	}
	for _, f := range futures {
		if _, err := f.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.FlushL1()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			got, err := c.GetAsync(ctx, fmt.Sprintf("k%d", i)).Wait()
			if err != nil || string(got) != fmt.Sprint(i) {
				t.Errorf("k%d: %q %v", i, got, err)
			}
		})
	}
	wg.Wait()
	if _, err := c.GetAsync(ctx, "absent").Wait(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("async miss: %v", err)
	}
	if n, err := c.DeleteAsync(ctx, "k1", "k2", "absent").Wait(); n != 2 || err != nil {
		t.Fatalf("async delete: %d %v", n, err)
	}
	if ok, err := c.ExistsAsync(ctx, "k3").Wait(); !ok || err != nil {
		t.Fatalf("async exists: %v %v", ok, err)
	}
	if ttl, err := c.TTLAsync(ctx, "k3").Wait(); ttl <= 50*time.Second || ttl > time.Minute || err != nil {
		t.Fatalf("async ttl: %v %v", ttl, err)
	}
	if _, err := c.TTLAsync(ctx, "absent").Wait(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("async ttl of a missing key: %v", err)
	}
	for want := int64(1); want <= 3; want++ {
		if n, err := c.IncrementAsync(ctx, "hits", 1, time.Minute).Wait(); n != want || err != nil {
			t.Fatalf("async increment: %d %v", n, err)
		}
	}
	_, err := c.IncrementAsync(ctx, "k3", 1, NoExpiry).Wait()
	var se *Error
	if !errors.As(err, &se) || se.Code != ErrWrongType || !strings.Contains(se.Message, "not an integer") {
		t.Fatalf("async error carries its completion's message: %v", err)
	}
}

func TestAsyncWaitReturnsContextErrorAndTheLateCompletionIsDrained(t *testing.T) {
	c := openTest(t)
	if reply, err := testRedis.Command([]byte("CLIENT"), []byte("PAUSE"), []byte("500"), []byte("WRITE")); err != nil || reply != "+OK\r\n" {
		t.Fatalf("client pause: %q %v", reply, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := c.SetAsync(ctx, "late", []byte("v"), time.Minute)
	cancel()
	if _, err := f.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after cancel: %v", err)
	}
	// The write itself was submitted: once the pause ends it lands, and its completion
	// is drained by the queue goroutine (no one waits for it).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.FlushL1()
		if got, err := c.Get(context.Background(), "late"); err == nil && string(got) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled wait's write never landed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAsyncOnClosedCacheIsRefusedAtOnce(t *testing.T) {
	c, err := Open("mem://")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.GetAsync(context.Background(), "k").Wait(); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit on a closed cache: %v", err)
	}
}
