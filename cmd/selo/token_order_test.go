package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/server"
)

// tokenCSR returns a CSR made with key, as the holder's token makes it.
func tokenCSR(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "token"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// TestTokenOrderCompleted is issue 12 item 5's token part: an officer
// completes a validated, paid token order with the token's CSR, by command
// and by API. The certificate has the order's subject, QcSSCD and
// QCP-n-qscd (the key is in the token, a QSCD); the same CSR again gives the
// same certificate; a key Selo already certified, a key the profile does not
// allow and a CSR for an order of another delivery are refused. Before the
// fix a token order could not be completed at all.
func TestTokenOrderCompleted(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			data := dataDirOn(t, backend)
			d := []string{"--data", data}
			base, _ := serveInProcess(t, data)
			dir := t.TempDir()
			holder := selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", BirthDate: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)}
			order := func(email, delivery string) string {
				var created server.CreateOrderResponse
				decodeJSON(t, mustRunSelo(t, append(d, "--json", "order", "create", "--given-names", "Ana Maria", "--surname", "Silva",
					"--birth-date", "1990-05-17", "--email", email, "--mobile", "+351912345678", "--profile", "qualified-sign",
					"--delivery", delivery, "--country", "PT")...), &created)
				validateAndPay(t, data, base, created.Order.Number, created.AccessCode, holder)
				return created.Order.Number
			}
			first := order("ana@example.pt", "token")
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			csr := writeFile(t, filepath.Join(dir, "token.csr"), tokenCSR(t, key))
			out := filepath.Join(dir, "token.crt")
			r := mustRunSelo(t, append(d, "order", "issue-token", first, "--csr", csr, "--out", out)...)
			cert := parsePEMCertificates(t, readFile(t, out))[0]
			if !strings.Contains(r.stdout, "certificate ") || cert.Subject.CommonName != "Ana Maria Silva" {
				t.Fatalf("order issue-token: %s, subject %v", r, cert.Subject)
			}
			// The revocation code for a lost token, shown once (issue 12 item 6).
			code := regexp.MustCompile(`Revocation code \(shown only now[^)]*\): (\S+)`).FindStringSubmatch(r.stdout)
			if code == nil {
				t.Fatalf("order issue-token shows no revocation code:\n%s", r)
			}
			if !pki.HasQcSSCD(cert) || len(cert.Policies) != 1 || cert.Policies[0].String() != "0.4.0.194112.1.2" {
				t.Errorf("a token key's certificate: QcSSCD %v, policies %v; want QcSSCD and QCP-n-qscd", pki.HasQcSSCD(cert), cert.Policies)
			}
			opensslVerify(t, data, "qualified-ecc-v1", out)
			var show server.OrderResponse
			decodeJSON(t, mustRunSelo(t, append(d, "--json", "order", "show", first)...), &show)
			if show.State != "issued" {
				t.Errorf("the token order is %s, want issued", show.State)
			}
			// Again with the same CSR: the same certificate, not a second one.
			again := filepath.Join(dir, "again.crt")
			if r := mustRunSelo(t, append(d, "order", "issue-token", first, "--csr", csr, "--out", again)...); strings.Contains(r.stdout, code[1]) {
				t.Errorf("the revocation code is shown again:\n%s", r)
			}
			if !parsePEMCertificates(t, readFile(t, again))[0].Equal(cert) {
				t.Error("issue-token with the same CSR made another certificate")
			}

			second := order("rui@example.pt", "token")
			// A key Selo has certified before.
			wantExit(t, runSelo(t, append(d, "order", "issue-token", second, "--csr", csr)...), 1, "already certified")
			// A key the profile does not allow (qualified-sign wants RSA ≥ 3072).
			small, _ := rsa.GenerateKey(rand.Reader, 2048)
			wantExit(t, runSelo(t, append(d, "order", "issue-token", second, "--csr",
				writeFile(t, filepath.Join(dir, "small.csr"), tokenCSR(t, small)))...), 1, "3072")
			// Through the API, with a fresh key.
			var apiKey struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				APIKey string `json:"api_key"`
			}
			decodeJSON(t, mustRunSelo(t, append(d, "--json", "apikey", "create", "officer-desk")...), &apiKey)
			fresh, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			var got server.LiftCertificate
			if st := apiJSON(t, http.MethodPost, base+"/api/v1/orders/"+second+"/token-csr", apiKey.APIKey,
				server.TokenCSRRequest{CSR: tokenCSR(t, fresh)}, &got); st != http.StatusOK || got.Serial == "" || got.ChainPEM == "" || got.RevocationCode == "" {
				t.Fatalf("POST token-csr: HTTP %d %+v", st, got)
			}
			// The lost token's holder revokes with the code, without the token.
			mustRunSelo(t, "lift", "revoke", "--server", base, "--serial", pki.SerialHex(cert.SerialNumber), "--revocation-code", code[1], "--reason", "keyCompromise")
			var shown server.CertificateResponse
			if st := apiJSON(t, http.MethodGet, base+"/api/v1/certificates/"+pki.SerialHex(cert.SerialNumber), apiKey.APIKey, nil, &shown); st != http.StatusOK || shown.Status != "revoked" {
				t.Fatalf("the token certificate after revocation with its code: HTTP %d %s", st, shown.Status)
			}
			// A CSR for an order that is not for a token.
			soft := order("eva@example.pt", "software")
			wantExit(t, runSelo(t, append(d, "order", "issue-token", soft, "--csr", csr)...), 1, "not a token")
			mustRunSelo(t, append(d, "audit", "verify")...)
		})
	}
}
