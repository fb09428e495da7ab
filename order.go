package selo

import (
	"context"
	"strings"
	"time"
)

// OrderState is where an order stands on its way from request to certificate.
type OrderState string

// Order states, in the order an order passes them. Rejected and cancelled are
// terminal and can be reached from any state before issued.
//
// Payment is a fact recorded whenever it arrives (Order.PaidAt), before or
// after the identity check; the order reaches paid only once both hold: its
// identity is validated and its payment is recorded. Whichever comes second
// moves it on.
const (
	OrderCreated           OrderState = "created"
	OrderIdentityValidated OrderState = "identity_validated"
	OrderPaid              OrderState = "paid"
	OrderReady             OrderState = "ready"
	OrderEmailVerified     OrderState = "email_verified"
	OrderKeyReady          OrderState = "key_ready"
	OrderIssued            OrderState = "issued"
	OrderDelivered         OrderState = "delivered"
	OrderRejected          OrderState = "rejected"
	OrderCancelled         OrderState = "cancelled"
)

// OrderStates lists every state, in life-cycle order.
var OrderStates = []OrderState{
	OrderCreated, OrderIdentityValidated, OrderPaid, OrderReady, OrderEmailVerified,
	OrderKeyReady, OrderIssued, OrderDelivered, OrderRejected, OrderCancelled,
}

// orderMoves lists the transitions of the order state machine. ready goes
// back to paid only when the "ready to lift" e-mail could not be sent, so
// that a retry sends it.
var orderMoves = map[OrderState][]OrderState{
	OrderCreated:           {OrderIdentityValidated, OrderRejected, OrderCancelled},
	OrderIdentityValidated: {OrderPaid, OrderRejected, OrderCancelled},
	OrderPaid:              {OrderReady, OrderRejected, OrderCancelled},
	OrderReady:             {OrderPaid, OrderEmailVerified, OrderRejected, OrderCancelled},
	OrderEmailVerified:     {OrderKeyReady, OrderRejected, OrderCancelled},
	OrderKeyReady:          {OrderIssued, OrderRejected, OrderCancelled},
	OrderIssued:            {OrderDelivered},
}

// Valid reports whether s is one of OrderStates.
func (s OrderState) Valid() bool {
	for _, v := range OrderStates {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s OrderState) Terminal() bool { return len(orderMoves[s]) == 0 }

// CanMoveTo reports whether the state machine allows s → to.
func (s OrderState) CanMoveTo(to OrderState) bool {
	for _, v := range orderMoves[s] {
		if v == to {
			return true
		}
	}
	return false
}

// Reached reports whether an order in state s has passed (or is at) step on
// the main path; always false for rejected and cancelled.
func (s OrderState) Reached(step OrderState) bool {
	i, j := stateIndex(s), stateIndex(step)
	return i >= 0 && j >= 0 && i <= stateIndex(OrderDelivered) && i >= j
}

func stateIndex(s OrderState) int {
	for i, v := range OrderStates {
		if v == s {
			return i
		}
	}
	return -1
}

// Delivery says where the certificate's key lives.
type Delivery string

// Deliveries: software (the holder's machine makes the key and sends a CSR,
// keeping the key in an encrypted .pfx), token (the holder's device makes the
// key and sends a CSR), cloud (the key is made in Selo's key store and never
// leaves it).
const (
	DeliverySoftware Delivery = "software"
	DeliveryToken    Delivery = "token"
	DeliveryCloud    Delivery = "cloud"
)

// Valid reports whether d is a known delivery.
func (d Delivery) Valid() bool {
	return d == DeliverySoftware || d == DeliveryToken || d == DeliveryCloud
}

// Holder is the person an order is for, or who acts for the organisation of
// a seal.
type Holder struct {
	GivenNames string
	Surname    string
	Email      string
	Mobile     string    // E.164, "+351912345678"
	BirthDate  time.Time // zero when not given
	// Language of the holder's e-mails, "pt" or "en" (or another an
	// operator added templates for); "" writes Portuguese then English to a
	// +351 mobile and English to others.
	Language string `json:",omitempty"`
}

// OrderSubject is the certificate subject data the order asks for, beyond
// the holder's name: the organisation of a seal, a TLS server's names.
type OrderSubject struct {
	CommonName             string   `json:",omitempty"`
	Country                string   `json:",omitempty"` // ISO 3166 alpha-2
	Organization           string   `json:",omitempty"`
	Locality               string   `json:",omitempty"` // the organisation's, for an OV TLS certificate
	State                  string   `json:",omitempty"` // state or province, likewise
	OrganizationIdentifier string   `json:",omitempty"` // ETSI EN 319 412-1, e.g. VATPT-500000000
	SerialNumber           string   `json:",omitempty"` // natural person identifier, e.g. IDCPT-12345678
	DNSNames               []string `json:",omitempty"`
}

// Order is the path from a certificate request to a delivered certificate.
// Every change goes through OrderStore.UpdateOrder, which compares Version.
type Order struct {
	ID       string
	Number   string // the human order number the holder types, e.g. "SO-2026-K7Q2M9XD"; unique
	Holder   Holder
	Profile  string
	Delivery Delivery
	Subject  OrderSubject
	State    OrderState
	// Approval is how the holder approves signatures with the credential a
	// cloud order makes (chosen in the order); "" for other deliveries.
	Approval ApprovalType

	// IdentityStatus is the status of the latest identity check ("" before
	// the first); IdentityAttempts counts the checks submitted.
	IdentityStatus   IdentityCheckStatus
	IdentityAttempts int

	// Payment, recorded as a fact whenever it arrives.
	PaidAt             time.Time
	PaymentReference   string
	PaymentAmountCents int64
	PaymentCurrency    string

	// ReadyNotifiedAt is when the "ready to lift" e-mail went out.
	ReadyNotifiedAt time.Time

	// Key: for software and token delivery the CSR and its public key hash;
	// for cloud delivery the key store ID and the public key hash.
	PublicKeySHA256 string // hex SHA-256 of the SubjectPublicKeyInfo DER
	CSR             []byte // DER
	KeyID           string

	// ReservedSerial is the serial the certificate will carry, fixed with
	// the key so that a retried issuance never makes a second certificate.
	ReservedSerial    string
	CertificateSerial string

	CreatedBy string // audit actor that created the order
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts the changes stored; UpdateOrder writes only when it
	// still matches what the caller read.
	Version int64
}

// Paid reports whether a payment has been recorded.
func (o *Order) Paid() bool { return !o.PaidAt.IsZero() }

// OrderEvent is one transition in an order's history.
type OrderEvent struct {
	ID      int64 // assigned by the store, increasing
	OrderID string
	From    OrderState
	To      OrderState
	Actor   string
	Reason  string
	Time    time.Time
}

// OrderFilter narrows ListOrders. Zero values match everything.
type OrderFilter struct {
	State   OrderState
	AfterID string // keyset pagination: IDs strictly greater than this
	Limit   int    // 0 means no limit
}

// OrderUpdate is one atomic change to an order: the new values of the order
// (its Version being the version read), the transitions it makes, and what
// must be written with it. Either all of it is stored, or nothing.
type OrderUpdate struct {
	Order  *Order
	Events []*OrderEvent // the transitions, in order; none when the state stays
	Audit  *AuditEntry   // required
	// WebhookEventID, when set, is recorded as processed; a second update
	// with the same ID fails with ECONFLICT (a replayed payment webhook).
	WebhookEventID string
	// CreateCheck, when set, is inserted.
	CreateCheck *IdentityCheck
	// Evidence, when set, is inserted with CreateCheck (the photos of the
	// check, sealed); each names CreateCheck's ID.
	Evidence []*IdentityEvidence
	// DecideCheck, when set, is written only if the stored check is still
	// pending; ECONFLICT otherwise.
	DecideCheck *IdentityCheck
	// PutCodes are stored, each replacing the code of the same owner and purpose.
	PutCodes []*OneTimeCode
}

// OrderStore persists orders, their history, identity checks, processed
// payment webhooks and one-time codes.
type OrderStore interface {
	// CreateOrder inserts an order in state created with its first event and
	// audit entry; ECONFLICT when its ID or number exists.
	CreateOrder(ctx context.Context, order *Order, audit *AuditEntry) error
	// FindOrder returns the order with this ID, or ENOTFOUND.
	FindOrder(ctx context.Context, id string) (*Order, error)
	// FindOrderByNumber returns the order with this number, or ENOTFOUND.
	FindOrderByNumber(ctx context.Context, number string) (*Order, error)
	// ListOrders returns orders ordered by ID.
	ListOrders(ctx context.Context, filter OrderFilter) ([]*Order, error)
	// ListOrderEvents returns an order's history, oldest first.
	ListOrderEvents(ctx context.Context, orderID string) ([]*OrderEvent, error)
	// UpdateOrder applies u atomically, as a compare-and-set on the order's
	// version: ECONFLICT when the order changed since it was read (a lost
	// race), EINVALID for a transition the state machine does not allow.
	// On success u.Order holds what was stored, Version included.
	UpdateOrder(ctx context.Context, u *OrderUpdate) error

	// FindIdentityCheck returns the check with this ID, or ENOTFOUND.
	FindIdentityCheck(ctx context.Context, id string) (*IdentityCheck, error)
	// ListIdentityChecks returns checks ordered by ID.
	ListIdentityChecks(ctx context.Context, filter IdentityCheckFilter) ([]*IdentityCheck, error)

	// ListIdentityEvidence returns the stored photos of a check (sealed),
	// in the order of EvidenceKinds; none when they were never sent or have
	// been deleted.
	ListIdentityEvidence(ctx context.Context, checkID string) ([]*IdentityEvidence, error)
	// FindIdentityEvidence returns one photo of a check, or ENOTFOUND.
	FindIdentityEvidence(ctx context.Context, checkID string, kind EvidenceKind) (*IdentityEvidence, error)
	// ExpiredIdentityEvidence returns the IDs of checks with a photo whose
	// ExpiresAt is at or before now, oldest first, at most limit of them.
	ExpiredIdentityEvidence(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DeleteIdentityEvidence deletes every photo of a check with its audit
	// entry, atomically, and returns how many it deleted (0 is no error).
	DeleteIdentityEvidence(ctx context.Context, checkID string, audit *AuditEntry) (int, error)

	// PutOneTimeCode stores code, replacing any of the same owner and purpose.
	PutOneTimeCode(ctx context.Context, code *OneTimeCode, audit *AuditEntry) error
	// TryOneTimeCode counts one attempt at a code before the caller compares
	// it, so concurrent guesses cannot exceed maxFailures, and returns the
	// code with the attempt counted. ENOTFOUND when there is none, EFORBIDDEN
	// when maxFailures attempts have already failed.
	TryOneTimeCode(ctx context.Context, owner, purpose string, maxFailures int) (*OneTimeCode, error)
	// ReleaseOneTimeCodeTry takes back the attempt counted by TryOneTimeCode
	// once the code matched, so that only failures count.
	ReleaseOneTimeCodeTry(ctx context.Context, owner, purpose string) error
	// DeleteOneTimeCode removes a code (used once); ENOTFOUND when there is
	// none, so of two callers using the same code only one succeeds.
	DeleteOneTimeCode(ctx context.Context, owner, purpose string, audit *AuditEntry) error
}

// NormalizeEmail is how order and account e-mail addresses are compared:
// without surrounding blanks, lower-cased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
