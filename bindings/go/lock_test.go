package stratacache

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLockExcludesFencesAndWakesTheWaiter(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	a, b := openTestPrefix(t, prefix, ""), openTestPrefix(t, prefix, "")
	first, err := a.Lock(ctx, "job", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, "job", 10*time.Second, 0); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("a held lock must not be taken: %v", err)
	}
	if err := first.Extend(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lock, 1)
	go func() {
		lk, err := b.Lock(ctx, "job", 10*time.Second, 30*time.Second) // woken by the release
		if err != nil {
			t.Error(err)
		}
		got <- lk
	}()
	time.Sleep(100 * time.Millisecond)
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	second := <-got
	if second == nil || second.Fence() <= first.Fence() {
		t.Fatalf("fencing tokens must grow: %d then %v", first.Fence(), second)
	}
	if err := first.Release(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second release: %v", err)
	}
	if err := second.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestLockPastItsTTLIsNoLongerOurs(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	lk, err := c.Lock(ctx, "short", 50*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := lk.Extend(time.Second); !errors.Is(err, ErrAborted) {
		t.Fatalf("extend after expiry: %v", err)
	}
	if err := lk.Release(); !errors.Is(err, ErrAborted) {
		t.Fatalf("release after expiry: %v", err)
	}
}
