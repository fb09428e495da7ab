package server_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
)

// issueBody is a POST /api/v1/certificates body for a fresh CSR.
func issueBody(t *testing.T, profile, keyKind string) string {
	t.Helper()
	csr, _ := testenv.CSR(t, profile, keyKind)
	b, err := json.Marshal(server.IssueRequest{Profile: profile, CSR: string(csr)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// issue issues a certificate through the API and checks the answer.
func issue(t *testing.T, ts *testServer, profile, keyKind string) *server.CertificateResponse {
	t.Helper()
	resp, body := ts.do(t, http.MethodPost, "/api/v1/certificates", strings.NewReader(issueBody(t, profile, keyKind)),
		"Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("issue %s: status %d: %s", profile, resp.StatusCode, body)
	}
	var out server.CertificateResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/certificates/"+out.Serial {
		t.Fatalf("Location %q for serial %s", loc, out.Serial)
	}
	return &out
}

func parsePEMCerts(t *testing.T, s string) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for rest := []byte(s); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse PEM certificate: %v", err)
		}
		certs = append(certs, c)
	}
}

func TestIssueCertificate(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		profile, key, ca string
		subject          string
	}{
		{"tls-server", "rsa-2048", testenv.TLSID, ""},
		{"tls-server", "ecdsa-p384", testenv.TLSID, ""},
		{"qualified-sign", "ecdsa-p256", testenv.QualifiedID, "CN=Ana Maria Silva"},
		{"qualified-sign", "rsa-3072", testenv.QualifiedID, "serialNumber=IDCPT-12345678"},
		{"qualified-seal", "ecdsa-p256", testenv.QualifiedID, "Exemplo Faturas"},
		{"advanced-email", "ecdsa-p256", testenv.QualifiedID, "ana.silva@example.pt"},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.key, func(t *testing.T) {
			out := issue(t, ts, tt.profile, tt.key)
			if out.CA != tt.ca || out.Profile != tt.profile || out.Status != "valid" || !strings.Contains(out.Subject, tt.subject) {
				t.Fatalf("answer %+v", out)
			}
			leaf := parsePEMCerts(t, out.Certificate)
			chain := parsePEMCerts(t, out.Chain)
			if len(leaf) != 1 || len(chain) != 2 {
				t.Fatalf("%d certificates, %d in the chain; want 1 and 2 (issuing CA, root)", len(leaf), len(chain))
			}
			if !leaf[0].NotBefore.Equal(out.NotBefore) || !leaf[0].NotAfter.Equal(out.NotAfter) {
				t.Fatalf("validity %v..%v, certificate says %v..%v", out.NotBefore, out.NotAfter, leaf[0].NotBefore, leaf[0].NotAfter)
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(chain[1])
			inter.AddCert(chain[0])
			if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Fatalf("leaf does not verify with the returned chain: %v", err)
			}

			// The certificate is there to fetch: JSON, DER and PEM.
			var got server.CertificateResponse
			ts.getJSON(t, "/api/v1/certificates/"+out.Serial, &got)
			if got.Serial != out.Serial || got.Certificate != out.Certificate || got.Chain != out.Chain {
				t.Fatalf("GET answers %+v, POST answered %+v", got, out)
			}
		})
	}

	// Every issuance was audited with the API key's name as the actor.
	entries, err := ts.env.Store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "certificate.issue" && e.Outcome == selo.OutcomeSuccess {
			if e.Actor != "api:"+testenv.APIKeyName {
				t.Fatalf("issuance audited as %q", e.Actor)
			}
			n++
		}
	}
	if n != len(tests) {
		t.Fatalf("%d issuances audited, want %d", n, len(tests))
	}
}

func TestIssueCertificateNamedCA(t *testing.T) {
	ts := newTestServer(t)
	csr, _ := testenv.CSR(t, "advanced-invoice", "ecdsa-p256")
	for _, tt := range []struct {
		ca            string
		status        int
		code, message string
	}{
		{testenv.QualifiedID, http.StatusCreated, "", ""},
		{testenv.RootID, http.StatusBadRequest, "invalid", "is a root"},
		{"no-such-ca", http.StatusNotFound, "not_found", ""},
	} {
		t.Run(tt.ca, func(t *testing.T) {
			b, _ := json.Marshal(server.IssueRequest{Profile: "advanced-invoice", CA: tt.ca, CSR: string(csr)})
			resp, body := ts.do(t, http.MethodPost, "/api/v1/certificates", strings.NewReader(string(b)), "Content-Type", "application/json")
			if tt.status == http.StatusCreated {
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				return
			}
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}
}

func TestIssueCertificateRefused(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.MaxBodyBytes = 16 << 10 })
	tlsCSR, _ := testenv.CSR(t, "tls-server", "ecdsa-p256")
	csrDER, _ := pem.Decode(tlsCSR)
	corrupt := []byte(strings.Replace(string(tlsCSR), "MII", "MIJ", 1))
	body := func(profile, csr string) string {
		b, _ := json.Marshal(server.IssueRequest{Profile: profile, CSR: csr})
		return string(b)
	}
	tests := []struct {
		name, contentType, body string
		status                  int
		code, message           string
	}{
		{"no content type", "", body("tls-server", string(tlsCSR)), 415, "unsupported_media_type", "Content-Type: application/json"},
		{"form", "application/x-www-form-urlencoded", "profile=tls-server", 415, "unsupported_media_type", "must be JSON"},
		{"text", "text/plain", body("tls-server", string(tlsCSR)), 415, "unsupported_media_type", "must be JSON"},
		{"empty body", "application/json", "", 400, "invalid", "request body is empty"},
		{"bad json", "application/json", `{"profile": "tls-server",}`, 400, "invalid", "not valid JSON at offset"},
		{"unknown field", "application/json", `{"profile":"tls-server","csr":"x","days":30}`, 400, "invalid", `unknown field "days"`},
		{"wrong type", "application/json", `{"profile":["tls-server"],"csr":"x"}`, 400, "invalid", `field "profile" must be a string`},
		{"two objects", "application/json", body("tls-server", "AQID") + `{}`, 400, "invalid", "exactly one JSON value"},
		{"no csr", "application/json", `{"profile":"tls-server"}`, 400, "invalid", `"csr" is required`},
		{"garbage csr", "application/json", body("tls-server", "bm90IGEgQ1NS"), 400, "invalid", "csr"},
		{"garbage pem", "application/json", body("tls-server", "-----BEGIN CERTIFICATE REQUEST-----\nxx\n-----END CERTIFICATE REQUEST-----\n"), 400, "invalid", "csr"},
		{"corrupt csr", "application/json", body("tls-server", string(corrupt)), 400, "invalid", ""},
		{"unknown profile", "application/json", body("no-such-profile", string(tlsCSR)), 404, "not_found", `no profile named "no-such-profile"`},
		{"csr against profile", "application/json", body("qualified-sign", string(tlsCSR)), 400, "invalid", ""},
		{"oversized", "application/json", body("tls-server", strings.Repeat("A", 20<<10)), 413, "too_large", "larger than 16384 bytes"},
		{"oversized whitespace", "application/json", `{"profile":"tls-server"` + strings.Repeat(" ", 20<<10) + `}`, 413, "too_large", "larger than 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := ts.do(t, http.MethodPost, "/api/v1/certificates", strings.NewReader(tt.body), "Content-Type", tt.contentType)
			wantError(t, resp, b, tt.status, tt.code, tt.message)
		})
	}

	// A chunked body (no Content-Length) that runs over is cut off by the
	// reader limit, not the Content-Length check.
	t.Run("oversized chunked", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/api/v1/certificates",
			struct{ *strings.Reader }{strings.NewReader(body("tls-server", strings.Repeat("A", 20<<10)))})
		req.Header.Set("Authorization", "Bearer "+ts.env.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := ts.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || len(resp.TransferEncoding) > 0 && resp.Request.ContentLength > 0 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	// Base64 DER without the PEM armour is accepted too.
	t.Run("base64 der", func(t *testing.T) {
		resp, b := ts.do(t, http.MethodPost, "/api/v1/certificates",
			strings.NewReader(body("tls-server", base64.StdEncoding.EncodeToString(csrDER.Bytes))), "Content-Type", "application/json; charset=utf-8")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	})
}

func TestGetCertificate(t *testing.T) {
	ts := newTestServer(t)
	cert := ts.env.Issue(t, "tls-server", "ecdsa-p256")
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.DER}))
	upper := strings.ToUpper(cert.Serial)
	colons := ""
	for i := 0; i < len(upper); i += 2 {
		if i > 0 {
			colons += ":"
		}
		colons += upper[i:min(i+2, len(upper))]
	}
	tests := []struct {
		name, path, accept string
		contentType, body  string
	}{
		{"der by accept", "/api/v1/certificates/" + cert.Serial, "application/pkix-cert", "application/pkix-cert", string(cert.DER)},
		{"pem by accept", "/api/v1/certificates/" + cert.Serial, "text/html, application/x-pem-file;q=0.9", "application/x-pem-file", pemCert},
		{"der by query", "/api/v1/certificates/" + cert.Serial + "?format=der", "", "application/pkix-cert", string(cert.DER)},
		{"pem by query", "/api/v1/certificates/" + cert.Serial + "?format=PEM", "application/pkix-cert", "application/x-pem-file", pemCert},
		{"serial in capitals", "/api/v1/certificates/0x" + upper + "?format=pem", "", "application/x-pem-file", pemCert},
		{"serial with colons", "/api/v1/certificates/" + colons + "?format=pem", "", "application/x-pem-file", pemCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.get(t, tt.path, "Accept", tt.accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.contentType {
				t.Fatalf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if string(body) != tt.body {
				t.Fatalf("body differs from the stored certificate")
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q on an API answer", cc)
			}
		})
	}

	var out server.CertificateResponse
	ts.getJSON(t, "/api/v1/certificates/"+cert.Serial, &out)
	if out.Serial != cert.Serial || out.CA != testenv.TLSID || out.Profile != "tls-server" || out.Certificate != pemCert ||
		len(parsePEMCerts(t, out.Chain)) != 2 {
		t.Fatalf("JSON answer %+v", out)
	}

	for _, tt := range []struct {
		path          string
		status        int
		code, message string
	}{
		{"/api/v1/certificates/" + strings.Repeat("ab", 20), 404, "not_found", ""},
		{"/api/v1/certificates/not-hex", 400, "invalid", "not hexadecimal"},
		{"/api/v1/certificates/" + cert.Serial + "?format=xml", 400, "invalid", "format must be json, der or pem"},
	} {
		resp, body := ts.get(t, tt.path)
		wantError(t, resp, body, tt.status, tt.code, tt.message)
	}
}

func TestListCertificates(t *testing.T) {
	ts := newTestServer(t)
	var want []string
	for i := 0; i < 5; i++ {
		want = append(want, ts.env.Issue(t, "tls-server", "ecdsa-p256").Serial)
	}
	for i := 0; i < 2; i++ {
		want = append(want, ts.env.Issue(t, "qualified-sign", "ecdsa-p256").Serial)
	}

	// Page through everything two at a time with the next cursor.
	var got []string
	path := "/api/v1/certificates?limit=2"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		var page server.CertificateList
		ts.getJSON(t, path, &page)
		if len(page.Certificates) > 2 {
			t.Fatalf("page of %d with limit 2", len(page.Certificates))
		}
		for _, c := range page.Certificates {
			if c.Certificate != "" || c.Chain != "" {
				t.Fatal("list answers carry PEM")
			}
			got = append(got, c.Serial)
		}
		if page.Next == "" {
			break
		}
		if page.Next != got[len(got)-1] {
			t.Fatalf("next %q is not the last serial of the page %q", page.Next, got[len(got)-1])
		}
		path = "/api/v1/certificates?limit=2&after=" + page.Next
	}
	if len(got) != len(want) {
		t.Fatalf("paged through %d certificates, issued %d", len(got), len(want))
	}
	if !sort.StringsAreSorted(got) {
		t.Fatalf("not in serial order: %v", got)
	}

	var all server.CertificateList
	ts.getJSON(t, "/api/v1/certificates", &all)
	if len(all.Certificates) != len(want) || all.Next != "" {
		t.Fatalf("default page: %d certificates, next %q", len(all.Certificates), all.Next)
	}
	var exact server.CertificateList
	ts.getJSON(t, fmt.Sprintf("/api/v1/certificates?limit=%d", len(want)), &exact)
	if len(exact.Certificates) != len(want) || exact.Next != "" {
		t.Fatalf("a page exactly as long as the list: %d certificates, next %q (want no next)", len(exact.Certificates), exact.Next)
	}

	for _, tt := range []struct {
		query string
		n     int
	}{
		{"ca=" + testenv.TLSID, 5},
		{"ca=" + testenv.QualifiedID + "&status=valid", 2},
		{"status=revoked", 0},
		{"ca=" + testenv.RootID, 0},
	} {
		var page server.CertificateList
		ts.getJSON(t, "/api/v1/certificates?"+tt.query, &page)
		if len(page.Certificates) != tt.n {
			t.Errorf("%s: %d certificates, want %d", tt.query, len(page.Certificates), tt.n)
		}
		if page.Certificates == nil {
			t.Errorf("%s: certificates is null, want []", tt.query)
		}
	}

	for _, tt := range []struct {
		query         string
		status        int
		code, message string
	}{
		{"limit=0", 400, "invalid", "limit must be a whole number from 1 to 1000"},
		{"limit=1001", 400, "invalid", "limit must be a whole number from 1 to 1000"},
		{"limit=ten", 400, "invalid", "limit"},
		{"status=lost", 400, "invalid", "status must be valid, revoked or superseded"},
		{"after=xyz", 400, "invalid", "after must be"},
		{"ca=no-such-ca", 404, "not_found", ""},
		{"ca=Bad%20CA", 404, "not_found", ""},
	} {
		resp, body := ts.get(t, "/api/v1/certificates?"+tt.query)
		wantError(t, resp, body, tt.status, tt.code, tt.message)
	}
}

func TestProfilesAndCAs(t *testing.T) {
	ts := newTestServer(t)

	var profiles server.ProfileList
	ts.getJSON(t, "/api/v1/profiles", &profiles)
	names := map[string]*server.ProfileResponse{}
	for _, p := range profiles.Profiles {
		names[p.Name] = p
	}
	for _, name := range []string{"qualified-sign", "qualified-seal", "advanced-invoice", "advanced-email", "tls-server"} {
		p := names[name]
		if p == nil || p.Description == "" || p.Kind == "" || len(p.KeyTypes) == 0 || p.ValidityDays <= 0 {
			t.Fatalf("profile %s: %+v", name, p)
		}
	}
	if !names["qualified-sign"].Qualified || names["tls-server"].Qualified {
		t.Fatal("qualified flag wrong")
	}

	var cas server.CAList
	ts.getJSON(t, "/api/v1/cas", &cas)
	if len(cas.CAs) != 3 {
		t.Fatalf("%d CAs, want 3", len(cas.CAs))
	}
	byID := map[string]*server.CAResponse{}
	for _, ca := range cas.CAs {
		byID[ca.ID] = ca
		if ca.Certificate != "" {
			t.Fatal("CA list carries PEM")
		}
	}
	q := byID[testenv.QualifiedID]
	if q == nil || q.Parent != testenv.RootID || q.KeyAlgorithm != "ecdsa-p256" || q.Status != "active" ||
		q.CertificateURL != "/ca/"+testenv.QualifiedID+".crt" || !strings.Contains(q.Subject, "Selo Test Qualified CA ECC T1") {
		t.Fatalf("qualified CA: %+v", q)
	}
	if r := byID[testenv.RootID]; r == nil || r.Parent != "" || r.KeyAlgorithm != "ecdsa-p384" {
		t.Fatalf("root CA: %+v", r)
	}

	var one server.CAResponse
	ts.getJSON(t, "/api/v1/cas/"+testenv.TLSID, &one)
	certs := parsePEMCerts(t, one.Certificate)
	if one.ID != testenv.TLSID || one.KeyAlgorithm != "rsa-3072" || len(certs) != 1 || string(certs[0].Raw) != string(ts.env.TLS.CertDER) {
		t.Fatalf("TLS CA: %+v", one)
	}
	if one.Serial == "" || one.NotAfter.Before(one.NotBefore) {
		t.Fatalf("TLS CA validity/serial: %+v", one)
	}

	for _, path := range []string{"/api/v1/cas/no-such-ca", "/api/v1/cas/UPPER"} {
		resp, body := ts.get(t, path)
		wantError(t, resp, body, http.StatusNotFound, "not_found", "")
	}
}

// TestConcurrentIssuance issues 32 certificates at once through the API: all
// succeed with distinct serials and the audit chain stays intact.
func TestConcurrentIssuance(t *testing.T) {
	ts := newTestServer(t)
	const n = 32
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = issueBody(t, "tls-server", "ecdsa-p256")
	}
	serials := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, ts.srv.URL+"/api/v1/certificates", strings.NewReader(bodies[i]))
			req.Header.Set("Authorization", "Bearer "+ts.env.APIKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.srv.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var out server.CertificateResponse
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				errs[i] = err
				return
			}
			if resp.StatusCode != http.StatusCreated {
				errs[i] = fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			serials[i] = out.Serial
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if seen[serials[i]] {
			t.Fatalf("serial %s issued twice", serials[i])
		}
		seen[serials[i]] = true
	}

	count, problem, err := ts.env.Authority.VerifyAudit(context.Background())
	if err != nil || problem != nil {
		t.Fatalf("audit chain: %v %+v", err, problem)
	}
	var list server.CertificateList
	ts.getJSON(t, "/api/v1/certificates", &list)
	if len(list.Certificates) != n {
		t.Fatalf("%d certificates stored, want %d", len(list.Certificates), n)
	}
	t.Logf("%d audit entries verified", count)
}
