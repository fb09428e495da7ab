// Package benchkit holds what the benchmark programs under bench/ share:
// building and running the selo binary, starting `selo serve` on a free
// port, reading the SMS codes it texts, and reading load and CPU time from
// /proc.
package benchkit

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Selo returns bin, or where bin is empty a selo binary built from
// ./cmd/selo into dir (the programs run from the repository root).
func Selo(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "selo")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/selo").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Output runs the selo binary bin with args in the environment env and
// returns its standard output; a failure names the subcommand (the first
// two args) and carries what selo wrote to standard error.
func Output(env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("selo %s: %v\n%s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	return out, nil
}

// Server is a `selo serve` started by StartServer.
type Server struct {
	Addr string // host:port it listens on
	PID  int    // its process ID, for ProcessCPU
	cmd  *exec.Cmd
}

// StartServer starts `selo serve --listen ADDR --no-init --log-level error`
// followed by extra, on a free local port, and returns once /healthz answers
// 200 (or fails after 30 seconds). Its standard error is discarded.
func StartServer(env []string, bin string, extra ...string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--no-init", "--log-level", "error"}, extra...)...)
	cmd.Env = env
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, PID: cmd.Process.Pid, cmd: cmd}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.Stop()
	return nil, fmt.Errorf("server did not start")
}

// Stop interrupts the server (SIGINT, its graceful shutdown) and waits for it
// to exit.
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// SMSCode returns the one-time code in the text of an SMS (a word of 6 to 8
// digits), as the holder reads it, or "" where there is none.
func SMSCode(text string) string {
	for _, f := range strings.Fields(text) {
		if f = strings.TrimRight(f, ".,:"); len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	return ""
}

// LoadAverage returns the 1, 5 and 15 minute load averages, or "?" where
// /proc/loadavg cannot be read.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// ProcessCPU returns the user + system CPU seconds process pid has used so
// far (utime + stime of /proc/PID/stat, USER_HZ 100), or 0 where it cannot
// be read.
func ProcessCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+st) / 100
}

// Median returns the median of xs (the mean of the two middle values when
// their number is even) without reordering xs; T is a float64 ratio or a
// time.Duration. xs must not be empty.
func Median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return m
}
