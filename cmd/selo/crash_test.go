package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// buildSelo compiles the selo binary once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func seloBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "selo-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "selo")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs `selo serve` and waits until /healthz answers.
func startServer(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--no-init", "--log-level", "warn"}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("server did not start: %s", stderr.String())
	return nil, ""
}

func newCSRPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// TestCrashDuringIssuance kills the server with SIGKILL in the middle of
// concurrent issuance, many times, and checks after each crash that the
// database opens cleanly, no serial was issued twice, every certificate has
// its audit entry, every issuance audit entry has its certificate, and the
// audit chain is intact.
func TestCrashDuringIssuance(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills the real binary; skipped in -short")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = postgresTestDSN(t)
			}
			runCrashTest(t, dsn)
		})
	}
}

// initCrashData runs 'selo init' in a fresh data directory (over the
// PostgreSQL database dsn, when not empty) and returns the environment that
// points selo at it and the operator API key init printed.
func initCrashData(t *testing.T, bin, dsn string) (env []string, apiKey string) {
	t.Helper()
	data := t.TempDir()
	env = append(os.Environ(), "SELO_DATA="+data)
	if dsn != "" {
		env = append(env, "SELO_DATABASE="+dsn)
	}
	var initOut bytes.Buffer
	initCmd := exec.Command(bin, "init", "--json")
	initCmd.Env, initCmd.Stdout, initCmd.Stderr = env, &initOut, os.Stderr
	if err := initCmd.Run(); err != nil {
		t.Fatalf("selo init: %v", err)
	}
	var ir struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(initOut.Bytes(), &ir); err != nil || ir.APIKey == "" {
		t.Fatalf("init output %q: %v", initOut.String(), err)
	}
	return env, ir.APIKey
}

func runCrashTest(t *testing.T, dsn string) {
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, dsn)
	csrs := make([]string, 64)
	for i := range csrs {
		csrs[i] = newCSRPEM(t, fmt.Sprintf("host%d.example.pt", i))
	}

	const rounds = 6
	var acknowledged atomic.Int64 // 201 responses: certificates the clients were told exist
	acked := sync.Map{}
	for round := 0; round < rounds; round++ {
		cmd, addr := startServer(t, bin, env)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					body, _ := json.Marshal(map[string]string{"profile": "tls-server", "csr": csrs[(w*7+i)%len(csrs)]})
					req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/api/v1/certificates", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+apiKey)
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						continue // the server died under us: expected
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated {
						var c struct{ Serial string }
						if json.Unmarshal(b, &c) == nil && c.Serial != "" {
							acknowledged.Add(1)
							acked.Store(c.Serial, true)
						}
					}
				}
			}(w)
		}
		// Let issuance run until this round has a certificate acknowledged
		// (a loaded machine, PostgreSQL above all, may take seconds to get
		// there), then kill without warning at a varying moment after.
		before := acknowledged.Load()
		for deadline := time.Now().Add(time.Minute); acknowledged.Load() == before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: no certificate issued in a minute", round)
			}
		}
		time.Sleep(time.Duration(round*170) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		cancel()
		wg.Wait()
		checkConsistent(t, env, dsn, &acked)
	}
	t.Logf("%d certificates acknowledged over %d crashes", acknowledged.Load(), rounds)
}

// checkConsistent opens the store as a fresh process would and checks the invariants.
func checkConsistent(t *testing.T, env []string, dsn string, acked *sync.Map) {
	t.Helper()
	data := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "SELO_DATA="); ok {
			data = v
		}
	}
	database := dsn
	if database == "" {
		database = filepath.Join(data, "selo.db")
	}
	ctx := context.Background()
	st, err := openStore(ctx, database)
	if err != nil {
		t.Fatalf("database does not reopen after the crash: %v", err)
	}
	defer st.Close()

	certs := map[string]bool{}
	after := ""
	for {
		page, err := st.ListCertificates(ctx, selo.CertificateFilter{AfterSerial: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if certs[c.Serial] {
				t.Fatalf("serial %s stored twice", c.Serial)
			}
			certs[c.Serial] = true
			x, err := x509.ParseCertificate(c.DER)
			if err != nil {
				t.Fatalf("stored certificate %s does not parse: %v", c.Serial, err)
			}
			if got := fmt.Sprintf("%x", x.SerialNumber); got != c.Serial {
				t.Fatalf("row serial %s holds certificate serial %s", c.Serial, got)
			}
		}
		after = page[len(page)-1].Serial
	}
	issued := map[string]bool{}
	var prev *selo.AuditEntry
	for {
		seq := int64(0)
		if prev != nil {
			seq = prev.Seq
		}
		page, err := st.ListAudit(ctx, seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if p := selo.VerifyAuditChain(prev, page); p != nil {
			t.Fatalf("audit chain broken after crash at %d: %s", p.Seq, p.Reason)
		}
		for _, e := range page {
			if e.Action == "certificate.issue" && e.Outcome == selo.OutcomeSuccess {
				serial := strings.TrimPrefix(e.Object, "certificate/")
				if issued[serial] {
					t.Fatalf("two issuance audit entries for %s", serial)
				}
				issued[serial] = true
			}
		}
		prev = page[len(page)-1]
	}
	for s := range certs {
		if !issued[s] {
			t.Fatalf("certificate %s stored without its audit entry", s)
		}
	}
	for s := range issued {
		if !certs[s] {
			t.Fatalf("audit entry for certificate %s that does not exist", s)
		}
	}
	acked.Range(func(k, _ any) bool {
		if !certs[k.(string)] {
			t.Fatalf("certificate %s was acknowledged to a client but is lost after the crash", k)
		}
		return true
	})
}

// postgresTestDSN returns a DSN with a fresh schema, dropped at the end of the test.
func postgresTestDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SELO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SELO_TEST_POSTGRES is not set in CI")
		}
		t.Skip("SELO_TEST_POSTGRES not set: skipping the PostgreSQL crash test")
	}
	schema := fmt.Sprintf("selo_crash_%d", time.Now().UnixNano())
	admin, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not found: cannot make a schema for the PostgreSQL crash test")
	}
	if out, err := exec.Command(admin, base, "-c", "CREATE SCHEMA "+schema).CombinedOutput(); err != nil {
		t.Fatalf("create schema: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command(admin, base, "-c", "DROP SCHEMA "+schema+" CASCADE").Run() })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
