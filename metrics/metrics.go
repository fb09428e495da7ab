// Package metrics is what Selo's services tell about their work, for an
// operator's monitoring: certificates issued, OCSP answers, signHash batches,
// approvals, the worker's leadership. The services call a Sink; the default,
// Nop, does nothing and costs a method call, so the services carry no
// dependency on a monitoring system. Package metrics/prom implements Sink
// with Prometheus for 'selo serve --metrics-listen'.
//
// No Sink method receives a secret, a key, a code or a personal detail:
// labels are profile names, status words and approval methods.
package metrics

import "time"

// Sink receives the services' events. Implementations must be safe for
// concurrent use and must not block: they are called on the hot paths
// (every OCSP answer, every signHash batch).
type Sink interface {
	// CertificateIssued counts one issuance attempt of profile that took
	// took; ok is false when it failed.
	CertificateIssued(profile string, took time.Duration, ok bool)
	// OCSPAnswered counts one OCSP answer with its response status
	// (pki.OCSPResponseStatus: 0 successful, 1 malformedRequest, ...);
	// cached is true when it came from memory.
	OCSPAnswered(status int, cached bool)
	// SignHashBatch counts one signHash call that made signatures
	// signatures (0 when refused).
	SignHashBatch(signatures int, ok bool)
	// Approval counts one signature authorization by method ("sms",
	// "authenticator", "authorizer", "wallet") and outcome (see the
	// Outcome constants).
	Approval(method, outcome string)
	// CredentialLocked counts a lockout after too many wrong codes.
	CredentialLocked()
	// WorkerLeading says whether this replica now runs the background work.
	WorkerLeading(leading bool)
}

// Approval outcomes.
const (
	OutcomeApproved  = "approved"   // a SAD was issued
	OutcomePending   = "pending"    // the holder's wallet was asked
	OutcomeWrongCode = "wrong_code" // a wrong, replayed or expired code
	OutcomeRefused   = "refused"    // a locked or disabled credential, an authorizer out of bounds
	OutcomeError     = "error"      // bad input or trouble on this side
)

// Nop is the Sink that does nothing. Embed it to implement only some
// methods.
type Nop struct{}

func (Nop) CertificateIssued(string, time.Duration, bool) {}
func (Nop) OCSPAnswered(int, bool)                        {}
func (Nop) SignHashBatch(int, bool)                       {}
func (Nop) Approval(string, string)                       {}
func (Nop) CredentialLocked()                             {}
func (Nop) WorkerLeading(bool)                            {}

// OrNop returns s, or Nop when s is nil.
func OrNop(s Sink) Sink {
	if s == nil {
		return Nop{}
	}
	return s
}
