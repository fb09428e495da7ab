package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashKeepsRevocationsOnCRL kills the server with SIGKILL right after
// it acknowledged revocations (before the CRL publication each scheduled
// could run), restarts it, and checks that every revocation acknowledged so
// far is on the CA's CRL within one status worker interval of the restart.
// Before, the restarted worker saw a CRL far from half-life, published
// nothing, and the revocations stayed off the CRL for hours.
func TestCrashKeepsRevocationsOnCRL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills the real binary; skipped in -short")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = postgresTestDSN(t)
			}
			runCRLCrashTest(t, dsn)
		})
	}
}

func runCRLCrashTest(t *testing.T, dsn string) {
	const (
		certs          = 64
		rounds         = 4
		workerInterval = 2 * time.Second
	)
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, dsn)
	serveArgs := []string{"--worker-interval", workerInterval.String()}
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

	// Certificates to revoke, all of one CA.
	cmd, addr := startServer(t, bin, env, serveArgs...)
	var serials []string
	caID := ""
	for i := range certs {
		code, body, err := call(t.Context(), addr, http.MethodPost, "/api/v1/certificates",
			map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, fmt.Sprintf("host%d.example.pt", i))})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("issue: %d %s %v", code, body, err)
		}
		var c struct{ Serial, CA string }
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		serials, caID = append(serials, c.Serial), c.CA
	}

	acked := map[string]bool{}
	var mu sync.Mutex
	next := 0
	for round := 0; round < rounds; round++ {
		// Revoke from several clients at once; kill the server a moment after
		// the first acknowledgements of this round, while others are in flight.
		ctx, cancel := context.WithCancel(context.Background())
		ackedThisRound := make(chan struct{}, certs)
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					if next >= len(serials) {
						mu.Unlock()
						return
					}
					s := serials[next]
					next++
					mu.Unlock()
					code, _, err := call(ctx, addr, http.MethodPost, "/api/v1/certificates/"+s+"/revoke", map[string]string{"reason": "keyCompromise"})
					if err != nil {
						return // the server died under us: expected
					}
					if code == http.StatusCreated || code == http.StatusOK {
						mu.Lock()
						acked[s] = true
						mu.Unlock()
						ackedThisRound <- struct{}{}
					}
				}
			})
		}
		allDone := make(chan struct{})
		go func() { wg.Wait(); close(allDone) }()
		for range 3 {
			select {
			case <-ackedThisRound:
			case <-allDone:
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		cancel()
		wg.Wait()

		// Restart: within one worker interval every acknowledged
		// revocation is on the CRL relying parties fetch.
		cmd, addr = startServer(t, bin, env, serveArgs...)
		deadline := time.Now().Add(workerInterval + time.Second)
		var missing []string
		for {
			missing = missing[:0]
			listed := fetchCRLSerials(t, addr, caID)
			mu.Lock()
			for s := range acked {
				if !listed[s] {
					missing = append(missing, s)
				}
			}
			mu.Unlock()
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(missing) > 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: %d acknowledged revocations are not on the CRL of %s one worker interval after the restart: %v",
				round, len(missing), caID, missing)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("no revocation was acknowledged: the test exercised nothing")
	}
	t.Logf("%d revocations acknowledged over %d crashes, all on the CRL after each restart", len(acked), rounds)
}

// fetchCRLSerials reads the CA's CRL as relying parties do and returns its serials.
func fetchCRLSerials(t *testing.T, addr, caID string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/crl/" + caID + ".crl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /crl/%s.crl: %d %s", caID, resp.StatusCode, der)
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("CRL of %s: %v", caID, err)
	}
	out := map[string]bool{}
	for _, e := range list.RevokedCertificateEntries {
		out[e.SerialNumber.Text(16)] = true
	}
	return out
}
