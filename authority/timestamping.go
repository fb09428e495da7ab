package authority

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// TimestampingRequest asks for a time-stamping unit: a key made in the key
// store (never exportable) and a TSA certificate for it under the
// timestamping profile (pki.TimestampingProfile).
type TimestampingRequest struct {
	// CAID names the issuing CA (active, not a root).
	CAID string
	// KeyAlgorithm of the TSA key; zero picks ECDSA P-256 under an ECDSA CA
	// and RSA 3072 under an RSA CA.
	KeyAlgorithm selo.KeyAlgorithm
	// CommonName of the TSA; zero is "<CA organization> TSA". Country and
	// organization come from the CA's certificate.
	CommonName string
}

// IssueTimestamping creates the TSA key and its certificate, and stores the
// certificate with its CA (so CRLs and OCSP cover it, and a CA change
// re-issues it) with the audit entry tsa-certificate.issue in the same
// transaction. A failure is audited too, and leaves no key behind.
func (a *Authority) IssueTimestamping(ctx context.Context, actor string, req TimestampingRequest) (*selo.Certificate, error) {
	cert, err := a.issueTimestamping(ctx, actor, req)
	if err != nil {
		a.auditFailure(ctx, actor, "tsa-certificate.issue", "ca/"+req.CAID, err)
		return nil, err
	}
	return cert, nil
}

func (a *Authority) issueTimestamping(ctx context.Context, actor string, req TimestampingRequest) (*selo.Certificate, error) {
	if req.CAID == "" {
		return nil, selo.Errorf(selo.EINVALID, "name the issuing CA")
	}
	ca, err := a.issuingCA(ctx, pki.TimestampingProfileName, req.CAID)
	if err != nil {
		return nil, err
	}
	iss, err := a.issuer(ctx, ca)
	if err != nil {
		return nil, err
	}
	subject, err := tsaSubject(iss.Cert, req.CommonName)
	if err != nil {
		return nil, err
	}
	alg := req.KeyAlgorithm
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
	profile := pki.TimestampingProfile()
	keyID := "tsa/" + ca.ID + "-" + a.clock.Now().UTC().Format("20060102T150405.000000")
	signer, err := a.keys.GenerateKey(ctx, keyID, alg, selo.KeyOptions{})
	if err != nil {
		return nil, err
	}
	preq := &pki.Request{PublicKey: signer.Public(), Subject: subject}
	cert, err := a.signAndStore(ctx, func(serial *big.Int) (*pki.Issued, error) {
		return iss.IssueTimestamping(profile, preq, serial, a.clock.Now(), a.linter)
	}, func(issued *pki.Issued) (*selo.Certificate, error) {
		rec := a.record(ca.ID, pki.TimestampingProfileName, keyID, issued)
		entry := a.audit(actor, "tsa-certificate.issue", "certificate/"+rec.Serial, selo.OutcomeSuccess, map[string]any{
			"serial": rec.Serial, "key_id": keyID, "key_algorithm": alg, "subject": rec.Subject, "not_after": rec.NotAfter,
		})
		return rec, a.store.CreateCertificate(ctx, rec, entry)
	})
	if err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	return cert, nil
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
