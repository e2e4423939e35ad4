package stratacache

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// redisServer is a real redis-server on a free loopback port, started by TestMain.
type redisServer struct {
	port int
	cmd  *exec.Cmd
	dir  string
}

var testRedis *redisServer

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startRedis() (*redisServer, error) {
	binary := os.Getenv("REDIS_SERVER_BIN")
	if binary == "" {
		binary = "redis-server"
	}
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "stratacache-goredis-")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(binary, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
				conn.Close()
				return &redisServer{port: port, cmd: cmd, dir: dir}, nil
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	return nil, fmt.Errorf("could not start redis-server")
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	os.RemoveAll(r.dir)
}

func (r *redisServer) url(params string) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0%s", r.port, params)
}

// command sends one binary-safe command and returns the first reply line.
func (r *redisServer) command(args ...[]byte) (string, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	req := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		req = fmt.Appendf(req, "$%d\r\n", len(a))
		req = append(append(req, a...), "\r\n"...)
	}
	if _, err := conn.Write(req); err != nil {
		return "", err
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return line, err
}

func TestMain(m *testing.M) {
	var err error
	testRedis, err = startRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testRedis.stop()
	os.Exit(code)
}
