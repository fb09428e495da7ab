package server_test

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/metrics/prom"
	"github.com/selo-qtsp/selo/server"
)

// BenchmarkOCSPGet measures Selo's handler for an RFC 5019 GET answered from
// memory, next to BenchmarkOCSPCeiling, a handler that writes the same bytes
// with no work at all: the difference is what Selo adds per request on top
// of net/http (bench/ocsp/run.sh measures both over real connections).
func BenchmarkOCSPGet(b *testing.B) {
	h, path, _ := ocspBenchSetup(b)
	benchGet(b, h, path)
}

// BenchmarkOCSPGetMetrics is BenchmarkOCSPGet with the Prometheus metrics
// of 'selo serve --metrics-listen' counting every answer: compare the two
// (benchstat) to see what the counting costs.
func BenchmarkOCSPGetMetrics(b *testing.B) {
	h, path, _ := ocspBenchSetupWith(b, prom.New(prom.State{}))
	benchGet(b, h, path)
}

func BenchmarkOCSPCeiling(b *testing.B) {
	_, path, body := ocspBenchSetup(b)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(body)
	})
	benchGet(b, h, path)
}

func benchGet(b *testing.B, h http.Handler, path string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter with no cost of its own, unlike
// httptest.ResponseRecorder, which clones the headers.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func ocspBenchSetup(b *testing.B) (http.Handler, string, []byte) {
	return ocspBenchSetupWith(b, nil)
}

func ocspBenchSetupWith(b *testing.B, m metrics.Sink) (http.Handler, string, []byte) {
	env := testenv.NewWithOptions(b, testenv.Options{Metrics: m})
	h := server.New(server.Config{Authority: env.Authority, Roles: []string{server.RoleOCSP},
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}).Handler()
	c := env.Issue(b, "qualified-sign", "ecdsa-p256")
	ca, err := env.Store.FindCA(b.Context(), c.CAID)
	if err != nil {
		b.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := new(big.Int).SetString(c.Serial, 16)
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: n}, caCert, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		b.Fatal(err)
	}
	path := "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d", rec.Code)
	}
	return h, path, rec.Body.Bytes()
}
