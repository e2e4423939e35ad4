package stratacache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testRuns atomic.Int64

// uniquePrefix is a key prefix no other test, nor an earlier run of this one (-count),
// has used on the shared test Redis.
func uniquePrefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("%s:%d:", name, testRuns.Add(1))
}

// openTest opens a cache on the test Redis with a prefix of its own.
func openTest(t testing.TB, opts ...Option) *Cache {
	t.Helper()
	return openTestPrefix(t, uniquePrefix(t), "", opts...)
}

func openTestPrefix(t testing.TB, prefix, params string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(testRedis.URL("?prefix="+prefix+params), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestSetGetDeleteRoundTripAndMissIsErrNotFound(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	if _, err := c.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("miss: got %v, want ErrNotFound", err)
	}
	value := []byte("v\x00\r\n*binary")
	if err := c.Set(ctx, "k", value, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k")
	if err != nil || string(got) != string(value) {
		t.Fatalf("get: %q %v", got, err)
	}
	big := []byte(strings.Repeat("x", 100_000)) // larger than the landing buffer
	if err := c.Set(ctx, "big", big, NoExpiry); err != nil {
		t.Fatal(err)
	}
	c.FlushL1()
	if got, err := c.Get(ctx, "big"); err != nil || string(got) != string(big) {
		t.Fatalf("big get: %d bytes %v", len(got), err)
	}
	if ok, err := c.Exists(ctx, "k"); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if n, err := c.Delete(ctx, "k", "absent", "big"); n != 2 || err != nil {
		t.Fatalf("delete: %d %v", n, err)
	}
	if ok, _ := c.Exists(ctx, "k"); ok {
		t.Fatal("deleted key still exists")
	}
}

func TestGetIntoReportsTheSizeNeeded(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	if err := c.Set(ctx, "k", []byte("0123456789"), NoExpiry); err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 4)
	n, _, err := c.GetInto(ctx, "k", small)
	if !errors.Is(err, ErrTooBig) || n != 10 {
		t.Fatalf("small buffer: n=%d err=%v", n, err)
	}
	buf := make([]byte, n)
	n, format, err := c.GetInto(ctx, "k", buf)
	if err != nil || n != 10 || format != FormatRaw || string(buf) != "0123456789" {
		t.Fatalf("get into: n=%d format=%d err=%v %q", n, format, err, buf)
	}
}

func TestTTLIncrementAndWrongTypeCarriesItsMessage(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	if _, err := c.TTL(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ttl of a missing key: %v", err)
	}
	if err := c.Set(ctx, "forever", []byte("x"), NoExpiry); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.TTL(ctx, "forever"); ttl != NoExpiry || err != nil {
		t.Fatalf("ttl forever: %v %v", ttl, err)
	}
	if err := c.Set(ctx, "minute", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.TTL(ctx, "minute"); ttl <= 50*time.Second || ttl > time.Minute || err != nil {
		t.Fatalf("ttl minute: %v %v", ttl, err)
	}
	for want := int64(5); want <= 15; want += 5 {
		if got, err := c.Increment(ctx, "counter", 5, time.Minute); got != want || err != nil {
			t.Fatalf("increment: %d %v, want %d", got, err, want)
		}
	}
	_, err := c.Increment(ctx, "forever", 1, NoExpiry)
	var se *Error
	if !errors.Is(err, ErrWrongType) || !errors.As(err, &se) || se.Op != "increment" {
		t.Fatalf("increment of a string: %v", err)
	}
}

func TestClearPatternGetManySetMany(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	items := map[string][]byte{"user:1": []byte("a"), "user:2": []byte("b"), "user:3": {}, "other": []byte("o")}
	if err := c.SetMany(ctx, items, time.Minute); err != nil {
		t.Fatal(err)
	}
	c.FlushL1() // read through Redis
	got, err := c.GetMany(ctx, []string{"user:1", "user:2", "user:3", "user:4", "other"})
	if err != nil || len(got) != 4 || string(got["user:2"]) != "b" || got["user:3"] == nil || len(got["user:3"]) != 0 {
		t.Fatalf("get many: %q %v", got, err)
	}
	if n, err := c.ClearPattern(ctx, "user:*"); n != 3 || err != nil {
		t.Fatalf("clear pattern: %d %v", n, err)
	}
	if ok, _ := c.Exists(ctx, "user:1"); ok {
		t.Fatal("cleared key still exists")
	}
	if ok, _ := c.Exists(ctx, "other"); !ok {
		t.Fatal("a key outside the pattern was cleared")
	}
}

func TestJSONAndMessagePackHelpers(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	if err := c.SetJSON(ctx, "json", user{"Zoë", 41}, time.Minute); err != nil {
		t.Fatal(err)
	}
	var u user
	if err := c.GetJSON(ctx, "json", &u); err != nil || u != (user{"Zoë", 41}) {
		t.Fatalf("get json: %+v %v", u, err)
	}
	when := time.Date(2026, 11, 25, 12, 34, 56, 789_000_000, time.FixedZone("", 2*3600))
	value := map[string]any{"name": "Zoë", "age": int64(41), "big": uint64(1 << 63), "score": 1.5,
		"raw": []byte{0, 255}, "when": when, "day": Date{2026, 11, 25}, "price": Decimal("12.50"),
		"id": UUID{0x1b, 0x4e, 0x28, 0xba}, "tags": []any{"a", nil, true}}
	if err := c.SetValue(ctx, "mp", value, time.Minute); err != nil {
		t.Fatal(err)
	}
	c.FlushL1()
	got, err := c.GetValue(ctx, "mp")
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if !m["when"].(time.Time).Equal(when) {
		t.Fatalf("datetime: %v", m["when"])
	}
	delete(m, "when")
	delete(value, "when")
	if fmt.Sprint(m) != fmt.Sprint(value) {
		t.Fatalf("msgpack round trip:\n got %v\nwant %v", m, value)
	}
	// The same value as JSON, through the library's conversion.
	var asJSON map[string]any
	if err := c.GetJSON(ctx, "mp", &asJSON); !errors.Is(err, ErrWrongType) {
		t.Fatalf("bytes have no JSON form: %v %v", asJSON, err)
	}
	// The library's own codec reads the ext types this package writes.
	shared := map[string]any{"day": Date{2026, 1, 2}, "n": 7, "when": when, "price": Decimal("12.50"),
		"id": UUID{0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27}}
	if err := c.SetValue(ctx, "mp2", shared, NoExpiry); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"day": "2026-01-02", "n": 7.0, "when": "2026-11-25T12:34:56.789+02:00",
		"price": "12.50", "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}
	if err := c.GetJSON(ctx, "mp2", &asJSON); err != nil || fmt.Sprint(asJSON) != fmt.Sprint(want) {
		t.Fatalf("msgpack as JSON: %v %v", asJSON, err)
	}
}

func TestEncryptionKeysAndBadOptionsNameTheParameter(t *testing.T) {
	ctx := context.Background()
	secret := make([]byte, 32)
	secret[0] = 9
	prefix := uniquePrefix(t) // three handles on the same keys
	enc := openTestPrefix(t, prefix, "", WithKey(Key{ID: 3, Secret: secret, Primary: true}))
	if err := enc.Set(ctx, "secret", []byte("hidden"), time.Minute); err != nil {
		t.Fatal(err)
	}
	plain := openTestPrefix(t, prefix, "")
	if _, err := plain.Get(ctx, "secret"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reading ciphertext without the key must be a miss: %v", err)
	}
	enc2 := openTestPrefix(t, prefix, "", WithKey(Key{ID: 3, Secret: secret}))
	if got, err := enc2.Get(ctx, "secret"); err != nil || string(got) != "hidden" {
		t.Fatalf("read with the key: %q %v", got, err)
	}
	_, err := Open(testRedis.URL("?socket_timeout=bogus"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "socket_timeout") {
		t.Fatalf("bad URL parameter: %v", err)
	}
	_, err = Open("mem://", WithKey(Key{ID: 1, Secret: []byte("short")}))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
}

func TestDeadlineBecomesTheCallTimeout(t *testing.T) {
	c := openTest(t)
	// Redis holds every client's commands for a second: the round trip waits.
	if reply, err := testRedis.Command([]byte("CLIENT"), []byte("PAUSE"), []byte("1000"), []byte("ALL")); err != nil || reply != "+OK\r\n" {
		t.Fatalf("client pause: %q %v", reply, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, "slow")
	if !errors.Is(err, ErrTimedOut) {
		t.Fatalf("get against a paused server: %v", err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Message == "" {
		t.Fatalf("timeout without a message: %#v", err)
	}
	_, _ = testRedis.Command([]byte("CLIENT"), []byte("UNPAUSE"))
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := c.Get(done, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestClosedCacheFailsCleanly(t *testing.T) {
	c, err := Open("mem://")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if err := c.Set(context.Background(), "k", []byte("v"), NoExpiry); !errors.Is(err, ErrClosed) {
		t.Fatalf("set after close: %v", err)
	}
}

func TestHealthAndStats(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	h, err := c.Health(ctx)
	if err != nil || !h.Healthy || h.Version == "" {
		t.Fatalf("health: %+v %v", h, err)
	}
	_ = c.Set(ctx, "k", []byte("v"), NoExpiry)
	for range 3 {
		_, _ = c.Get(ctx, "k")
	}
	stats, err := c.Stats()
	if err != nil || stats["l1.hits"] != 3 {
		t.Fatalf("stats: %v %v", stats, err)
	}
	down, err := Open("redis://127.0.0.1:1/0?socket_timeout=0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if h, err := down.Health(ctx); err != nil || h.Healthy || h.Error == "" {
		t.Fatalf("health of an unreachable Redis: %+v %v", h, err)
	}
}

func TestGoroutinesShareOneCacheAndEachErrorKeepsItsMessage(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	if err := c.Set(ctx, "text", []byte("not a number"), NoExpiry); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				key := fmt.Sprintf("g%d:%d", g, i)
				if err := c.Set(ctx, key, []byte(key), time.Minute); err != nil {
					errs <- err
					return
				}
				if got, err := c.Get(ctx, key); err != nil || string(got) != key {
					errs <- fmt.Errorf("get %s: %q %v", key, got, err)
					return
				}
				// Two different failures interleaved on the OS threads: each keeps its own message.
				_, err := c.Increment(ctx, "text", 1, NoExpiry)
				var se *Error
				if !errors.As(err, &se) || se.Code != ErrWrongType || !strings.Contains(se.Message, "not an integer") {
					errs <- fmt.Errorf("increment error lost its message: %v", err)
					return
				}
				err = c.Set(ctx, key, nil, 11*365*24*time.Hour)
				if !errors.As(err, &se) || se.Code != ErrInvalid || !strings.Contains(se.Message, "ttl") {
					errs <- fmt.Errorf("ttl error lost its message: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestOpenSharedIsOneCacheWithHandlesOfTheirOwn(t *testing.T) {
	a, err := OpenShared("go-shared-test", "mem://")
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenShared("go-shared-test", "mem://")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Set(ctx, "k", []byte("v"), DefaultTTL); err != nil {
		t.Fatal(err)
	}
	// mem:// has no Redis: only one shared L1 lets b see a's write.
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("b.Get = %q, %v", v, err)
	}
	if _, err := OpenShared("go-shared-test", "mem://?l1_max_entries=5"); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "go-shared-test") {
		t.Fatalf("other options under the same name: %v", err)
	}
	a.Close()
	if _, err := a.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed handle: %v", err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("b after a closed: %q, %v", v, err)
	}
	b.Close()
	c, err := OpenShared("go-shared-test", "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the last close the name opens a new cache: %v", err)
	}
}
