package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/notify"
)

// WalletOffer is an enrolment offer shown to the holder once: the URI (with
// the one-time secret) that the wallet scans, as text and QR codes.
type WalletOffer struct {
	EnrollmentID string
	URI          string
	QRPNG        []byte
	QRTerminal   string
	ExpiresAt    time.Time
}

// StartWalletEnrollment offers the account a wallet enrolment, valid
// EnrollmentLifetime and usable once. proof must show an existing factor
// (FactorProof); the holder is told by e-mail and SMS.
func (s *Service) StartWalletEnrollment(ctx context.Context, accountID string, proof FactorProof) (*WalletOffer, error) {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if err := s.proveFactor(ctx, acct, proof, "wallet.offer", "account/"+acct.ID); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	secret, err := approval.NewOTPSecret(approval.AlgSHA256) // 32 random bytes
	if err != nil {
		return nil, err
	}
	e := &selo.WalletEnrollment{ID: newID(), AccountID: acct.ID, ExpiresAt: now.Add(s.enrollmentLifetime), CreatedAt: now}
	if e.SealedSecret, err = s.secrets.Seal(secret, walletEnrollmentAD(e.ID)); err != nil {
		return nil, err
	}
	if err := s.store.CreateWalletEnrollment(ctx, e, s.entry(holder(acct.ID), "wallet.offer", "wallet-enrollment/"+e.ID, selo.OutcomeSuccess,
		map[string]any{"expires_at": e.ExpiresAt})); err != nil {
		return nil, err
	}
	s.notifyFactorChange(ctx, acct, notify.ChangeWalletOffered, "")
	uri := approval.WalletEnrollment{URL: s.walletRegisterURL(), EnrollmentID: e.ID, Secret: secret, ExpiresAt: e.ExpiresAt}.URI()
	png, err := approval.QRPNG(uri, 256)
	if err != nil {
		return nil, err
	}
	return &WalletOffer{EnrollmentID: e.ID, URI: uri, QRPNG: png, QRTerminal: approval.QRTerminal(uri), ExpiresAt: e.ExpiresAt}, nil
}

// RegisterWallet completes an enrolment with the device's registration: the
// proof of the enrolment secret and the device key's signature. The
// enrolment is used up whatever the outcome of a valid-looking attempt.
func (s *Service) RegisterWallet(ctx context.Context, r *approval.WalletRegistration) (*selo.Wallet, error) {
	if r == nil {
		return nil, selo.Errorf(selo.EINVALID, "no wallet registration")
	}
	refused := func() error { return selo.Errorf(selo.EUNAUTHORIZED, "invalid, used or expired enrolment") }
	e, err := s.store.FindWalletEnrollment(ctx, r.EnrollmentID)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, refused()
	} else if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if e.Used || !now.Before(e.ExpiresAt) {
		s.auditFailure(ctx, holder(e.AccountID), "wallet.register", "wallet-enrollment/"+e.ID, refused(), nil)
		return nil, refused()
	}
	secret, err := s.secrets.Open(e.SealedSecret, walletEnrollmentAD(e.ID))
	if err != nil {
		return nil, err
	}
	pub, err := approval.VerifyWalletRegistration(&approval.WalletEnrollment{URL: s.walletRegisterURL(), EnrollmentID: e.ID, Secret: secret, ExpiresAt: e.ExpiresAt}, r, now)
	if err != nil {
		s.auditFailure(ctx, holder(e.AccountID), "wallet.register", "wallet-enrollment/"+e.ID, refused(), map[string]any{"why": err.Error()})
		return nil, refused()
	}
	name, err := checkName(r.DeviceName)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	w := &selo.Wallet{ID: newID(), AccountID: e.AccountID, Name: name, PublicKey: der, CreatedAt: now}
	if err := s.store.CompleteWalletEnrollment(ctx, e.ID, w, s.entry(holder(e.AccountID), "wallet.register", "wallet/"+w.ID, selo.OutcomeSuccess,
		map[string]any{"enrollment": e.ID, "name": name})); err != nil {
		if selo.ErrorCode(err) == selo.ECONFLICT {
			return nil, refused()
		}
		return nil, err
	}
	if acct, err := s.account(ctx, e.AccountID); err == nil {
		s.notifyFactorChange(ctx, acct, notify.ChangeWalletRegistered, name)
	}
	return w, nil
}

// ListWallets returns the account's wallets.
func (s *Service) ListWallets(ctx context.Context, accountID string) ([]*selo.Wallet, error) {
	ws, err := s.store.ListWallets(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := ws[:0]
	for _, w := range ws {
		if w.AccountID == accountID {
			out = append(out, w)
		}
	}
	return out, nil
}

// DeleteWallet removes one of the account's wallets. proof must show an
// existing factor (FactorProof); the holder is told by e-mail and SMS.
func (s *Service) DeleteWallet(ctx context.Context, accountID, walletID string, proof FactorProof) error {
	w, err := s.wallet(ctx, accountID, walletID)
	if err != nil {
		return err
	}
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.proveFactor(ctx, acct, proof, "wallet.delete", "wallet/"+w.ID); err != nil {
		return err
	}
	if err := s.store.DeleteWallet(ctx, w.ID, s.entry(holder(accountID), "wallet.delete", "wallet/"+w.ID, selo.OutcomeSuccess,
		map[string]any{"identity_checked_by": proof.IdentityCheckedBy})); err != nil {
		return err
	}
	s.notifyFactorChange(ctx, acct, notify.ChangeWalletRemoved, w.Name)
	return nil
}

func (s *Service) wallet(ctx context.Context, accountID, id string) (*selo.Wallet, error) {
	w, err := s.store.FindWallet(ctx, id)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && accountID != "" && w.AccountID != accountID) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such wallet")
	}
	return w, err
}

// requestWalletApproval creates the pending approval a wallet answers.
func (s *Service) requestWalletApproval(ctx context.Context, c *selo.Credential, req AuthorizeRequest) (*selo.Approval, error) {
	ws, err := s.ListWallets(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	if len(req.Hashes) > MaxWalletHashes {
		return nil, selo.Errorf(selo.EINVALID, "%d hashes: a wallet approval shows at most %d", len(req.Hashes), MaxWalletHashes)
	}
	usable := false
	for _, w := range ws {
		usable = usable || !w.Disabled
	}
	if !usable {
		return nil, selo.Errorf(selo.EFORBIDDEN, "the holder has no wallet registered")
	}
	now := s.clock.Now()
	id := newID()
	// The challenge the wallet will sign must be valid as sent: printable
	// description, known algorithm, bounded hashes.
	if _, err := approval.NewWalletChallenge(id, c.ID, req.Description, req.HashAlgorithmOID, req.Hashes, now.Add(s.approvalLifetime)); err != nil {
		return nil, err
	}
	a := &selo.Approval{
		ID: id, AccountID: c.AccountID, CredentialID: c.ID, Purpose: purposeSignature, Type: selo.ApprovalWallet,
		HashAlgorithmOID: req.HashAlgorithmOID, Hashes: copyHashes(req.Hashes), Description: req.Description,
		Status: selo.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(s.approvalLifetime),
	}
	if err := s.store.CreateApproval(ctx, a, s.entry(holder(c.AccountID), "approval.request", "approval/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"credential": c.ID, "hashes": len(a.Hashes)})); err != nil {
		return nil, err
	}
	s.waiters.notify(c.AccountID)
	return a, nil
}

// Challenge returns what a wallet shows and signs for a pending approval.
func (s *Service) Challenge(a *selo.Approval) *approval.WalletChallenge {
	return &approval.WalletChallenge{
		ApprovalID: a.ID, CredentialID: a.CredentialID, Description: a.Description,
		HashAlgorithmOID: a.HashAlgorithmOID, Hashes: a.Hashes, Nonce: s.nonce(a.ID), ExpiresAt: a.ExpiresAt,
	}
}

// nonce is the challenge's nonce: derived from the approval ID under the
// code key, so it needs no storage and no one else can predict it.
func (s *Service) nonce(approvalID string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte("wallet-nonce/" + approvalID))
	return m.Sum(nil)
}

// walletKey returns a wallet's public key, refusing a disabled wallet.
func walletKey(w *selo.Wallet) (*ecdsa.PublicKey, error) {
	if w.Disabled {
		return nil, selo.Errorf(selo.EFORBIDDEN, "wallet disabled")
	}
	k, err := x509.ParsePKIXPublicKey(w.PublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "wallet key is not ECDSA")
	}
	return pub, nil
}

// WalletRegisterPath is where, under PublicURL, a wallet posts its
// registration; the enrolment URI names the full URL.
const WalletRegisterPath = "/api/v1/wallet/register"

func (s *Service) walletRegisterURL() string { return s.publicURL + WalletRegisterPath }

// MaxWalletHashes is the most hashes one wallet approval shows the holder
// (the wallet challenge's limit); larger batches need a code-approved credential.
const MaxWalletHashes = 64

// WalletAuthWindow is how far a wallet's signed request time may be from the
// server's clock.
const WalletAuthWindow = 2 * time.Minute

// WalletRequestBytes is what a wallet signs (ECDSA P-256, SHA-256, ASN.1 DER)
// to list its pending approvals: the wallet ID and the request time.
func WalletRequestBytes(walletID string, at time.Time) []byte {
	return []byte("selo-wallet-request\n" + walletID + "\n" + at.UTC().Format(time.RFC3339))
}

// AuthenticateWallet checks a wallet's signed request (WalletRequestBytes)
// and returns the wallet; EUNAUTHORIZED for anything wrong.
func (s *Service) AuthenticateWallet(ctx context.Context, walletID string, at time.Time, sig []byte) (*selo.Wallet, error) {
	refused := selo.Errorf(selo.EUNAUTHORIZED, "invalid wallet signature")
	w, err := s.wallet(ctx, "", walletID)
	if err != nil {
		return nil, refused
	}
	pub, err := walletKey(w)
	if err != nil {
		return nil, refused
	}
	now := s.clock.Now()
	if at.Before(now.Add(-WalletAuthWindow)) || at.After(now.Add(WalletAuthWindow)) {
		return nil, refused
	}
	digest := sha256.Sum256(WalletRequestBytes(walletID, at))
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return nil, refused
	}
	return w, nil
}

// PendingApprovals returns the challenges waiting for the wallet's account,
// live ones only, newest first. Call AuthenticateWallet first.
func (s *Service) PendingApprovals(ctx context.Context, w *selo.Wallet) ([]*approval.WalletChallenge, error) {
	ps, err := s.store.ListApprovals(ctx, w.AccountID, selo.ApprovalPending)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []*approval.WalletChallenge
	for _, a := range ps {
		if a.AccountID == w.AccountID && a.Type == selo.ApprovalWallet && now.Before(a.ExpiresAt) {
			out = append(out, s.Challenge(a))
		}
	}
	return out, nil
}

// WaitApprovals returns a channel that receives when the account's
// approvals change (a new request, a decision), for long-poll and
// server-sent events; call stop when done waiting.
func (s *Service) WaitApprovals(accountID string) (news <-chan struct{}, stop func()) {
	return s.waiters.wait(accountID)
}

// ApprovalWaiters returns how many wait on WaitApprovals for the account
// now (a wallet's long-poll, say), for monitoring and tests.
func (s *Service) ApprovalWaiters(accountID string) int {
	return s.waiters.count(accountID)
}

// DecideWalletApproval records the holder's answer, signed by the wallet's
// device key over the challenge. ENOTFOUND for an approval of another
// account; EUNAUTHORIZED for a bad signature; ECONFLICT when already decided.
func (s *Service) DecideWalletApproval(ctx context.Context, approvalID, walletID string, approve bool, sig []byte) error {
	w, err := s.wallet(ctx, "", walletID)
	if err != nil {
		return err
	}
	a, err := s.store.FindApproval(ctx, approvalID)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && (a.AccountID != w.AccountID || a.Type != selo.ApprovalWallet)) {
		return selo.Errorf(selo.ENOTFOUND, "no such approval")
	} else if err != nil {
		return err
	}
	object := "approval/" + a.ID
	pub, err := walletKey(w)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if a.Status != selo.ApprovalPending {
		return selo.Errorf(selo.ECONFLICT, "the approval was already decided")
	}
	if !now.Before(a.ExpiresAt) {
		return selo.Errorf(selo.EUNAUTHORIZED, "the approval has expired")
	}
	if err := approval.VerifyWalletDecision(s.Challenge(a), approve, pub, sig, now); err != nil {
		refused := selo.Errorf(selo.EUNAUTHORIZED, "invalid wallet signature")
		s.auditFailure(ctx, holder(a.AccountID), "approval.decide", object, refused, map[string]any{"wallet": w.ID})
		return refused
	}
	status, action := selo.ApprovalDenied, "approval.deny"
	if approve {
		status, action = selo.ApprovalApproved, "approval.approve"
	}
	if err := s.store.DecideApproval(ctx, a.ID, status, w.ID, now, s.entry(holder(a.AccountID), action, object, selo.OutcomeSuccess,
		map[string]any{"wallet": w.ID, "credential": a.CredentialID})); err != nil {
		if selo.ErrorCode(err) == selo.ECONFLICT {
			return selo.Errorf(selo.ECONFLICT, "the approval was already decided")
		}
		return err
	}
	s.waiters.notify(a.AccountID)
	return nil
}
