package authority

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// IssueRequest asks for a certificate under a profile. Exactly one of CSR
// (the holder keeps the key; subject and names come from the CSR),
// GenerateKey (software delivery: Selo makes an exportable key, later handed
// over once in a PKCS#12) and PublicKey (a key whose possession the caller
// has already established, with the subject and names the caller decided)
// is set.
type IssueRequest struct {
	Profile string
	CAID    string // "" uses the CA configured for the profile
	CSR     []byte // PEM or DER PKCS#10

	GenerateKey    selo.KeyAlgorithm
	PublicKey      crypto.PublicKey
	Subject        pkix.Name
	DNSNames       []string
	EmailAddresses []string

	// Validated holds the subject attributes the registration authority
	// validated (an OV order's organisation: O, L, ST, C by short name); a
	// profile's subject.validated attributes come only from here.
	Validated map[string]string

	// KeyID, with PublicKey, names the key store key it belongs to (a cloud
	// key), recorded with the certificate. It is never deleted on failure.
	KeyID string
	// Serial, when set, is the serial the certificate gets (reserved by the
	// caller beforehand). Issue never tries another: when a certificate with
	// this serial exists for the same public key and profile, Issue returns
	// it instead of issuing again (a retried issuance); for any other
	// certificate it fails with ECONFLICT.
	Serial *big.Int
	// KeyInQSCD says the key was generated in a QSCD: a cloud key in an HSM
	// key store that is one, or the holder's token. Only then does a profile
	// with QcSSCD certify QcSSCD and its -qscd policy (pki.Request.KeyInQSCD).
	// A key Selo generates here (GenerateKey) is exportable and never in one.
	KeyInQSCD bool
}

// maxSerialAttempts bounds retries on a serial collision, which with 128
// random bits only a broken random source produces.
const maxSerialAttempts = 3

// Issue checks req against its profile, issues the certificate and stores it
// with its audit entry in one transaction.
func (a *Authority) Issue(ctx context.Context, actor string, req IssueRequest) (*selo.Certificate, error) {
	start := time.Now()
	cert, err := a.issue(ctx, actor, req)
	label := req.Profile
	if _, known := a.profiles[label]; !known {
		label = "other" // the name comes from the client: bound the label's values
	}
	a.metrics.CertificateIssued(label, time.Since(start), err == nil)
	if err != nil {
		a.auditFailure(ctx, actor, "certificate.issue", "profile/"+req.Profile, err)
		return nil, err
	}
	return cert, nil
}

func (a *Authority) issue(ctx context.Context, actor string, req IssueRequest) (*selo.Certificate, error) {
	profile, err := a.Profile(req.Profile)
	if err != nil {
		return nil, err
	}
	ca, err := a.issuingCA(ctx, req.Profile, req.CAID)
	if err != nil {
		return nil, err
	}
	iss, err := a.issuer(ctx, ca)
	if err != nil {
		return nil, err
	}

	var preq *pki.Request
	var keyID string
	given := 0
	for _, set := range []bool{len(req.CSR) > 0, req.GenerateKey != "", req.PublicKey != nil} {
		if set {
			given++
		}
	}
	if given > 1 {
		return nil, selo.Errorf(selo.EINVALID, "send a CSR, a public key or ask Selo to generate the key, only one of them")
	}
	if req.KeyID != "" && req.PublicKey == nil {
		return nil, selo.Errorf(selo.EINVALID, "a key store ID comes with the public key of that key")
	}
	if req.Serial != nil {
		if req.Serial.Sign() <= 0 || req.Serial.BitLen() > 159 {
			return nil, selo.Errorf(selo.EINVALID, "a reserved serial must be positive and at most 20 bytes")
		}
		if req.GenerateKey != "" {
			return nil, selo.Errorf(selo.EINVALID, "a reserved serial needs a CSR or a public key: a generated key would differ on each retry")
		}
	}
	if req.KeyInQSCD && req.GenerateKey != "" {
		return nil, selo.Errorf(selo.EINVALID, "a key Selo generates for a .pfx is not in a QSCD: it cannot be certified as one")
	}
	switch {
	case req.PublicKey != nil:
		preq = &pki.Request{PublicKey: req.PublicKey, Subject: req.Subject, DNSNames: req.DNSNames, EmailAddresses: req.EmailAddresses}
	case len(req.CSR) > 0:
		csr, err := pki.ParseCSR(req.CSR)
		if err != nil {
			return nil, err
		}
		preq = pki.RequestFromCSR(csr)
	case req.GenerateKey != "":
		if !req.GenerateKey.Valid() {
			return nil, selo.Errorf(selo.EINVALID, "unknown key type %q (want one of %v)", req.GenerateKey, selo.KeyAlgorithms)
		}
		if keyID, err = newHolderKeyID(); err != nil {
			return nil, err
		}
		signer, err := a.keys.GenerateKey(ctx, keyID, req.GenerateKey, selo.KeyOptions{Exportable: true})
		if err != nil {
			return nil, fmt.Errorf("generate holder key: %w", err)
		}
		preq = &pki.Request{PublicKey: signer.Public(), Subject: req.Subject, DNSNames: req.DNSNames, EmailAddresses: req.EmailAddresses}
	default:
		return nil, selo.Errorf(selo.EINVALID, "a CSR or a key type to generate is required")
	}
	preq.KeyInQSCD = req.KeyInQSCD
	preq.Validated = req.Validated
	if err := profile.CheckRequest(preq); err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	dropped := profile.DroppedAttributes(preq)
	if req.Serial != nil {
		existing, err := a.store.FindCertificate(ctx, pki.SerialHex(req.Serial))
		switch {
		case err == nil:
			return a.sameIssuance(existing, profile.Name, preq.PublicKey)
		case selo.ErrorCode(err) != selo.ENOTFOUND:
			return nil, err
		}
	}
	recordKeyID := keyID
	if req.KeyID != "" {
		recordKeyID = req.KeyID
	}
	sign := func(serial *big.Int) (*pki.Issued, error) {
		return iss.Issue(profile, preq, serial, a.clock.Now(), a.linter)
	}
	storeIssued := func(issued *pki.Issued) (*selo.Certificate, error) {
		rec := a.record(ca.ID, profile.Name, recordKeyID, issued)
		details := map[string]any{
			"ca": ca.ID, "profile": profile.Name, "subject": rec.Subject, "key": pki.KeyDescription(preq.PublicKey),
			"key_id": recordKeyID, "key_in_qscd": preq.KeyInQSCD, "not_after": rec.NotAfter, "lint_findings": len(issued.Findings),
		}
		if len(dropped) > 0 {
			details["dropped_subject"] = dropped
		}
		if len(req.Validated) > 0 {
			details["validated_subject"] = req.Validated
		}
		entry := a.audit(actor, "certificate.issue", "certificate/"+rec.Serial, selo.OutcomeSuccess, details)
		return rec, a.store.CreateCertificate(ctx, rec, entry)
	}
	if req.Serial != nil {
		issued, err := sign(req.Serial)
		if err != nil {
			return nil, err
		}
		cert, err := storeIssued(issued)
		if selo.ErrorCode(err) == selo.ECONFLICT {
			// A concurrent retry of the same issuance stored it first.
			if existing, ferr := a.store.FindCertificate(ctx, pki.SerialHex(req.Serial)); ferr == nil {
				return a.sameIssuance(existing, profile.Name, preq.PublicKey)
			}
		}
		return cert, err
	}

	cert, err := a.signAndStore(ctx, sign, storeIssued)
	if err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	return cert, nil
}

// sameIssuance returns existing when it certifies pub under profile (the
// issuance being retried), and ECONFLICT otherwise.
func (a *Authority) sameIssuance(existing *selo.Certificate, profile string, pub crypto.PublicKey) (*selo.Certificate, error) {
	x, err := ParsedCertificate(existing)
	if err != nil {
		return nil, err
	}
	want, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "unsupported public key: %v", err)
	}
	if existing.Profile != profile || !bytes.Equal(x.RawSubjectPublicKeyInfo, want) {
		return nil, selo.Errorf(selo.ECONFLICT, "serial %s is already taken by another certificate", existing.Serial)
	}
	return existing, nil
}

// signAndStore runs sign with a fresh random serial and store with its result,
// and starts again with a new serial when the store reports the serial taken.
func (a *Authority) signAndStore(ctx context.Context, sign func(*big.Int) (*pki.Issued, error),
	store func(*pki.Issued) (*selo.Certificate, error)) (*selo.Certificate, error) {
	for attempt := 1; ; attempt++ {
		serial, err := pki.RandomSerial()
		if err != nil {
			return nil, err
		}
		issued, err := sign(serial)
		if err != nil {
			return nil, err
		}
		cert, err := store(issued)
		if err == nil {
			return cert, nil
		}
		if selo.ErrorCode(err) != selo.ECONFLICT || attempt == maxSerialAttempts {
			return nil, err
		}
		// ECONFLICT also means that the certificate a re-issue supersedes is no
		// longer valid (a concurrent re-issue won); signing again would only
		// make certificates that are never recorded. Retry only a taken serial.
		if _, ferr := a.store.FindCertificate(ctx, pki.SerialHex(serial)); ferr != nil {
			return nil, err
		}
		a.log.Warn("serial collision, issuing again with a new serial", "serial", pki.SerialHex(serial))
	}
}

// record turns a signed certificate into its stored form.
func (a *Authority) record(caID, profile, keyID string, issued *pki.Issued) *selo.Certificate {
	c := issued.Cert
	return &selo.Certificate{
		Serial: pki.SerialHex(c.SerialNumber), CAID: caID, Profile: profile, Subject: pki.NameString(c.Subject),
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, DER: issued.DER, Status: selo.CertValid,
		KeyID: keyID, LintResults: lintJSON(issued.Findings), CreatedAt: a.clock.Now(),
	}
}

// issuingCA picks the CA named in the request, or the one configured for the
// profile, and checks that it may issue.
func (a *Authority) issuingCA(ctx context.Context, profile, caID string) (*selo.CA, error) {
	if caID == "" {
		caID = a.profileCA[profile]
	}
	if caID == "" {
		return nil, selo.Errorf(selo.EINVALID, "no CA named and none configured for profile %q", profile)
	}
	ca, err := a.store.FindCA(ctx, caID)
	if err != nil {
		return nil, err
	}
	if ca.Status != selo.CAActive {
		return nil, selo.Errorf(selo.EINVALID, "CA %q is %s and issues nothing new", ca.ID, ca.Status)
	}
	if ca.IsRoot() {
		return nil, selo.Errorf(selo.EINVALID, "CA %q is a root; end-entity certificates come from an issuing CA", ca.ID)
	}
	return ca, nil
}

// FindCertificate returns a stored certificate by serial (hex, any case).
func (a *Authority) FindCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	s, err := NormalizeSerial(serial)
	if err != nil {
		return nil, err
	}
	return a.store.FindCertificate(ctx, s)
}

// ListCertificates returns the stored certificates that match filter, a
// page at a time (filter.AfterSerial, filter.Limit).
func (a *Authority) ListCertificates(ctx context.Context, filter selo.CertificateFilter) ([]*selo.Certificate, error) {
	return a.store.ListCertificates(ctx, filter)
}

// NormalizeSerial turns a serial typed by a person ("0A:1B:...", "0a1b", "0x0a1b")
// into the stored form, or EINVALID.
func NormalizeSerial(s string) (string, error) {
	if len(s) > 200 {
		// Longer than any serial with separators; the message quotes it.
		return "", selo.Errorf(selo.EINVALID, "serial %q... is too long", s[:40])
	}
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':' || c == ' ':
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			clean = append(clean, c)
		case c >= 'A' && c <= 'F':
			clean = append(clean, c+'a'-'A')
		case (c == 'x' || c == 'X') && len(clean) == 1 && clean[0] == '0':
			clean = clean[:0]
		default:
			return "", selo.Errorf(selo.EINVALID, "serial %q is not hexadecimal", s)
		}
	}
	n, ok := new(big.Int).SetString(string(clean), 16)
	if !ok || n.Sign() <= 0 || len(clean) > 64 {
		return "", selo.Errorf(selo.EINVALID, "serial %q is not a positive hexadecimal number", s)
	}
	return pki.SerialHex(n), nil
}

// ParsedCertificate parses a stored certificate's DER.
func ParsedCertificate(c *selo.Certificate) (*x509.Certificate, error) {
	x, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return nil, fmt.Errorf("parse stored certificate %s: %w", c.Serial, err)
	}
	return x, nil
}

func (a *Authority) dropKey(ctx context.Context, keyID string) {
	if keyID == "" {
		return
	}
	if err := a.keys.DeleteKey(ctx, keyID); err != nil {
		a.log.Error("delete unused key", "key", keyID, "err", err)
	}
}

func newHolderKeyID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "holder/" + hex.EncodeToString(b[:]), nil
}

func lintJSON(findings []pki.LintFinding) []byte {
	if findings == nil {
		findings = []pki.LintFinding{}
	}
	b, err := json.Marshal(findings)
	if err != nil {
		return []byte("[]")
	}
	return b
}

// DroppedSubject names the subject attributes of req's CSR (or subject) that
// its profile ignores and so leaves out of the certificate, such as the O, L,
// ST and C of a CSR for a DV TLS certificate, for telling the user.
func (a *Authority) DroppedSubject(req IssueRequest) ([]string, error) {
	profile, err := a.Profile(req.Profile)
	if err != nil {
		return nil, err
	}
	preq := &pki.Request{Subject: req.Subject}
	if len(req.CSR) > 0 {
		csr, err := pki.ParseCSR(req.CSR)
		if err != nil {
			return nil, err
		}
		preq = pki.RequestFromCSR(csr)
	}
	return profile.DroppedAttributes(preq), nil
}
