package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/docsign/pades"
)

// TestSignPDFLevelLT: a fresh data directory whose certificates point at
// this test's own selo serve (OCSP, CRL, TSA), so sign pdf --level lt gets
// its revocation data from Selo's own responders.
func TestSignPDFLevelLT(t *testing.T) {
	addr := freePort(t)
	base := "http://" + addr
	data := filepath.Join(t.TempDir(), "data")
	mustRunSelo(t, "init", "--data", data, "--base-url", base, "--json")
	ca := ""
	for _, line := range strings.Split(mustRunSelo(t, "ca", "list", "--data", data).stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(strings.ToLower(f[0]), "qualified") {
			ca = f[0]
		}
	}
	if ca == "" {
		t.Fatal("no qualified CA after init")
	}
	mustRunSelo(t, "tsa", "init", "--ca", ca, "--data", data)
	serveAt(t, data, addr)
	pfx, pw := signerPFX(t, data)

	dir := t.TempDir()
	in := filepath.Join(dir, "contract.pdf")
	os.WriteFile(in, onePagePDF(), 0o600)
	out := filepath.Join(dir, "contract-lt.pdf")
	r := mustRunSelo(t, "sign", "pdf", in, out, "--pfx", pfx, "--password-file", pw, "--tsa", base+"/tsa", "--level", "lt", "--data", data)
	if !strings.Contains(r.stdout, "PAdES B-LT") {
		t.Fatalf("sign pdf --level lt:\n%s", r)
	}
	signed, _ := os.ReadFile(out)
	for _, want := range []string{"/Type/DSS", "/VRI<<", "/OCSPs[", "/ESIC<<"} {
		if !bytes.Contains(signed, []byte(want)) {
			t.Fatalf("the B-LT PDF lacks %s", want)
		}
	}
	// The signature timestamp's TSA certificate is in the DSS too (its
	// OCSP answer beside the signer's), and the DSS alone answers for the
	// signer and the qualified CA offline (OCSP answers for CA
	// certificates too, the parent's CRL otherwise).
	tc, err := pades.TimestampChain(signed, nil)
	if err != nil || len(tc) == 0 || !bytes.Contains(signed, tc[0].Raw) || bytes.Count(signed, []byte("/OCSPs[")) != 1 {
		t.Fatalf("the B-LT PDF lacks the TSA's certificate (%v)", err)
	}
	v := mustRunSelo(t, "verify", out, "--offline", "--data", data)
	if !strings.Contains(v.stdout, "revocation    good, from OCSP (embedded in the document)") ||
		!regexp.MustCompile(`(?m)^  CA revocation CN=[^\n]*: good, from (OCSP|CRL) \(embedded in the document\)$`).MatchString(v.stdout) {
		t.Fatalf("verify --offline of the B-LT PDF:\n%s", v)
	}
	if _, err := exec.LookPath("pdfsig"); err == nil {
		res, _ := exec.Command("pdfsig", "-no-ocsp", out).CombinedOutput()
		if !strings.Contains(string(res), "Signature is Valid") {
			t.Fatalf("pdfsig:\n%s", res)
		}
	}

	bad := filepath.Join(dir, "bad.pdf")
	wantExit(t, runSelo(t, "sign", "pdf", in, bad, "--pfx", pfx, "--password-file", pw, "--level", "lt", "--data", data), 2, "needs --tsa")
	wantExit(t, runSelo(t, "sign", "pdf", in, bad, "--pfx", pfx, "--password-file", pw, "--level", "xl", "--data", data), 2, "b, t or lt")
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a refused signature left its output behind")
	}
}

// serveAt runs selo serve on addr until the test ends.
func serveAt(t *testing.T, data, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var serveOut strings.Builder
	serveErr := &syncBuilder{}
	go func() {
		done <- Run(ctx, []string{"serve", "--data", data, "--listen", addr, "--roles", "api,ocsp"}, strings.NewReader(""), &serveOut, serveErr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("selo serve did not come up: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
