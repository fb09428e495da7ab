package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo/authority"
)

// leaderLine is what a worker replica logs when it takes the worker lock
// (worker.Run).
const leaderLine = "worker: this replica runs the background work"

// lockedBuffer collects a child process's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// workerReplica is a 'selo serve --roles worker' process: it has no HTTP
// listener, so the test follows it through its log.
type workerReplica struct {
	cmd *exec.Cmd
	log *lockedBuffer
}

func startWorkerReplica(t *testing.T, bin string, env []string, interval time.Duration) *workerReplica {
	t.Helper()
	w := &workerReplica{log: &lockedBuffer{}}
	w.cmd = exec.Command(bin, "serve", "--roles", "worker", "--no-init", "--log-level", "info",
		"--worker-interval", interval.String())
	w.cmd.Env, w.cmd.Stderr = env, w.log
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	if !pollUntil(30*time.Second, func() bool { return strings.Contains(w.log.String(), "Selo worker is running") }) {
		t.Fatalf("worker replica did not start: %s", w.log.String())
	}
	return w
}

func (w *workerReplica) leads() bool { return strings.Contains(w.log.String(), leaderLine) }

// pollUntil polls cond until it holds or the time is up.
func pollUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// issuedCert is what the test keeps of a certificate an API replica issued.
type issuedCert struct {
	serial       string
	cert, issuer *x509.Certificate
}

// TestReplicasOverPostgres runs the multi-replica setup docs/operators.md
// describes: two 'api' replicas, one 'ocsp' replica and two 'worker'
// replicas over one PostgreSQL database. Clients issue and revoke through
// both API replicas and ask the OCSP replica while the worker that holds
// the lock is killed with SIGKILL. The other worker must take the lock
// within one worker interval (plus the time PostgreSQL takes to drop the
// dead session), no client call may fail (no API or OCSP replica dies),
// every acknowledged revocation answers "revoked" in OCSP once the OCSP
// replica's memory cache (authority.DefaultOCSPCacheTTL) has passed, the CRL the OCSP replica serves lists every one of
// them within one interval after the load, published after the kill, and
// the store holds no serial twice and an intact audit chain.
func TestReplicasOverPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five selo processes; skipped in -short")
	}
	dsn := postgresTestDSN(t)
	const interval = time.Second
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, dsn)

	var apis []string
	for range 2 {
		cmd, addr := startServer(t, bin, env, "--roles", "api")
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		apis = append(apis, addr)
	}
	ocspCmd, ocspAddr := startServer(t, bin, env, "--roles", "ocsp")
	t.Cleanup(func() { ocspCmd.Process.Kill(); ocspCmd.Wait() })

	first := startWorkerReplica(t, bin, env, interval)
	if !pollUntil(10*time.Second, first.leads) {
		t.Fatalf("the only worker replica did not take the lock: %s", first.log.String())
	}
	second := startWorkerReplica(t, bin, env, interval)
	// Two ticks of the standby: it must not lead while the first lives.
	time.Sleep(2 * interval)
	if second.leads() {
		t.Fatalf("two worker replicas lead at once:\n%s\n%s", first.log.String(), second.log.String())
	}

	call := func(ctx context.Context, addr, method, path string, body any) (int, []byte, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out, nil
	}

	var (
		mu        sync.Mutex
		issued    []issuedCert
		revokedAt = map[string]time.Time{} // acknowledged revocations
		acked     sync.Map                 // serials acknowledged to clients, for checkConsistent
		failures  []string
		ocspAsked atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	csrs := make([]string, 16)
	for i := range csrs {
		csrs[i] = newCSRPEM(t, fmt.Sprintf("replica%d.example.pt", i))
	}
	for w := range 4 { // issuance, over both API replicas in turn
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				addr := apis[(w+i)%len(apis)]
				code, body, err := call(ctx, addr, http.MethodPost, "/api/v1/certificates",
					map[string]string{"profile": "tls-server", "csr": csrs[(w*5+i)%len(csrs)]})
				if ctx.Err() != nil {
					return
				}
				if err != nil || code != http.StatusCreated {
					fail("issue through %s: %d %s %v", addr, code, body, err)
					continue
				}
				var c struct{ Serial, Certificate, Chain string }
				if err := json.Unmarshal(body, &c); err != nil {
					fail("issue answer: %v", err)
					continue
				}
				chain := parsePEMCertificates(t, []byte(c.Certificate+c.Chain))
				acked.Store(c.Serial, true)
				mu.Lock()
				issued = append(issued, issuedCert{serial: c.Serial, cert: chain[0], issuer: chain[1]})
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // revocation of every third certificate, through the other API replica
		for i := 0; ctx.Err() == nil; i++ {
			mu.Lock()
			var c issuedCert
			if n := len(issued); n > 0 && i%3 == 0 {
				c = issued[rand.IntN(n)]
			}
			_, done := revokedAt[c.serial]
			mu.Unlock()
			if c.serial == "" || done {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			addr := apis[(i+1)%len(apis)]
			code, body, err := call(ctx, addr, http.MethodPost, "/api/v1/certificates/"+c.serial+"/revoke",
				map[string]string{"reason": "superseded"})
			if ctx.Err() != nil {
				return
			}
			if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
				fail("revoke %s through %s: %d %s %v", c.serial, addr, code, body, err)
				continue
			}
			mu.Lock()
			revokedAt[c.serial] = time.Now()
			mu.Unlock()
		}
	})
	for range 2 { // relying parties asking the OCSP replica
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				n := len(issued)
				var c issuedCert
				if n > 0 {
					c = issued[rand.IntN(n)]
				}
				at, wasRevoked := revokedAt[c.serial]
				mu.Unlock()
				// A replica serves an answer from memory for up to
				// DefaultOCSPCacheTTL before it looks at the database:
				// the documented bound on how late a revocation made on
				// another replica shows.
				mustBeRevoked := wasRevoked && time.Since(at) > authority.DefaultOCSPCacheTTL
				if n == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				reqDER, err := ocsp.CreateRequest(c.cert, c.issuer, nil)
				if err != nil {
					fail("ocsp request: %v", err)
					continue
				}
				resp, err := http.Post("http://"+ocspAddr+"/ocsp", "application/ocsp-request", bytes.NewReader(reqDER))
				if err != nil {
					if ctx.Err() == nil {
						fail("ocsp: %v", err)
					}
					continue
				}
				der, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ocspAsked.Add(1)
				r, err := ocsp.ParseResponseForCert(der, c.cert, c.issuer)
				switch {
				case err != nil:
					fail("ocsp answer for %s: %d %v", c.serial, resp.StatusCode, err)
				case mustBeRevoked && r.Status != ocsp.Revoked:
					fail("ocsp says %d for %s, revoked and acknowledged %s before the request", r.Status, c.serial, time.Since(at))
				case time.Now().After(r.NextUpdate):
					fail("stale ocsp answer for %s: next update %s", c.serial, r.NextUpdate)
				}
			}
		})
	}

	// Load for a while, then kill the leader without warning.
	time.Sleep(3 * interval)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	first.cmd.Wait()
	// The standby tries the lock once per interval; PostgreSQL frees a dead
	// session's advisory lock when it sees the connection closed.
	tookOver := pollUntil(interval+2*time.Second, second.leads)
	takeover := time.Since(killed)
	time.Sleep(authority.DefaultOCSPCacheTTL + interval) // revocations after the kill, and OCSP checks of earlier ones, for the new leader's CRL
	cancel()
	wg.Wait()
	if !tookOver {
		t.Fatalf("no worker took the lock %s after the leader was killed:\n%s", takeover, second.log.String())
	}
	t.Logf("the standby worker took the lock %s after the SIGKILL (interval %s)", takeover.Round(time.Millisecond), interval)
	if len(failures) > 0 {
		t.Fatalf("%d client calls failed while no API or OCSP replica died, first: %s", len(failures), failures[0])
	}
	if len(issued) == 0 || len(revokedAt) == 0 || ocspAsked.Load() == 0 {
		t.Fatalf("the load did nothing: %d issued, %d revoked, %d OCSP answers", len(issued), len(revokedAt), ocspAsked.Load())
	}

	// The new leader's CRL lists every acknowledged revocation.
	code, body, err := call(t.Context(), apis[0], http.MethodGet, "/api/v1/certificates/"+issued[0].serial, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("get certificate: %d %s %v", code, body, err)
	}
	var got struct{ CA string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	caID := got.CA
	var missing []string
	var crl *x509.RevocationList
	pollUntil(interval+2*time.Second, func() bool {
		missing = missing[:0]
		resp, err := http.Get("http://" + ocspAddr + "/crl/" + caID + ".crl")
		if err != nil {
			return false
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if crl, err = x509.ParseRevocationList(der); err != nil {
			return false
		}
		listed := map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			listed[e.SerialNumber.Text(16)] = true
		}
		for s := range revokedAt {
			if !listed[s] {
				missing = append(missing, s)
			}
		}
		return len(missing) == 0
	})
	if crl == nil || len(missing) > 0 {
		t.Fatalf("%d acknowledged revocations are missing from the CRL of %s one interval after the load: %v", len(missing), caID, missing)
	}
	if !crl.ThisUpdate.After(killed.Add(-2*time.Second)) || !time.Now().Before(crl.NextUpdate) {
		t.Fatalf("CRL thisUpdate %s, nextUpdate %s: not published by the new leader after the kill at %s, or stale",
			crl.ThisUpdate, crl.NextUpdate, killed)
	}
	t.Logf("%d issued over 2 API replicas, %d revoked, %d OCSP answers, 0 client errors", len(issued), len(revokedAt), ocspAsked.Load())
	checkConsistent(t, env, dsn, &acked)
}
