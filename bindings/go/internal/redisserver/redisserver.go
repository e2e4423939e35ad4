// Package redisserver starts real redis-server processes on free loopback ports, for
// the package's tests and benchmarks (never a mock).
package redisserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Server is one redis-server process.
type Server struct {
	Port int
	cmd  *exec.Cmd
	dir  string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs redis-server ($REDIS_SERVER_BIN, else the one on PATH) without
// persistence and returns once it accepts connections; five tries at a free port.
func Start() (*Server, error) {
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
			os.RemoveAll(dir)
			return nil, err
		}
		s := &Server{Port: port, cmd: cmd, dir: dir}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond); err == nil {
				conn.Close()
				return s, nil
			}
		}
		s.Stop()
	}
	return nil, fmt.Errorf("could not start redis-server")
}

// Addr is host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// URL is the stratacache URL of database 0 with params ("" or "?a=b&...") appended.
func (s *Server) URL(params string) string { return "redis://" + s.Addr() + "/0" + params }

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// Command sends one binary-safe command and returns the first reply line.
func (s *Server) Command(args ...[]byte) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
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
	return bufio.NewReader(conn).ReadString('\n')
}
