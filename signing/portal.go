package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

// The holder portal's sign-in and password flows (package portal serves them
// as pages). They reuse the login's checks (checkLogin: limits per address
// and per e-mail, the dummy hash, the audited refusals) and the account's
// codes (texted, or from an authenticator): nothing here checks a password
// or a code another way.

// Purposes of the account codes the portal texts.
const (
	purposeSignIn        = "account.login"
	purposePasswordReset = "password.reset"
)

// PasswordResetLifetime is how long a password-reset link works.
const PasswordResetLifetime = time.Hour

// CheckSignInPassword is the first step of a portal sign-in: the e-mail and
// password, with every limit and audit entry of Login. It opens no session:
// the portal asks for a second factor next (CompleteSignIn). The account
// comes back without its password hash.
func (s *Service) CheckSignInPassword(ctx context.Context, email, password string) (*selo.Account, error) {
	a, _, err := s.CheckSignInPasswordLocked(ctx, email, password, "")
	return a, err
}

// CheckSignInPasswordLocked is CheckSignInPassword for an e-mail that too
// many failures locked: like Login, the right password with a code of the
// account's authenticator still gets in, so that whoever locks a holder out
// on purpose does not keep them out. It reports whether that code was
// given and right: then it was the second factor too, audited as a
// complete account.login.
func (s *Service) CheckSignInPasswordLocked(ctx context.Context, email, password, code string) (*selo.Account, bool, error) {
	a, secondFactor, err := s.checkLogin(ctx, email, password, strings.TrimSpace(code))
	if err != nil {
		return nil, false, err
	}
	if secondFactor {
		s.appendAudit(ctx, s.entry(holder(a.ID), "account.login", "account/"+a.ID, selo.OutcomeSuccess,
			map[string]any{"second_factor": "authenticator", "channel": "portal", "locked_email": true}))
	} else {
		s.appendAudit(ctx, s.entry(holder(a.ID), "account.login.password", "account/"+a.ID, selo.OutcomeSuccess, map[string]any{"channel": "portal"}))
	}
	a.PasswordHash = ""
	return a, secondFactor, nil
}

// SendSignInCode texts the second factor of a portal sign-in to the
// account's mobile (or its first credential's), within the code limits.
func (s *Service) SendSignInCode(ctx context.Context, accountID string) error {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	return s.sendAccountCode(ctx, acct, "", purposeSignIn, notify.MessageSMSSignInCode)
}

// CompleteSignIn checks the second factor of a portal sign-in: the code
// SendSignInCode texted, or a code of one of the account's authenticators.
// It returns which ("sms" or "authenticator"). A wrong code counts against
// the texted code (five kill it), against the authenticators (their
// lockout) and against the e-mail's login window, like a wrong password;
// it is audited as a failed account.login.
func (s *Service) CompleteSignIn(ctx context.Context, accountID, code string) (string, error) {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return "", err
	}
	object := "account/" + acct.ID
	code = strings.TrimSpace(code)
	if acct.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled")
		s.auditFailure(ctx, holder(acct.ID), "account.login", object, err, nil)
		return "", err
	}
	method := ""
	if code != "" && len(code) <= 16 {
		ok, err := s.useAccountCode(ctx, acct, purposeSignIn, code, "account.login")
		if err != nil {
			return "", err
		}
		if ok {
			method = string(selo.ApprovalSMS)
		} else if ok, err = s.accountCode(ctx, acct.ID, code, "account.login", object); err != nil {
			return "", err
		} else if ok {
			method = string(selo.ApprovalAuthenticator)
		}
	}
	if method == "" {
		now := s.clock.Now()
		if _, _, err := s.takeRate(ctx, loginEmailKey(acct.Email), now, s.loginLimit.EmailWindows()); err != nil {
			return "", err
		}
		err := selo.Errorf(selo.EUNAUTHORIZED, "wrong code")
		s.auditFailure(ctx, holder(acct.ID), "account.login", object, err, map[string]any{"cause": "wrong second factor", "channel": "portal"})
		return "", err
	}
	s.appendAudit(ctx, s.entry(holder(acct.ID), "account.login", object, selo.OutcomeSuccess,
		map[string]any{"second_factor": method, "channel": "portal"}))
	return method, nil
}

// Account returns the holder's own account, without its password hash.
func (s *Service) Account(ctx context.Context, accountID string) (*selo.Account, error) {
	a, err := s.account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	a.PasswordHash = ""
	return a, nil
}

// ChangePassword replaces the account's password after checking the
// current one. Wrong current passwords count against the account like
// failed revocations; every outcome is audited. The caller ends the
// account's other sessions.
func (s *Service) ChangePassword(ctx context.Context, accountID, current, next string) error {
	now := s.clock.Now()
	object := "account/" + accountID
	key := "password:account:" + accountID
	retryAt, ok, err := s.takeRate(ctx, key, now, s.loginLimit.EmailWindows())
	if err != nil {
		return err
	}
	if !ok {
		err := selo.RateLimited(retryAt.Sub(now), "too many wrong passwords")
		s.auditFailure(ctx, holder(accountID), "account.password.change", object, err, nil)
		return err
	}
	a, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	if !VerifyPassword(current, a.PasswordHash) {
		err := selo.Errorf(selo.EUNAUTHORIZED, "wrong password")
		s.auditFailure(ctx, holder(accountID), "account.password.change", object, err, nil)
		return err
	}
	if len(s.loginLimit.EmailWindows()) > 0 {
		if err := s.store.ReturnRate(ctx, key, now); err != nil {
			return err
		}
	}
	return s.setPassword(ctx, a, next, "account.password.change")
}

func (s *Service) setPassword(ctx context.Context, a *selo.Account, password, action string) error {
	if len(password) < MinPasswordLength || len(password) > maxPasswordLength {
		return selo.Errorf(selo.EINVALID, "password must have %d to %d characters", MinPasswordLength, maxPasswordLength)
	}
	if a.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled: ask the registration desk")
		s.auditFailure(ctx, holder(a.ID), action, "account/"+a.ID, err, nil)
		return err
	}
	hash, err := HashPassword(password, s.password)
	if err != nil {
		return err
	}
	return s.store.UpdateAccountPassword(ctx, a.ID, hash, s.entry(holder(a.ID), action, "account/"+a.ID, selo.OutcomeSuccess, nil))
}

// StartPasswordReset e-mails the holder of email a link to choose a new
// password: link makes it for the account (the portal stores the link's
// token). An unknown e-mail gets the same answer, nil, and no e-mail, so the
// answer tells nobody whether an account exists; it is audited. The e-mails
// count against the account's code limits.
func (s *Service) StartPasswordReset(ctx context.Context, email string, link func(accountID string) (string, error)) error {
	a, err := s.store.FindAccountByEmail(ctx, normalizeEmail(email))
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		s.auditFailure(ctx, "anonymous", "account.password.reset", "account/unknown", selo.Errorf(selo.ENOTFOUND, "no such account"), nil)
		return nil
	} else if err != nil {
		return err
	}
	if a.Disabled || a.Email == "" || s.mailer == nil {
		s.auditFailure(ctx, holder(a.ID), "account.password.reset", "account/"+a.ID, selo.Errorf(selo.EFORBIDDEN, "no reset e-mail for this account"), nil)
		return nil
	}
	if err := s.limitSend(ctx, a.ID, "code:reset:"+a.ID, "account/"+a.ID, purposePasswordReset); err != nil {
		return err
	}
	url, err := link(a.ID)
	if err != nil {
		return err
	}
	m, err := s.templates.Email(a.Email, notify.MessagePasswordReset, notify.HolderLanguages("", a.Mobile),
		map[string]any{"Name": a.Name, "Link": url, "Minutes": int(PasswordResetLifetime / time.Minute)})
	if err != nil {
		return err
	}
	if err := s.mailer.SendEmail(ctx, m); err != nil {
		return err
	}
	s.appendAudit(ctx, s.entry(holder(a.ID), "account.password.reset.request", "account/"+a.ID, selo.OutcomeSuccess, nil))
	return nil
}

// SendPasswordResetCode texts the code that, with the e-mailed link,
// resets the password.
func (s *Service) SendPasswordResetCode(ctx context.Context, accountID string) error {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	return s.sendAccountCode(ctx, acct, "", purposePasswordReset, notify.MessageSMSPasswordReset)
}

// ResetPassword sets a new password with the texted reset code (or a code
// of the account's authenticator); the caller has checked the e-mailed
// link. Wrong codes count and are audited; the caller ends every session.
func (s *Service) ResetPassword(ctx context.Context, accountID, code, password string) error {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	object := "account/" + acct.ID
	if len(password) < MinPasswordLength || len(password) > maxPasswordLength {
		return selo.Errorf(selo.EINVALID, "password must have %d to %d characters", MinPasswordLength, maxPasswordLength)
	}
	ok, err := s.useAccountCode(ctx, acct, purposePasswordReset, strings.TrimSpace(code), "account.password.reset")
	if err != nil {
		return err
	}
	if !ok {
		if ok, err = s.accountCode(ctx, acct.ID, strings.TrimSpace(code), "account.password.reset", object); err != nil {
			return err
		}
	}
	if !ok {
		err := selo.Errorf(selo.EUNAUTHORIZED, "wrong code")
		s.auditFailure(ctx, holder(acct.ID), "account.password.reset", object, err, nil)
		return err
	}
	return s.setPassword(ctx, acct, password, "account.password.reset")
}

// SignatureRecord is one signature batch of the holder's history.
type SignatureRecord struct {
	Seq          int64 // the audit entry's; the key of the next page
	Time         time.Time
	CredentialID string
	Outcome      string
	Hashes       int    // documents or hashes signed in the batch
	Approval     string // sms, authenticator, wallet, authorizer ("" when not recorded)
	Integrator   string // the CSC client that asked ("" when not recorded)
}

// MaxHistoryPage bounds a page of SignatureHistory.
const MaxHistoryPage = 100

// SignatureHistory returns a page of the account's signature batches from
// the audit log, newest first: those before the entry beforeSeq (0: the
// newest). The read is indexed and keyset paged, so a page costs the same
// on the first day and after a million signatures.
func (s *Service) SignatureHistory(ctx context.Context, accountID string, beforeSeq int64, limit int) ([]SignatureRecord, error) {
	if limit <= 0 || limit > MaxHistoryPage {
		limit = MaxHistoryPage
	}
	es, err := s.store.ListAuditByActor(ctx, holder(accountID), "signature.sign", beforeSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SignatureRecord, 0, len(es))
	for _, e := range es {
		var d struct {
			Hashes     int    `json:"hashes"`
			Approval   string `json:"approval"`
			Integrator string `json:"integrator"`
		}
		_ = json.Unmarshal([]byte(e.Details), &d) // an entry without them shows blanks
		out = append(out, SignatureRecord{Seq: e.Seq, Time: e.Time, CredentialID: strings.TrimPrefix(e.Object, "credential/"),
			Outcome: e.Outcome, Hashes: d.Hashes, Approval: d.Approval, Integrator: d.Integrator})
	}
	return out, nil
}

// ListCredentialsPage is ListCredentials a page at a time, for the portal:
// the account's credentials newest first, up to limit of them after the
// credential after ("" from the newest), and the ID to continue after (""
// on the last page). The credential rows are one read; only the page's
// credentials are loaded and have their certificate's status read, so a
// page costs the same for a holder with ten certificates or a thousand.
func (s *Service) ListCredentialsPage(ctx context.Context, accountID, after string, limit int) ([]*CredentialInfo, string, error) {
	cs, err := s.store.ListCredentials(ctx, accountID)
	if err != nil {
		return nil, "", err
	}
	own := cs[:0:0]
	for _, c := range cs {
		if c.AccountID == accountID { // never another holder's, whatever the store answers
			own = append(own, c)
		}
	}
	slices.SortFunc(own, func(a, b *selo.Credential) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	start := 0
	if after != "" {
		start = len(own)
		for i, c := range own {
			if c.ID == after {
				start = i + 1
				break
			}
		}
	}
	if limit <= 0 {
		limit = len(own)
	}
	end := min(len(own), start+limit)
	out := make([]*CredentialInfo, 0, end-start)
	for _, c := range own[start:end] {
		e, err := s.load(ctx, c)
		if err != nil {
			return nil, "", err
		}
		info, err := s.withStatus(ctx, e.info)
		if err != nil {
			return nil, "", err
		}
		out = append(out, info)
	}
	next := ""
	if end < len(own) {
		next = own[end-1].ID
	}
	return out, next, nil
}

// SetApprovalMethod changes how signatures with one of the account's
// credentials are approved: by SMS (the credential's phone), an
// authenticator app (the account has a confirmed one), a wallet (the
// account has one) or, for e-seals, authorizers, as the credential's profile
// allows. It needs the proof of an existing factor, like enrolling one
// (FactorProof), and ends what was approved under the old method (unused
// SADs, pending approvals). The holder is told by e-mail and SMS.
func (s *Service) SetApprovalMethod(ctx context.Context, accountID, credentialID string, method selo.ApprovalType, proof FactorProof) error {
	acct, err := s.account(ctx, accountID)
	if err != nil {
		return err
	}
	c, err := s.credential(ctx, accountID, credentialID)
	if err != nil {
		return err
	}
	object := "credential/" + c.ID
	if !method.Valid() {
		return selo.Errorf(selo.EINVALID, "unknown approval method %q", method)
	}
	if method == c.ApprovalType {
		return nil
	}
	profile, err := s.authority.Profile(c.Profile)
	if err != nil {
		return err
	}
	if err := checkApproval(profile, method); err != nil {
		return err
	}
	switch method {
	case selo.ApprovalSMS:
		if c.Mobile == "" {
			return selo.Errorf(selo.EINVALID, "the certificate has no mobile number to text codes to")
		}
	case selo.ApprovalAuthenticator:
		as, err := s.store.ListAuthenticators(ctx, acct.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(as, func(a *selo.Authenticator) bool { return a.Confirmed && a.AccountID == acct.ID }) {
			return selo.Errorf(selo.EINVALID, "add and confirm an authenticator app first")
		}
	case selo.ApprovalWallet:
		ws, err := s.ListWallets(ctx, acct.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ws, func(w *selo.Wallet) bool { return !w.Disabled }) {
			return selo.Errorf(selo.EINVALID, "register a wallet first")
		}
	}
	if err := s.proveFactor(ctx, acct, proof, "credential.approval", object); err != nil {
		return err
	}
	if err := s.store.SetCredentialApproval(ctx, c.ID, method, s.entry(holder(acct.ID), "credential.approval", object, selo.OutcomeSuccess,
		map[string]any{"from": c.ApprovalType, "to": method})); err != nil {
		return err
	}
	s.credentials.Delete(c.ID) // the cached description shows the old method
	s.notifyFactorChange(ctx, acct, notify.ChangeApprovalMethod, string(method))
	return nil
}

// WalletSignInBytes is what a wallet signs (ECDSA P-256, SHA-256, ASN.1
// DER) to sign its holder in to the portal: its ID and the one-time
// challenge the sign-in page's QR code shows.
func WalletSignInBytes(walletID, challenge string) []byte {
	return []byte("selo-wallet-signin\n" + walletID + "\n" + challenge)
}

// SignInWithWallet checks a wallet's signature over a sign-in challenge
// (WalletSignInBytes) and returns the wallet's account, without its
// password hash: the portal's sign-in with the wallet ("DS Wallet can be
// used for authentication"). The caller makes the challenge, binds it to
// one browser session and accepts it once. Refusals are EUNAUTHORIZED and
// audited; a disabled wallet or account signs nobody in.
func (s *Service) SignInWithWallet(ctx context.Context, walletID, challenge string, sig []byte) (*selo.Account, error) {
	refused := selo.Errorf(selo.EUNAUTHORIZED, "invalid wallet signature")
	w, err := s.wallet(ctx, "", walletID)
	if err != nil {
		s.auditFailure(ctx, "anonymous", "account.login", "wallet/unknown", refused, map[string]any{"channel": "portal"})
		return nil, refused
	}
	object := "account/" + w.AccountID
	pub, err := walletKey(w)
	digest := sha256.Sum256(WalletSignInBytes(walletID, challenge))
	if err != nil || w.Disabled || challenge == "" || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		s.auditFailure(ctx, holder(w.AccountID), "account.login", object, refused, map[string]any{"channel": "portal", "wallet": w.ID})
		return nil, refused
	}
	a, err := s.account(ctx, w.AccountID)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		err := selo.Errorf(selo.EFORBIDDEN, "account disabled")
		s.auditFailure(ctx, holder(a.ID), "account.login", object, err, nil)
		return nil, err
	}
	s.appendAudit(ctx, s.entry(holder(a.ID), "account.login", object, selo.OutcomeSuccess,
		map[string]any{"second_factor": "wallet", "wallet": w.ID, "channel": "portal"}))
	a.PasswordHash = ""
	return a, nil
}
