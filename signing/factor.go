package signing

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/notify"
)

// purposeFactorChange is the purpose of the SMS code that lets a holder
// change an approval factor.
const purposeFactorChange = "factor.change"

// FactorProof is what enrolling, replacing or removing an approval factor
// (an authenticator app, a wallet) needs besides a holder session: a
// password alone must never be enough to put a new factor in, or take the
// holder's out (sole control, SCAL2).
type FactorProof struct {
	// Code is a code from one of the account's confirmed authenticators, or
	// the code RequestFactorCode texted to the certificate's phone.
	Code string
	// WalletApprovalID is a factor-change request of
	// RequestWalletFactorApproval that the holder's wallet approved.
	WalletApprovalID string
	// IdentityCheckedBy is the operator who checked the holder's identity
	// afresh (an officer's act through the operator CLI, never the holder
	// API); set, no code is needed. It is audited.
	IdentityCheckedBy string
}

// RequestFactorCode texts a one-time code that proves the holder may change
// an approval factor: to the mobile of the account's credential
// credentialID (its certificate's phone) or, when credentialID is "", to the
// account's mobile, falling back to the first credential's. It replaces any
// such code sent before. The codes count against the account's code limits
// (Config.CodeLimit); a refusal is ETOOMANYREQUESTS and sends nothing.
func (s *Service) RequestFactorCode(ctx context.Context, accountID, credentialID string) error {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	return s.sendAccountCode(ctx, acct, credentialID, purposeFactorChange, notify.MessageSMSFactorCode)
}

// sendAccountCode texts a one-time code of purpose for the account (see
// RequestFactorCode for the phone it goes to and the limits), replacing any
// pending code of that purpose.
func (s *Service) sendAccountCode(ctx context.Context, acct *selo.Account, credentialID, purpose, message string) error {
	mobile, credID := acct.Mobile, ""
	if credentialID != "" {
		c, err := s.credential(ctx, acct.ID, credentialID)
		if err != nil {
			return err
		}
		mobile, credID = c.Mobile, c.ID
	} else if mobile == "" {
		cs, err := s.store.ListCredentials(ctx, acct.ID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.AccountID == acct.ID && c.Mobile != "" {
				mobile, credID = c.Mobile, c.ID
				break
			}
		}
	}
	if mobile == "" {
		return selo.Errorf(selo.EINVALID, "the account has no mobile number: use a code from your authenticator, or ask the registration desk")
	}
	subject := "account/" + acct.ID
	// Within the code limits, like every other code Selo texts (SMS pumping).
	if err := s.limitSend(ctx, acct.ID, factorCodeKey(acct.ID), subject, purpose); err != nil {
		return err
	}
	if err := s.expirePendingAccountCodes(ctx, acct.ID, purpose); err != nil {
		return err
	}
	code, err := approval.NewNumericCode(s.smsDigits)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	a := &selo.Approval{
		ID: newID(), AccountID: acct.ID, CredentialID: credID, Purpose: purpose, Type: selo.ApprovalSMS,
		Subject: subject, Status: selo.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(s.codeLifetime),
	}
	a.CodeHash = approval.HashCode(s.codeKey, codePurpose(a.ID), code)
	if err := s.store.CreateApproval(ctx, a, s.entry(holder(acct.ID), "approval.send", subject, selo.OutcomeSuccess,
		map[string]any{"approval": a.ID, "purpose": purpose, "to": maskMobile(mobile), "expires_at": a.ExpiresAt})); err != nil {
		return err
	}
	text, err := s.templates.SMS(message, notify.SMSLanguage("", mobile),
		map[string]any{"Code": code, "Minutes": int(s.codeLifetime / time.Minute)})
	if err != nil {
		return err
	}
	if err := s.sms.SendSMS(ctx, mobile, text); err != nil {
		return fmt.Errorf("send SMS code: %w", err)
	}
	return nil
}

// expirePendingAccountCodes closes the account's codes of purpose that a new one replaces.
func (s *Service) expirePendingAccountCodes(ctx context.Context, accountID, purpose string) error {
	pending, err := s.store.ListApprovals(ctx, accountID, selo.ApprovalPending)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if p.Purpose == purpose {
			err := s.store.DecideApproval(ctx, p.ID, selo.ApprovalExpired, "", s.clock.Now(),
				s.entry("system", "approval.expire", "approval/"+p.ID, selo.OutcomeSuccess, map[string]any{"reason": "replaced"}))
			if err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
				return err
			}
		}
	}
	return nil
}

// useAccountCode checks code against the account's live texted code of
// purpose and consumes it. It reports false, counting a failure against
// that code (five kill it), when the code is wrong or none is live.
func (s *Service) useAccountCode(ctx context.Context, acct *selo.Account, purpose, code, action string) (bool, error) {
	pending, err := s.store.ListApprovals(ctx, acct.ID, selo.ApprovalPending)
	if err != nil {
		return false, err
	}
	now := s.clock.Now()
	var sent *selo.Approval
	for _, p := range pending {
		if p.Purpose == purpose && p.Type == selo.ApprovalSMS && p.AccountID == acct.ID && now.Before(p.ExpiresAt) {
			sent = p
			break
		}
	}
	if sent == nil {
		return false, nil
	}
	if !approval.CodeEqual(s.codeKey, codePurpose(sent.ID), code, sent.CodeHash) {
		if _, err := s.store.RecordApprovalCodeFailure(ctx, sent.ID, MaxFailures); err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
			return false, err
		}
		return false, nil
	}
	err = s.store.DecideApproval(ctx, sent.ID, selo.ApprovalApproved, "", now,
		s.entry(holder(acct.ID), "approval.approve", "approval/"+sent.ID, selo.OutcomeSuccess, map[string]any{"purpose": purpose, "for": action}))
	if selo.ErrorCode(err) == selo.ECONFLICT {
		return false, nil
	}
	return err == nil, err
}

// proveFactor checks proof for a factor change named action on the account
// and consumes it (a code works once). A wrong code counts against the
// code texted (five kill it) and against the account's authenticators, like
// any guess at their secrets. Refusals are audited.
func (s *Service) proveFactor(ctx context.Context, acct *selo.Account, proof FactorProof, action, object string) error {
	refuse := func(err error) error {
		s.auditFailure(ctx, holder(acct.ID), action, object, err, nil)
		return err
	}
	if proof.IdentityCheckedBy != "" {
		s.appendAudit(ctx, s.entry(proof.IdentityCheckedBy, "factor.identity-check", "account/"+acct.ID, selo.OutcomeSuccess,
			map[string]any{"for": action, "object": object}))
		return nil
	}
	if proof.WalletApprovalID != "" {
		if err := s.useWalletFactorApproval(ctx, acct, proof.WalletApprovalID, action); err != nil {
			return refuse(err)
		}
		return nil
	}
	if proof.Code == "" {
		return refuse(selo.Errorf(selo.EFORBIDDEN,
			"changing how signatures are approved needs an existing factor: a code from your authenticator, the code texted by POST /api/v1/account/factor-code, or your wallet's approval"))
	}
	now := s.clock.Now()
	as, err := s.store.ListAuthenticators(ctx, acct.ID)
	if err != nil {
		return err
	}
	confirmed := 0
	for _, a := range as {
		if !a.Confirmed || a.AccountID != acct.ID {
			continue
		}
		confirmed++
		if now.Before(a.LockedUntil) {
			continue // a locked secret takes no code; a texted one still works
		}
		secret, err := s.secrets.Open(a.SealedSecret, authenticatorAD(a.ID))
		if err != nil {
			return err
		}
		step, ok := approval.VerifyTOTP(secret, proof.Code, now, otpParams(a.Settings), -1)
		if !ok {
			continue
		}
		advanced, err := s.store.AdvanceAuthenticatorStep(ctx, a.ID, step, false)
		if err != nil {
			return err
		}
		if !advanced {
			return refuse(selo.Errorf(selo.EUNAUTHORIZED, "this code was already used"))
		}
		return s.store.ResetAuthenticatorFailures(ctx, acct.ID)
	}
	pending, err := s.store.ListApprovals(ctx, acct.ID, selo.ApprovalPending)
	if err != nil {
		return err
	}
	var sent *selo.Approval
	for _, p := range pending {
		if p.Purpose == purposeFactorChange && p.Type == selo.ApprovalSMS && p.AccountID == acct.ID && now.Before(p.ExpiresAt) {
			sent = p
			break
		}
	}
	if sent != nil && approval.CodeEqual(s.codeKey, codePurpose(sent.ID), proof.Code, sent.CodeHash) {
		if err := s.store.DecideApproval(ctx, sent.ID, selo.ApprovalApproved, "", now,
			s.entry(holder(acct.ID), "approval.approve", "approval/"+sent.ID, selo.OutcomeSuccess, map[string]any{"purpose": purposeFactorChange, "for": action})); err != nil {
			if selo.ErrorCode(err) == selo.ECONFLICT {
				return refuse(selo.Errorf(selo.EUNAUTHORIZED, "this code was already used"))
			}
			return err
		}
		return nil
	}
	// A wrong code: a guess at the texted code and at every authenticator secret.
	if sent != nil {
		if _, err := s.store.RecordApprovalCodeFailure(ctx, sent.ID, MaxFailures); err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
			return err
		}
	}
	if confirmed > 0 {
		f, err := s.store.RecordAuthenticatorFailure(ctx, acct.ID, now, MaxFailures, approval.CoolingOff,
			s.failureEntry(holder(acct.ID), action, object, selo.Errorf(selo.EUNAUTHORIZED, "wrong code"), nil))
		if err != nil {
			return err
		}
		if !f.LockedUntil.IsZero() {
			s.appendAudit(ctx, s.entry("system", "authenticator.lock", "account/"+acct.ID, selo.OutcomeSuccess,
				map[string]any{"until": f.LockedUntil, "lockouts": f.Lockouts}))
		}
		return selo.Errorf(selo.EUNAUTHORIZED, "wrong code")
	}
	return refuse(selo.Errorf(selo.EUNAUTHORIZED, "wrong code"))
}

// notifyFactorChange tells the holder, by e-mail and by SMS, that an
// approval factor was added or removed (change, one of notify.Change*; factor,
// the name the holder gave it), so a change they did not make does not go
// unnoticed. A failure to write or send is logged: the change is done.
func (s *Service) notifyFactorChange(ctx context.Context, acct *selo.Account, change, factor string) {
	when := s.clock.Now().UTC().Format("2006-01-02 15:04 MST")
	mobile := acct.Mobile
	if mobile == "" {
		if cs, err := s.store.ListCredentials(ctx, acct.ID); err == nil {
			for _, c := range cs {
				if c.Mobile != "" {
					mobile = c.Mobile
					break
				}
			}
		}
	}
	data := map[string]any{"Name": acct.Name, "When": when, "Change": change, "Factor": factor}
	if s.mailer != nil && acct.Email != "" {
		m, err := s.templates.Email(acct.Email, notify.MessageFactorChanged, notify.HolderLanguages("", mobile), data)
		if err == nil {
			err = s.mailer.SendEmail(ctx, m)
		}
		if err != nil {
			s.log.Error("send factor change e-mail", "account", acct.ID, "err", err)
		}
	}
	if mobile != "" {
		text, err := s.templates.SMS(notify.MessageSMSFactorChanged, notify.SMSLanguage("", mobile), data)
		if err == nil {
			err = s.sms.SendSMS(ctx, mobile, text)
		}
		if err != nil {
			s.log.Error("send factor change SMS", "account", acct.ID, "err", err)
		}
	}
	s.appendAudit(ctx, s.entry("system", "factor.notice", "account/"+acct.ID, selo.OutcomeSuccess,
		map[string]any{"change": change, "factor": factor, "email": acct.Email != "" && s.mailer != nil, "sms": maskMobile(mobile)}))
}

// walletFactorDescription is what the wallet shows for a factor change.
const walletFactorDescription = "Selo: approve a change of how you approve signatures (an authenticator or wallet added or removed)"

// RequestWalletFactorApproval asks the holder's registered wallet to approve
// a change of approval factors. Once the wallet approved it, its ID in
// FactorProof.WalletApprovalID proves an existing factor, once. The request
// is tied to one of the account's credentials (the wallet shows it); it
// lives as long as a wallet signature request.
func (s *Service) RequestWalletFactorApproval(ctx context.Context, accountID string) (*selo.Approval, error) {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ws, err := s.ListWallets(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	usable := false
	for _, w := range ws {
		usable = usable || !w.Disabled
	}
	if !usable {
		return nil, selo.Errorf(selo.EINVALID, "the account has no wallet: use a code from your authenticator or the texted code")
	}
	cs, err := s.store.ListCredentials(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	credID := ""
	for _, c := range cs {
		if c.AccountID == acct.ID && (credID == "" || c.ApprovalType == selo.ApprovalWallet) {
			credID = c.ID
			if c.ApprovalType == selo.ApprovalWallet {
				break
			}
		}
	}
	if credID == "" {
		return nil, selo.Errorf(selo.EINVALID, "the account has no credential for the wallet to show")
	}
	now := s.clock.Now()
	id := newID()
	digest := sha256.Sum256([]byte("selo-factor-change\n" + acct.ID + "\n" + id))
	hashes := [][]byte{digest[:]}
	if _, err := approval.NewWalletChallenge(id, credID, walletFactorDescription, OIDSHA256, hashes, now.Add(s.approvalLifetime)); err != nil {
		return nil, err
	}
	a := &selo.Approval{
		ID: id, AccountID: acct.ID, CredentialID: credID, Purpose: purposeFactorChange, Type: selo.ApprovalWallet,
		HashAlgorithmOID: OIDSHA256, Hashes: hashes, Description: walletFactorDescription, Subject: "account/" + acct.ID,
		Status: selo.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(s.approvalLifetime),
	}
	if err := s.store.CreateApproval(ctx, a, s.entry(holder(acct.ID), "approval.request", "approval/"+a.ID, selo.OutcomeSuccess,
		map[string]any{"purpose": purposeFactorChange})); err != nil {
		return nil, err
	}
	s.waiters.notify(acct.ID)
	return a, nil
}

// useWalletFactorApproval consumes a factor-change request the account's
// wallet approved.
func (s *Service) useWalletFactorApproval(ctx context.Context, acct *selo.Account, id, action string) error {
	a, err := s.store.FindApproval(ctx, id)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && (a.AccountID != acct.ID || a.Purpose != purposeFactorChange || a.Type != selo.ApprovalWallet)) {
		return selo.Errorf(selo.EUNAUTHORIZED, "no such wallet approval")
	} else if err != nil {
		return err
	}
	switch a.Status {
	case selo.ApprovalApproved:
	case selo.ApprovalPending:
		return selo.Errorf(selo.EFORBIDDEN, "the wallet has not approved the change yet")
	case selo.ApprovalConsumed:
		return selo.Errorf(selo.EUNAUTHORIZED, "this wallet approval was already used")
	default:
		return selo.Errorf(selo.EUNAUTHORIZED, "the wallet approval was %s", a.Status)
	}
	if !s.clock.Now().Before(a.ExpiresAt.Add(s.approvalLifetime)) {
		return selo.Errorf(selo.EUNAUTHORIZED, "the wallet approval has expired")
	}
	err = s.store.DecideApproval(ctx, a.ID, selo.ApprovalConsumed, a.WalletID, s.clock.Now(),
		s.entry(holder(acct.ID), "approval.consume", "approval/"+a.ID, selo.OutcomeSuccess, map[string]any{"purpose": purposeFactorChange, "for": action}))
	if selo.ErrorCode(err) == selo.ECONFLICT {
		return selo.Errorf(selo.EUNAUTHORIZED, "this wallet approval was already used")
	}
	return err
}
