package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
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
// its certificates: the OCSP responder of the Authority Information Access
// extension first, the CRL distribution point when that fails.
type RevocationFetcher struct {
	// Client makes the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// Now is the validation time, for the checks of the answers; zero
	// means time.Now().
	Now time.Time
}

// maxRevocationResponse bounds an OCSP answer or CRL read into memory.
const maxRevocationResponse = 20 << 20

// Fetch orders chain (the signer's certificate first, then its issuers in
// any order; the root may be left out) and returns it with an OCSP answer
// or a CRL for each certificate that is not self-signed. Every answer is
// checked: signed by the issuer (or its delegated responder) and saying
// the certificate is good; a revoked certificate is an error.
func (f *RevocationFetcher) Fetch(ctx context.Context, chain []*x509.Certificate) (*ValidationData, error) {
	if len(chain) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "no certificate to fetch revocation data for")
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
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
		ocspDER, ocspErr := f.fetchOCSP(ctx, client, cert, issuer, now)
		if ocspErr == nil {
			vd.OCSPs = append(vd.OCSPs, ocspDER)
		} else {
			if errors.Is(ocspErr, errRevoked) {
				return nil, selo.Errorf(selo.EINVALID, "%v", ocspErr)
			}
			crlDER, crlErr := f.fetchCRL(ctx, client, cert, issuer, now)
			if errors.Is(crlErr, errRevoked) {
				return nil, selo.Errorf(selo.EINVALID, "%v", crlErr)
			}
			if crlErr != nil {
				return nil, fmt.Errorf("no revocation data for %q: OCSP: %v; CRL: %v", cert.Subject.CommonName, ocspErr, crlErr)
			}
			vd.CRLs = append(vd.CRLs, crlDER)
		}
		cert = issuer
	}
	return vd, nil
}

// errRevoked marks a certificate that an answer says is revoked.
var errRevoked = errors.New("revoked")

func issuerOf(cert *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	for _, c := range chain {
		if c != cert && bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

func (f *RevocationFetcher) fetchOCSP(ctx context.Context, client *http.Client, cert, issuer *x509.Certificate, now time.Time) ([]byte, error) {
	if len(cert.OCSPServer) == 0 {
		return nil, errors.New("the certificate names no OCSP responder")
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	der, err := fetch(ctx, client, http.MethodPost, cert.OCSPServer[0], "application/ocsp-request", req)
	if err != nil {
		return nil, err
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("%s answered badly: %w", cert.OCSPServer[0], err)
	}
	switch {
	case resp.Status == ocsp.Revoked:
		return nil, fmt.Errorf("%w: %q was revoked at %s (OCSP)", errRevoked, cert.Subject.CommonName, resp.RevokedAt.UTC().Format(time.RFC3339))
	case resp.Status != ocsp.Good:
		return nil, fmt.Errorf("%s does not know the certificate", cert.OCSPServer[0])
	case !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(now):
		return nil, fmt.Errorf("%s sent an answer that expired at %s", cert.OCSPServer[0], resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return der, nil
}

func (f *RevocationFetcher) fetchCRL(ctx context.Context, client *http.Client, cert, issuer *x509.Certificate, now time.Time) ([]byte, error) {
	if len(cert.CRLDistributionPoints) == 0 {
		return nil, errors.New("the certificate names no CRL distribution point")
	}
	url := cert.CRLDistributionPoints[0]
	der, err := fetch(ctx, client, http.MethodGet, url, "", nil)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: not a CRL: %w", url, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%s: not signed by the issuer: %w", url, err)
	}
	if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(now) {
		return nil, fmt.Errorf("%s: the CRL expired at %s", url, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return nil, fmt.Errorf("%w: %q was revoked at %s (CRL)", errRevoked, cert.Subject.CommonName, e.RevocationTime.UTC().Format(time.RFC3339))
		}
	}
	return der, nil
}

// fetch makes one request and returns the body of a 200 answer.
func fetch(ctx context.Context, client *http.Client, method, url, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRevocationResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if len(data) > maxRevocationResponse {
		return nil, fmt.Errorf("%s: the answer is larger than %d bytes", url, maxRevocationResponse)
	}
	return data, nil
}
