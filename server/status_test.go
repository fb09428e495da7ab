package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
)

// malformedOCSP is the unsigned malformedRequest response.
var malformedOCSP = []byte{0x30, 0x03, 0x0a, 0x01, 0x01}

// rawDo sends a request whose target is sent exactly as given (no parsing
// or cleaning by the client), without an API key unless header sets one.
func rawDo(t *testing.T, ts *testServer, method, target string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(ts.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, ts.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: target}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// postOCSP POSTs a DER OCSP request to /ocsp.
func postOCSP(t *testing.T, ts *testServer, der []byte) (*http.Response, []byte) {
	t.Helper()
	return rawDo(t, ts, http.MethodPost, "/ocsp", der, "Content-Type", "application/ocsp-request")
}

// caCertificate fetches a CA's certificate as the server publishes it.
func caCertificate(t *testing.T, ts *testServer, id string) *x509.Certificate {
	t.Helper()
	resp, der := ts.get(t, "/ca/"+id+".crt", "Authorization", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ca/%s.crt: %d", id, resp.StatusCode)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issueWithKey issues a certificate through the API from a fresh CSR and
// returns it with the holder's key.
func issueWithKey(t *testing.T, ts *testServer, profile, keyKind string) (*server.CertificateResponse, *x509.Certificate, crypto.Signer) {
	t.Helper()
	csr, key := testenv.CSR(t, profile, keyKind)
	b, err := json.Marshal(server.IssueRequest{Profile: profile, CSR: string(csr)})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.do(t, http.MethodPost, "/api/v1/certificates", bytes.NewReader(b), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("issue %s: %d %s", profile, resp.StatusCode, body)
	}
	var out server.CertificateResponse
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return &out, parsePEMCerts(t, out.Certificate)[0], key
}

// revokeAPI revokes through the API and returns the status and answer.
func revokeAPI(t *testing.T, ts *testServer, serial, body string) (*http.Response, []byte) {
	t.Helper()
	return ts.do(t, http.MethodPost, "/api/v1/certificates/"+serial+"/revoke", strings.NewReader(body), "Content-Type", "application/json")
}

// wantOCSPHeaders checks the headers of an OCSP answer: a cacheable one has
// validators and may be kept until about nextUpdate; any other must not be
// stored.
func wantOCSPHeaders(t *testing.T, resp *http.Response, cacheable bool) {
	t.Helper()
	h := resp.Header
	if ct := h.Get("Content-Type"); ct != "application/ocsp-response" {
		t.Fatalf("Content-Type %q", ct)
	}
	if !cacheable {
		if cc := h.Get("Cache-Control"); cc != "no-store" || h.Get("ETag") != "" {
			t.Fatalf("Cache-Control %q, ETag %q for an answer that must not be cached", cc, h.Get("ETag"))
		}
		return
	}
	cc := h.Get("Cache-Control")
	_, rest, ok := strings.Cut(cc, "max-age=")
	age, err := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
	if !ok || err != nil || age <= 0 || age > int(authority.DefaultOCSPValidity/time.Second) || !strings.Contains(cc, "public") {
		t.Fatalf("Cache-Control %q: want public with a max-age up to nextUpdate", cc)
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Fatalf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
	}
	if _, err := http.ParseTime(h.Get("Expires")); err != nil {
		t.Fatalf("Expires %q: %v", h.Get("Expires"), err)
	}
	if etag := h.Get("ETag"); len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag %q", etag)
	}
}

// wantMalformed checks an answer to a request that is no OCSP request:
// malformedRequest with HTTP 200 (or a 4xx from the HTTP layer), never a 5xx.
func wantMalformed(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	switch {
	case resp.StatusCode >= 500:
		t.Fatalf("%s: status %d: %s", what, resp.StatusCode, body)
	case resp.StatusCode >= 400:
		return
	case resp.StatusCode != http.StatusOK:
		t.Fatalf("%s: status %d", what, resp.StatusCode)
	}
	wantOCSPHeaders(t, resp, false)
	if !bytes.Equal(body, malformedOCSP) {
		t.Fatalf("%s: body %x, want malformedRequest", what, body)
	}
	var re ocsp.ResponseError
	if _, err := ocsp.ParseResponse(body, nil); !errors.As(err, &re) || re.Status != ocsp.Malformed {
		t.Fatalf("%s: x/crypto/ocsp reads %v", what, err)
	}
}

// TestOCSPOpenSSL asks OpenSSL's OCSP client about certificates of both
// issuing CAs (ECDSA and RSA): good, revoked through the API at once, and
// unknown, with and without a nonce.
func TestOCSPOpenSSL(t *testing.T) {
	bin := openssl(t)
	ts := newTestServer(t)
	dir := t.TempDir()
	_, rootPEM := ts.get(t, "/ca/"+testenv.RootID+".pem", "Authorization", "")
	rootFile := writeFile(t, dir, "root.pem", rootPEM)

	for _, tt := range []struct{ profile, key, ca string }{
		{"qualified-sign", "ecdsa-p256", testenv.QualifiedID},
		{"tls-server", "rsa-2048", testenv.TLSID},
	} {
		t.Run(tt.ca, func(t *testing.T) {
			issued := issue(t, ts, tt.profile, tt.key)
			leafFile := writeFile(t, dir, issued.Serial+".pem", []byte(issued.Certificate))
			_, caPEM := ts.get(t, "/ca/"+tt.ca+".pem", "Authorization", "")
			caFile := writeFile(t, dir, tt.ca+".pem", caPEM)
			ask := func(t *testing.T, extra ...string) string {
				t.Helper()
				args := append([]string{"ocsp", "-issuer", caFile, "-url", ts.srv.URL + "/ocsp", "-CAfile", rootFile}, extra...)
				out := runOpenSSL(t, bin, args...)
				if !strings.Contains(out, "Response verify OK") {
					t.Fatalf("openssl %s: the response does not verify:\n%s", strings.Join(args, " "), out)
				}
				return out
			}
			nonces := [][]string{{}, {"-no_nonce"}}
			for _, nonce := range nonces {
				if out := ask(t, append([]string{"-cert", leafFile}, nonce...)...); !strings.Contains(out, leafFile+": good") {
					t.Fatalf("openssl ocsp %v: want good:\n%s", nonce, out)
				}
			}
			if out := ask(t, "-serial", "0x123456"); !strings.Contains(out, "0x123456: unknown") {
				t.Fatalf("openssl ocsp for a serial never issued: want unknown:\n%s", out)
			}

			resp, body := revokeAPI(t, ts, issued.Serial, `{"reason":"keyCompromise"}`)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("revoke: %d %s", resp.StatusCode, body)
			}
			// No waiting: the answer changed before the API call returned,
			// for the pre-signed response (no nonce) as for a fresh one.
			for _, nonce := range nonces {
				out := ask(t, append([]string{"-cert", leafFile}, nonce...)...)
				if !strings.Contains(out, leafFile+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
					t.Fatalf("openssl ocsp %v after the revocation: want revoked, keyCompromise:\n%s", nonce, out)
				}
			}
		})
	}
}

// TestCRLOpenSSLVerify checks the published CRL with openssl verify
// -crl_check: a revoked certificate fails, a good one passes.
func TestCRLOpenSSLVerify(t *testing.T) {
	bin := openssl(t)
	ts := newTestServer(t)
	dir := t.TempDir()
	_, rootPEM := ts.get(t, "/ca/"+testenv.RootID+".pem", "Authorization", "")
	rootFile := writeFile(t, dir, "root.pem", rootPEM)
	_, caPEM := ts.get(t, "/ca/"+testenv.QualifiedID+".pem", "Authorization", "")
	caFile := writeFile(t, dir, "ca.pem", caPEM)
	good := issue(t, ts, "qualified-sign", "ecdsa-p256")
	revoked := issue(t, ts, "qualified-sign", "ecdsa-p256")
	goodFile := writeFile(t, dir, "good.pem", []byte(good.Certificate))
	revokedFile := writeFile(t, dir, "revoked.pem", []byte(revoked.Certificate))
	if resp, body := revokeAPI(t, ts, revoked.Serial, `{"reason":"keyCompromise"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	ts.env.Authority.WaitCRLs()

	resp, der := ts.get(t, "/crl/"+testenv.QualifiedID+".crl", "Authorization", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET crl: %d", resp.StatusCode)
	}
	crlPEM := filepath.Join(dir, "crl.pem")
	runOpenSSL(t, bin, "crl", "-inform", "DER", "-in", writeFile(t, dir, "crl.der", der), "-out", crlPEM)
	verify := func(leaf string) (string, error) {
		out, err := exec.Command(bin, "verify", "-crl_check", "-CAfile", rootFile, "-untrusted", caFile, "-CRLfile", crlPEM, leaf).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(goodFile); err != nil || !strings.Contains(out, goodFile+": OK") {
		t.Fatalf("openssl verify -crl_check of a good certificate: %v\n%s", err, out)
	}
	if out, err := verify(revokedFile); err == nil || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check of a revoked certificate: %v\n%s", err, out)
	}
}

// opensslRequest has OpenSSL write the DER request it would send for leaf.
func opensslRequest(t *testing.T, bin, caFile, leafFile string) []byte {
	t.Helper()
	reqFile := filepath.Join(t.TempDir(), "req.der")
	runOpenSSL(t, bin, "ocsp", "-issuer", caFile, "-cert", leafFile, "-no_nonce", "-reqout", reqFile)
	der, err := os.ReadFile(reqFile)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestOCSPGet serves requests in the GET form (RFC 6960 A.1): base64 as
// clients write it, escaped or not, with the HTTP caching of RFC 5019.
func TestOCSPGet(t *testing.T) {
	bin := openssl(t)
	ts := newTestServer(t)
	dir := t.TempDir()
	issued := issue(t, ts, "qualified-sign", "ecdsa-p256")
	leaf := parsePEMCerts(t, issued.Certificate)[0]
	ca := caCertificate(t, ts, testenv.QualifiedID)
	caFile := writeFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
	der := opensslRequest(t, bin, caFile, writeFile(t, dir, "leaf.pem", []byte(issued.Certificate)))

	escape := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")
	escapeLower := strings.NewReplacer("+", "%2b", "/", "%2f", "=", "%3d")
	forms := func(der []byte) map[string]string {
		std := base64.StdEncoding.EncodeToString(der)
		return map[string]string{
			"plain": std, "escaped": escape.Replace(std), "lower-case escapes": escapeLower.Replace(std),
			"path-escaped": url.PathEscape(std), "unpadded": base64.RawStdEncoding.EncodeToString(der),
			"url alphabet": base64.URLEncoding.EncodeToString(der), "plus as space": strings.ReplaceAll(std, "+", "%20"),
		}
	}
	for name, b64 := range forms(der) {
		t.Run(name, func(t *testing.T) {
			resp, body := rawDo(t, ts, http.MethodGet, "/ocsp/"+b64, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /ocsp/%s: %d", b64, resp.StatusCode)
			}
			wantOCSPHeaders(t, resp, true)
			r, err := ocsp.ParseResponseForCert(body, leaf, ca)
			if err != nil || r.Status != ocsp.Good {
				t.Fatalf("GET /ocsp/%s: %v, %+v", b64, err, r)
			}
			lastModified, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
			if d := r.ProducedAt.Sub(lastModified); d < -time.Second || d > time.Second {
				t.Fatalf("Last-Modified %v, producedAt %v", lastModified, r.ProducedAt)
			}
			// Revalidation with the ETag costs no body.
			resp, body = rawDo(t, ts, http.MethodGet, "/ocsp/"+b64, nil, "If-None-Match", resp.Header.Get("ETag"))
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Fatalf("conditional GET: %d with %d bytes, want 304", resp.StatusCode, len(body))
			}
			resp, body = rawDo(t, ts, http.MethodGet, "/ocsp/"+b64, nil, "If-None-Match", `"something else"`)
			if resp.StatusCode != http.StatusOK || len(body) == 0 {
				t.Fatalf("GET with another ETag: %d", resp.StatusCode)
			}
		})
	}

	// Base64 has '/': a request whose base64 holds "//" is still a request,
	// not a path to clean and redirect.
	var slashes []byte
	for slashes == nil {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		if err != nil {
			t.Fatal(err)
		}
		der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: n.Add(n, big.NewInt(1))}, ca, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b64 := base64.StdEncoding.EncodeToString(der); strings.Contains(b64, "//") && strings.Contains(b64, "+") {
			slashes = der
		}
	}
	want, err := ocsp.ParseRequest(slashes)
	if err != nil {
		t.Fatal(err)
	}
	for name, b64 := range forms(slashes) {
		resp, body := rawDo(t, ts, http.MethodGet, "/ocsp/"+b64, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s GET /ocsp/%s: status %d", name, b64, resp.StatusCode)
		}
		r, err := ocsp.ParseResponse(body, ca)
		if err != nil || r.SerialNumber.Cmp(want.SerialNumber) != 0 || r.Status != ocsp.Unknown {
			t.Fatalf("%s GET /ocsp/%s: %v, %+v", name, b64, err, r)
		}
	}

	// HEAD answers the headers only.
	resp, body := rawDo(t, ts, http.MethodHead, "/ocsp/"+base64.StdEncoding.EncodeToString(der), nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// foreignIssuer is a CA certificate of nobody Selo knows.
func foreignIssuer(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOCSPBadInput sends what is not an OCSP request, by POST and by GET:
// malformedRequest or a 4xx, never a server error.
func TestOCSPBadInput(t *testing.T) {
	ts := newTestServer(t)
	ca := caCertificate(t, ts, testenv.QualifiedID)
	good, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(0x123456)}, ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 700)
	_, _ = rand.Read(random)

	posts := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)/2],
		"too large": append(append([]byte{}, good...), make([]byte, 10<<10)...),
		"large sequence": func() []byte {
			b := make([]byte, 11<<10)
			b[0], b[1], b[2], b[3] = 0x30, 0x82, byte((len(b)-4)>>8), byte(len(b)-4)
			return b
		}(),
		"random":         random,
		"text":           []byte("GET / HTTP/1.1\r\n\r\n"),
		"a certificate":  ca.Raw,
		"trailing bytes": append(append([]byte{}, good...), 0x00, 0x00),
	}
	for name, body := range posts {
		resp, b := postOCSP(t, ts, body)
		wantMalformed(t, "POST "+name, resp, b)
	}
	// A body larger than the limit without a Content-Length (chunked).
	req, err := http.NewRequest(http.MethodPost, ts.srv.URL+"/ocsp", io.MultiReader(bytes.NewReader(good), bytes.NewReader(make([]byte, 64<<10))))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantMalformed(t, "chunked POST", resp, b)

	for name, target := range map[string]string{
		"no request":       "/ocsp/",
		"bad escape":       "/ocsp/%ZZ",
		"not base64":       "/ocsp/!!!!",
		"truncated base64": "/ocsp/" + base64.StdEncoding.EncodeToString(good)[:20],
		"random base64":    "/ocsp/" + base64.StdEncoding.EncodeToString(random),
		"huge":             "/ocsp/" + strings.Repeat("A", 50_000),
		"dots":             "/ocsp/../../../etc/passwd",
		"nested":           "/ocsp/a/b/c",
		"query":            "/ocsp/?" + base64.StdEncoding.EncodeToString(good),
	} {
		resp, b := rawDo(t, ts, http.MethodGet, target, nil)
		wantMalformed(t, "GET "+name, resp, b)
	}

	// An issuer that is not one of ours.
	foreign, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(0x123456)}, foreignIssuer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, send := range []func() (*http.Response, []byte){
		func() (*http.Response, []byte) { return postOCSP(t, ts, foreign) },
		func() (*http.Response, []byte) {
			return rawDo(t, ts, http.MethodGet, "/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(foreign)), nil)
		},
	} {
		resp, b := send()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("foreign issuer: status %d", resp.StatusCode)
		}
		wantOCSPHeaders(t, resp, false)
		var re ocsp.ResponseError
		if _, err := ocsp.ParseResponse(b, nil); !errors.As(err, &re) || re.Status != ocsp.Unauthorized {
			t.Fatalf("foreign issuer: %v, want unauthorized", err)
		}
	}
	if logs := ts.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Fatalf("bad requests were logged as errors:\n%s", logs)
	}
}

// TestCRLHTTP checks GET /crl/ID.crl: the DER CRL with its media type,
// validators and caching, conditional requests, and what is not a CRL.
func TestCRLHTTP(t *testing.T) {
	ts := newTestServer(t)
	for _, id := range []string{testenv.QualifiedID, testenv.RootID} {
		ca := caCertificate(t, ts, id)
		resp, der := ts.get(t, "/crl/"+id+".crl", "Authorization", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /crl/%s.crl: %d %s", id, resp.StatusCode, der)
		}
		h := resp.Header
		if ct := h.Get("Content-Type"); ct != "application/pkix-crl" {
			t.Fatalf("Content-Type %q", ct)
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := rl.CheckSignatureFrom(ca); err != nil {
			t.Fatalf("CRL of %s: %v", id, err)
		}
		if lm, err := http.ParseTime(h.Get("Last-Modified")); err != nil || !lm.Equal(rl.ThisUpdate) {
			t.Fatalf("Last-Modified %q, thisUpdate %v", h.Get("Last-Modified"), rl.ThisUpdate)
		}
		cc := h.Get("Cache-Control")
		_, rest, _ := strings.Cut(cc, "max-age=")
		if age, err := strconv.Atoi(strings.SplitN(rest, ",", 2)[0]); err != nil || age <= 0 || age > int(server.DefaultCacheMaxAge/time.Second) {
			t.Fatalf("Cache-Control %q: want a max-age of at most the server's cache max-age", cc)
		}
		etag := h.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		for _, cond := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", h.Get("Last-Modified")}} {
			resp, body := ts.get(t, "/crl/"+id+".crl", "Authorization", "", cond[0], cond[1])
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Fatalf("%s: %d with %d bytes, want 304", cond[0], resp.StatusCode, len(body))
			}
		}
		resp, body := ts.do(t, http.MethodHead, "/crl/"+id+".crl", nil, "Authorization", "")
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Fatalf("HEAD: %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
		}
	}

	// A revocation makes a new CRL, with a new validator.
	_, etagBefore := func() (*http.Response, string) {
		resp, _ := ts.get(t, "/crl/"+testenv.QualifiedID+".crl", "Authorization", "")
		return resp, resp.Header.Get("ETag")
	}()
	c := issue(t, ts, "qualified-sign", "ecdsa-p256")
	if resp, body := revokeAPI(t, ts, c.Serial, `{"reason":"cessationOfOperation"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	ts.env.Authority.WaitCRLs()
	resp, der := ts.get(t, "/crl/"+testenv.QualifiedID+".crl", "Authorization", "", "If-None-Match", etagBefore)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etagBefore {
		t.Fatalf("after a revocation: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etagBefore)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil || len(rl.RevokedCertificateEntries) != 1 || fmt.Sprintf("%x", rl.RevokedCertificateEntries[0].SerialNumber) != c.Serial {
		t.Fatalf("CRL after the revocation of %s: %v", c.Serial, err)
	}

	for _, path := range []string{"/crl/no-such-ca.crl", "/crl/" + testenv.QualifiedID + ".pem", "/crl/Bad_ID.crl", "/crl/.crl"} {
		resp, body := ts.get(t, path, "Authorization", "")
		wantError(t, resp, body, http.StatusNotFound, "not_found", "")
	}
}

// TestRevokeAPI drives revocation through the REST API.
func TestRevokeAPI(t *testing.T) {
	ts := newTestServer(t)
	c := issue(t, ts, "qualified-sign", "ecdsa-p256")
	path := "/api/v1/certificates/" + c.Serial

	resp, body := ts.do(t, http.MethodPost, path+"/revoke", strings.NewReader(`{"reason":"keyCompromise"}`), "Content-Type", "application/json", "Authorization", "")
	wantError(t, resp, body, http.StatusUnauthorized, "unauthorized", "API key")
	resp, body = ts.get(t, path+"/revocation")
	wantError(t, resp, body, http.StatusNotFound, "not_found", "")
	for _, tt := range []struct {
		name, path, body, contentType string
		status                        int
		code, message                 string
	}{
		{"not json", path + "/revoke", `{"reason":`, "application/json", 400, "invalid", ""},
		{"unknown field", path + "/revoke", `{"raison":"keyCompromise"}`, "application/json", 400, "invalid", ""},
		{"unknown reason", path + "/revoke", `{"reason":"bored"}`, "application/json", 400, "invalid", "unknown revocation reason"},
		{"removeFromCRL", path + "/revoke", `{"reason":"removeFromCRL"}`, "application/json", 400, "invalid", ""},
		{"future invalidity", path + "/revoke", `{"reason":"keyCompromise","invalidity_date":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, "application/json", 400, "invalid", "future"},
		{"wrong media type", path + "/revoke", `{"reason":"keyCompromise"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"unknown serial", "/api/v1/certificates/123456/revoke", `{"reason":"keyCompromise"}`, "application/json", 404, "not_found", ""},
		{"not a serial", "/api/v1/certificates/xyz/revoke", `{"reason":"keyCompromise"}`, "application/json", 400, "invalid", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, http.MethodPost, tt.path, strings.NewReader(tt.body), "Content-Type", tt.contentType)
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}
	resp, body = ts.get(t, path+"/revoke")
	wantError(t, resp, body, http.StatusMethodNotAllowed, "method_not_allowed", "")

	invalidity := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	resp, body = revokeAPI(t, ts, strings.ToUpper(c.Serial), `{"reason":"key-compromise","invalidity_date":"`+invalidity.Format(time.RFC3339)+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	var rev server.RevocationResponse
	if err := json.Unmarshal(body, &rev); err != nil {
		t.Fatal(err)
	}
	if rev.Serial != c.Serial || rev.CA != testenv.QualifiedID || rev.Reason != "keyCompromise" || !rev.Created ||
		rev.InvalidityDate == nil || !rev.InvalidityDate.Equal(invalidity) || rev.RevokedAt.IsZero() {
		t.Fatalf("revocation %s", body)
	}
	resp, body = revokeAPI(t, ts, c.Serial, `{"reason":"superseded"}`)
	var again server.RevocationResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &again) != nil || again.Created || again.Reason != "keyCompromise" || !again.RevokedAt.Equal(rev.RevokedAt) {
		t.Fatalf("second revoke: %d %s; want 200 with the first revocation", resp.StatusCode, body)
	}
	var found server.RevocationResponse
	ts.getJSON(t, path+"/revocation", &found)
	if found.Reason != "keyCompromise" || found.Created || !found.RevokedAt.Equal(rev.RevokedAt) {
		t.Fatalf("GET revocation: %+v", found)
	}
	var cert server.CertificateResponse
	ts.getJSON(t, path, &cert)
	if cert.Status != "revoked" {
		t.Fatalf("certificate status %q", cert.Status)
	}
	entries, err := ts.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "certificate.revoke" && e.Object == "certificate/"+c.Serial && e.Outcome == selo.OutcomeSuccess {
			n++
			if e.Actor != "api:"+testenv.APIKeyName {
				t.Fatalf("revocation audited as %q", e.Actor)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d successful revocation audit entries, want 1", n)
	}

	// Only a hold can be released.
	resp, body = ts.do(t, http.MethodPost, path+"/release-hold", nil)
	wantError(t, resp, body, http.StatusForbidden, "forbidden", "")
	held := issue(t, ts, "qualified-sign", "ecdsa-p256")
	if resp, body := revokeAPI(t, ts, held.Serial, `{"reason":"certificateHold"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("hold: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, http.MethodPost, "/api/v1/certificates/"+held.Serial+"/release-hold", nil)
	var released server.CertificateResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &released) != nil || released.Status != "valid" {
		t.Fatalf("release-hold: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/api/v1/certificates/"+held.Serial+"/revocation")
	wantError(t, resp, body, http.StatusNotFound, "not_found", "")
	resp, body = ts.do(t, http.MethodPost, "/api/v1/certificates/"+held.Serial+"/release-hold", nil)
	wantError(t, resp, body, http.StatusNotFound, "not_found", "")

	// No hold for TLS.
	tlsCert := issue(t, ts, "tls-server", "ecdsa-p256")
	resp, body = revokeAPI(t, ts, tlsCert.Serial, `{"reason":"certificateHold"}`)
	wantError(t, resp, body, http.StatusForbidden, "forbidden", "TLS")
}

// holderBody is a POST /api/v1/holder/revoke body.
func holderBody(t *testing.T, serial, reason string, at time.Time, sig []byte) string {
	t.Helper()
	b, err := json.Marshal(server.HolderRevokeRequest{Serial: serial, Reason: reason, Time: at, Signature: base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHolderRevokeAPI revokes with the certificate's key and no API key:
// signed in Go for an ECDSA key, with OpenSSL (as the documentation shows)
// for an RSA key.
func TestHolderRevokeAPI(t *testing.T) {
	ts := newTestServer(t)
	post := func(t *testing.T, body string) (*http.Response, []byte) {
		t.Helper()
		return ts.do(t, http.MethodPost, "/api/v1/holder/revoke", strings.NewReader(body), "Content-Type", "application/json", "Authorization", "")
	}
	sign := func(t *testing.T, key crypto.Signer, serial string, reason selo.RevocationReason, at time.Time) []byte {
		t.Helper()
		digest := sha256.Sum256([]byte(authority.HolderRevokeMessage(serial, reason, at)))
		sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}

	c, _, key := issueWithKey(t, ts, "qualified-sign", "ecdsa-p256")
	now := time.Now().UTC().Truncate(time.Second)
	kc := selo.ReasonKeyCompromise
	for _, tt := range []struct {
		name, body    string
		status        int
		code, message string
	}{
		{"wrong key", holderBody(t, c.Serial, "keyCompromise", now, sign(t, testKey(t), c.Serial, kc, now)), 401, "unauthorized", "does not verify"},
		{"stale", holderBody(t, c.Serial, "keyCompromise", now.Add(-6*time.Minute), sign(t, key, c.Serial, kc, now.Add(-6*time.Minute))), 401, "unauthorized", "sign again"},
		{"hold", holderBody(t, c.Serial, "certificateHold", now, sign(t, key, c.Serial, selo.ReasonCertificateHold, now)), 403, "forbidden", ""},
		{"cACompromise", holderBody(t, c.Serial, "cACompromise", now, sign(t, key, c.Serial, selo.ReasonCACompromise, now)), 403, "forbidden", ""},
		{"bad base64", `{"serial":"` + c.Serial + `","reason":"keyCompromise","time":"` + now.Format(time.RFC3339) + `","signature":"!!!"}`, 400, "invalid", "base64"},
		{"unknown reason", holderBody(t, c.Serial, "bored", now, nil), 400, "invalid", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, tt.body)
			wantError(t, resp, body, tt.status, tt.code, tt.message)
		})
	}

	resp, body := post(t, holderBody(t, c.Serial, "keyCompromise", now, sign(t, key, c.Serial, kc, now)))
	var rev server.RevocationResponse
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &rev) != nil || !rev.Created || rev.Reason != "keyCompromise" {
		t.Fatalf("holder revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, holderBody(t, c.Serial, "keyCompromise", now, sign(t, key, c.Serial, kc, now)))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rev) != nil || rev.Created {
		t.Fatalf("holder revoke again: %d %s", resp.StatusCode, body)
	}
	if got, err := ts.env.Authority.FindRevocation(context.Background(), c.Serial); err != nil || got.Actor != "holder:"+c.Serial {
		t.Fatalf("revocation %+v, %v; want by holder:%s", got, err, c.Serial)
	}

	t.Run("openssl", func(t *testing.T) {
		bin := openssl(t)
		c, _, key := issueWithKey(t, ts, "tls-server", "rsa-2048")
		dir := t.TempDir()
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
		at := time.Now().UTC().Truncate(time.Second)
		msgFile := writeFile(t, dir, "msg.txt", fmt.Appendf(nil, "selo-revoke-v1\n%s\n%s\n%s", c.Serial, "superseded", at.Format(time.RFC3339)))
		sig, err := exec.Command(bin, "dgst", "-sha256", "-sign", keyFile, msgFile).Output()
		if err != nil {
			t.Fatalf("openssl dgst -sign: %v", err)
		}
		resp, body := post(t, holderBody(t, strings.ToUpper(c.Serial), "superseded", at, sig))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("holder revoke signed with openssl: %d %s", resp.StatusCode, body)
		}
	})
}

// testKey is a fresh P-256 key.
func testKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStatusRoles checks what each role serves: an OCSP replica answers
// OCSP and CRLs and the public CA files but has no API; an API replica has
// no OCSP or CRLs.
func TestStatusRoles(t *testing.T) {
	ocspOnly := newTestServer(t, func(c *server.Config) { c.Roles = []string{server.RoleOCSP} })
	ca := caCertificate(t, ocspOnly, testenv.QualifiedID)
	c := ocspOnly.env.Issue(t, "qualified-sign", "ecdsa-p256")
	leaf, err := x509.ParseCertificate(c.DER)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.CreateRequest(leaf, ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	b64 := url.PathEscape(base64.StdEncoding.EncodeToString(req))

	type probe struct {
		method, target string
		body           []byte
		status         int
	}
	check := func(t *testing.T, ts *testServer, probes []probe) {
		t.Helper()
		for _, p := range probes {
			resp, body := rawDo(t, ts, p.method, p.target, p.body, "Authorization", "Bearer "+ts.env.APIKey, "Content-Type", "application/json")
			if resp.StatusCode != p.status {
				t.Fatalf("%s %.60s: %d, want %d: %s", p.method, p.target, resp.StatusCode, p.status, body)
			}
		}
	}
	check(t, ocspOnly, []probe{
		{"POST", "/ocsp", req, 200},
		{"GET", "/ocsp/" + b64, nil, 200},
		{"GET", "/crl/" + testenv.QualifiedID + ".crl", nil, 200},
		{"GET", "/ca/" + testenv.RootID + ".pem", nil, 200},
		{"GET", "/healthz", nil, 200},
		{"GET", "/api/v1/cas", nil, 404},
		{"GET", "/api/v1/certificates/" + c.Serial, nil, 404},
		{"POST", "/api/v1/certificates/" + c.Serial + "/revoke", []byte(`{"reason":"keyCompromise"}`), 404},
		{"POST", "/api/v1/holder/revoke", []byte(`{}`), 404},
	})
	if got, err := ocspOnly.env.Store.FindCertificate(context.Background(), c.Serial); err != nil || got.Status != selo.CertValid {
		t.Fatalf("an OCSP replica revoked: %+v, %v", got, err)
	}

	apiOnly := newTestServer(t, func(c *server.Config) { c.Roles = []string{server.RoleAPI} })
	check(t, apiOnly, []probe{
		{"POST", "/ocsp", req, 404},
		{"GET", "/ocsp/" + b64, nil, 404},
		{"GET", "/crl/" + testenv.QualifiedID + ".crl", nil, 404},
		{"GET", "/ca/" + testenv.RootID + ".pem", nil, 200},
		{"GET", "/healthz", nil, 200},
		{"GET", "/api/v1/cas", nil, 200},
	})
}
