// Package revocation finds out whether a signer's certificate was revoked at
// the time a signature was made: OCSP first (responses embedded in the
// document, then the certificate's AIA responder), CRL second (the CRL
// distribution point). A verifier uses it for CAdES and PAdES alike.
package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
)

// Statuses a Check reports.
const (
	Good    = "good"
	Revoked = "revoked"
	Unknown = "unknown"
	// NotChecked: --offline and no embedded revocation data.
	NotChecked = "not checked"
)

// Limits on what is fetched.
const (
	maxOCSPResponseSize = 64 << 10
	maxCRLSize          = 32 << 20
	defaultTimeout      = 10 * time.Second
)

// Status is the answer for one certificate.
type Status struct {
	Status    string     `json:"status"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	// Source says where the answer came from: "OCSP <url>", "OCSP (embedded
	// in the document)", "CRL <url>", "CRL (embedded in the document)".
	Source string `json:"source,omitempty"`
	// ProducedAt is the OCSP response's producedAt or the CRL's thisUpdate.
	ProducedAt *time.Time `json:"produced_at,omitempty"`
	// Problems lists sources that were tried and failed, in order.
	Problems []string `json:"problems,omitempty"`
	// OCSPResponse or CRL is the DER answer the status comes from, for a
	// signer to embed (PAdES B-LT); nil when nothing answered.
	OCSPResponse []byte `json:"-"`
	CRL          []byte `json:"-"`
}

// RevokedBefore reports whether the certificate was revoked at or before t:
// a certificate revoked after a signature was provably made does not taint it.
func (s *Status) RevokedBefore(t time.Time) bool {
	return s != nil && s.Status == Revoked && s.RevokedAt != nil && !s.RevokedAt.After(t)
}

// Checker looks up revocation status. The zero value goes online with a
// default HTTP client.
type Checker struct {
	// Offline skips the network: only the embedded responses and CRLs count.
	Offline bool
	// Client fetches OCSP responses and CRLs; nil is a client with a 10 s timeout.
	Client *http.Client
	// OCSPResponses and CRLs are DER revocation data found in the document
	// (a PDF's DSS), tried before the network.
	OCSPResponses [][]byte
	CRLs          [][]byte

	// forResponder marks the check of a delegated OCSP responder's own
	// certificate: its answer may not come from a delegated responder in
	// turn, which bounds the recursion.
	forResponder bool
}

// WithEmbedded returns a copy of c that also knows the given embedded data.
func (c *Checker) WithEmbedded(ocspResponses, crls [][]byte) *Checker {
	if c == nil {
		return nil
	}
	n := *c
	n.OCSPResponses = append(append([][]byte(nil), c.OCSPResponses...), ocspResponses...)
	n.CRLs = append(append([][]byte(nil), c.CRLs...), crls...)
	return &n
}

// Check returns the status of cert, issued by issuer, as the answers found
// give it, however old they are. Verifiers use CheckAt.
func (c *Checker) Check(ctx context.Context, cert, issuer *x509.Certificate) *Status {
	return c.CheckAt(ctx, cert, issuer, time.Time{})
}

// CheckAt returns the status of cert, issued by issuer, as it stood at t
// (the signature's timestamp, or now). An answer that says "good" counts
// only if it still spoke for t: t before its nextUpdate, or, without a
// nextUpdate, issued at or after t. Otherwise an outdated "good" (an
// embedded response from before a revocation) would vouch for a revoked
// certificate. A "revoked" answer always counts: RevokedBefore compares its
// date. A zero t skips the window. CheckAt never fails: what could not be
// established is status unknown (or not checked) with the reasons in
// Problems.
func (c *Checker) CheckAt(ctx context.Context, cert, issuer *x509.Certificate, t time.Time) *Status {
	st := &Status{Status: Unknown}
	// Embedded OCSP responses first: they were fetched at signing time.
	for _, der := range c.OCSPResponses {
		resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
		if err != nil {
			continue // a response for another certificate of the chain
		}
		if err := c.checkResponder(ctx, resp, issuer); err != nil {
			st.Problems = append(st.Problems, "embedded OCSP response: "+err.Error())
			continue
		}
		s := fromOCSP(resp, der, "OCSP (embedded in the document)")
		if err := staleGood(s, resp.ThisUpdate, resp.NextUpdate, t, true); err != nil {
			st.Problems = append(st.Problems, "embedded OCSP response: "+err.Error())
			continue
		}
		s.Problems = st.Problems
		return s
	}
	for _, der := range c.CRLs {
		crl, err := parseCRL(der, issuer)
		if err != nil {
			continue
		}
		if err := checkCRLScope(crl, cert); err != nil {
			st.Problems = append(st.Problems, "embedded CRL: "+err.Error())
			continue
		}
		s := fromCRL(crl, der, cert, "CRL (embedded in the document)")
		if err := staleGood(s, crl.ThisUpdate, crl.NextUpdate, t, true); err != nil {
			st.Problems = append(st.Problems, "embedded CRL: "+err.Error())
			continue
		}
		s.Problems = st.Problems
		return s
	}
	if c.Offline {
		st.Status = NotChecked
		st.Problems = append(st.Problems, "offline: no OCSP or CRL request was made and the document embeds no revocation data for this certificate")
		return st
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	for _, url := range cert.OCSPServer {
		der, resp, err := c.fetchOCSP(ctx, client, url, cert, issuer)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("OCSP %s: %v", url, err))
			continue
		}
		s := fromOCSP(resp, der, "OCSP "+url)
		if err := staleGood(s, resp.ThisUpdate, resp.NextUpdate, t, false); err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("OCSP %s: %v", url, err))
			continue
		}
		if s.Status != Unknown {
			s.Problems = st.Problems
			return s
		}
		st.Problems = append(st.Problems, fmt.Sprintf("OCSP %s: the responder does not know the certificate", url))
	}
	for _, url := range cert.CRLDistributionPoints {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			continue
		}
		der, err := fetch(ctx, client, http.MethodGet, url, nil, "", maxCRLSize)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("CRL %s: %v", url, err))
			continue
		}
		crl, err := parseCRL(der, issuer)
		if err == nil {
			err = checkCRLScope(crl, cert)
		}
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("CRL %s: %v", url, err))
			continue
		}
		s := fromCRL(crl, der, cert, "CRL "+url)
		if err := staleGood(s, crl.ThisUpdate, crl.NextUpdate, t, false); err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("CRL %s: %v", url, err))
			continue
		}
		s.Problems = st.Problems
		return s
	}
	if len(cert.OCSPServer) == 0 && len(cert.CRLDistributionPoints) == 0 {
		st.Problems = append(st.Problems, "the certificate names no OCSP responder and no CRL distribution point")
	}
	return st
}

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// checkResponder checks who signed resp, whose signature
// ocsp.ParseResponseForCert has checked against the certificate it carries
// (itself signed by issuer). The issuer may answer itself; a delegated
// responder (RFC 6960 4.2.2.2) needs the OCSP signing usage, a certificate
// valid when the response was produced, and, unless its certificate carries
// id-pkix-ocsp-nocheck, a status of its own showing it was not revoked by
// then: otherwise a stolen or expired responder key could vouch for anything.
func (c *Checker) checkResponder(ctx context.Context, resp *ocsp.Response, issuer *x509.Certificate) error {
	rc := resp.Certificate
	if rc == nil || rc.Equal(issuer) {
		return nil
	}
	if c.forResponder {
		return errors.New("the answer about a delegated responder comes from a delegated responder")
	}
	delegated := false
	for _, u := range rc.ExtKeyUsage {
		delegated = delegated || u == x509.ExtKeyUsageOCSPSigning
	}
	if !delegated {
		return errors.New("the response is signed by a certificate without the OCSP signing usage")
	}
	produced := resp.ProducedAt
	if produced.Before(rc.NotBefore) || produced.After(rc.NotAfter) {
		return fmt.Errorf("the responder certificate %q was not valid when the response was produced (%s; valid %s to %s)",
			rc.Subject.CommonName, produced.UTC().Format(time.RFC3339), rc.NotBefore.UTC().Format(time.RFC3339), rc.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, e := range rc.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) {
			return nil // trusted for its lifetime, checked above
		}
	}
	sub := *c
	sub.forResponder = true
	st := sub.CheckAt(ctx, rc, issuer, produced)
	switch {
	case st.RevokedBefore(produced):
		return fmt.Errorf("the responder certificate %q was revoked at %s, before the response was produced", rc.Subject.CommonName, st.RevokedAt.Format(time.RFC3339))
	case st.Status != Good && st.Status != Revoked:
		return fmt.Errorf("the responder certificate %q has no id-pkix-ocsp-nocheck and its own status is %s (%s)", rc.Subject.CommonName, st.Status, strings.Join(st.Problems, "; "))
	}
	return nil
}

func fromOCSP(resp *ocsp.Response, der []byte, source string) *Status {
	produced := resp.ProducedAt.UTC()
	st := &Status{Status: Unknown, Source: source, ProducedAt: &produced, OCSPResponse: der}
	switch resp.Status {
	case ocsp.Good:
		st.Status = Good
	case ocsp.Revoked:
		st.Status = Revoked
		at := resp.RevokedAt.UTC()
		st.RevokedAt = &at
		st.Reason = selo.RevocationReason(resp.RevocationReason).String()
	}
	return st
}

// staleGood returns an error when s is a "good" answer that no longer spoke
// for t: issued before t and already past its nextUpdate, or, for data
// embedded in the document (anyone may add it later), with no nextUpdate.
// An answer fetched now without a nextUpdate is current by definition
// (RFC 6960 4.2.2.1).
func staleGood(s *Status, thisUpdate, nextUpdate, t time.Time, embedded bool) error {
	if s.Status != Good || t.IsZero() || !thisUpdate.Before(t) {
		return nil
	}
	if nextUpdate.IsZero() {
		if !embedded {
			return nil
		}
		return fmt.Errorf("says good as of %s, before %s, and names no next update", thisUpdate.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	if !t.Before(nextUpdate) {
		return fmt.Errorf("says good but expired at %s, before %s", nextUpdate.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *Checker) fetchOCSP(ctx context.Context, client *http.Client, url string, cert, issuer *x509.Certificate) ([]byte, *ocsp.Response, error) {
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, nil, err
	}
	der, err := fetch(ctx, client, http.MethodPost, url, req, "application/ocsp-request", maxOCSPResponseSize)
	if err != nil {
		return nil, nil, err
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, nil, err
	}
	if err := c.checkResponder(ctx, resp, issuer); err != nil {
		return nil, nil, err
	}
	return der, resp, nil
}

// parseCRL parses a CRL and checks issuer signed it.
func parseCRL(der []byte, issuer *x509.Certificate) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, errors.New("the CRL is from another issuer")
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the CRL's signature is not the issuer's: %w", err)
	}
	return crl, nil
}

func fromCRL(crl *x509.RevocationList, der []byte, cert *x509.Certificate, source string) *Status {
	produced := crl.ThisUpdate.UTC()
	st := &Status{Status: Good, Source: source, ProducedAt: &produced, CRL: der}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			at := e.RevocationTime.UTC()
			st.Status, st.RevokedAt = Revoked, &at
			st.Reason = selo.RevocationReason(e.ReasonCode).String()
			break
		}
	}
	return st
}

func fetch(ctx context.Context, client *http.Client, method, url string, body []byte, contentType string, limit int64) ([]byte, error) {
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
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the answer is larger than %d bytes", limit)
	}
	return data, nil
}
