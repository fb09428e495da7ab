package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCertReloaderConcurrent hands out certificates from many goroutines
// while the files are replaced (run with -race): every call gets a
// certificate, and the new one arrives without a restart.
func TestCertReloaderConcurrent(t *testing.T) {
	ca := newTestTLSCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	ca.writePair(t, certFile, keyFile, 1)
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := r.GetCertificate(nil)
				if err != nil || c == nil || c.Leaf == nil {
					t.Errorf("GetCertificate = %v, %v", c, err)
					return
				}
			}
		})
	}
	ca.writePair(t, certFile, keyFile, 2)
	ok := pollUntil(10*time.Second, func() bool {
		c, _ := r.GetCertificate(nil)
		return c.Leaf.SerialNumber.Int64() == 2
	})
	close(stop)
	wg.Wait()
	if !ok {
		t.Fatal("the replaced pair was not loaded")
	}
}

// TestPlainOnly: the plain listener serves the relying parties' paths,
// redirects other GETs to https on the TLS port, and refuses the rest.
func TestPlainOnly(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := plainOnly(inner, "0.0.0.0:8443")
	for _, c := range []struct {
		method, target string
		code           int
		location       string
	}{
		{"GET", "/ocsp/MEQwQjBAMD4wPDAJBgUrDgMCGgUABBQ", http.StatusTeapot, ""},
		{"POST", "/ocsp", http.StatusTeapot, ""},
		{"GET", "/crl/qualified-ecc-v1.crl", http.StatusTeapot, ""},
		{"GET", "/ca/root-ecc-v1.crt", http.StatusTeapot, ""},
		{"POST", "/tsa", http.StatusTeapot, ""},
		{"GET", "/healthz", http.StatusTeapot, ""},
		{"GET", "/readyz", http.StatusTeapot, ""},
		{"GET", "/ocspx", http.StatusMovedPermanently, "https://pki.example.eu:8443/ocspx"},
		{"GET", "/api/v1/cas?x=1", http.StatusMovedPermanently, "https://pki.example.eu:8443/api/v1/cas?x=1"},
		{"POST", "/api/v1/account/login", http.StatusNotFound, ""},
		{"PUT", "/crl", http.StatusNotFound, ""},
	} {
		req := httptest.NewRequest(c.method, "http://pki.example.eu"+c.target, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code || rec.Header().Get("Location") != c.location {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, rec.Code, rec.Header().Get("Location"), c.code, c.location)
		}
	}
}
