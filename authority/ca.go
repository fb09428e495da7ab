package authority

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// CreateCAOptions describes a new CA.
type CreateCAOptions struct {
	ID           string // slug: lower-case letters, digits and dashes
	Name         string // subject common name
	Organization string
	Country      string // ISO 3166 two-letter code
	ParentID     string // "" makes a root
	KeyAlgorithm selo.KeyAlgorithm
	ValidityDays int
	// Policies are certificate policy OIDs for a subordinate (default: anyPolicy).
	Policies []string
}

var caIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) })

// CreateCA generates the CA's key in the key store, certifies it (self-signed
// for a root, by the parent otherwise) and records it.
func (a *Authority) CreateCA(ctx context.Context, actor string, opts CreateCAOptions) (*selo.CA, error) {
	ca, err := a.createCA(ctx, actor, opts)
	if err != nil {
		a.auditFailure(ctx, actor, "ca.create", "ca/"+opts.ID, err)
		return nil, err
	}
	return ca, nil
}

func (a *Authority) createCA(ctx context.Context, actor string, opts CreateCAOptions) (*selo.CA, error) {
	switch {
	case !caIDPattern().MatchString(opts.ID):
		return nil, selo.Errorf(selo.EINVALID, "ca id %q must be 1-63 lower-case letters, digits or dashes", opts.ID)
	case opts.Name == "":
		return nil, selo.Errorf(selo.EINVALID, "ca name is required")
	case !opts.KeyAlgorithm.Valid():
		return nil, selo.Errorf(selo.EINVALID, "unknown key type %q (want one of %v)", opts.KeyAlgorithm, selo.KeyAlgorithms)
	case opts.KeyAlgorithm == selo.KeyRSA2048:
		return nil, selo.Errorf(selo.EINVALID, "a CA key must be at least RSA 3072 or ECDSA")
	case opts.ValidityDays <= 0:
		return nil, selo.Errorf(selo.EINVALID, "ca validity must be a positive number of days")
	case opts.Country != "" && len(opts.Country) != 2:
		return nil, selo.Errorf(selo.EINVALID, "country must be a two-letter ISO 3166 code")
	}
	if _, err := a.store.FindCA(ctx, opts.ID); err == nil {
		return nil, selo.Errorf(selo.ECONFLICT, "a CA with id %q already exists", opts.ID)
	} else if selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, err
	}

	var parent *selo.CA
	var parentIssuer *pki.Issuer
	if opts.ParentID != "" {
		p, err := a.store.FindCA(ctx, opts.ParentID)
		if err != nil {
			return nil, err
		}
		if p.Status != selo.CAActive {
			return nil, selo.Errorf(selo.EINVALID, "parent CA %q is %s and cannot certify a new CA", p.ID, p.Status)
		}
		if parentIssuer, err = a.issuer(ctx, p); err != nil {
			return nil, err
		}
		parent = p
	}

	keyID := "ca/" + opts.ID
	signer, err := a.keys.GenerateKey(ctx, keyID, opts.KeyAlgorithm, selo.KeyOptions{})
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	// The key is useless without its CA row; remove it if anything below fails
	// (recording its generation included) so the ID can be used again.
	ok := false
	defer func() {
		if !ok {
			if err := a.keys.DeleteKey(ctx, keyID); err != nil {
				a.log.Error("delete key of failed ca", "key", keyID, "err", err)
			}
		}
	}()
	if err := a.store.AppendAudit(ctx, a.audit(actor, "key.generate", "key/"+keyID, selo.OutcomeSuccess,
		map[string]string{"algorithm": string(opts.KeyAlgorithm), "purpose": "ca"})); err != nil {
		return nil, err
	}

	subject := pkix.Name{CommonName: opts.Name}
	if opts.Organization != "" {
		subject.Organization = []string{opts.Organization}
	}
	if opts.Country != "" {
		subject.Country = []string{opts.Country}
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	caOpts := pki.CAOptions{Subject: subject, ValidityDays: opts.ValidityDays, PathLen: -1, Policies: opts.Policies}
	now := a.clock.Now()
	var der []byte
	if parent == nil {
		der, err = pki.NewRootCertificate(signer, caOpts, serial, now, a.linter)
	} else {
		caOpts.PathLen = 0
		caOpts.ParentURLs = a.URLs(parent.ID)
		der, err = pki.NewSubordinateCertificate(parentIssuer, signer.Public(), caOpts, serial, now, a.linter)
	}
	if err != nil {
		return nil, err
	}
	ca := &selo.CA{
		ID: opts.ID, Name: opts.Name, ParentID: opts.ParentID, KeyID: keyID,
		KeyAlgorithm: opts.KeyAlgorithm, CertDER: der, Status: selo.CAActive, CreatedAt: now,
	}
	entry := a.audit(actor, "ca.create", "ca/"+ca.ID, selo.OutcomeSuccess, map[string]any{
		"name": opts.Name, "parent": opts.ParentID, "algorithm": opts.KeyAlgorithm,
		"serial": pki.SerialHex(serial), "validity_days": opts.ValidityDays,
	})
	if err := a.store.CreateCA(ctx, ca, entry); err != nil {
		return nil, err
	}
	ok = true
	return ca, nil
}

// RetireCA stops a CA from issuing. What it issued stays valid and is still
// answered for; its certificates can be re-issued under a new CA.
func (a *Authority) RetireCA(ctx context.Context, actor, id string) (*selo.CA, error) {
	ca, err := a.store.FindCA(ctx, id)
	if err != nil {
		a.auditFailure(ctx, actor, "ca.retire", "ca/"+id, err)
		return nil, err
	}
	if ca.Status == selo.CARetired || ca.Status == selo.CARevoked {
		return ca, nil // idempotent: retiring twice changes nothing, and a revoked CA issues nothing already
	}
	if err := a.store.SetCAStatus(ctx, id, selo.CARetired, a.audit(actor, "ca.retire", "ca/"+id, selo.OutcomeSuccess, nil)); err != nil {
		return nil, err
	}
	ca.Status = selo.CARetired
	return ca, nil
}

// Chain returns the CA's certificate followed by its parents up to the root.
func (a *Authority) Chain(ctx context.Context, caID string) ([]*x509.Certificate, error) {
	// A CA's certificate and parent never change once it exists, so its
	// chain is read once: every issuance answers with it.
	if v, ok := a.chains.Load(caID); ok {
		return slices.Clone(v.([]*x509.Certificate)), nil
	}
	chain, err := a.readChain(ctx, caID)
	if err != nil {
		return nil, err
	}
	a.chains.Store(caID, chain)
	return slices.Clone(chain), nil
}

func (a *Authority) readChain(ctx context.Context, caID string) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	seen := map[string]bool{}
	for id := caID; id != ""; {
		if seen[id] {
			return nil, fmt.Errorf("ca hierarchy loops at %s", id)
		}
		seen[id] = true
		ca, err := a.store.FindCA(ctx, id)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(ca.CertDER)
		if err != nil {
			return nil, fmt.Errorf("parse certificate of ca %s: %w", ca.ID, err)
		}
		chain = append(chain, cert)
		id = ca.ParentID
	}
	return chain, nil
}

// RevokeCARequest asks to revoke a CA's own certificate.
type RevokeCARequest struct {
	CAID           string
	Reason         selo.RevocationReason // cACompromise when the CA's key is compromised
	InvalidityDate time.Time             // optional
}

// RevokeCA revokes the certificate of a subordinate CA, as its parent. From
// then on the CA issues nothing (issuance, re-issue, TSA and OCSP responder
// certificates are refused), the parent's CRL (an ARL for a root) lists the
// CA certificate, OCSP answers "revoked" for it, and the signing service
// refuses every credential whose certificate the CA issued. A root is not
// revoked this way: relying parties remove it from their trust stores.
// Revoking twice answers with the first revocation and created=false.
func (a *Authority) RevokeCA(ctx context.Context, actor string, req RevokeCARequest) (*selo.CARevocation, bool, error) {
	rev, created, err := a.revokeCA(ctx, actor, req)
	if err != nil {
		a.auditFailure(ctx, actor, "ca.revoke", "ca/"+req.CAID, err)
		return nil, false, err
	}
	return rev, created, nil
}

func (a *Authority) revokeCA(ctx context.Context, actor string, req RevokeCARequest) (*selo.CARevocation, bool, error) {
	if !req.Reason.Valid() || req.Reason == selo.ReasonCertificateHold {
		return nil, false, selo.Errorf(selo.EINVALID, "%s is not a reason to revoke a CA with (a CA is not put on hold)", req.Reason)
	}
	now := a.clock.Now()
	if !req.InvalidityDate.IsZero() && req.InvalidityDate.After(now) {
		return nil, false, selo.Errorf(selo.EINVALID, "invalidity date %s is in the future", req.InvalidityDate.UTC().Format(time.RFC3339))
	}
	ca, err := a.store.FindCA(ctx, req.CAID)
	if err != nil {
		return nil, false, err
	}
	if ca.IsRoot() {
		return nil, false, selo.Errorf(selo.EINVALID, "CA %q is a root: no CRL can revoke it; remove it from the trust stores and trusted lists", ca.ID)
	}
	cert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		return nil, false, fmt.Errorf("parse certificate of ca %s: %w", ca.ID, err)
	}
	serial := pki.SerialHex(cert.SerialNumber)
	rev := &selo.CARevocation{CAID: ca.ID, ParentID: ca.ParentID, Serial: serial, Reason: req.Reason,
		RevokedAt: now, InvalidityDate: req.InvalidityDate, Actor: actor}
	details := map[string]any{"parent": ca.ParentID, "serial": serial, "reason": req.Reason.String(), "previous_status": ca.Status}
	if !req.InvalidityDate.IsZero() {
		details["invalidity_date"] = req.InvalidityDate.UTC()
	}
	got, created, err := a.store.RevokeCA(ctx, rev, a.audit(actor, "ca.revoke", "ca/"+ca.ID, selo.OutcomeSuccess, details))
	if err != nil {
		return nil, false, err
	}
	if created {
		a.ocsp.forget(serial)
		a.crls.schedule(ca.ParentID)
	}
	return got, created, nil
}

// FindCARevocation returns the revocation of a CA's certificate or ENOTFOUND.
func (a *Authority) FindCARevocation(ctx context.Context, caID string) (*selo.CARevocation, error) {
	return a.store.FindCARevocation(ctx, caID)
}

// FindCA returns the CA with the given ID, or ENOTFOUND.
func (a *Authority) FindCA(ctx context.Context, id string) (*selo.CA, error) {
	return a.store.FindCA(ctx, id)
}

// ListCAs returns every CA, active, retired and revoked.
func (a *Authority) ListCAs(ctx context.Context) ([]*selo.CA, error) {
	return a.store.ListCAs(ctx)
}
