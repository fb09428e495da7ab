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
	o, err := s.store.FindOrderByNumber(ctx, strings.TrimSpace(number))
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, errWrongCode
	} else if err != nil {
		return nil, err
	}
	if err := s.checkCode(ctx, "holder:"+o.Number, orderObject(o), purposeLift, liftCode); err != nil {
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
	return status(o), nil
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
	o, err := s.liftOrder(ctx, number, liftCode)
	if err != nil {
		return nil, err
	}
	if o.State == selo.OrderIssued || o.State == selo.OrderDelivered {
		return s.store.FindCertificate(ctx, o.CertificateSerial)
	}
	if o.State != selo.OrderKeyReady {
		return nil, selo.Errorf(selo.ECONFLICT, "order %s is %s: submit the key first", o.Number, o.State)
	}
	actor := "holder:" + o.Number
	profile, err := s.auth.Profile(o.Profile)
	if err != nil {
		return nil, err
	}
	check, err := s.approvedCheck(ctx, o)
	if err != nil {
		return nil, err
	}
	pub, err := s.orderKey(ctx, o)
	if err != nil {
		return nil, err
	}
	serial, ok := new(big.Int).SetString(o.ReservedSerial, 16)
	if !ok {
		return nil, fmt.Errorf("order %s: stored reserved serial %q is not hex", o.Number, o.ReservedSerial)
	}
	subj := subjectRequest(o, profile, check)
	cert, err := s.auth.Issue(ctx, actor, authority.IssueRequest{Profile: o.Profile, PublicKey: pub, KeyID: o.KeyID,
		Subject: subj.Subject, DNSNames: subj.DNSNames, EmailAddresses: subj.EmailAddresses, Validated: subj.Validated, Serial: serial})
	if err != nil {
		return nil, err
	}
	o.CertificateSerial = cert.Serial
	if err := s.store.UpdateOrder(ctx, s.transition(o, selo.OrderIssued, actor, "certificate issued", map[string]any{"serial": cert.Serial})); err != nil {
		if _, rerr := s.afterRace(ctx, o, err); rerr != nil {
			return nil, rerr
		}
	}
	return cert, nil
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
