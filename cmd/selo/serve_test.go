package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stderrWatch reads a command's standard error line by line, keeps it, and
// hands over the address from "Selo is listening on http://ADDR".
type stderrWatch struct {
	mu    sync.Mutex
	text  strings.Builder
	addr  chan string
	ended chan struct{}
}

var listeningLine = regexp.MustCompile(`Selo is listening on http://(\S+)`)

func watchStderr(r io.Reader) *stderrWatch {
	w := &stderrWatch{addr: make(chan string, 1), ended: make(chan struct{})}
	go func() {
		defer close(w.ended)
		s := bufio.NewScanner(r)
		for s.Scan() {
			w.mu.Lock()
			w.text.WriteString(s.Text() + "\n")
			w.mu.Unlock()
			if m := listeningLine.FindStringSubmatch(s.Text()); m != nil {
				w.addr <- m[1]
			}
		}
		io.Copy(io.Discard, r)
	}()
	return w
}

func (w *stderrWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// waitListening returns the server's address, or fails when the command ends
// or takes too long first.
func (w *stderrWatch) waitListening(t *testing.T, exited <-chan struct{}) string {
	t.Helper()
	select {
	case addr := <-w.addr:
		return addr
	case <-exited:
		<-w.ended
		t.Fatalf("selo serve ended before listening:\n%s", w)
	case <-time.After(60 * time.Second):
		t.Fatalf("selo serve is not listening after a minute:\n%s", w)
	}
	return ""
}

func httpGet(t *testing.T, url, apiKey string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestServe runs `selo serve` in process, reads the public CA endpoints and
// the API with the key init printed, and stops it as Ctrl-C would; the CPU
// profile it was asked for is written when it stops.
func TestServe(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	_, initOut := templateDataDir(t)
	profile := filepath.Join(t.TempDir(), "cpu.prof")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	watch := watchStderr(pr)
	exited := make(chan struct{})
	var code int
	var stdout strings.Builder
	go func() {
		defer close(exited)
		code = Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--no-init", "--data", data, "--cpu-profile", profile}, strings.NewReader(""), &stdout, pw)
		pw.Close()
	}()
	base := "http://" + watch.waitListening(t, exited)

	if status, body := httpGet(t, base+"/healthz", ""); status != http.StatusOK {
		t.Errorf("GET /healthz: %d %s", status, body)
	}
	status, body := httpGet(t, base+"/ca/tls-rsa-v1.pem", "")
	if status != http.StatusOK {
		t.Fatalf("GET /ca/tls-rsa-v1.pem: %d %s", status, body)
	}
	chain := parsePEMCertificates(t, body)
	if len(chain) != 2 || chain[0].Subject.CommonName != "Selo Demo TLS CA RSA V1" {
		t.Errorf("GET /ca/tls-rsa-v1.pem: %d certificates", len(chain))
	}
	status, body = httpGet(t, base+"/ca/root-ecc-v1.crt", "")
	if root, err := x509.ParseCertificate(body); status != http.StatusOK || err != nil || !root.Equal(chain[1]) {
		t.Errorf("GET /ca/root-ecc-v1.crt: %d, %v", status, err)
	}
	if status, _ := httpGet(t, base+"/api/v1/cas", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/cas without a key: %d, want 401", status)
	}
	status, body = httpGet(t, base+"/api/v1/cas", initOut.APIKey)
	if status != http.StatusOK || !json.Valid(body) || !strings.Contains(string(body), "qualified-ecc-v1") {
		t.Errorf("GET /api/v1/cas with the key init printed: %d %s", status, body)
	}

	cancel()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("selo serve did not stop after its context was cancelled")
	}
	<-watch.ended
	if code != 0 || !strings.Contains(watch.String(), "selo stopped") {
		t.Errorf("selo serve stopped with exit %d:\n%s", code, watch)
	}
	// A pprof profile is a gzipped protocol buffer.
	if b, err := os.ReadFile(profile); err != nil || len(b) < 20 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpu-profile wrote %d bytes (%v), want a gzipped profile", len(b), err)
	}
}

// TestServeCPUProfileUnwritable: a profile path that cannot be created stops
// serve before it listens, with a message naming the flag's purpose.
func TestServeCPUProfileUnwritable(t *testing.T) {
	data := dataDir(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "cpu.prof")
	wantExit(t, runSelo(t, "serve", "--no-init", "--listen", "127.0.0.1:0", "--data", data, "--cpu-profile", missing), 1, "cpu profile", "no-such-dir")
}

func TestServeNoInit(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	wantExit(t, runSelo(t, "serve", "--no-init", "--listen", "127.0.0.1:0", "--data", data), 1, "not initialized", "selo init")
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("serve --no-init made the data directory (%v)", err)
	}
}

// TestCommandsNeedInit: outside init and serve, an uninitialized data
// directory is an error and stays as it was; no empty database is left.
func TestCommandsNeedInit(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"ca", "list"}, {"ca", "chain", "root-ecc-v1"}, {"ca", "create", "--id", "x", "--name", "X"},
		{"cert", "list"}, {"cert", "show", "0a"}, {"audit", "verify"}, {"audit", "list"}, {"apikey", "create", "ops"},
	} {
		wantExit(t, runSelo(t, append(args, "--data", data)...), 1, data+" is not initialized", "run 'selo init' first")
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a command on an uninitialized data directory made it (%v)", err)
	}
}

// TestServeSignals runs the real binary and stops it with SIGINT (Ctrl-C)
// and SIGTERM (systemd, Kubernetes): it must shut down cleanly and exit 0.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short")
	}
	bin := seloBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			data := dataDir(t)
			cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--no-init", "--data", data)
			cmd.Env = os.Environ()
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			watch := watchStderr(stderr)
			exited := make(chan struct{})
			var waitErr error
			go func() {
				<-watch.ended // Wait closes the pipe: read it all first
				waitErr = cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			base := "http://" + watch.waitListening(t, exited)
			if status, body := httpGet(t, base+"/healthz", ""); status != http.StatusOK {
				t.Fatalf("GET /healthz: %d %s", status, body)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("selo serve did not stop on %v:\n%s", sig, watch)
			}
			if waitErr != nil || cmd.ProcessState.ExitCode() != 0 || !strings.Contains(watch.String(), "selo stopped") {
				t.Errorf("selo serve on %v: %v, exit %d:\n%s", sig, waitErr, cmd.ProcessState.ExitCode(), watch)
			}
		})
	}
}

// TestServeListenInUse: a listen address already taken is an error that
// ends serve at once, background workers included, rather than a hang.
func TestServeListenInUse(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan result, 1)
	go func() { done <- runSelo(t, "serve", "--no-init", "--listen", ln.Addr().String(), "--data", data) }()
	select {
	case r := <-done:
		wantExit(t, r, 1, "listen on "+ln.Addr().String())
	case <-time.After(time.Minute):
		t.Fatal("serve hung on a listen address in use")
	}
}

// TestServeGCPercent: --gc-percent sets the collector's target unless the
// operator's GOGC already did; a negative one is a usage error.
func TestServeGCPercent(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	wantExit(t, runSelo(t, "serve", "--gc-percent", "-5", "--listen", "127.0.0.1:0", "--data", data), 2, "--gc-percent")

	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "")
	setGCPercent(250)
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("--gc-percent 250 left the target at %d", got)
	}
	setGCPercent(0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("--gc-percent 0 changed the target to %d", got)
	}
	t.Setenv("GOGC", "150")
	setGCPercent(250)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, --gc-percent changed the target to %d", got)
	}
}
