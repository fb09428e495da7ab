package registration

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki"
)

// Lift steps: what the holder's client does next.
const (
	StepVerifyEmail = "verify_email" // enter the code e-mailed by StartLift
	StepSubmitKey   = "submit_key"   // send the CSR (software, token) or ask for the cloud key
	StepIssue       = "issue"        // ask for the certificate
	StepFetch       = "fetch"        // fetch the certificate and confirm delivery
	StepDone        = "done"         // delivered
)

// LiftStatus tells a client where an order's lift stands, so one that was
// interrupted resumes at the right step.
type LiftStatus struct {
	Number            string
	State             selo.OrderState
	Step              string
	Delivery          selo.Delivery
	Profile           string
	PublicKeySHA256   string // the key recorded, so a client can find the key it made
	CertificateSerial string
	// CredentialID is the credential a cloud order made (once issued), and
	// AccountPasswordSet whether its account has a password yet: the holder
	// sets the first one with SetAccountPassword.
	CredentialID       string
	AccountPasswordSet bool
}

// status describes o for the lift client.
func status(o *selo.Order) *LiftStatus {
	st := &LiftStatus{Number: o.Number, State: o.State, Delivery: o.Delivery, Profile: o.Profile,
		PublicKeySHA256: o.PublicKeySHA256, CertificateSerial: o.CertificateSerial}
	switch o.State {
	case selo.OrderReady:
		st.Step = StepVerifyEmail
	case selo.OrderEmailVerified:
		st.Step = StepSubmitKey
	case selo.OrderKeyReady:
		st.Step = StepIssue
	case selo.OrderIssued:
		st.Step = StepFetch
	case selo.OrderDelivered:
		st.Step = StepDone
	}
	return st
}

// liftOrder finds the order by number and checks its lift code.
func (s *Service) liftOrder(ctx context.Context, number, liftCode string) (*selo.Order, error) {
	o, err := s.orderByCode(ctx, number, purposeLift, liftCode)
	if err != nil {
		return nil, err
	}
	if !o.State.Reached(selo.OrderReady) {
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s and not ready to lift", o.Number, o.State)
	}
	return o, nil
}

// CheckLift checks the order number and lift code and returns where the
// lift stands, sending nothing: a resuming client asks it first so that it
// does not replace an e-mailed code the holder is about to type.
func (s *Service) CheckLift(ctx context.Context, number, liftCode string) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	return s.liftStatus(ctx, o)
}

// liftStatus is status(o) with, for an issued cloud order, its credential
// and whether the account has a password yet.
func (s *Service) liftStatus(ctx context.Context, o *selo.Order) (*LiftStatus, error) {
	st := status(o)
	if o.Delivery != selo.DeliveryCloud || (o.State != selo.OrderIssued && o.State != selo.OrderDelivered) {
		return st, nil
	}
	st.CredentialID = o.ID // the credential an order makes has the order's ID
	acct, err := s.store.FindAccountByEmail(ctx, o.Holder.Email)
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, err
	}
	st.AccountPasswordSet = err == nil && acct.PasswordHash != ""
	return st, nil
}

// StartLift checks the order number and lift code and returns where the lift
// stands. In ready it e-mails the holder a verification code (a new one on
// each call, replacing the last).
func (s *Service) StartLift(ctx context.Context, number, liftCode string) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	if o.State == selo.OrderReady {
		if err := s.limitSend(ctx, "holder:"+o.Number, o.Number, orderObject(o), purposeEmail); err != nil {
			return nil, err
		}
		code, stored, err := s.newCode(orderObject(o), purposeEmail, "0123456789", 6, s.cfg.EmailCodeValidity)
		if err != nil {
			return nil, err
		}
		if err := s.store.PutOneTimeCode(ctx, stored, s.audit("holder:"+o.Number, "code.create", orderObject(o), selo.OutcomeSuccess,
			map[string]any{"purpose": purposeEmail, "expires_at": stored.ExpiresAt})); err != nil {
			return nil, err
		}
		if err := s.sendHolderMail(ctx, o, notify.MessageEmailCode, map[string]any{"Number": o.Number, "Code": code,
			"Minutes": int(s.cfg.EmailCodeValidity / time.Minute)}); err != nil {
			return nil, selo.Errorf(selo.EINTERNAL, "the verification e-mail could not be sent; try again")
		}
	}
	return status(o), nil
}

// VerifyEmail checks the e-mailed code and moves the order to
// email_verified. Once past that step it only reports the status.
func (s *Service) VerifyEmail(ctx context.Context, number, liftCode, emailCode string) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	if o.State != selo.OrderReady {
		return status(o), nil
	}
	actor := "holder:" + o.Number
	if err := s.checkCode(ctx, actor, orderObject(o), purposeEmail, emailCode); err != nil {
		return nil, err
	}
	if err := s.store.UpdateOrder(ctx, s.transition(o, selo.OrderEmailVerified, actor, "e-mail verified", nil)); err != nil {
		return s.afterRace(ctx, o, err)
	}
	return status(o), nil
}

// afterRace answers a step that lost a race to an identical one: the status
// the winner left, or the error when the order went elsewhere.
func (s *Service) afterRace(ctx context.Context, o *selo.Order, err error) (*LiftStatus, error) {
	if selo.ErrorCode(err) != selo.ECONFLICT {
		return nil, err
	}
	now, ferr := s.store.FindOrder(ctx, o.ID)
	if ferr != nil {
		return nil, ferr
	}
	return status(now), nil
}

// SubmitKey records the certificate's key and reserves its serial, moving
// the order to key_ready. For software and token delivery csr is the
// holder's PKCS#10 (PEM or DER); its signature proves possession and only its
// public key is used. For cloud delivery csr must be empty: the key is made
// in Selo's key store under "order/<order ID>" and never leaves it. Sending
// the same key again is a no-op; a different key after one was recorded is
// ECONFLICT.
func (s *Service) SubmitKey(ctx context.Context, number, liftCode string, csr []byte) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	actor := "holder:" + o.Number
	if !o.State.Reached(selo.OrderEmailVerified) {
		return nil, selo.Errorf(selo.ECONFLICT, "order %s: verify the e-mail address first", o.Number)
	}
	var pub crypto.PublicKey
	var csrDER []byte
	keyID := ""
	if o.Delivery == selo.DeliveryCloud {
		if len(csr) > 0 {
			return nil, selo.Errorf(selo.EINVALID, "order %s is for a cloud key, made by Selo: send no CSR", o.Number)
		}
		if o.PublicKeySHA256 != "" {
			return status(o), nil
		}
		keyID = "order/" + o.ID
		signer, err := s.cfg.Keys.GenerateKey(ctx, keyID, s.cfg.CloudKeyAlgorithm, selo.KeyOptions{})
		if selo.ErrorCode(err) == selo.ECONFLICT {
			// Made by an interrupted earlier attempt: use it.
			signer, err = s.cfg.Keys.Signer(ctx, keyID)
		}
		if err != nil {
			return nil, err
		}
		pub = signer.Public()
	} else {
		if len(csr) == 0 {
			return nil, selo.Errorf(selo.EINVALID, "send the CSR made with the holder's key")
		}
		req, err := pki.ParseCSR(csr)
		if err != nil {
			return nil, err
		}
		pub, csrDER = req.PublicKey, req.Raw
	}
	hash, err := keyHash(pub)
	if err != nil {
		return nil, err
	}
	if o.PublicKeySHA256 != "" {
		if o.PublicKeySHA256 != hash {
			err := selo.Errorf(selo.ECONFLICT, "order %s already has another key (SHA-256 %s): resume with the first key", o.Number, o.PublicKeySHA256)
			s.auditFailure(ctx, actor, "order.key", orderObject(o), err)
			return nil, err
		}
		return status(o), nil
	}
	profile, err := s.auth.Profile(o.Profile)
	if err != nil {
		return nil, err
	}
	check, err := s.approvedCheck(ctx, o)
	if err != nil {
		return nil, err
	}
	probe := subjectRequest(o, profile, check)
	probe.PublicKey = pub
	if err := profile.CheckRequest(probe); err != nil {
		return nil, err
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	o.PublicKeySHA256, o.CSR, o.KeyID, o.ReservedSerial = hash, csrDER, keyID, pki.SerialHex(serial)
	u := s.transition(o, selo.OrderKeyReady, actor, "key recorded", map[string]any{"key": pki.KeyDescription(pub),
		"public_key_sha256": hash, "key_id": keyID, "reserved_serial": o.ReservedSerial})
	if err := s.store.UpdateOrder(ctx, u); err != nil {
		st, rerr := s.afterRace(ctx, o, err)
		if rerr == nil && st.PublicKeySHA256 != hash {
			return nil, selo.Errorf(selo.ECONFLICT, "order %s already has another key: resume with the first key", o.Number)
		}
		return st, rerr
	}
	return status(o), nil
}

// IssueCertificate issues the order's certificate with the reserved serial
// and moves the order to issued. A retry after an interruption finds the
// certificate already made under that serial and links it: never a second
// certificate for one order.
func (s *Service) IssueCertificate(ctx context.Context, number, liftCode string) (*selo.Certificate, error) {
	cert, _, err := s.IssueCertificateWithCode(ctx, number, liftCode)
	return cert, err
}

// IssueCertificateWithCode is IssueCertificate that also returns the
// certificate's revocation code when this call issued it: the code lets the
// holder revoke without the key (RevokeWithCode), is stored only as an
// argon2id hash, and is never shown again ("" on a repeated call).
func (s *Service) IssueCertificateWithCode(ctx context.Context, number, liftCode string) (*selo.Certificate, string, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, "", err
	}
	if o.State == selo.OrderIssued || o.State == selo.OrderDelivered {
		cert, err := s.store.FindCertificate(ctx, o.CertificateSerial)
		return cert, "", err
	}
	if o.State != selo.OrderKeyReady {
		return nil, "", selo.Errorf(selo.ECONFLICT, "order %s is %s: submit the key first", o.Number, o.State)
	}
	cert, fresh, err := s.issueOrder(ctx, "holder:"+o.Number, o)
	if err != nil || !fresh {
		return cert, "", err // a call that lost the race: the winner showed the code
	}
	code, err := s.newRevocationCode(ctx, "holder:"+o.Number, cert.Serial)
	if err != nil {
		// The certificate is issued; only the code is missing. The holder
		// can still revoke with the key, from the account or by an officer.
		s.log.Error("make revocation code", "order", o.Number, "serial", cert.Serial, "err", err)
		return cert, "", nil
	}
	return cert, code, nil
}

// issueOrder issues the certificate of an order in key_ready with its
// reserved serial and moves it to issued (a cloud order's credential first).
// fresh is false when another call moved the order first (a retry or a race):
// that call sent the messages.
func (s *Service) issueOrder(ctx context.Context, actor string, o *selo.Order) (cert *selo.Certificate, fresh bool, err error) {
	profile, err := s.auth.Profile(o.Profile)
	if err != nil {
		return nil, false, err
	}
	check, err := s.approvedCheck(ctx, o)
	if err != nil {
		return nil, false, err
	}
	pub, err := s.orderKey(ctx, o)
	if err != nil {
		return nil, false, err
	}
	serial, ok := new(big.Int).SetString(o.ReservedSerial, 16)
	if !ok {
		return nil, false, fmt.Errorf("order %s: stored reserved serial %q is not hex", o.Number, o.ReservedSerial)
	}
	subj := subjectRequest(o, profile, check)
	cert, err = s.auth.Issue(ctx, actor, authority.IssueRequest{Profile: o.Profile, PublicKey: pub, KeyID: o.KeyID,
		Subject: subj.Subject, DNSNames: subj.DNSNames, EmailAddresses: subj.EmailAddresses, Validated: subj.Validated, Serial: serial,
		KeyInQSCD: s.keyInQSCD(o)})
	if err != nil {
		return nil, false, err
	}
	o.CertificateSerial = cert.Serial
	var attached *selo.AttachedCredential
	details := map[string]any{"serial": cert.Serial}
	if o.Delivery == selo.DeliveryCloud {
		// Issued means usable: the credential is on the holder's account
		// before the order says issued. A retry finds both made.
		if attached, err = s.attachCredential(ctx, actor, o, cert); err != nil {
			return nil, false, err
		}
		details["credential"], details["account"] = attached.CredentialID, attached.AccountID
	}
	if err := s.store.UpdateOrder(ctx, s.transition(o, selo.OrderIssued, actor, "certificate issued", details)); err != nil {
		if _, rerr := s.afterRace(ctx, o, err); rerr != nil {
			return nil, false, rerr
		}
		return cert, false, nil // the winner of the race sent the message
	}
	if attached != nil {
		s.sendMail(ctx, s.credentialMail(o, attached))
	}
	return cert, true, nil
}

// FetchCertificate returns the issued certificate and its chain (issuing CA
// first, root last).
func (s *Service) FetchCertificate(ctx context.Context, number, liftCode string) (*selo.Certificate, []*x509.Certificate, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, nil, err
	}
	if o.CertificateSerial == "" {
		return nil, nil, selo.Errorf(selo.ECONFLICT, "order %s is %s: no certificate yet", o.Number, o.State)
	}
	cert, err := s.store.FindCertificate(ctx, o.CertificateSerial)
	if err != nil {
		return nil, nil, err
	}
	chain, err := s.auth.Chain(ctx, cert.CAID)
	if err != nil {
		return nil, nil, err
	}
	return cert, chain, nil
}

// ConfirmDelivery records that the holder has the certificate installed
// (delivered). Repeating it is a no-op.
func (s *Service) ConfirmDelivery(ctx context.Context, number, liftCode string) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	switch o.State {
	case selo.OrderDelivered:
		return status(o), nil
	case selo.OrderIssued:
	default:
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s: nothing to deliver yet", o.Number, o.State)
	}
	if err := s.store.UpdateOrder(ctx, s.transition(o, selo.OrderDelivered, "holder:"+o.Number, "delivery confirmed", nil)); err != nil {
		return s.afterRace(ctx, o, err)
	}
	return status(o), nil
}

// orderKey returns the public key recorded for the order.
func (s *Service) orderKey(ctx context.Context, o *selo.Order) (crypto.PublicKey, error) {
	if o.KeyID != "" {
		signer, err := s.cfg.Keys.Signer(ctx, o.KeyID)
		if err != nil {
			return nil, err
		}
		return signer.Public(), nil
	}
	req, err := x509.ParseCertificateRequest(o.CSR)
	if err != nil {
		return nil, fmt.Errorf("order %s: stored CSR: %w", o.Number, err)
	}
	return req.PublicKey, nil
}

// approvedCheck returns the order's approved identity check, or nil when it
// has none (an order approved otherwise).
func (s *Service) approvedCheck(ctx context.Context, o *selo.Order) (*selo.IdentityCheck, error) {
	checks, err := s.store.ListIdentityChecks(ctx, selo.IdentityCheckFilter{OrderID: o.ID, Status: selo.IdentityApproved})
	if err != nil || len(checks) == 0 {
		return nil, err
	}
	return checks[len(checks)-1], nil
}

// keyHash is the hex SHA-256 of the key's SubjectPublicKeyInfo DER.
func keyHash(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "unsupported public key")
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// keyInQSCD says whether the order's key is in a qualified signature
// creation device: a token's always is, a cloud key when Selo's key store is
// one, a software key (.pfx) never.
func (s *Service) keyInQSCD(o *selo.Order) bool {
	switch o.Delivery {
	case selo.DeliveryToken:
		return true
	case selo.DeliveryCloud:
		return s.cfg.KeysInQSCD
	}
	return false
}

// attachCredential puts the cloud order's key and certificate on the holder's
// account as a credential approved as the order chose.
func (s *Service) attachCredential(ctx context.Context, actor string, o *selo.Order, cert *selo.Certificate) (*selo.AttachedCredential, error) {
	if s.cfg.Credentials == nil {
		return nil, selo.Errorf(selo.EINTERNAL, "cloud delivery needs remote signing, which is not configured")
	}
	return s.cfg.Credentials.AttachOrderCredential(ctx, actor, selo.OrderCredential{
		ID: o.ID, OrderNumber: o.Number, Email: o.Holder.Email, Name: strings.TrimSpace(o.Holder.GivenNames + " " + o.Holder.Surname),
		Mobile: o.Holder.Mobile, KeyID: o.KeyID, KeyAlgorithm: s.cfg.CloudKeyAlgorithm, CertificateSerial: cert.Serial,
		Profile: o.Profile, Approval: o.Approval,
	})
}

// credentialMail tells the holder of a cloud order how to sign: the
// credential, the account, the first password when the account has none
// yet, and how signatures are approved.
func (s *Service) credentialMail(o *selo.Order, a *selo.AttachedCredential) selo.Email {
	url := strings.TrimRight(s.cfg.PublicURL, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "Your signing credential for order %s is ready. Its key was made in Selo's key store and never leaves it.\n\n", o.Number)
	fmt.Fprintf(&b, "Credential: %s\nAccount: %s\n\n", a.CredentialID, o.Holder.Email)
	if !a.PasswordSet {
		fmt.Fprintf(&b, "1. Choose your account password (once), with the order number and code of the ready e-mail:\n"+
			"   selo lift --server %s --order %s\n", url, o.Number)
	} else {
		fmt.Fprintf(&b, "1. Sign in with your existing account password.\n")
	}
	fmt.Fprintf(&b, "2. Sign from any CSC API v2 application at %s/csc/v2 with your e-mail and password, or:\n"+
		"   selo csc login --server %s --email %s\n   selo csc sign-hash %s --file DOCUMENT\n", url, url, o.Holder.Email, a.CredentialID)
	switch o.Approval {
	case selo.ApprovalSMS:
		fmt.Fprintf(&b, "3. Each signature is approved with a code sent by SMS to %s.\n", o.Holder.Mobile)
	case selo.ApprovalAuthenticator:
		fmt.Fprintf(&b, "3. Each signature is approved with a code of your authenticator app: enrol it in your account first (POST %s/api/v1/account/authenticators).\n", url)
	case selo.ApprovalWallet:
		fmt.Fprintf(&b, "3. Each signature is approved in your wallet app: register it in your account first (POST %s/api/v1/account/wallets).\n", url)
	case selo.ApprovalAuthorizer:
		fmt.Fprintf(&b, "3. Signatures are approved by the authorizers you register for this e-seal (POST %s/api/v1/account/authorizers, confirmed by an SMS code to %s); each authorization lasts 60 days.\n", url, o.Holder.Mobile)
	}
	return selo.Email{To: o.Holder.Email, Subject: "Your signing credential is ready: order " + o.Number, Body: b.String()}
}

// SetAccountPassword sets the first password of the account a cloud order
// opened, authenticated by the order number, the lift code and the e-mail
// the order verified; ECONFLICT when the account already has a password.
func (s *Service) SetAccountPassword(ctx context.Context, number, liftCode, password string) (*LiftStatus, error) {
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	if o.Delivery != selo.DeliveryCloud || (o.State != selo.OrderIssued && o.State != selo.OrderDelivered) {
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s: an account password is set once its cloud credential is issued", o.Number, o.State)
	}
	if s.cfg.Credentials == nil {
		return nil, selo.Errorf(selo.EINTERNAL, "remote signing is not configured")
	}
	if err := s.cfg.Credentials.SetInitialPassword(ctx, "holder:"+o.Number, o.Holder.Email, password); err != nil {
		return nil, err
	}
	return s.liftStatus(ctx, o)
}
