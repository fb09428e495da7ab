package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// CredentialInfo is the root's selo.CredentialInfo, named here so that
// callers of the signing service need not spell the root.
type CredentialInfo = selo.CredentialInfo

// credentialEntry is what SignHash needs of a credential, kept in memory so
// that signing a batch costs no database work beyond consuming the SAD.
type credentialEntry struct {
	info     *CredentialInfo
	signer   crypto.Signer
	loadedAt time.Time
}

// CreateCredentialRequest asks for a cloud credential: a non-exportable key in
// the key store, certified under Profile, approved by ApprovalType.
type CreateCredentialRequest struct {
	AccountID      string
	Profile        string
	ApprovalType   selo.ApprovalType
	KeyAlgorithm   selo.KeyAlgorithm
	Subject        pkix.Name
	EmailAddresses []string
	Mobile         string // E.164; "" uses the account's
	Description    string
}

// CreateCredential generates the key under "cred/<ID>", has the authority
// certify it and stores the credential. The profile must allow the approval
// type, and authorizer approval is only for e-seals (profile qualified-seal).
func (s *Service) CreateCredential(ctx context.Context, actor string, req CreateCredentialRequest) (*CredentialInfo, error) {
	acct, err := s.account(ctx, req.AccountID)
	if err != nil {
		return nil, err
	}
	if !req.ApprovalType.Valid() {
		return nil, selo.Errorf(selo.EINVALID, "unknown approval type %q", req.ApprovalType)
	}
	if !req.KeyAlgorithm.Valid() {
		return nil, selo.Errorf(selo.EINVALID, "unknown key type %q (want one of %v)", req.KeyAlgorithm, selo.KeyAlgorithms)
	}
	profile, err := s.authority.Profile(req.Profile)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "no profile named %q", req.Profile)
	}
	if err := checkApproval(profile, req.ApprovalType); err != nil {
		return nil, err
	}
	if isQualified(profile) {
		// Only an order checks the holder's identity, which a qualified
		// certificate certifies.
		err := selo.Errorf(selo.EFORBIDDEN, "profile %s is qualified: its credentials are made by an order (selo order create --delivery cloud --approval %s), which checks the holder's identity", req.Profile, req.ApprovalType)
		s.auditFailure(ctx, actor, "credential.create", "account/"+acct.ID, err, map[string]any{"profile": req.Profile})
		return nil, err
	}
	mobile := req.Mobile
	if mobile == "" {
		mobile = acct.Mobile
	}
	if mobile != "" && !e164().MatchString(mobile) {
		return nil, selo.Errorf(selo.EINVALID, "mobile number must be in E.164 form, e.g. +351912345678")
	}
	if mobile == "" && (req.ApprovalType == selo.ApprovalSMS || req.ApprovalType == selo.ApprovalAuthorizer) {
		return nil, selo.Errorf(selo.EINVALID, "%s approval needs a mobile number on the credential or the account", req.ApprovalType)
	}

	id := newID()
	keyID := "cred/" + id
	signer, err := s.keys.GenerateKey(ctx, keyID, req.KeyAlgorithm, selo.KeyOptions{Exportable: false})
	if err != nil {
		return nil, fmt.Errorf("generate credential key: %w", err)
	}
	dropKey := func() {
		if err := s.keys.DeleteKey(ctx, keyID); err != nil {
			s.log.Error("delete unused credential key", "key", keyID, "err", err)
		}
	}
	// The CSR is signed by the stored key itself, so the authority's usual
	// path (proof of possession, profile checks, lint) applies unchanged.
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: req.Subject, EmailAddresses: req.EmailAddresses,
	}, signer)
	if err != nil {
		dropKey()
		return nil, fmt.Errorf("make credential CSR: %w", err)
	}
	cert, err := s.authority.Issue(ctx, actor, authority.IssueRequest{
		Profile: req.Profile, CSR: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
		KeyInQSCD: s.keysInQSCD,
	})
	if err != nil {
		dropKey()
		return nil, err
	}
	c := &selo.Credential{
		ID: id, AccountID: acct.ID, KeyID: keyID, KeyAlgorithm: req.KeyAlgorithm, CertificateSerial: cert.Serial,
		Profile: req.Profile, ApprovalType: req.ApprovalType, Mobile: mobile, Description: req.Description,
		Status: selo.CredentialActive, CreatedAt: s.clock.Now(),
	}
	if err := s.store.CreateCredential(ctx, c, s.entry(actor, "credential.create", "credential/"+id, selo.OutcomeSuccess, map[string]any{
		"account": acct.ID, "profile": req.Profile, "approval": req.ApprovalType, "key": req.KeyAlgorithm, "certificate": cert.Serial,
	})); err != nil {
		dropKey()
		return nil, err
	}
	e, err := s.load(ctx, c)
	if err != nil {
		return nil, err
	}
	return e.info, nil
}

// checkApproval refuses an approval type the profile does not allow;
// authorizers approve only e-seals (profile qualified-seal).
func checkApproval(profile *pki.Profile, approval selo.ApprovalType) error {
	if approval == selo.ApprovalAuthorizer && profile.Name != "qualified-seal" {
		return selo.Errorf(selo.EINVALID, "authorizer approval is only for e-seal credentials (profile qualified-seal)")
	}
	if !slices.Contains(profile.Approvals, string(approval)) {
		return selo.Errorf(selo.EINVALID, "profile %s does not allow %s approval (allowed: %v)", profile.Name, approval, profile.Approvals)
	}
	return nil
}

// ListCredentials returns an account's credentials with their certificates
// and each certificate's status as stored now.
func (s *Service) ListCredentials(ctx context.Context, accountID string) ([]*CredentialInfo, error) {
	cs, err := s.store.ListCredentials(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]*CredentialInfo, 0, len(cs))
	for _, c := range cs {
		if c.AccountID != accountID {
			continue // never another holder's, whatever the store answers
		}
		e, err := s.load(ctx, c)
		if err != nil {
			return nil, err
		}
		info, err := s.withStatus(ctx, e.info)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// CredentialInfo returns one of the account's credentials with its
// certificate's status as stored now; ENOTFOUND when it does not exist or
// belongs to another account (one answer for both).
func (s *Service) CredentialInfo(ctx context.Context, accountID, credentialID string) (*CredentialInfo, error) {
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return nil, err
	}
	e, err := s.load(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.withStatus(ctx, e.info)
}

// credential returns the account's credential, or ENOTFOUND.
func (s *Service) credential(ctx context.Context, accountID, credentialID string) (*selo.Credential, error) {
	c, err := s.store.FindCredential(ctx, credentialID)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && c.AccountID != accountID) || credentialID == "" {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such credential")
	} else if err != nil {
		return nil, err
	}
	return c, nil
}

// load returns the credential's entry: from the cache while fresh and about
// the same certificate, else from the store and the key store.
func (s *Service) load(ctx context.Context, c *selo.Credential) (*credentialEntry, error) {
	now := s.clock.Now()
	if v, ok := s.credentials.Load(c.ID); ok {
		e := v.(*credentialEntry)
		if e.info.Credential.CertificateSerial == c.CertificateSerial && now.Sub(e.loadedAt) < s.cacheTTL {
			info := *e.info
			info.Credential = c // the row as read now: status and lock are current
			return &credentialEntry{info: &info, signer: e.signer, loadedAt: e.loadedAt}, nil
		}
	}
	signer, err := s.keys.Signer(ctx, c.KeyID)
	if err != nil {
		return nil, fmt.Errorf("credential %s key: %w", c.ID, err)
	}
	rec, err := s.store.FindCertificate(ctx, c.CertificateSerial)
	if err != nil {
		return nil, fmt.Errorf("credential %s certificate: %w", c.ID, err)
	}
	cert, err := authority.ParsedCertificate(rec)
	if err != nil {
		return nil, err
	}
	chain, err := s.authority.Chain(ctx, rec.CAID)
	if err != nil {
		return nil, fmt.Errorf("credential %s chain: %w", c.ID, err)
	}
	info := &CredentialInfo{Credential: c, Certificate: cert, Chain: chain, MaxHashes: s.maxHashes}
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		info.KeyBits = k.Curve.Params().BitSize
		info.SignAlgorithms = []string{OIDECDSAWithSHA256, OIDECDSAWithSHA384, OIDECDSAWithSHA512}
	case *rsa.PublicKey:
		info.KeyBits = k.N.BitLen()
		info.SignAlgorithms = []string{OIDRSAEncryption, OIDSHA256WithRSA, OIDSHA384WithRSA, OIDSHA512WithRSA, OIDRSASSAPSS}
	default:
		return nil, fmt.Errorf("credential %s: unsupported key type %T", c.ID, k)
	}
	e := &credentialEntry{info: info, signer: signer, loadedAt: now}
	s.credentials.Store(c.ID, e)
	return e, nil
}
