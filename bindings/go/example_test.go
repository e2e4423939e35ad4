package stratacache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	stratacache "github.com/stratacache/stratacache/bindings/go"
)

func Example() {
	cache, err := stratacache.Open("mem://") // or "redis://127.0.0.1:6379/0?prefix=app:"
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	// MessagePack that every stratacache language reads back as its own types.
	user := map[string]any{"name": "Alice", "visits": 3}
	if err := cache.SetValue(ctx, "user:123", user, 10*time.Minute); err != nil {
		log.Fatal(err)
	}
	got, err := cache.GetValue(ctx, "user:123")
	fmt.Println(got, err)

	// A miss is ErrNotFound.
	if _, err := cache.Get(ctx, "absent"); errors.Is(err, stratacache.ErrNotFound) {
		fmt.Println("miss")
	}

	// Read-through: one load per key across goroutines (and processes, with Redis).
	page, err := cache.GetOrLoad(ctx, "report:7", func(ctx context.Context, key string) ([]byte, error) {
		return []byte("rendered " + key), nil
	}, stratacache.LoadOptions{TTL: time.Hour})
	fmt.Println(string(page), err)

	// Asynchronous: nothing blocks until Wait.
	raw, err := cache.GetAsync(ctx, "report:7").Wait()
	fmt.Println(string(raw), err)
	// Output:
	// map[name:Alice visits:3] <nil>
	// miss
	// rendered report:7 <nil>
	// rendered report:7 <nil>
}
