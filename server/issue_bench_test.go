package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
)

// BenchmarkIssueHandler measures POST /api/v1/certificates through the whole
// handler stack on SQLite, in process: what bench/issuance measures over real
// connections, without the client's share of the CPU. Its profile shows where
// the end-to-end path spends beyond build, lint and sign.
func BenchmarkIssueHandler(b *testing.B) {
	env := testenv.New(b)
	h := server.New(server.Config{Authority: env.Authority,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}).Handler()
	bodies := make([][]byte, 64)
	for i := range bodies {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{
			CommonName: fmt.Sprintf("Maria Silva %d", i), Country: []string{"PT"}, SerialNumber: fmt.Sprintf("IDCPT-%08d", i),
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Maria"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: fmt.Sprintf("Silva %d", i)}},
		}}, key)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i], _ = json.Marshal(map[string]string{"profile": "qualified-sign",
			"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/certificates", bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Authorization", "Bearer "+env.APIKey)
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusCreated {
				b.Fatalf("status %d", w.status)
			}
			i++
		}
	})
}
