// Package check validates what the stores are asked to write and fills in
// the defaults, once for both, so SQLite and PostgreSQL refuse the same
// things with the same codes before any SQL runs.
package check

import (
	"encoding/json"
	"time"

	"github.com/selo-qtsp/selo"
)

// ErrNoAudit refuses a change that comes without its audit entry: every
// change is audited, in the same transaction.
var ErrNoAudit = selo.Errorf(selo.EINVALID, "no audit entry given: every change is audited")

// CA validates ca and sets an empty Status to active.
func CA(ca *selo.CA) error {
	switch {
	case ca == nil:
		return selo.Errorf(selo.EINVALID, "no CA given")
	case ca.ID == "":
		return selo.Errorf(selo.EINVALID, "a CA needs an ID")
	case ca.ParentID == ca.ID:
		return selo.Errorf(selo.EINVALID, "CA %q cannot be its own parent", ca.ID)
	case len(ca.CertDER) == 0:
		return selo.Errorf(selo.EINVALID, "CA %q has no certificate", ca.ID)
	}
	if ca.Status == "" {
		ca.Status = selo.CAActive
	}
	return CAStatus(ca.Status)
}

// CAStatus accepts only the statuses selo defines.
func CAStatus(s selo.CAStatus) error {
	if s != selo.CAActive && s != selo.CARetired {
		return selo.Errorf(selo.EINVALID, "unknown CA status %q", s)
	}
	return nil
}

// Certificate validates cert and sets an empty Status to valid.
func Certificate(cert *selo.Certificate) error {
	switch {
	case cert == nil:
		return selo.Errorf(selo.EINVALID, "no certificate given")
	case !Serial(cert.Serial):
		return selo.Errorf(selo.EINVALID, "serial %q is not lower-case hex", cert.Serial)
	case cert.CAID == "":
		return selo.Errorf(selo.EINVALID, "certificate %s has no CA", cert.Serial)
	case len(cert.DER) == 0:
		return selo.Errorf(selo.EINVALID, "certificate %s has no DER", cert.Serial)
	}
	if cert.Status == "" {
		cert.Status = selo.CertValid
	}
	switch cert.Status {
	case selo.CertValid, selo.CertRevoked, selo.CertSuperseded:
		return nil
	}
	return selo.Errorf(selo.EINVALID, "unknown certificate status %q", cert.Status)
}

// Replacement validates the certificate that supersedes oldSerial and sets
// its ReissuedFrom when empty.
func Replacement(oldSerial string, cert *selo.Certificate) error {
	if err := Certificate(cert); err != nil {
		return err
	}
	if cert.ReissuedFrom == "" {
		cert.ReissuedFrom = oldSerial
	}
	if cert.ReissuedFrom != oldSerial {
		return selo.Errorf(selo.EINVALID, "replacement %s says it re-issues %s, not %s", cert.Serial, cert.ReissuedFrom, oldSerial)
	}
	if cert.Status != selo.CertValid {
		return selo.Errorf(selo.EINVALID, "replacement %s is %s, not valid", cert.Serial, cert.Status)
	}
	return nil
}

// Serial reports whether s is lower-case hex of at most 64 digits. Only one
// spelling of a serial is accepted, or "0A" and "0a" could both be stored.
func Serial(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// APIKey validates key.
func APIKey(key *selo.APIKey) error {
	switch {
	case key == nil:
		return selo.Errorf(selo.EINVALID, "no API key given")
	case key.ID == "" || key.Name == "" || key.Hash == "":
		return selo.Errorf(selo.EINVALID, "an API key needs an ID, a name and a hash")
	case len(key.Roles) == 0:
		return selo.Errorf(selo.EINVALID, "an API key needs at least one role")
	}
	return roles(key.Roles)
}

func roles(rs []selo.Role) error {
	for _, r := range rs {
		if !r.Valid() {
			return selo.Errorf(selo.EINVALID, "unknown role %q", r)
		}
	}
	return nil
}

// Operator validates an operator account.
func Operator(op *selo.Operator) error {
	switch {
	case op == nil:
		return selo.Errorf(selo.EINVALID, "no operator given")
	case op.ID == "" || op.Username == "" || op.PasswordHash == "":
		return selo.Errorf(selo.EINVALID, "an operator needs an ID, a user name and a password hash")
	case len(op.Roles) == 0:
		return selo.Errorf(selo.EINVALID, "an operator needs at least one role")
	}
	return roles(op.Roles)
}

// Proposal validates a new proposal.
func Proposal(p *selo.Proposal) error {
	switch {
	case p == nil:
		return selo.Errorf(selo.EINVALID, "no proposal given")
	case p.ID == "" || p.Kind == "" || p.ProposedBy == "" || p.Params == "":
		return selo.Errorf(selo.EINVALID, "a proposal needs an ID, a kind, parameters and a proposer")
	case p.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "a proposal needs an expiry time")
	}
	return nil
}

// AuditEntry validates an entry about to be sealed.
func AuditEntry(e *selo.AuditEntry) error {
	switch {
	case e == nil:
		return ErrNoAudit
	case e.Action == "":
		return selo.Errorf(selo.EINVALID, "audit entry has no action")
	}
	return nil
}

// CredentialMoved is the audit entry of a credential whose certificate
// oldSerial was superseded by newSerial and that signs with the new one from
// now on: written in the transaction of the supersession, by the same actor
// at the same time as base, the supersession's own entry.
func CredentialMoved(base *selo.AuditEntry, credentialID, oldSerial, newSerial string) *selo.AuditEntry {
	details, _ := json.Marshal(map[string]string{"old_serial": oldSerial, "new_serial": newSerial, "reason": "certificate re-issued"})
	return &selo.AuditEntry{Time: base.Time, Actor: base.Actor, Action: "credential.certificate.update",
		Object: "credential/" + credentialID, Outcome: selo.OutcomeSuccess, Details: string(details)}
}

// AuditCheckpoint validates a checkpoint before it is stored.
func AuditCheckpoint(cp *selo.AuditCheckpoint) error {
	switch {
	case cp == nil:
		return selo.Errorf(selo.EINVALID, "no audit checkpoint given")
	case cp.Seq <= 0 || cp.Hash == "":
		return selo.Errorf(selo.EINVALID, "an audit checkpoint needs the sequence number and hash of an entry")
	case cp.KeyID == "" || len(cp.Signature) == 0:
		return selo.Errorf(selo.EINVALID, "an audit checkpoint needs its key ID and signature")
	case cp.Time.IsZero():
		return selo.Errorf(selo.EINVALID, "an audit checkpoint needs its time")
	}
	return nil
}

// UnparsableKey is the spki_sha256 stored for a certificate whose DER does
// not parse (test fixtures): it never equals a real key hash, and marks the
// row as looked at.
const UnparsableKey = "-"

// KeyHash is selo.KeyHash of a stored certificate's DER, or UnparsableKey.
func KeyHash(der []byte) string {
	h, err := selo.KeyHash(der)
	if err != nil {
		return UnparsableKey
	}
	return h
}

// Decidable says why p cannot be decided to to by by at now: ECONFLICT when
// it is not pending or has expired, EFORBIDDEN when its proposer approves.
func Decidable(p *selo.Proposal, to selo.ProposalStatus, by string, now time.Time) error {
	switch {
	case p.Status != selo.ProposalPending:
		return selo.Errorf(selo.ECONFLICT, "proposal %s is %s, not pending", p.ID, p.Status)
	case !now.Before(p.ExpiresAt):
		return selo.Errorf(selo.ECONFLICT, "proposal %s expired at %s", p.ID, p.ExpiresAt.Format(time.RFC3339))
	case to == selo.ProposalApproved && by == p.ProposedBy:
		return selo.Errorf(selo.EFORBIDDEN, "proposal %s was proposed by %s: a different admin must approve it", p.ID, by)
	}
	return nil
}

// Claimable says why p cannot start executing at now: ECONFLICT unless it
// is approved and unexpired.
func Claimable(p *selo.Proposal, now time.Time) error {
	switch {
	case p.Status == selo.ProposalExecuting || p.Status == selo.ProposalExecuted || p.Status == selo.ProposalFailed:
		return selo.Errorf(selo.ECONFLICT, "proposal %s was already executed (%s): an approved proposal runs once", p.ID, p.Status)
	case p.Status != selo.ProposalApproved:
		return selo.Errorf(selo.ECONFLICT, "proposal %s is %s, not approved", p.ID, p.Status)
	case !now.Before(p.ExpiresAt):
		return selo.Errorf(selo.ECONFLICT, "proposal %s expired at %s", p.ID, p.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}
