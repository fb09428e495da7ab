package pades_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/signtest"
)

// testPKI answers OCSP for the certificates it knows, revoked at
// revokedAt[serial] when set, and serves the root's CRL (which lists the
// certificates in rootRevoked), through a client that sends the pkitest
// hierarchy's URLs to it.
type testPKI struct {
	client      *http.Client
	mu          sync.Mutex
	known       map[string]*x509.Certificate
	revokedAt   map[string]time.Time
	rootRevoked []*x509.Certificate
	asked       []string // subjects' common names, in order
}

func newTestPKI(t *testing.T, certs ...*x509.Certificate) *testPKI {
	p := &testPKI{known: map[string]*x509.Certificate{}, revokedAt: map[string]time.Time{}}
	for _, c := range certs {
		p.known[c.SerialNumber.String()] = c
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case r.URL.Path == "/ocsp":
			body, _ := io.ReadAll(r.Body)
			req, err := ocsp.ParseRequest(body)
			if err != nil || p.known[req.SerialNumber.String()] == nil {
				http.Error(w, "unknown", http.StatusNotFound)
				return
			}
			c := p.known[req.SerialNumber.String()]
			p.asked = append(p.asked, c.Subject.CommonName)
			w.Write(signtest.OCSPResponse(t, c, at, p.revokedAt[req.SerialNumber.String()]))
		case strings.HasPrefix(r.URL.Path, "/crl/"):
			w.Write(signtest.RootCRLRevoking(t, at, at.Add(-time.Hour), p.rootRevoked...))
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	p.client = signtest.RedirectClient(srv.URL, nil)
	return p
}

// TestFetchForSignatureAddsTheTSA: B-LT validation data covers the
// signature timestamp too: the TSA's certificate and its OCSP answer join
// the signer's chain, the CA they share is stored and checked once, and the
// resulting PDF verifies offline from the DSS alone, the CA included.
func TestFetchForSignatureAddsTheTSA(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	ts := signtest.TSAResponder(t, at)
	tsaCert := ts.Certificate()
	p := newTestPKI(t, s.Cert, tsaCert)
	signed := sign(t, s, minimalPDF(), ts)
	chain := append([]*x509.Certificate{s.Cert}, append(s.Chain, s.Root)...)

	tc, err := pades.TimestampChain(signed, nil)
	if err != nil || len(tc) == 0 || !tc[0].Equal(tsaCert) {
		t.Fatalf("timestamp chain: %v %v", tc, err)
	}
	f := pades.RevocationFetcher{Client: p.client, Now: at}
	vd, err := f.FetchForSignature(context.Background(), signed, chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(vd.Certificates) != 4 || !vd.Certificates[3].Equal(tsaCert) || len(vd.OCSPs) != 2 || len(vd.CRLs) != 1 {
		t.Fatalf("validation data: %d certificates, %d OCSP answers, %d CRLs; want the signer's 3 then the TSA's, 2 and 1",
			len(vd.Certificates), len(vd.OCSPs), len(vd.CRLs))
	}
	if strings.Join(p.asked, ",") != s.Cert.Subject.CommonName+","+tsaCert.Subject.CommonName {
		t.Fatalf("OCSP asked about %v", p.asked)
	}
	lt, err := pades.AddValidationData(signed, vd)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(lt, pades.VerifyOptions{Roots: s.Roots(), Now: at, Revocation: &revocation.Checker{Offline: true}})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if !rep.Valid() || sig.Level != pades.LevelBLT || len(sig.ChainRevocation) != 1 || sig.ChainRevocation[0].Status.Status != revocation.Good ||
		sig.ChainRevocation[0].Status.Source != "CRL (embedded in the document)" {
		t.Fatalf("B-LT with the TSA's data: %+v %+v", sig.SignatureReport, sig.ChainRevocation)
	}

	// B-B: no timestamp, nothing more than the signer's chain.
	bb := sign(t, s, minimalPDF(), nil)
	if tc, err := pades.TimestampChain(bb, nil); err != nil || tc != nil {
		t.Fatalf("B-B timestamp chain: %v %v", tc, err)
	}
	if vd, err := f.FetchForSignature(context.Background(), bb, chain); err != nil || len(vd.Certificates) != 3 || len(vd.OCSPs) != 1 {
		t.Fatalf("B-B: %+v %v", vd, err)
	}

	// A revoked TSA certificate is an error, named as the TSA's.
	p.revokedAt[tsaCert.SerialNumber.String()] = at.Add(-time.Hour)
	if _, err := f.FetchForSignature(context.Background(), signed, chain); err == nil || !strings.Contains(err.Error(), "timestamp's TSA") || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked TSA: err = %v", err)
	}
}

// TestVerifyRevokedIntermediate: a DSS whose root CRL lists the issuing CA
// as revoked before the timestamp makes the signature invalid, though the
// signer's own certificate is good.
func TestVerifyRevokedIntermediate(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	ts := signtest.TSAResponder(t, at)
	p := newTestPKI(t, s.Cert, ts.Certificate())
	p.rootRevoked = s.Chain
	signed := sign(t, s, minimalPDF(), ts)
	lt, err := pades.AddValidationData(signed, &pades.ValidationData{
		Certificates: []*x509.Certificate{s.Cert, s.Chain[0], s.Root},
		OCSPs:        [][]byte{signtest.OCSPResponse(t, s.Cert, at, time.Time{})},
		CRLs:         [][]byte{signtest.RootCRLRevoking(t, at, at.Add(-time.Hour), s.Chain[0])},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(lt, pades.VerifyOptions{Roots: s.Roots(), Now: at, Revocation: &revocation.Checker{Offline: true}})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if rep.Valid() || sig.Status != cades.StatusInvalid || sig.Revocation.Status != revocation.Good ||
		sig.ChainRevocation[0].Status.Status != revocation.Revoked || !strings.Contains(strings.Join(sig.Problems, ";"), "the CA certificate") {
		t.Fatalf("revoked CA: %+v %+v", sig.SignatureReport, sig.ChainRevocation[0].Status)
	}
	// The fetcher refuses to make B-LT data for a chain with a revoked CA.
	f := pades.RevocationFetcher{Client: p.client, Now: at}
	if _, err := f.FetchForSignature(context.Background(), signed, append([]*x509.Certificate{s.Cert}, append(s.Chain, s.Root)...)); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("fetch with a revoked CA: err = %v", err)
	}
}
