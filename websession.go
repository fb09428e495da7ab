package selo

import (
	"context"
	"time"
)

// WebSession is a signed-in browser: the holder portal's and the back
// office's. The cookie holds a random token; only its SHA-256 (TokenHash) is
// stored, so a copy of the database opens no session.
type WebSession struct {
	TokenHash string
	// Kind separates the portals that share the table: WebSessionHolder,
	// WebSessionOfficer, WebSessionReset (a password-reset link).
	Kind string
	// Subject is whom the session is for: the holder's account ID, the
	// officer's operator ID.
	Subject string
	// Stage is how far the sign-in got: WebStagePassword (the password was
	// right, a second factor is awaited) or WebStageSignedIn. A portal reads
	// nothing of the subject's before WebStageSignedIn.
	Stage string
	// Data is a short value a flow keeps between pages (a pending wallet
	// challenge's ID, say); never a secret.
	Data string
	// Failures counts the wrong codes given in this session.
	Failures  int
	CreatedAt time.Time
	SeenAt    time.Time // the last request; the idle timeout counts from it
	ExpiresAt time.Time // the absolute timeout
}

// Web session kinds and stages.
const (
	WebSessionHolder  = "holder"
	WebSessionOfficer = "officer"
	WebSessionReset   = "reset"

	WebStagePassword = "password"
	WebStageSignedIn = "signed-in"
)

// WebSessionStore persists web sessions. Sessions carry no audit entries of
// their own: the service that signs a subject in audits the sign-in.
type WebSessionStore interface {
	// CreateWebSession inserts s; ECONFLICT when the token hash exists.
	CreateWebSession(ctx context.Context, s *WebSession) error
	// FindWebSession returns the session with this token hash, or ENOTFOUND.
	FindWebSession(ctx context.Context, tokenHash string) (*WebSession, error)
	// UpdateWebSession stores the Subject, Stage, Data, Failures and SeenAt of s;
	// ENOTFOUND when it is gone.
	UpdateWebSession(ctx context.Context, s *WebSession) error
	// DeleteWebSession removes a session; deleting an absent one is no error.
	DeleteWebSession(ctx context.Context, tokenHash string) error
	// DeleteWebSessions removes every session of kind and subject except the
	// one with exceptTokenHash ("" for none) and returns how many it removed.
	DeleteWebSessions(ctx context.Context, kind, subject, exceptTokenHash string) (int, error)
	// DeleteExpiredWebSessions removes the sessions whose ExpiresAt is not
	// after now or whose SeenAt is before idleBefore.
	DeleteExpiredWebSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}
