package selo

import (
	"context"
	"time"
)

// Email is a plain-text e-mail Selo sends to a person: a holder's "ready to
// lift" notice, a verification code, an expiry warning.
type Email struct {
	To      string
	Subject string
	Body    string
}

// Mailer delivers e-mail. The embedded default writes into the local outbox
// (notify.Outbox); SMTP delivers for real. A Mailer must not log the body,
// which may carry a one-time code.
type Mailer interface {
	SendEmail(ctx context.Context, m Email) error
}

// SMSSender delivers text messages to mobile numbers (E.164, "+351912345678").
// The embedded default writes into the local outbox; an HTTP gateway adapter
// delivers for real. An SMSSender must not log the text.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// OutboxMessage is one message the local outbox holds.
// Its JSON shape is the one the outbox files and the API use.
type OutboxMessage struct {
	ID        string    `json:"id"`      // sortable: later messages have greater IDs
	Channel   string    `json:"channel"` // "email" or "sms"
	To        string    `json:"to"`
	Subject   string    `json:"subject,omitempty"` // e-mail only
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// SecretBox encrypts small secrets (TOTP seeds, authorizer secrets, one-time
// codes) before they are stored, so a copy of the database alone reveals none
// of them. associatedData binds a ciphertext to its row (for example the
// authenticator's ID), so a ciphertext moved to another row does not open.
type SecretBox interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(ciphertext, associatedData []byte) ([]byte, error)
}
