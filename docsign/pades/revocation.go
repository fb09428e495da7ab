package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/timestamp"
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
	vd := &ValidationData{}
	if err := f.fetchChain(ctx, vd, map[string]bool{}, chain[0], chain); err != nil {
		return nil, err
	}
	return vd, nil
}

// FetchForSignature is Fetch for the newest signature of signed and its
// timestamp: the signer's chain (as for Fetch), then, when the signature
// carries a signature timestamp (B-T), the TSA's certificate, its issuers
// (from the token, else chain) and an answer for each, so the timestamp
// too can be validated after its certificates expire (ETSI EN 319 142-1
// 5.4.2 asks the DSS for the validation data of every signature
// timestamp). A certificate the signer's chain shares with the TSA's is
// stored and checked once.
func (f *RevocationFetcher) FetchForSignature(ctx context.Context, signed []byte, chain []*x509.Certificate) (*ValidationData, error) {
	vd, err := f.Fetch(ctx, chain)
	if err != nil {
		return nil, err
	}
	tsaChain, err := TimestampChain(signed, chain)
	if err != nil || tsaChain == nil {
		return vd, err
	}
	seen := map[string]bool{}
	for _, c := range vd.Certificates {
		seen[string(c.Raw)] = true
	}
	if err := f.fetchChain(ctx, vd, seen, tsaChain[0], append(tsaChain, chain...)); err != nil {
		return nil, fmt.Errorf("the signature timestamp's TSA: %w", err)
	}
	return vd, nil
}

// fetchChain adds to vd cert and its issuers (found in pool) up to a root
// or a certificate in seen, with an answer for each.
func (f *RevocationFetcher) fetchChain(ctx context.Context, vd *ValidationData, seen map[string]bool, cert *x509.Certificate, pool []*x509.Certificate) error {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	checker := &revocation.Checker{Client: f.Client}
	for cert != nil {
		if seen[string(cert.Raw)] {
			break
		}
		seen[string(cert.Raw)] = true
		vd.Certificates = append(vd.Certificates, cert)
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
			break // a root: trusted as it is, nobody answers for it
		}
		issuer := issuerOf(cert, pool)
		if issuer == nil {
			return selo.Errorf(selo.EINVALID, "the chain lacks the issuer of %q (%s): include the CA certificates", cert.Subject.CommonName, cert.Issuer.CommonName)
		}
		st := checker.CheckAt(ctx, cert, issuer, now)
		switch {
		case st.Status == revocation.Revoked:
			return selo.Errorf(selo.EINVALID, "%q was revoked at %s (%s)", cert.Subject.CommonName, st.RevokedAt.Format(time.RFC3339), st.Source)
		case st.Status == revocation.Good && st.OCSPResponse != nil:
			vd.OCSPs = append(vd.OCSPs, st.OCSPResponse)
		case st.Status == revocation.Good && st.CRL != nil:
			vd.CRLs = append(vd.CRLs, st.CRL)
		default:
			return fmt.Errorf("no revocation data for %q: %s", cert.Subject.CommonName, strings.Join(st.Problems, "; "))
		}
		cert = issuer
	}
	return nil
}

// TimestampChain returns the certificate of the TSA that timestamped the
// newest signature of signed, followed by the certificates its token
// carries; nil when the signature has no signature timestamp. extra
// supplies the TSA's certificate when the token leaves it out.
func TimestampChain(signed []byte, extra []*x509.Certificate) ([]*x509.Certificate, error) {
	_, contents, err := readSigned(signed)
	if err != nil {
		return nil, err
	}
	// The CMS is padded with zeros: its outer length says where it ends.
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(contents, &rv); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the newest signature's /Contents holds no CMS signature")
	}
	sd, err := cms.Parse(rv.FullBytes)
	if err != nil {
		return nil, err
	}
	if len(sd.Signers) != 1 {
		return nil, selo.Errorf(selo.EINVALID, "the newest signature holds %d signers: PAdES wants exactly one", len(sd.Signers))
	}
	vals, ok := sd.Signers[0].Unsigned(cms.OIDAttributeTimeStampToken)
	if !ok {
		return nil, nil
	}
	if len(vals) != 1 {
		return nil, selo.Errorf(selo.EINVALID, "the timestamp attribute must hold one token")
	}
	tok, err := timestamp.ParseToken(vals[0])
	if err != nil {
		return nil, err
	}
	rep, err := tok.SignedData.VerifySigner(tok.SignedData.Signers[0], cms.VerifyOptions{Intermediates: extra})
	if err != nil {
		return nil, fmt.Errorf("the signature timestamp: %w", err)
	}
	out := []*x509.Certificate{rep.Certificate}
	for _, c := range tok.SignedData.Certificates {
		if c != nil && !c.Equal(rep.Certificate) {
			out = append(out, c)
		}
	}
	return out, nil
}

func issuerOf(cert *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	for _, c := range chain {
		if c != cert && bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}
