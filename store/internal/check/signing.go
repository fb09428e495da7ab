package check

import (
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// EmailKey is the form of an e-mail address that uniqueness and look-up
// compare: lower-cased, surrounding spaces removed.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Account validates a new account.
func Account(a *selo.Account) error {
	switch {
	case a == nil:
		return selo.Errorf(selo.EINVALID, "no account given")
	case a.ID == "":
		return selo.Errorf(selo.EINVALID, "an account needs an ID")
	case EmailKey(a.Email) == "" || !strings.Contains(a.Email, "@"):
		return selo.Errorf(selo.EINVALID, "account %s needs an e-mail address", a.ID)
	case a.FailedLogins < 0 || a.Lockouts < 0:
		return selo.Errorf(selo.EINVALID, "account %s has a negative failure count", a.ID)
	}
	return nil
}

// Session validates a new session.
func Session(s *selo.Session) error {
	switch {
	case s == nil:
		return selo.Errorf(selo.EINVALID, "no session given")
	case s.TokenHash == "" || s.AccountID == "":
		return selo.Errorf(selo.EINVALID, "a session needs a token hash and an account")
	case s.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "a session needs an expiry time")
	}
	return nil
}

// Lockout validates the arguments of RecordLoginFailure and
// RecordApprovalFailure.
func Lockout(maxFailures int, lockFor func(int) time.Duration) error {
	if maxFailures <= 0 || lockFor == nil {
		return selo.Errorf(selo.EINVALID, "a lockout needs a positive failure limit and a duration")
	}
	return nil
}

// Credential validates a new credential and sets an empty Status to active.
func Credential(c *selo.Credential) error {
	switch {
	case c == nil:
		return selo.Errorf(selo.EINVALID, "no credential given")
	case c.ID == "" || c.AccountID == "" || c.KeyID == "" || c.Profile == "":
		return selo.Errorf(selo.EINVALID, "a credential needs an ID, an account, a key and a profile")
	case !c.KeyAlgorithm.Valid():
		return selo.Errorf(selo.EINVALID, "credential %s: unknown key algorithm %q", c.ID, c.KeyAlgorithm)
	case !c.ApprovalType.Valid():
		return selo.Errorf(selo.EINVALID, "credential %s: unknown approval type %q", c.ID, c.ApprovalType)
	case c.ApprovalType == selo.ApprovalAuthorizer && c.Profile != "qualified-seal":
		return selo.Errorf(selo.EINVALID, "credential %s: authorizers approve only e-seal (qualified-seal) credentials", c.ID)
	case c.CertificateSerial != "" && !Serial(c.CertificateSerial):
		return selo.Errorf(selo.EINVALID, "serial %q is not lower-case hex", c.CertificateSerial)
	case c.FailedApprovals < 0 || c.Lockouts < 0:
		return selo.Errorf(selo.EINVALID, "credential %s has a negative failure count", c.ID)
	}
	if c.Status == "" {
		c.Status = selo.CredentialActive
	}
	return CredentialStatus(c.Status)
}

// CredentialStatus accepts only the statuses selo defines.
func CredentialStatus(s selo.CredentialStatus) error {
	if s != selo.CredentialActive && s != selo.CredentialDisabled {
		return selo.Errorf(selo.EINVALID, "unknown credential status %q", s)
	}
	return nil
}

// OTPSettings validates TOTP parameters.
func OTPSettings(s selo.OTPSettings) error {
	switch s.Algorithm {
	case "SHA1", "SHA256", "SHA512":
	default:
		return selo.Errorf(selo.EINVALID, "unknown OTP algorithm %q", s.Algorithm)
	}
	if s.Digits < 6 || s.Digits > 10 || s.Period <= 0 {
		return selo.Errorf(selo.EINVALID, "OTP codes need 6 to 10 digits and a positive period")
	}
	return nil
}

// Authenticator validates a new authenticator.
func Authenticator(a *selo.Authenticator) error {
	switch {
	case a == nil:
		return selo.Errorf(selo.EINVALID, "no authenticator given")
	case a.ID == "" || a.AccountID == "":
		return selo.Errorf(selo.EINVALID, "an authenticator needs an ID and an account")
	case len(a.SealedSecret) == 0:
		return selo.Errorf(selo.EINVALID, "authenticator %s has no sealed secret", a.ID)
	case a.LastStep < -1:
		return selo.Errorf(selo.EINVALID, "authenticator %s: last step %d is below -1", a.ID, a.LastStep)
	}
	return OTPSettings(a.Settings)
}

// WalletEnrollment validates a new wallet enrolment.
func WalletEnrollment(e *selo.WalletEnrollment) error {
	switch {
	case e == nil:
		return selo.Errorf(selo.EINVALID, "no wallet enrolment given")
	case e.ID == "" || e.AccountID == "":
		return selo.Errorf(selo.EINVALID, "a wallet enrolment needs an ID and an account")
	case len(e.SealedSecret) == 0:
		return selo.Errorf(selo.EINVALID, "wallet enrolment %s has no sealed secret", e.ID)
	case e.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "wallet enrolment %s needs an expiry time", e.ID)
	}
	return nil
}

// Wallet validates a wallet about to be registered.
func Wallet(w *selo.Wallet) error {
	switch {
	case w == nil:
		return selo.Errorf(selo.EINVALID, "no wallet given")
	case w.ID == "":
		return selo.Errorf(selo.EINVALID, "a wallet needs an ID")
	case len(w.PublicKey) == 0:
		return selo.Errorf(selo.EINVALID, "wallet %s has no public key", w.ID)
	}
	return nil
}

// Authorizer validates a new authorizer.
func Authorizer(a *selo.Authorizer) error {
	switch {
	case a == nil:
		return selo.Errorf(selo.EINVALID, "no authorizer given")
	case a.ID == "" || a.CredentialID == "" || a.Name == "":
		return selo.Errorf(selo.EINVALID, "an authorizer needs an ID, a credential and a name")
	case len(a.SealedSecret) == 0:
		return selo.Errorf(selo.EINVALID, "authorizer %s has no sealed secret", a.ID)
	case a.LastStep < -1:
		return selo.Errorf(selo.EINVALID, "authorizer %s: last step %d is below -1", a.ID, a.LastStep)
	case a.Enabled && !a.Confirmed:
		return selo.Errorf(selo.EINVALID, "authorizer %s cannot be enabled before it is confirmed", a.ID)
	}
	return OTPSettings(a.Settings)
}

// Authorization validates an authorization period.
func Authorization(a *selo.Authorization) error {
	switch {
	case a == nil:
		return selo.Errorf(selo.EINVALID, "no authorization given")
	case a.ID == "" || a.AuthorizerID == "":
		return selo.Errorf(selo.EINVALID, "an authorization needs an ID and an authorizer")
	case a.NotBefore.IsZero() || !a.NotAfter.After(a.NotBefore):
		return selo.Errorf(selo.EINVALID, "authorization %s must end after it begins", a.ID)
	}
	return nil
}

// Approval validates a new approval and sets an empty Status to pending.
func Approval(a *selo.Approval) error {
	switch {
	case a == nil:
		return selo.Errorf(selo.EINVALID, "no approval given")
	case a.ID == "" || a.AccountID == "" || a.Purpose == "":
		return selo.Errorf(selo.EINVALID, "an approval needs an ID, an account and a purpose")
	case !a.Type.Valid():
		return selo.Errorf(selo.EINVALID, "approval %s: unknown type %q", a.ID, a.Type)
	case a.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "approval %s needs an expiry time", a.ID)
	case a.Failures < 0:
		return selo.Errorf(selo.EINVALID, "approval %s has a negative failure count", a.ID)
	case a.Hashes != nil && a.HashAlgorithmOID == "":
		return selo.Errorf(selo.EINVALID, "approval %s has hashes but no hash algorithm", a.ID)
	}
	if a.Status == "" {
		a.Status = selo.ApprovalPending
	}
	return ApprovalStatus(a.Status)
}

// ApprovalStatus accepts only the statuses selo defines.
func ApprovalStatus(s selo.ApprovalStatus) error {
	switch s {
	case selo.ApprovalPending, selo.ApprovalApproved, selo.ApprovalDenied, selo.ApprovalExpired,
		selo.ApprovalDead, selo.ApprovalConsumed:
		return nil
	}
	return selo.Errorf(selo.EINVALID, "unknown approval status %q", s)
}

// Decision validates the status DecideApproval moves an approval to.
func Decision(s selo.ApprovalStatus) error {
	if s == selo.ApprovalPending {
		return selo.Errorf(selo.EINVALID, "an approval cannot be decided back to pending")
	}
	return ApprovalStatus(s)
}

// SignatureActivation validates a new SAD: it must name the exact hashes it
// may sign, at least one, and none of them empty.
func SignatureActivation(s *selo.SignatureActivation) error {
	switch {
	case s == nil:
		return selo.Errorf(selo.EINVALID, "no signature activation given")
	case s.SADHash == "" || s.AccountID == "" || s.CredentialID == "":
		return selo.Errorf(selo.EINVALID, "a signature activation needs a SAD hash, an account and a credential")
	case s.HashAlgorithmOID == "":
		return selo.Errorf(selo.EINVALID, "a signature activation needs a hash algorithm")
	case len(s.Hashes) == 0:
		return selo.Errorf(selo.EINVALID, "a signature activation must name the hashes it may sign")
	case s.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "a signature activation needs an expiry time")
	case !s.UsedAt.IsZero():
		return selo.Errorf(selo.EINVALID, "a new signature activation cannot be used already")
	}
	for i, h := range s.Hashes {
		if len(h) == 0 {
			return selo.Errorf(selo.EINVALID, "hash %d of the signature activation is empty", i)
		}
	}
	return nil
}
