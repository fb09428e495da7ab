package pades_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/server"
)

// seloPKI is Selo's own authority and server (OCSP at /ocsp, CRLs at
// /crl/), reached through a transport that sends the certificates' public
// URLs (testenv.BaseURL) to the test server and counts the requests.
type seloPKI struct {
	env    *testenv.Env
	client *http.Client
	srv    *httptest.Server

	mu       sync.Mutex
	requests map[string]int // "POST /ocsp", "GET /crl/..."
	block    string         // path prefix answered 503, to fail a method
}

func newSeloPKI(t *testing.T) *seloPKI {
	t.Helper()
	p := &seloPKI{env: testenv.New(t), requests: map[string]int{}}
	p.srv = httptest.NewServer(server.New(server.Config{Authority: p.env.Authority, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(p.srv.Close)
	p.client = signtest.RedirectClient(p.srv.URL, func(r *http.Request) *http.Response {
		p.mu.Lock()
		p.requests[r.Method+" "+r.URL.Path]++
		blocked := p.block != "" && strings.HasPrefix(r.URL.Path, p.block)
		p.mu.Unlock()
		if blocked {
			return signtest.Unavailable(r)
		}
		return nil
	})
	return p
}

func (p *seloPKI) count(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.requests {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// signer issues an advanced-invoice certificate from Selo's qualified CA
// and returns it with the CA certificates, root last.
func (p *seloPKI) signer(t *testing.T) *signtest.Signer {
	t.Helper()
	csr, key := testenv.CSR(t, "advanced-invoice", "ecdsa-p256")
	c, err := p.env.Authority.Issue(context.Background(), testenv.Actor, authority.IssueRequest{Profile: "advanced-invoice", CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(der []byte) *x509.Certificate {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	return &signtest.Signer{Cert: parse(c.DER), Key: key,
		Chain: []*x509.Certificate{parse(p.env.TLS.CertDER), parse(p.env.Qualified.CertDER)}, Root: parse(p.env.Root.CertDER)}
}

// vriKey is the uppercase SHA-1 of the hex-decoded /Contents of the last
// signature in pdf, padding included.
func vriKey(t *testing.T, pdf []byte) string {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("/Contents<")) + len("/Contents<")
	j := bytes.IndexByte(pdf[i:], '>')
	raw, err := hex.DecodeString(string(pdf[i : i+j]))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// readDSS reads the catalog's /DSS with pdfcpu and returns it with the
// number of entries of each array.
func readDSS(t *testing.T, pdf []byte) (types.Dict, map[string]int, *model.Context) {
	t.Helper()
	model.ConfigPath = "disable"
	ctx, err := api.ReadContext(bytes.NewReader(pdf), model.NewDefaultConfiguration())
	if err != nil {
		t.Fatalf("pdfcpu cannot read the LT PDF: %v", err)
	}
	cat, err := ctx.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	dss, err := ctx.DereferenceDict(cat["DSS"])
	if err != nil || dss == nil {
		t.Fatalf("no /DSS in the catalog: %v", err)
	}
	n := map[string]int{}
	for _, k := range []string{"Certs", "OCSPs", "CRLs"} {
		a, _ := ctx.DereferenceArray(dss[k])
		n[k] = len(a)
	}
	return dss, n, ctx
}

func signLT(t *testing.T, p *seloPKI, s *signtest.Signer, in []byte) []byte {
	t.Helper()
	signed, err := pades.Sign(context.Background(), s.Key, in, pades.Options{CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}}, signtest.TSAResponder(t, at))
	if err != nil {
		t.Fatal(err)
	}
	f := pades.RevocationFetcher{Client: p.client}
	vd, err := f.Fetch(context.Background(), append([]*x509.Certificate{s.Cert}, append(s.Chain, s.Root)...))
	if err != nil {
		t.Fatalf("fetch revocation data: %v", err)
	}
	lt, err := pades.AddValidationData(signed, vd)
	if err != nil {
		t.Fatalf("add validation data: %v", err)
	}
	if !bytes.HasPrefix(lt, signed) {
		t.Fatal("the DSS update changed the signed bytes")
	}
	return lt
}

func TestAddValidationDataFromSeloServer(t *testing.T) {
	p := newSeloPKI(t)
	s := p.signer(t)
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	for name, in := range map[string][]byte{"classic": minimalPDF(), "xref stream": xrefStreamPDF()} {
		t.Run(name, func(t *testing.T) {
			before, beforeCRL := p.count("POST /ocsp"), p.count("GET /crl/")
			lt := signLT(t, p, s, in)
			// Leaf and qualified CA each ask OCSP first, and Selo's
			// responder answers for its CA certificates too (signed by the
			// root's responder), so no CRL is needed. The root needs nothing.
			if got, gotCRL := p.count("POST /ocsp")-before, p.count("GET /crl/")-beforeCRL; got != 2 || gotCRL != 0 {
				t.Fatalf("%d OCSP and %d CRL requests, want 2 and 0", got, gotCRL)
			}
			dss, n, ctx := readDSS(t, lt)
			if n["Certs"] != 3 || n["OCSPs"] != 2 || n["CRLs"] != 0 {
				t.Fatalf("DSS holds %v, want the 3 certificates and the OCSP answers of the leaf and the CA", n)
			}
			vris, _ := ctx.DereferenceDict(dss["VRI"])
			if _, ok := vris[vriKey(t, lt[:bytes.LastIndex(lt, []byte("/Type/DSS"))])]; !ok || len(vris) != 1 {
				t.Fatalf("/VRI keys %v, want the SHA-1 of the signature's /Contents", vris)
			}
			if name == "xref stream" {
				checkXRefStreamUpdate(t, lt[:bytes.LastIndex(lt[:len(lt)-10], []byte("%%EOF"))+6], lt)
			}
			out := pdfsig(t, lt, root)
			if strings.Count(out, "Signature is Valid") != 1 {
				t.Fatalf("pdfsig after the DSS update:\n%s", out)
			}
		})
	}
}

func TestAddValidationDataTwiceAndCRLFallback(t *testing.T) {
	p := newSeloPKI(t)
	s := p.signer(t)
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	first := signLT(t, p, s, minimalPDF())
	// The responder is down: the CRL distribution points answer instead.
	p.block = "/ocsp"
	second := signLT(t, p, s, first)
	if p.count("GET /crl/") != 2 {
		t.Fatalf("%d CRL requests, want none then 2", p.count("GET /crl/"))
	}
	dss, n, ctx := readDSS(t, second)
	if n["Certs"] != 6 || n["OCSPs"] != 2 || n["CRLs"] != 2 {
		t.Fatalf("DSS holds %v after two LT signatures", n)
	}
	vris, _ := ctx.DereferenceDict(dss["VRI"])
	if len(vris) != 2 {
		t.Fatalf("/VRI has %d entries, want one per signature", len(vris))
	}
	out := pdfsig(t, second, root)
	if strings.Count(out, "Signature is Valid") != 2 {
		t.Fatalf("pdfsig after two LT signatures:\n%s", out)
	}
}

func TestFetchRevokedAndBrokenChain(t *testing.T) {
	p := newSeloPKI(t)
	s := p.signer(t)
	f := pades.RevocationFetcher{Client: p.client}
	// Without the issuing CA the chain cannot be walked.
	if _, err := f.Fetch(context.Background(), []*x509.Certificate{s.Cert}); selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(err.Error(), "lacks the issuer") {
		t.Fatalf("err = %v", err)
	}
	serial := s.Cert.SerialNumber.Text(16)
	if _, _, err := p.env.Authority.Revoke(context.Background(), testenv.Actor, authority.RevokeRequest{Serial: serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), append([]*x509.Certificate{s.Cert}, s.Chain...)); selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a revoked certificate: err = %v", err)
	}
	if _, err := pades.AddValidationData(minimalPDF(), &pades.ValidationData{Certificates: []*x509.Certificate{s.Cert}}); selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(err.Error(), "no signature") {
		t.Fatalf("an unsigned PDF: err = %v", err)
	}
}
