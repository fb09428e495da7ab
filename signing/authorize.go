package signing

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/notify"
)

// Approval purposes.
const (
	purposeSignature          = "signature"
	purposeAuthorizerRegister = "authorizer.register"
	purposeAuthorizerRenew    = "authorizer.renew"
)

// AuthorizeRequest is the root's selo.AuthorizeRequest.
type AuthorizeRequest = selo.AuthorizeRequest

// AuthorizeResult is the root's selo.AuthorizeResult.
type AuthorizeResult = selo.AuthorizeResult

// SendOTP sends a fresh SMS code for the credential's next authorization; it
// replaces any code sent before. EINVALID unless the credential is approved
// by SMS; EFORBIDDEN, with no text sent, when the credential could not sign
// (disabled, locked, its certificate revoked, on hold, superseded or expired).
func (s *Service) SendOTP(ctx context.Context, accountID, credentialID string) error {
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return err
	}
	if c.ApprovalType != selo.ApprovalSMS {
		return selo.Errorf(selo.EINVALID, "credential %s is approved by %s, not by SMS", c.ID, c.ApprovalType)
	}
	if err := s.signable(ctx, c); err != nil {
		s.auditFailure(ctx, holder(accountID), "approval.send", "credential/"+c.ID, err, nil)
		return err
	}
	return s.sendCode(ctx, c, purposeSignature, c.ID, notify.MessageSMSSignature)
}

// sendCode expires the credential's pending approvals of this purpose and
// subject, stores a new one with the HMAC of a fresh code and texts the code
// with the message template named message, in the language of the mobile's
// country (Portuguese for +351, English otherwise).
func (s *Service) sendCode(ctx context.Context, c *selo.Credential, purpose, subject, message string) error {
	return s.deliverCode(ctx, c, purpose, subject, maskMobile(c.Mobile), func(code string) error {
		text, err := s.templates.SMS(message, notify.SMSLanguage("", c.Mobile), map[string]any{"Code": code, "Minutes": int(s.codeLifetime / time.Minute), "Subject": subject})
		if err != nil {
			return err
		}
		if err := s.sms.SendSMS(ctx, c.Mobile, text); err != nil {
			return fmt.Errorf("send SMS code: %w", err)
		}
		return nil
	})
}

// deliverCode makes a one-time code of purpose and subject for credential
// c, within the code limits, replacing any pending one, stores its hash
// (type sms: a one-time code, whichever channel carries it; to names the
// channel's masked address in the audit entry) and hands it to deliver.
func (s *Service) deliverCode(ctx context.Context, c *selo.Credential, purpose, subject, to string, deliver func(code string) error) error {
	if err := s.limitCode(ctx, c, purpose); err != nil {
		return err
	}
	now := s.clock.Now()
	if err := s.expirePending(ctx, c.AccountID, c.ID, purpose, subject); err != nil {
		return err
	}
	code, err := approval.NewNumericCode(s.smsDigits)
	if err != nil {
		return err
	}
	a := &selo.Approval{
		ID: newID(), AccountID: c.AccountID, CredentialID: c.ID, Purpose: purpose, Type: selo.ApprovalSMS,
		Subject: subject, Status: selo.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(s.codeLifetime),
	}
	a.CodeHash = approval.HashCode(s.codeKey, codePurpose(a.ID), code)
	if err := s.store.CreateApproval(ctx, a, s.entry(holder(c.AccountID), "approval.send", "credential/"+c.ID, selo.OutcomeSuccess,
		map[string]any{"approval": a.ID, "purpose": purpose, "to": to, "expires_at": a.ExpiresAt})); err != nil {
		return err
	}
	return deliver(code)
}

// expirePending closes pending approvals that a new one replaces.
func (s *Service) expirePending(ctx context.Context, accountID, credentialID, purpose, subject string) error {
	pending, err := s.store.ListApprovals(ctx, accountID, selo.ApprovalPending)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if p.CredentialID == credentialID && p.Purpose == purpose && p.Subject == subject {
			err := s.store.DecideApproval(ctx, p.ID, selo.ApprovalExpired, "", s.clock.Now(),
				s.entry("system", "approval.expire", "approval/"+p.ID, selo.OutcomeSuccess, map[string]any{"reason": "replaced"}))
			if err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
				return err
			}
		}
	}
	return nil
}

// pendingCode returns the live SMS approval of this purpose and subject, or nil.
func (s *Service) pendingCode(ctx context.Context, c *selo.Credential, purpose, subject string) (*selo.Approval, error) {
	pending, err := s.store.ListApprovals(ctx, c.AccountID, selo.ApprovalPending)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	for _, p := range pending {
		if p.CredentialID == c.ID && p.Purpose == purpose && p.Subject == subject && p.Type == selo.ApprovalSMS && now.Before(p.ExpiresAt) {
			return p, nil
		}
	}
	return nil, nil
}

// checkCode verifies an SMS code against the live approval of purpose and
// subject and consumes the approval. A wrong code counts against the
// approval and the credential.
func (s *Service) checkCode(ctx context.Context, c *selo.Credential, purpose, subject, code string) error {
	a, err := s.pendingCode(ctx, c, purpose, subject)
	if err != nil {
		return err
	}
	if a == nil {
		return selo.Errorf(selo.EUNAUTHORIZED, "no code was sent or it has expired: ask for a new one")
	}
	if !approval.CodeEqual(s.codeKey, codePurpose(a.ID), code, a.CodeHash) {
		return s.failure(ctx, c, a, "wrong code")
	}
	if err := s.store.DecideApproval(ctx, a.ID, selo.ApprovalApproved, "", s.clock.Now(),
		s.entry(holder(c.AccountID), "approval.approve", "approval/"+a.ID, selo.OutcomeSuccess, map[string]any{"purpose": purpose})); err != nil {
		if selo.ErrorCode(err) == selo.ECONFLICT {
			return selo.Errorf(selo.EUNAUTHORIZED, "this code was already used")
		}
		return err
	}
	return nil
}

// usable refuses a disabled or locked credential.
func (s *Service) usable(c *selo.Credential) error {
	if c.Status != selo.CredentialActive {
		return selo.Errorf(selo.EFORBIDDEN, "credential %s is disabled", c.ID)
	}
	if s.clock.Now().Before(c.LockedUntil) {
		return selo.Errorf(selo.EFORBIDDEN, "too many wrong codes: credential locked until %s", c.LockedUntil.UTC().Format(time.RFC3339))
	}
	return nil
}

// failure counts a wrong code against the credential (and the approval a, if
// any), locks the credential at MaxFailures and answers EUNAUTHORIZED.
func (s *Service) failure(ctx context.Context, c *selo.Credential, a *selo.Approval, reason string) error {
	object := "credential/" + c.ID
	details := map[string]any{"code": selo.EUNAUTHORIZED, "reason": reason}
	if a != nil {
		details["approval"] = a.ID
		if _, err := s.store.RecordApprovalCodeFailure(ctx, a.ID, MaxFailures); err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
			return err
		}
	}
	f, err := s.store.RecordApprovalFailure(ctx, c.ID, s.clock.Now(), MaxFailures, approval.CoolingOff,
		s.entry(holder(c.AccountID), "approval.failure", object, selo.OutcomeFailure, details))
	if err != nil {
		return err
	}
	if f.LockedUntil.IsZero() {
		return selo.Errorf(selo.EUNAUTHORIZED, "%s", reason)
	}
	s.metrics.CredentialLocked()
	s.appendAudit(ctx, s.entry("system", "credential.lock", object, selo.OutcomeSuccess,
		map[string]any{"until": f.LockedUntil, "lockouts": f.Lockouts}))
	// Every code the holder was sent for this credential dies with the lock.
	if pending, err := s.store.ListApprovals(ctx, c.AccountID, selo.ApprovalPending); err == nil {
		for _, p := range pending {
			if p.CredentialID == c.ID && p.Type == selo.ApprovalSMS {
				_ = s.store.DecideApproval(ctx, p.ID, selo.ApprovalDead, "", s.clock.Now(),
					s.entry("system", "approval.dead", "approval/"+p.ID, selo.OutcomeSuccess, map[string]any{"reason": "credential locked"}))
			}
		}
	}
	return selo.Errorf(selo.EUNAUTHORIZED, "%s: credential locked until %s", reason, f.LockedUntil.UTC().Format(time.RFC3339))
}

// checkHashes validates the hashes of a request.
func (s *Service) checkHashes(oid string, hashes [][]byte) error {
	h, err := hashByOID(oid)
	if err != nil {
		return err
	}
	if len(hashes) == 0 {
		return selo.Errorf(selo.EINVALID, "no hashes")
	}
	if len(hashes) > s.maxHashes {
		return selo.Errorf(selo.EINVALID, "%d hashes: one request covers at most %d", len(hashes), s.maxHashes)
	}
	for i, d := range hashes {
		if len(d) != h.Size() {
			return selo.Errorf(selo.EINVALID, "hash %d has %d bytes, %v digests have %d", i+1, len(d), h, h.Size())
		}
	}
	return nil
}

// Authorize approves a batch of hashes for one credential and returns a SAD
// bound to them, or (wallet) a pending approval to poll with AuthorizeCheck.
// EUNAUTHORIZED: wrong, replayed or expired code; EFORBIDDEN: credential
// locked or disabled, authorizer disabled or outside its authorization;
// ENOTFOUND: no such credential for this account; EINVALID: bad input.
func (s *Service) Authorize(ctx context.Context, req AuthorizeRequest) (*AuthorizeResult, error) {
	var method selo.ApprovalType
	res, err := s.authorize(ctx, req, &method)
	if err != nil && selo.ErrorCode(err) != selo.EUNAUTHORIZED { // wrong codes are audited by failure
		s.auditFailure(ctx, holder(req.AccountID), "signature.authorize", "credential/"+req.CredentialID, err, nil)
	}
	s.metrics.Approval(approvalLabel(method), approvalOutcome(res, err))
	return res, err
}

// approvalLabel bounds the method label to the known approval types.
func approvalLabel(t selo.ApprovalType) string {
	switch t {
	case selo.ApprovalSMS, selo.ApprovalAuthenticator, selo.ApprovalAuthorizer, selo.ApprovalWallet:
		return string(t)
	}
	return "unknown" // the credential was not found, or the request was refused before
}

// approvalOutcome names what became of an authorization for the metrics.
func approvalOutcome(res *AuthorizeResult, err error) string {
	switch {
	case err == nil && res != nil && res.Pending != nil:
		return metrics.OutcomePending
	case err == nil:
		return metrics.OutcomeApproved
	case selo.ErrorCode(err) == selo.EUNAUTHORIZED:
		return metrics.OutcomeWrongCode
	case selo.ErrorCode(err) == selo.EFORBIDDEN:
		return metrics.OutcomeRefused
	}
	return metrics.OutcomeError
}

func (s *Service) authorize(ctx context.Context, req AuthorizeRequest, method *selo.ApprovalType) (*AuthorizeResult, error) {
	if req.NumSignatures != len(req.Hashes) {
		return nil, selo.Errorf(selo.EINVALID, "numSignatures is %d but %d hashes were sent", req.NumSignatures, len(req.Hashes))
	}
	if err := s.checkHashes(req.HashAlgorithmOID, req.Hashes); err != nil {
		return nil, err
	}
	if len(req.Description) > 500 {
		return nil, selo.Errorf(selo.EINVALID, "description longer than 500 characters")
	}
	c, err := s.credential(ctx, req.AccountID, req.CredentialID)
	if err != nil {
		return nil, err
	}
	*method = c.ApprovalType
	// Before any code is checked (and so consumed) or a wallet is asked.
	if err := s.signable(ctx, c); err != nil {
		return nil, err
	}
	authorizerID := ""
	switch c.ApprovalType {
	case selo.ApprovalSMS:
		if req.OTP == "" {
			return nil, selo.Errorf(selo.EINVALID, "this credential needs the SMS code (call sendOTP first)")
		}
		if err := s.checkCode(ctx, c, purposeSignature, c.ID, req.OTP); err != nil {
			return nil, err
		}
	case selo.ApprovalAuthenticator:
		if req.OTP == "" {
			return nil, selo.Errorf(selo.EINVALID, "this credential needs a code from the holder's authenticator app")
		}
		if err := s.checkAuthenticatorCode(ctx, c, req.OTP); err != nil {
			return nil, err
		}
	case selo.ApprovalAuthorizer:
		if req.OTP == "" {
			return nil, selo.Errorf(selo.EINVALID, "this credential needs an authorizer code")
		}
		if authorizerID, err = s.checkAuthorizerCode(ctx, c, req.OTP); err != nil {
			return nil, err
		}
	case selo.ApprovalWallet:
		if req.OTP != "" {
			return nil, selo.Errorf(selo.EINVALID, "this credential is approved in the holder's wallet, not by a code")
		}
		p, err := s.requestWalletApproval(ctx, c, req)
		if err != nil {
			return nil, err
		}
		return &AuthorizeResult{Pending: p, ExpiresIn: p.ExpiresAt.Sub(s.clock.Now())}, nil
	default:
		return nil, fmt.Errorf("credential %s has unknown approval type %q", c.ID, c.ApprovalType)
	}
	if err := s.store.ResetApprovalFailures(ctx, c.ID); err != nil {
		return nil, err
	}
	return s.issueSAD(ctx, c, req.HashAlgorithmOID, req.Hashes, string(c.ApprovalType), authorizerID)
}

// issueSAD stores the hash of a fresh SAD bound to the credential's account,
// the credential and the hashes (and the authorizer whose code approved it,
// if any), and returns the SAD once.
func (s *Service) issueSAD(ctx context.Context, c *selo.Credential, oid string, hashes [][]byte, how, authorizerID string) (*AuthorizeResult, error) {
	now := s.clock.Now()
	sad := randomToken()
	act := &selo.SignatureActivation{
		SADHash: tokenHash(sad), AccountID: c.AccountID, CredentialID: c.ID, HashAlgorithmOID: oid,
		Hashes: copyHashes(hashes), AuthorizerID: authorizerID, CreatedAt: now, ExpiresAt: now.Add(s.sadLifetime),
	}
	if err := s.store.CreateSignatureActivation(ctx, act, s.entry(holder(c.AccountID), "signature.authorize", "credential/"+c.ID, selo.OutcomeSuccess,
		map[string]any{"approval": how, "hashes": len(hashes), "hash_algorithm": oid, "expires_at": act.ExpiresAt})); err != nil {
		return nil, err
	}
	return &AuthorizeResult{SAD: sad, ExpiresIn: s.sadLifetime}, nil
}

func copyHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = append([]byte(nil), h...)
	}
	return out
}

// sameHashes compares two hash lists: same count, same order, same bytes.
func sameHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	ok := 1
	for i := range a {
		ok &= subtle.ConstantTimeCompare(a[i], b[i])
	}
	return ok == 1
}

// AuthorizeCheck polls a wallet approval: still pending, Pending is set;
// approved, a SAD is returned (once: asking again is ECONFLICT); denied or
// killed, EFORBIDDEN; expired, EUNAUTHORIZED; another account's, ENOTFOUND.
func (s *Service) AuthorizeCheck(ctx context.Context, accountID, approvalID string) (*AuthorizeResult, error) {
	a, err := s.store.FindApproval(ctx, approvalID)
	if selo.ErrorCode(err) == selo.ENOTFOUND || (err == nil && (a.AccountID != accountID || a.Purpose != purposeSignature || a.Type != selo.ApprovalWallet)) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such approval")
	} else if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	switch a.Status {
	case selo.ApprovalPending:
		if !now.Before(a.ExpiresAt) {
			if err := s.store.DecideApproval(ctx, a.ID, selo.ApprovalExpired, "", now,
				s.entry("system", "approval.expire", "approval/"+a.ID, selo.OutcomeSuccess, nil)); err != nil && selo.ErrorCode(err) != selo.ECONFLICT {
				return nil, err
			}
			return nil, selo.Errorf(selo.EUNAUTHORIZED, "the approval expired before the holder answered")
		}
		return &AuthorizeResult{Pending: a, ExpiresIn: a.ExpiresAt.Sub(now)}, nil
	case selo.ApprovalApproved:
		c, err := s.credential(ctx, accountID, a.CredentialID)
		if err != nil {
			return nil, err
		}
		if err := s.signable(ctx, c); err != nil {
			return nil, err
		}
		if err := s.store.DecideApproval(ctx, a.ID, selo.ApprovalConsumed, a.WalletID, now,
			s.entry(holder(accountID), "approval.consume", "approval/"+a.ID, selo.OutcomeSuccess, nil)); err != nil {
			if selo.ErrorCode(err) == selo.ECONFLICT {
				return nil, selo.Errorf(selo.ECONFLICT, "the SAD of this approval was already handed out")
			}
			return nil, err
		}
		return s.issueSAD(ctx, c, a.HashAlgorithmOID, a.Hashes, string(selo.ApprovalWallet), "")
	case selo.ApprovalConsumed:
		return nil, selo.Errorf(selo.ECONFLICT, "the SAD of this approval was already handed out")
	case selo.ApprovalDenied:
		return nil, selo.Errorf(selo.EFORBIDDEN, "the holder denied the signature")
	case selo.ApprovalDead:
		return nil, selo.Errorf(selo.EFORBIDDEN, "the approval was cancelled")
	default:
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the approval expired before the holder answered")
	}
}

// maskMobile keeps the last three digits of a number for audit details.
func maskMobile(m string) string {
	if len(m) <= 3 {
		return "***"
	}
	return "***" + m[len(m)-3:]
}

// ListApprovals returns the account's signature approvals with this status
// (any status when ""), newest first, without code hashes. A pending
// approval past its expiry is left out: it can no longer be decided.
func (s *Service) ListApprovals(ctx context.Context, accountID string, status selo.ApprovalStatus) ([]*selo.Approval, error) {
	statuses := []selo.ApprovalStatus{status}
	if status == "" {
		statuses = []selo.ApprovalStatus{selo.ApprovalPending, selo.ApprovalApproved, selo.ApprovalConsumed,
			selo.ApprovalDenied, selo.ApprovalExpired, selo.ApprovalDead}
	}
	now := s.clock.Now()
	var out []*selo.Approval
	for _, st := range statuses {
		as, err := s.store.ListApprovals(ctx, accountID, st)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.AccountID != accountID || a.Purpose != purposeSignature || (a.Status == selo.ApprovalPending && !now.Before(a.ExpiresAt)) {
				continue
			}
			c := *a
			c.CodeHash = nil
			out = append(out, &c)
		}
	}
	slices.SortStableFunc(out, func(a, b *selo.Approval) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}
