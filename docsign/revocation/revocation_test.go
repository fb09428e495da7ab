package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var revokedAt = pkitest.Now.Add(time.Hour)

// responder answers OCSP and CRL requests for the pkitest issuing CA with
// Selo's own encoders, the way selo serve does, revoking one serial.
type responder struct {
	srv          *httptest.Server
	ocspDisabled atomic.Bool
	ocspCalls    atomic.Int32
	crlCalls     atomic.Int32
}

func newResponder(t *testing.T, revoked *x509.Certificate) *responder {
	// A delegated responder certificate, as selo serve uses.
	key := pkitest.NewKey(t, "ecdsa-p256")
	return newResponderWith(t, revoked, key, signtest.OCSPResponder(t, key, pkitest.Now, 0))
}

// newResponderWith answers OCSP with responderCert and its key; its CRL
// revokes revoked and, when given, more serials.
func newResponderWith(t *testing.T, revoked *x509.Certificate, key crypto.Signer, responderCert *x509.Certificate, more ...*x509.Certificate) *responder {
	answeredAt := revokedAt.Add(time.Hour)
	r := &responder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/ocsp":
			r.ocspCalls.Add(1)
			if r.ocspDisabled.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			body, _ := io.ReadAll(req.Body)
			q, err := pki.ParseOCSPRequest(body)
			if err != nil {
				w.Write(pki.OCSPErrorResponse(pki.OCSPMalformedRequest))
				return
			}
			one := pki.OCSPSingleResponse{CertID: q.CertIDs[0], Status: pki.OCSPGood, ThisUpdate: answeredAt}
			if q.CertIDs[0].Serial.Cmp(revoked.SerialNumber) == 0 {
				one.Status, one.RevokedAt, one.Reason = pki.OCSPRevoked, revokedAt, selo.ReasonKeyCompromise
			}
			der, err := pki.CreateOCSPResponse(responderCert, key, pki.OCSPResponseTemplate{ProducedAt: answeredAt, Responses: []pki.OCSPSingleResponse{one}})
			if err != nil && (answeredAt.Before(responderCert.NotBefore) || answeredAt.After(responderCert.NotAfter)) {
				// Selo's encoder refuses a responder certificate that is
				// not valid then; a careless responder does not. It embeds
				// the certificate's Raw bytes, so a copy whose parsed
				// dates are widened makes that careless answer.
				careless := *responderCert
				careless.NotBefore, careless.NotAfter = answeredAt, answeredAt
				der, err = pki.CreateOCSPResponse(&careless, key, pki.OCSPResponseTemplate{ProducedAt: answeredAt, Responses: []pki.OCSPSingleResponse{one}})
			}
			if err != nil {
				t.Error(err)
			}
			w.Write(der)
		case strings.HasPrefix(req.URL.Path, "/crl/"):
			r.crlCalls.Add(1)
			w.Write(signtest.CRLRevoking(t, answeredAt, revokedAt, append([]*x509.Certificate{revoked}, more...)...))
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// client sends every request to the test responder, whatever host the
// certificate's URL names.
func (r *responder) client() *http.Client {
	return signtest.RedirectClient(r.srv.URL, nil)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOCSPThenCRL(t *testing.T) {
	good := signtest.NewSigner(t, "ecdsa-p256")
	bad := signtest.NewSigner(t, "ecdsa-p256")
	r := newResponder(t, bad.Cert)
	c := &revocation.Checker{Client: r.client()}
	issuer := good.Chain[0]
	ctx := context.Background()

	st := c.Check(ctx, good.Cert, issuer)
	if st.Status != revocation.Good || !strings.HasPrefix(st.Source, "OCSP http") {
		t.Fatalf("good by OCSP: %+v", st)
	}
	st = c.Check(ctx, bad.Cert, issuer)
	if st.Status != revocation.Revoked || !st.RevokedAt.Equal(revokedAt) || st.Reason != "keyCompromise" || !strings.HasPrefix(st.Source, "OCSP") {
		t.Fatalf("revoked by OCSP: %+v", st)
	}
	if !st.RevokedBefore(revokedAt.Add(time.Minute)) || st.RevokedBefore(revokedAt.Add(-time.Minute)) {
		t.Fatal("RevokedBefore")
	}

	// OCSP down: the CRL answers, and the report says OCSP failed.
	r.ocspDisabled.Store(true)
	st = c.Check(ctx, bad.Cert, issuer)
	if st.Status != revocation.Revoked || !strings.HasPrefix(st.Source, "CRL http") || len(st.Problems) != 1 || !st.RevokedAt.Equal(revokedAt) {
		t.Fatalf("revoked by CRL: %+v", st)
	}
	st = c.Check(ctx, good.Cert, issuer)
	if st.Status != revocation.Good || !strings.HasPrefix(st.Source, "CRL") {
		t.Fatalf("good by CRL: %+v", st)
	}
	if r.crlCalls.Load() != 2 {
		t.Fatalf("CRL fetched %d times", r.crlCalls.Load())
	}

	// Offline: nothing is fetched.
	calls := r.ocspCalls.Load() + r.crlCalls.Load()
	st = (&revocation.Checker{Offline: true, Client: r.client()}).Check(ctx, bad.Cert, issuer)
	if st.Status != revocation.NotChecked || r.ocspCalls.Load()+r.crlCalls.Load() != calls {
		t.Fatalf("offline: %+v", st)
	}
}

func TestEmbeddedDataComesFirst(t *testing.T) {
	good := signtest.NewSigner(t, "ecdsa-p256")
	bad := signtest.NewSigner(t, "ecdsa-p256")
	issuer := good.Chain[0]
	// A CRL as a signer would embed it.
	crl := signtest.CRLRevoking(t, revokedAt.Add(time.Hour), revokedAt, bad.Cert)
	c := (&revocation.Checker{Offline: true}).WithEmbedded(nil, [][]byte{crl})
	st := c.Check(context.Background(), bad.Cert, issuer)
	if st.Status != revocation.Revoked || st.Source != "CRL (embedded in the document)" {
		t.Fatalf("embedded CRL: %+v", st)
	}
	// A CRL from another issuer is not taken as an answer.
	other := signtest.QuickSigner(t)
	st = c.Check(context.Background(), other.Cert, other.Root)
	if st.Status != revocation.NotChecked {
		t.Fatalf("foreign CRL: %+v", st)
	}
	// Unreachable responder, no CRL: unknown, with the reasons.
	st = (&revocation.Checker{Client: &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
		return nil, io.ErrUnexpectedEOF
	})}}).Check(context.Background(), good.Cert, issuer)
	if st.Status != revocation.Unknown || len(st.Problems) != 2 {
		t.Fatalf("unreachable: %+v", st)
	}
}

// TestEmbeddedGoodAnswerMustCoverTheTime: an embedded "good" that had
// expired by the time in question (say, fetched before the certificate was
// revoked, and added to the document later) does not vouch for it; a
// "revoked" answer counts whenever it was issued.
func TestEmbeddedGoodAnswerMustCoverTheTime(t *testing.T) {
	good := signtest.NewSigner(t, "ecdsa-p256")
	bad := signtest.NewSigner(t, "ecdsa-p256")
	r := newResponder(t, bad.Cert)
	issuer := good.Chain[0]
	ctx := context.Background()
	crl := signtest.CRLRevoking(t, revokedAt.Add(time.Hour), revokedAt, bad.Cert)
	answeredAt := revokedAt.Add(time.Hour) // as newResponder answers

	// The CRL (next update a day later) speaks for a time within its window.
	c := (&revocation.Checker{Offline: true}).WithEmbedded(nil, [][]byte{crl})
	if st := c.CheckAt(ctx, good.Cert, issuer, answeredAt.Add(time.Hour)); st.Status != revocation.Good {
		t.Fatalf("CRL within its window: %+v", st)
	}
	// Not for a time after its next update.
	st := c.CheckAt(ctx, good.Cert, issuer, answeredAt.Add(48*time.Hour))
	if st.Status != revocation.NotChecked || !strings.Contains(strings.Join(st.Problems, ";"), "expired") {
		t.Fatalf("expired CRL taken as good: %+v", st)
	}
	// An OCSP "good" without a next update speaks only for times up to its
	// own: embedded, it cannot vouch for a later signature.
	c = (&revocation.Checker{Offline: true}).WithEmbedded([][]byte{embeddedFrom(t, r, good.Cert, issuer)}, nil)
	if st := c.CheckAt(ctx, good.Cert, issuer, answeredAt.Add(-time.Minute)); st.Status != revocation.Good {
		t.Fatalf("OCSP issued after the time: %+v", st)
	}
	if st := c.CheckAt(ctx, good.Cert, issuer, answeredAt.Add(time.Hour)); st.Status != revocation.NotChecked {
		t.Fatalf("older OCSP good taken for a later time: %+v", st)
	}
	// Revoked answers count at any time.
	c = (&revocation.Checker{Offline: true}).WithEmbedded([][]byte{embeddedFrom(t, r, bad.Cert, issuer)}, [][]byte{crl})
	if st := c.CheckAt(ctx, bad.Cert, issuer, answeredAt.Add(72*time.Hour)); st.Status != revocation.Revoked {
		t.Fatalf("revoked: %+v", st)
	}
}

// TestPartialCRLIsNoAnswer: a CRL that does not list the certificate says
// it is good only if its scope includes it: not a CRL for another
// distribution point or for CA certificates only.
func TestPartialCRLIsNoAnswer(t *testing.T) {
	good := signtest.NewSigner(t, "ecdsa-p256")
	issuer := good.Chain[0]
	h := pkitest.NewHierarchy(t)
	crl := func(tpl pki.CRLTemplate) []byte {
		tpl.Number, tpl.ThisUpdate, tpl.NextUpdate = 1, pkitest.Now, pkitest.Now.Add(24*time.Hour)
		var b bytes.Buffer
		if _, err := pki.WriteCRL(&b, h.Issuing.Cert, h.Issuing.Key, tpl, func(func(pki.CRLEntry) error) error { return nil }); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if len(good.Cert.CRLDistributionPoints) == 0 {
		t.Fatal("the test certificate names no CRL distribution point")
	}
	cases := []struct {
		name string
		tpl  pki.CRLTemplate
		want string
	}{
		{"complete", pki.CRLTemplate{}, revocation.Good},
		{"its distribution point", pki.CRLTemplate{IssuingDistributionPoint: good.Cert.CRLDistributionPoints[0], OnlyContainsUserCerts: true}, revocation.Good},
		{"another distribution point", pki.CRLTemplate{IssuingDistributionPoint: "http://pki.selo-test.eu/crl/other.crl"}, revocation.NotChecked},
		{"CA certificates only", pki.CRLTemplate{OnlyContainsCACerts: true}, revocation.NotChecked},
	}
	for _, c := range cases {
		st := (&revocation.Checker{Offline: true}).WithEmbedded(nil, [][]byte{crl(c.tpl)}).CheckAt(context.Background(), good.Cert, issuer, pkitest.Now.Add(time.Hour))
		if st.Status != c.want {
			t.Errorf("%s: %+v", c.name, st)
		}
	}
}

// TestDelegatedResponderCertificate: an OCSP answer signed by a delegated
// responder counts only if the responder's certificate was valid when the
// answer was produced, and, without id-pkix-ocsp-nocheck, only if the
// responder's own status shows it was not revoked by then (RFC 6960
// 4.2.2.2).
func TestDelegatedResponderCertificate(t *testing.T) {
	good := signtest.NewSigner(t, "ecdsa-p256")
	bad := signtest.NewSigner(t, "ecdsa-p256")
	issuer := good.Chain[0]
	ctx := context.Background()
	answeredAt := revokedAt.Add(time.Hour) // as newResponder answers
	key := pkitest.NewKey(t, "ecdsa-p256")

	// Expired: valid one day from two days before the answer.
	expired := signtest.OCSPResponder(t, key, answeredAt.Add(-48*time.Hour).Truncate(time.Second), 1)
	r := newResponderWith(t, bad.Cert, key, expired)
	st := (&revocation.Checker{Client: r.client()}).Check(ctx, good.Cert, issuer)
	if st.Status != revocation.Good || !strings.HasPrefix(st.Source, "CRL") || len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "was not valid when the response was produced") {
		t.Fatalf("answer of an expired responder: %+v", st)
	}
	// Not yet valid.
	future := signtest.OCSPResponder(t, key, answeredAt.Add(time.Hour).Truncate(time.Second), 0)
	r = newResponderWith(t, bad.Cert, key, future)
	if st := (&revocation.Checker{Client: r.client()}).Check(ctx, bad.Cert, issuer); !strings.HasPrefix(st.Source, "CRL") || !strings.Contains(strings.Join(st.Problems, ";"), "not valid when") {
		t.Fatalf("answer of a responder not yet valid: %+v", st)
	}
	// The same expired answer embedded in a document is no answer either.
	embedded := embeddedFrom(t, r, good.Cert, issuer)
	if st := (&revocation.Checker{Offline: true}).WithEmbedded([][]byte{embedded}, nil).Check(ctx, good.Cert, issuer); st.Status != revocation.NotChecked || !strings.Contains(strings.Join(st.Problems, ";"), "not valid when") {
		t.Fatalf("embedded answer of a responder not valid then: %+v", st)
	}

	// Without id-pkix-ocsp-nocheck the responder's own certificate is
	// checked, here by the issuer's CRL.
	h := pkitest.NewHierarchy(t)
	plain := func() *x509.Certificate {
		serial, _ := pki.RandomSerial()
		tpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: "Plain OCSP Responder"},
			NotBefore: pkitest.Now, NotAfter: pkitest.Now.AddDate(0, 1, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
			CRLDistributionPoints: good.Cert.CRLDistributionPoints,
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, h.Issuing.Cert, key.Public(), h.Issuing.Key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	r = newResponderWith(t, bad.Cert, key, plain)
	if st := (&revocation.Checker{Client: r.client()}).Check(ctx, good.Cert, issuer); st.Status != revocation.Good || !strings.HasPrefix(st.Source, "OCSP") {
		t.Fatalf("answer of a responder without nocheck whose certificate is good: %+v", st)
	}
	if r.crlCalls.Load() != 1 {
		t.Fatalf("the responder's certificate was checked with %d CRL requests, want 1", r.crlCalls.Load())
	}
	// Its certificate revoked (before the answer): the answer does not count.
	r = newResponderWith(t, bad.Cert, key, plain, plain)
	if st := (&revocation.Checker{Client: r.client()}).Check(ctx, good.Cert, issuer); !strings.HasPrefix(st.Source, "CRL") || !strings.Contains(strings.Join(st.Problems, ";"), "was revoked at") {
		t.Fatalf("answer of a revoked responder: %+v", st)
	}
	// Its status unknown (offline, nothing embedded for it): no answer.
	if st := (&revocation.Checker{Offline: true}).WithEmbedded([][]byte{embeddedFrom(t, r, good.Cert, issuer)}, nil).Check(ctx, good.Cert, issuer); st.Status != revocation.NotChecked || !strings.Contains(strings.Join(st.Problems, ";"), "no id-pkix-ocsp-nocheck") {
		t.Fatalf("answer of a responder whose status is unknown: %+v", st)
	}
}

// embeddedFrom asks r's OCSP responder about cert, as a signer would before
// embedding the answer.
func embeddedFrom(t *testing.T, r *responder, cert, issuer *x509.Certificate) []byte {
	t.Helper()
	q, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client().Post("http://pki.selo-test.eu/ocsp", "application/ocsp-request", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	return der
}
