package selo

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ETOOMANYREQUESTS is the code of a request refused by a rate limit: HTTP
// 429 with Retry-After.
const ETOOMANYREQUESTS = "too_many_requests"

// RateWindow is one limit of a rate: at most Max events in any span of Per.
type RateWindow struct {
	Max int
	Per time.Duration
}

// MaxRateWindow is the longest Per a RateStore keeps events for.
const MaxRateWindow = 24 * time.Hour

// RateStore counts events per key (a credential's sent codes, an address's
// failed logins) in the database, so that a limit holds across replicas and
// restarts.
type RateStore interface {
	// TakeRate records one event of key at now when, for every window, fewer
	// than Max events of key lie in (now-Per, now]; otherwise it records
	// nothing and returns ok false and the earliest time at which an event
	// would be allowed. Concurrent takes of one key, from any replica, are
	// serialized, so no window is ever exceeded. EINVALID for a window with
	// Max < 1 or Per outside (0, MaxRateWindow].
	TakeRate(ctx context.Context, key string, now time.Time, windows []RateWindow) (retryAt time.Time, ok bool, err error)
	// ReturnRate removes one event of key recorded at at (TakeRate's now):
	// an attempt that turned out not to count, such as a login with the
	// right password. Nothing when there is none.
	ReturnRate(ctx context.Context, key string, at time.Time) error
}

// CheckRateWindows returns EINVALID unless every window is one a RateStore
// keeps.
func CheckRateWindows(windows []RateWindow) error {
	if len(windows) == 0 {
		return Errorf(EINVALID, "a rate needs at least one window")
	}
	for _, w := range windows {
		if w.Max < 1 || w.Per <= 0 || w.Per > MaxRateWindow {
			return Errorf(EINVALID, "rate window %d per %s: want at least 1 per at most %s", w.Max, w.Per, MaxRateWindow)
		}
	}
	return nil
}

// RateLimitedError is an ETOOMANYREQUESTS error that says when to retry; the
// HTTP layers turn RetryAfter into the Retry-After header.
type RateLimitedError struct {
	Err        *Error
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitedError) Error() string { return e.Err.Error() }

// Unwrap gives ErrorCode and ErrorMessage the application error.
func (e *RateLimitedError) Unwrap() error { return e.Err }

// RateLimited returns an ETOOMANYREQUESTS error whose message ends with when
// to retry, in whole seconds (at least 1).
func RateLimited(retryAfter time.Duration, format string, args ...any) error {
	secs := RetryAfterSeconds(retryAfter)
	msg := fmt.Sprintf(format, args...)
	return &RateLimitedError{Err: Errorf(ETOOMANYREQUESTS, "%s; retry in %d s", msg, secs), RetryAfter: time.Duration(secs) * time.Second}
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// RetryAfter returns how long the rate-limited error in err's chain asks the
// client to wait, 0 when there is none.
func RetryAfter(err error) time.Duration {
	var e *RateLimitedError
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// CodeLimit bounds how often Selo sends one-time codes (SMS codes of
// credentials and authorizers, e-mail codes of the lift flow, new lift
// codes): sending costs money and floods the holder's phone (SMS pumping).
// A field of 0 leaves that window out.
type CodeLimit struct {
	// Interval is the least time between two codes for one subject (a
	// credential, an order).
	Interval time.Duration
	// PerHour is the most codes for one subject in any hour.
	PerHour int
	// AccountPerHour is the most codes for all the credentials of one
	// account in any hour.
	AccountPerHour int
}

// DefaultCodeLimit is the limit when none is configured: one code every 30
// seconds and 5 an hour per credential or order, 10 an hour per account.
var DefaultCodeLimit = CodeLimit{Interval: 30 * time.Second, PerHour: 5, AccountPerHour: 10}

// SubjectWindows are the windows of one subject; nil when there are none.
func (l CodeLimit) SubjectWindows() []RateWindow {
	var w []RateWindow
	if l.Interval > 0 {
		w = append(w, RateWindow{Max: 1, Per: min(l.Interval, MaxRateWindow)})
	}
	if l.PerHour > 0 {
		w = append(w, RateWindow{Max: l.PerHour, Per: time.Hour})
	}
	return w
}

// AccountWindows are the windows of one account; nil when there are none.
func (l CodeLimit) AccountWindows() []RateWindow {
	if l.AccountPerHour > 0 {
		return []RateWindow{{Max: l.AccountPerHour, Per: time.Hour}}
	}
	return nil
}

// LoginLimit bounds failed logins (and other password or code guesses of
// the public endpoints) per client address and per e-mail address. A field
// of 0 leaves that limit out.
type LoginLimit struct {
	// PerAddress is the most failures from one client address in Window.
	PerAddress int
	// PerEmail is the most failures for one e-mail address, whether or not
	// it has an account, in Window; after that only the password with a
	// second factor logs in until the window has room again.
	PerEmail int
	// Window is the span the failures are counted over.
	Window time.Duration
}

// DefaultLoginLimit is the limit when none is configured.
var DefaultLoginLimit = LoginLimit{PerAddress: 20, PerEmail: 5, Window: 15 * time.Minute}

// AddressWindows are the windows of one client address; nil when none.
func (l LoginLimit) AddressWindows() []RateWindow {
	if l.PerAddress > 0 && l.Window > 0 {
		return []RateWindow{{Max: l.PerAddress, Per: min(l.Window, MaxRateWindow)}}
	}
	return nil
}

// EmailWindows are the windows of one e-mail address; nil when none.
func (l LoginLimit) EmailWindows() []RateWindow {
	if l.PerEmail > 0 && l.Window > 0 {
		return []RateWindow{{Max: l.PerEmail, Per: min(l.Window, MaxRateWindow)}}
	}
	return nil
}

type clientAddressKey struct{}

// WithClientAddress returns ctx carrying the client's network address (the
// HTTP layer sets it), which per-address limits count by.
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddress returns the client address WithClientAddress put in ctx, or "".
func ClientAddress(ctx context.Context) string {
	a, _ := ctx.Value(clientAddressKey{}).(string)
	return a
}

// RevocationCodeStore keeps the revocation codes handed to holders at
// issuance, as argon2id hashes: the code itself is shown once and never
// stored.
type RevocationCodeStore interface {
	// PutRevocationCode stores the hash of the certificate's revocation
	// code, replacing any before, with its audit entry; ENOTFOUND when
	// there is no such certificate.
	PutRevocationCode(ctx context.Context, serial, hash string, audit *AuditEntry) error
	// FindRevocationCode returns the hash of the certificate's revocation
	// code, or ENOTFOUND.
	FindRevocationCode(ctx context.Context, serial string) (string, error)
}
