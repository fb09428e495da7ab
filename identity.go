package selo

import "time"

// IdentityCheckStatus is where a remote identity check stands.
type IdentityCheckStatus string

// Identity check statuses. A machine refusal and an officer's rejection both
// let the holder submit again, within the attempts allowed.
const (
	IdentityPending  IdentityCheckStatus = "pending"  // passed the machine checks; waits for an officer
	IdentityRefused  IdentityCheckStatus = "refused"  // refused by the machine checks
	IdentityApproved IdentityCheckStatus = "approved" // approved by an officer
	IdentityRejected IdentityCheckStatus = "rejected" // rejected by an officer
)

// Valid reports whether s is a known status.
func (s IdentityCheckStatus) Valid() bool {
	switch s {
	case IdentityPending, IdentityRefused, IdentityApproved, IdentityRejected:
		return true
	}
	return false
}

// IdentityCheck is one remote identity validation of an order's holder with
// an identity document: what the holder submitted, what the machine checks
// found, and an officer's decision.
type IdentityCheck struct {
	ID      string
	OrderID string

	// Submission.
	DocumentType   string // e.g. "passport", "id-card"
	Country        string // issuing country, ISO 3166 alpha-2 or ICAO code
	DocumentNumber string
	DocumentExpiry time.Time
	MRZ            string
	Copy           bool

	// Machine checks.
	MRZResult     string   // JSON of the parsed MRZ fields; "" when it did not parse
	MachineReason string   // why the machine refused; "" when it passed
	Pending       []string // what only an officer can judge (the live video, the photo)

	Status IdentityCheckStatus

	// Officer's decision.
	Officer         string
	DecisionReasons string

	SubmittedAt time.Time
	DecidedAt   time.Time // zero until decided (by the machine for a refusal)
}

// IdentityCheckFilter narrows ListIdentityChecks. Zero values match everything.
type IdentityCheckFilter struct {
	OrderID string
	Status  IdentityCheckStatus
	AfterID string // keyset pagination
	Limit   int    // 0 means no limit
}

// OneTimeCode is a secret code or challenge stored as a keyed hash: the
// access code of an order, an e-mail verification code, a certificate update
// challenge. Failures counts wrong attempts; at the limit the code is dead.
type OneTimeCode struct {
	Owner     string // what it belongs to, e.g. "order/<id>", "certificate/<serial>"
	Purpose   string // e.g. "lift", "email", "update"
	Hash      []byte // HMAC-SHA256 of the code under the service's code key
	ExpiresAt time.Time
	Failures  int
	CreatedAt time.Time
}

// EvidenceKind names one photo of an identity check's evidence.
type EvidenceKind string

// The photos a holder sends with a remote identity check: the document's
// front and back (a passport has only the data page, its "front") and a
// selfie.
const (
	EvidenceDocumentFront EvidenceKind = "document-front"
	EvidenceDocumentBack  EvidenceKind = "document-back"
	EvidenceSelfie        EvidenceKind = "selfie"
)

// EvidenceKinds lists every kind, in the order pages show them.
var EvidenceKinds = []EvidenceKind{EvidenceDocumentFront, EvidenceDocumentBack, EvidenceSelfie}

// Valid reports whether k is one of EvidenceKinds.
func (k EvidenceKind) Valid() bool {
	return k == EvidenceDocumentFront || k == EvidenceDocumentBack || k == EvidenceSelfie
}

// IdentityEvidence is one photo of an identity check, sealed at rest: the
// image is only ever stored encrypted (SecretBox, associated data
// EvidenceAssociatedData(CheckID, Kind)), and is deleted once ExpiresAt has
// passed (the retention setting of the registration desk).
type IdentityEvidence struct {
	CheckID     string
	Kind        EvidenceKind
	ContentType string // "image/jpeg" or "image/png", sniffed from the bytes
	Size        int    // bytes of the image before sealing
	Sealed      []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// EvidenceAssociatedData is the SecretBox associated data of a photo, so a
// sealed image copied to another check or kind does not open there.
func EvidenceAssociatedData(checkID string, kind EvidenceKind) []byte {
	return []byte("identity-evidence/" + checkID + "/" + string(kind))
}
