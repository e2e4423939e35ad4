package stratacache

import (
	"fmt"
	"os"
	"testing"

	"github.com/stratacache/stratacache/bindings/go/internal/redisserver"
)

// testRedis is the real redis-server every test talks to, started by TestMain.
var testRedis *redisserver.Server

func TestMain(m *testing.M) {
	var err error
	testRedis, err = redisserver.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testRedis.Stop()
	os.Exit(code)
}
