package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/revocation"
)

// ValidationData is what a PAdES B-LT document security store (DSS) keeps
// for a signature: the certificates of its chain and the revocation
// answers about them, so it can be validated after the certificates expire
// or the responders go away.
type ValidationData struct {
	Certificates []*x509.Certificate
	OCSPs        [][]byte // DER OCSPResponse, as the responder sent it
	CRLs         [][]byte // DER CertificateList
}

// RevocationFetcher fetches revocation data for a chain from the URLs in
// its certificates, with docsign/revocation's checker: the OCSP responder of
// the Authority Information Access extension first, the CRL distribution
// point when that fails.
type RevocationFetcher struct {
	// Client makes the requests; nil is the checker's default client (10 s
	// timeout).
	Client *http.Client
	// Now is the validation time, for the checks of the answers; zero
	// means time.Now().
	Now time.Time
}

// Fetch orders chain (the signer's certificate first, then its issuers in
// any order; the root may be left out) and returns it with an OCSP answer
// or a CRL for each certificate that is not self-signed. Every answer is
// checked as a verifier checks it (revocation.Checker.CheckAt): signed by
// the issuer or a responder it delegated to, current at Now, and saying
// the certificate is good; a revoked certificate is an error.
func (f *RevocationFetcher) Fetch(ctx context.Context, chain []*x509.Certificate) (*ValidationData, error) {
	if len(chain) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "no certificate to fetch revocation data for")
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	checker := &revocation.Checker{Client: f.Client}
	vd := &ValidationData{}
	seen := map[string]bool{}
	for cert := chain[0]; cert != nil; {
		if seen[string(cert.Raw)] {
			break
		}
		seen[string(cert.Raw)] = true
		vd.Certificates = append(vd.Certificates, cert)
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
			break // a root: trusted as it is, nobody answers for it
		}
		issuer := issuerOf(cert, chain)
		if issuer == nil {
			return nil, selo.Errorf(selo.EINVALID, "the chain lacks the issuer of %q (%s): include the CA certificates", cert.Subject.CommonName, cert.Issuer.CommonName)
		}
		st := checker.CheckAt(ctx, cert, issuer, now)
		switch {
		case st.Status == revocation.Revoked:
			return nil, selo.Errorf(selo.EINVALID, "%q was revoked at %s (%s)", cert.Subject.CommonName, st.RevokedAt.Format(time.RFC3339), st.Source)
		case st.Status == revocation.Good && st.OCSPResponse != nil:
			vd.OCSPs = append(vd.OCSPs, st.OCSPResponse)
		case st.Status == revocation.Good && st.CRL != nil:
			vd.CRLs = append(vd.CRLs, st.CRL)
		default:
			return nil, fmt.Errorf("no revocation data for %q: %s", cert.Subject.CommonName, strings.Join(st.Problems, "; "))
		}
		cert = issuer
	}
	return vd, nil
}

func issuerOf(cert *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	for _, c := range chain {
		if c != cert && bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}
