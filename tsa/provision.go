package tsa

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// ProfileName is the profile recorded with TSA certificates in the store.
const ProfileName = "timestamping"

// IssueOptions describes a new time-stamping unit: a key in the key store and
// a certificate for it from an issuing CA.
type IssueOptions struct {
	// CAID names the issuing CA (active, not a root).
	CAID string
	// URLs are the issuing CA's CRL, OCSP and caIssuers URLs.
	URLs pki.IssuerURLs
	// KeyAlgorithm of the TSA key; zero picks ECDSA P-256 under an ECDSA CA
	// and RSA 3072 under an RSA CA.
	KeyAlgorithm selo.KeyAlgorithm
	// CommonName of the TSA; zero is "<CA organization> TSA". Country and
	// organization come from the CA's certificate.
	CommonName string
	// Profile defaults to pki.TimestampingProfile().
	Profile *pki.Profile
	// Actor is who asked, for the audit log.
	Actor string
}

// Provisioner issues TSA certificates. Its parts are the ones cmd/selo wires.
type Provisioner struct {
	Store  selo.Store
	Keys   selo.KeyStore
	Linter *pki.Linter
	Clock  selo.Clock
	Logger *slog.Logger
}

// Issue creates the TSA key and certificate, stores the certificate with
// its CA (so CRLs and OCSP cover it) and appends the audit entry in the same
// transaction. A failure is audited too, and leaves no key behind.
func (p *Provisioner) Issue(ctx context.Context, opts IssueOptions) (*selo.Certificate, error) {
	rec, err := p.issue(ctx, opts)
	if err != nil {
		d, _ := json.Marshal(map[string]string{"code": selo.ErrorCode(err), "error": selo.ErrorMessage(err)})
		entry := &selo.AuditEntry{Time: p.clock().Now(), Actor: opts.Actor, Action: "tsa-certificate.issue", Object: "ca/" + opts.CAID,
			Outcome: selo.OutcomeFailure, Details: string(d)}
		if aerr := p.Store.AppendAudit(ctx, entry); aerr != nil {
			p.logger().Error("append audit entry", "action", entry.Action, "err", aerr)
		}
		return nil, err
	}
	return rec, nil
}

func (p *Provisioner) clock() selo.Clock {
	if p.Clock == nil {
		return selo.SystemClock{}
	}
	return p.Clock
}

func (p *Provisioner) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Provisioner) issue(ctx context.Context, opts IssueOptions) (*selo.Certificate, error) {
	if opts.CAID == "" {
		return nil, selo.Errorf(selo.EINVALID, "name the issuing CA")
	}
	ca, err := p.Store.FindCA(ctx, opts.CAID)
	if err != nil {
		return nil, err
	}
	if ca.Status != selo.CAActive {
		return nil, selo.Errorf(selo.EINVALID, "CA %q is %s and issues nothing new", ca.ID, ca.Status)
	}
	if ca.IsRoot() {
		return nil, selo.Errorf(selo.EINVALID, "CA %q is a root; a TSA certificate comes from an issuing CA", ca.ID)
	}
	caCert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate of ca %s: %w", ca.ID, err)
	}
	caSigner, err := p.Keys.Signer(ctx, ca.KeyID)
	if err != nil {
		return nil, fmt.Errorf("key of ca %s: %w", ca.ID, err)
	}
	iss, err := pki.NewIssuer(caCert, caSigner, opts.URLs)
	if err != nil {
		return nil, err
	}
	prof := opts.Profile
	if prof == nil {
		prof = pki.TimestampingProfile()
	}
	subject, err := tsaSubject(caCert, opts.CommonName)
	if err != nil {
		return nil, err
	}
	alg := opts.KeyAlgorithm
	if alg == "" {
		alg = selo.KeyECDSAP256
		switch ca.KeyAlgorithm {
		case selo.KeyRSA2048, selo.KeyRSA3072, selo.KeyRSA4096:
			alg = selo.KeyRSA3072
		}
	}
	if !alg.Valid() {
		return nil, selo.Errorf(selo.EINVALID, "unknown key algorithm %q", alg)
	}
	now := p.clock().Now()
	keyID := "tsa/" + ca.ID + "-" + now.UTC().Format("20060102T150405.000000")
	signer, err := p.Keys.GenerateKey(ctx, keyID, alg, selo.KeyOptions{})
	if err != nil {
		return nil, err
	}
	drop := func() {
		if err := p.Keys.DeleteKey(ctx, keyID); err != nil {
			p.logger().Error("delete unused TSA key", "key", keyID, "err", err)
		}
	}
	var rec *selo.Certificate
	for attempt := 0; ; attempt++ {
		serial, err := pki.RandomSerial()
		if err != nil {
			drop()
			return nil, err
		}
		issued, err := iss.IssueTimestamping(prof, &pki.Request{PublicKey: signer.Public(), Subject: subject}, serial, now, p.Linter)
		if err != nil {
			drop()
			return nil, err
		}
		findings, _ := json.Marshal(issued.Findings)
		rec = &selo.Certificate{
			Serial: pki.SerialHex(issued.Cert.SerialNumber), CAID: ca.ID, Profile: ProfileName, Subject: pki.NameString(issued.Cert.Subject),
			NotBefore: issued.Cert.NotBefore, NotAfter: issued.Cert.NotAfter, DER: issued.DER, Status: selo.CertValid,
			KeyID: keyID, LintResults: findings, CreatedAt: now,
		}
		d, _ := json.Marshal(map[string]any{
			"serial": rec.Serial, "key_id": keyID, "key_algorithm": alg, "subject": rec.Subject, "not_after": rec.NotAfter,
		})
		entry := &selo.AuditEntry{Time: now, Actor: opts.Actor, Action: "tsa-certificate.issue", Object: "certificate/" + rec.Serial,
			Outcome: selo.OutcomeSuccess, Details: string(d)}
		err = p.Store.CreateCertificate(ctx, rec, entry)
		if err == nil {
			return rec, nil
		}
		// A serial collision (ECONFLICT) gets one more draw; anything else stops.
		if selo.ErrorCode(err) != selo.ECONFLICT || attempt > 0 {
			drop()
			return nil, err
		}
	}
}

// tsaSubject is C and O of the issuing CA and the TSA's own common name.
func tsaSubject(ca *x509.Certificate, cn string) (pkix.Name, error) {
	if len(ca.Subject.Country) == 0 || len(ca.Subject.Organization) == 0 {
		return pkix.Name{}, selo.Errorf(selo.EINVALID, "the CA's certificate names no country and organization for the TSA's subject")
	}
	if cn == "" {
		cn = ca.Subject.Organization[0] + " TSA"
	}
	if len([]rune(cn)) > 64 {
		return pkix.Name{}, selo.Errorf(selo.EINVALID, "TSA common name is longer than 64 characters")
	}
	return pkix.Name{Country: ca.Subject.Country[:1], Organization: ca.Subject.Organization[:1], CommonName: cn}, nil
}

// Load returns the Responder of a stored TSA certificate: its key from the
// key store, chain as given (the issuing CA up to, not including, the root).
func Load(ctx context.Context, store selo.CertificateStore, keys selo.KeyStore, serial string, chain []*x509.Certificate, cfg Config) (*Responder, error) {
	rec, err := store.FindCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	if rec.Profile != ProfileName || rec.KeyID == "" {
		return nil, selo.Errorf(selo.EINVALID, "certificate %s is not a TSA certificate made by 'selo tsa init'", serial)
	}
	if rec.Status != selo.CertValid {
		return nil, selo.Errorf(selo.EINVALID, "TSA certificate %s is %s", serial, rec.Status)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, fmt.Errorf("parse TSA certificate: %w", err)
	}
	signer, err := keys.Signer(ctx, rec.KeyID)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("key of TSA certificate %s: %w", serial, err)
	}
	cfg.Certificate, cfg.Signer, cfg.Chain = cert, signer, chain
	return NewResponder(cfg)
}
