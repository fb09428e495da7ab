package server_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"

	"github.com/selo-qtsp/selo/internal/testenv"
)

func TestCAFiles(t *testing.T) {
	ts := newTestServer(t)
	root, qualified, tls := ts.env.Root, ts.env.Qualified, ts.env.TLS
	tests := []struct {
		path        string
		contentType string
		want        [][]byte // the certificates expected, in order
		disposition string
	}{
		{"/ca/" + root.ID + ".crt", "application/pkix-cert", [][]byte{root.CertDER}, ""},
		{"/ca/" + qualified.ID + ".crt", "application/pkix-cert", [][]byte{qualified.CertDER}, ""},
		{"/ca/" + root.ID + ".pem", "application/x-pem-file", [][]byte{root.CertDER}, ""},
		{"/ca/" + qualified.ID + ".pem", "application/x-pem-file", [][]byte{qualified.CertDER, root.CertDER}, ""},
		{"/ca/" + tls.ID + ".pem", "application/x-pem-file", [][]byte{tls.CertDER, root.CertDER}, ""},
		{"/ca/" + qualified.ID + ".p7b", "application/pkcs7-mime", [][]byte{qualified.CertDER, root.CertDER}, `attachment; filename="` + qualified.ID + `.p7b"`},
		{"/ca/" + tls.ID + ".p7b", "application/pkcs7-mime", [][]byte{tls.CertDER, root.CertDER}, `attachment; filename="` + tls.ID + `.p7b"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := ts.get(t, tt.path, "Authorization", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			h := resp.Header
			if got := h.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := h.Get("Content-Disposition"); got != tt.disposition {
				t.Errorf("Content-Disposition %q, want %q", got, tt.disposition)
			}
			if got := h.Get("Cache-Control"); got != "public, max-age=3600" {
				t.Errorf("Cache-Control %q", got)
			}
			etag, modified := h.Get("ETag"), h.Get("Last-Modified")
			if !strings.HasPrefix(etag, `"`) || modified == "" {
				t.Fatalf("ETag %q, Last-Modified %q: want both", etag, modified)
			}
			if got := certsOf(t, tt.path, body); !equalDERs(got, tt.want) {
				t.Fatalf("got %d certificates, not the expected chain of %d", len(got), len(tt.want))
			}

			// Revalidation answers 304 without a body, by ETag or by date.
			for _, cond := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", modified}} {
				resp, body := ts.get(t, tt.path, "Authorization", "", cond[0], cond[1])
				if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
					t.Errorf("%s: status %d, %d bytes; want 304 and no body", cond[0], resp.StatusCode, len(body))
				}
			}
			resp, headBody := ts.do(t, http.MethodHead, tt.path, nil, "Authorization", "")
			if resp.StatusCode != http.StatusOK || len(headBody) != 0 || resp.ContentLength != int64(len(body)) {
				t.Errorf("HEAD: status %d, %d bytes, Content-Length %d", resp.StatusCode, len(headBody), resp.ContentLength)
			}
		})
	}
}

func TestCAFilesNotFound(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{
		"/ca/unknown-ca.crt", "/ca/" + testenv.QualifiedID + ".der", "/ca/" + testenv.QualifiedID,
		"/ca/" + strings.ToUpper(testenv.QualifiedID) + ".crt", "/ca/.crt", "/ca/-x.crt", "/ca/%2e%2e.crt",
		"/ca/" + testenv.QualifiedID + ".crt.pem", "/ca/" + strings.Repeat("a", 80) + ".crt", "/ca/a%00b.pem",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := ts.get(t, path, "Authorization", "")
			wantError(t, resp, body, http.StatusNotFound, "not_found", "")
		})
	}
}

// certsOf parses a .crt (DER), .pem or .p7b body.
func certsOf(t *testing.T, path string, body []byte) [][]byte {
	t.Helper()
	var ders [][]byte
	switch filepath.Ext(path) {
	case ".crt":
		ders = append(ders, body)
	case ".pem":
		for rest := body; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Fatalf("PEM block %q", b.Type)
			}
			ders = append(ders, b.Bytes)
		}
	case ".p7b":
		p7, err := pkcs7.Parse(body)
		if err != nil {
			t.Fatalf("parse p7b: %v", err)
		}
		for _, c := range p7.Certificates {
			ders = append(ders, c.Raw)
		}
	}
	for _, d := range ders {
		if _, err := x509.ParseCertificate(d); err != nil {
			t.Fatalf("certificate does not parse: %v", err)
		}
	}
	return ders
}

func equalDERs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// openssl returns the path of the openssl binary. Interop with it is part of
// what Selo promises, so CI (env CI set) fails without it; a laptop skips.
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is required in CI: %v", err)
		}
		t.Skipf("SKIPPING openssl interop test: openssl not found (%v); install it to run this test", err)
	}
	return path
}

func runOpenSSL(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenSSLInterop checks what relying parties download with openssl: the
// .p7b lists the chain, and a leaf issued through the API verifies against
// the root with the issuing CA from the server's files.
func TestOpenSSLInterop(t *testing.T) {
	bin := openssl(t)
	ts := newTestServer(t)
	dir := t.TempDir()

	for _, ca := range []string{testenv.QualifiedID, testenv.TLSID} {
		_, p7b := ts.get(t, "/ca/"+ca+".p7b", "Authorization", "")
		out := runOpenSSL(t, bin, "pkcs7", "-inform", "DER", "-print_certs", "-noout", "-in", writeFile(t, dir, ca+".p7b", p7b))
		if n := strings.Count(out, "subject="); n != 2 {
			t.Fatalf("openssl pkcs7 -print_certs of %s.p7b lists %d certificates, want 2:\n%s", ca, n, out)
		}
		if !strings.Contains(out, "Selo Test Root CA ECC T1") {
			t.Fatalf("%s.p7b lacks the root:\n%s", ca, out)
		}
	}

	_, rootPEM := ts.get(t, "/ca/"+testenv.RootID+".pem", "Authorization", "")
	rootFile := writeFile(t, dir, "root.pem", rootPEM)
	for _, tt := range []struct{ profile, key, ca string }{
		{"tls-server", "rsa-2048", testenv.TLSID},
		{"tls-server", "ecdsa-p256", testenv.TLSID},
		{"qualified-sign", "ecdsa-p256", testenv.QualifiedID},
		{"qualified-seal", "ecdsa-p384", testenv.QualifiedID},
	} {
		t.Run(tt.profile+"/"+tt.key, func(t *testing.T) {
			issued := issue(t, ts, tt.profile, tt.key)
			leafFile := writeFile(t, dir, issued.Serial+".pem", []byte(issued.Certificate))
			// The issuing CA as the server publishes it (.crt, DER, turned to PEM)...
			_, crt := ts.get(t, "/ca/"+tt.ca+".crt", "Authorization", "")
			issuingFile := writeFile(t, dir, tt.ca+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: crt}))
			out := runOpenSSL(t, bin, "verify", "-CAfile", rootFile, "-untrusted", issuingFile, leafFile)
			if !strings.Contains(out, ": OK") {
				t.Fatalf("openssl verify: %s", out)
			}
			// ...and the chain that came with the certificate.
			chainFile := writeFile(t, dir, issued.Serial+"-chain.pem", []byte(issued.Chain))
			out = runOpenSSL(t, bin, "verify", "-CAfile", rootFile, "-untrusted", chainFile, leafFile)
			if !strings.Contains(out, ": OK") {
				t.Fatalf("openssl verify with the returned chain: %s", out)
			}
		})
	}
}
