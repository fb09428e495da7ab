package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// Default timeouts of a session.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	// touchEvery is how stale SeenAt may get before a request writes it:
	// the idle timeout is counted to within this, at one write a minute.
	touchEvery = time.Minute
	tokenBytes = 32
)

// SessionConfig configures Sessions.
type SessionConfig struct {
	Store selo.WebSessionStore
	// Kind is the kind of session these are (selo.WebSessionHolder, ...): a
	// token of another kind is not found here.
	Kind string
	// CookieName names the cookie; Path scopes it (the portal's prefix).
	CookieName, Path string
	// Secure marks the cookie Secure: set it when the base URL is https.
	Secure bool
	// IdleTimeout and AbsoluteTimeout end a session (the defaults when 0).
	IdleTimeout, AbsoluteTimeout time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Sessions makes, reads and ends the web sessions of one kind.
type Sessions struct {
	cfg SessionConfig
}

// NewSessions returns Sessions over cfg.
func NewSessions(cfg SessionConfig) *Sessions {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	return &Sessions{cfg: cfg}
}

// HashToken is what the store keeps of a token: its hex SHA-256.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newToken() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// Issue stores a new session for subject at stage and returns its token,
// without a cookie: for a token that travels in a link.
func (m *Sessions) Issue(ctx context.Context, subject, stage, data string) (string, *selo.WebSession, error) {
	now := m.cfg.Now()
	token := newToken()
	s := &selo.WebSession{TokenHash: HashToken(token), Kind: m.cfg.Kind, Subject: subject, Stage: stage, Data: data,
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(m.cfg.AbsoluteTimeout)}
	if err := m.cfg.Store.CreateWebSession(ctx, s); err != nil {
		return "", nil, err
	}
	return token, s, nil
}

// Start begins a session for subject at stage and sets its cookie.
func (m *Sessions) Start(ctx context.Context, w http.ResponseWriter, subject, stage, data string) (*selo.WebSession, error) {
	token, s, err := m.Issue(ctx, subject, stage, data)
	if err != nil {
		return nil, err
	}
	m.setCookie(w, token, s.ExpiresAt)
	return s, nil
}

// Lookup returns the live session of a token, or nil when there is none (an
// unknown token, another kind, or past a timeout: such a session is deleted).
func (m *Sessions) Lookup(ctx context.Context, token string) (*selo.WebSession, error) {
	if token == "" || len(token) > 128 {
		return nil, nil
	}
	s, err := m.cfg.Store.FindWebSession(ctx, HashToken(token))
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if s.Kind != m.cfg.Kind {
		return nil, nil
	}
	now := m.cfg.Now()
	if !now.Before(s.ExpiresAt) || now.Sub(s.SeenAt) >= m.cfg.IdleTimeout {
		return nil, m.cfg.Store.DeleteWebSession(ctx, s.TokenHash)
	}
	if now.Sub(s.SeenAt) >= touchEvery {
		s.SeenAt = now
		if err := m.cfg.Store.UpdateWebSession(ctx, s); err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
			return nil, err
		}
	}
	return s, nil
}

// LookupHash is Lookup by the token's hash (HashToken): for a flow that
// joins two sessions, such as a QR code scanned by a phone that signs a
// browser in. It does not renew the session.
func (m *Sessions) LookupHash(ctx context.Context, tokenHash string) (*selo.WebSession, error) {
	s, err := m.cfg.Store.FindWebSession(ctx, tokenHash)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	if s.Kind != m.cfg.Kind || !now.Before(s.ExpiresAt) || now.Sub(s.SeenAt) >= m.cfg.IdleTimeout {
		return nil, nil
	}
	return s, nil
}

// Get returns the live session of the request's cookie, or nil.
func (m *Sessions) Get(r *http.Request) (*selo.WebSession, error) {
	c, err := r.Cookie(m.cfg.CookieName)
	if err != nil {
		return nil, nil
	}
	return m.Lookup(r.Context(), c.Value)
}

// Save stores the Subject, Stage, Data and Failures of s (a session
// started for nobody learns its subject later: the wallet's sign-in).
func (m *Sessions) Save(ctx context.Context, s *selo.WebSession) error {
	s.SeenAt = m.cfg.Now()
	return m.cfg.Store.UpdateWebSession(ctx, s)
}

// Rotate replaces s by a new session (new token, new cookie) of the same
// subject and Data at stage, with no failures, keeping its creation time for the absolute timeout: a
// token seen before the sign-in finished is worth nothing after it.
func (m *Sessions) Rotate(ctx context.Context, w http.ResponseWriter, s *selo.WebSession, stage string) (*selo.WebSession, error) {
	now := m.cfg.Now()
	token := newToken()
	n := &selo.WebSession{TokenHash: HashToken(token), Kind: m.cfg.Kind, Subject: s.Subject, Stage: stage, Data: s.Data,
		CreatedAt: now, SeenAt: now, ExpiresAt: s.ExpiresAt}
	if stage == selo.WebStageSignedIn && s.Stage != selo.WebStageSignedIn {
		// The absolute timeout counts from the full sign-in.
		n.ExpiresAt = now.Add(m.cfg.AbsoluteTimeout)
	}
	if err := m.cfg.Store.CreateWebSession(ctx, n); err != nil {
		return nil, err
	}
	if err := m.cfg.Store.DeleteWebSession(ctx, s.TokenHash); err != nil {
		return nil, err
	}
	m.setCookie(w, token, n.ExpiresAt)
	return n, nil
}

// End deletes s (nil: none) and clears the cookie.
func (m *Sessions) End(ctx context.Context, w http.ResponseWriter, s *selo.WebSession) error {
	m.clearCookie(w)
	if s == nil {
		return nil
	}
	return m.cfg.Store.DeleteWebSession(ctx, s.TokenHash)
}

// EndOthers deletes every session of subject but keep (nil: all of them).
func (m *Sessions) EndOthers(ctx context.Context, subject string, keep *selo.WebSession) (int, error) {
	except := ""
	if keep != nil {
		except = keep.TokenHash
	}
	return m.cfg.Store.DeleteWebSessions(ctx, m.cfg.Kind, subject, except)
}

// Sweep deletes the sessions of every kind past a timeout of this
// configuration; a worker may call it now and then.
func (m *Sessions) Sweep(ctx context.Context) (int, error) {
	now := m.cfg.Now()
	return m.cfg.Store.DeleteExpiredWebSessions(ctx, now, now.Add(-m.cfg.IdleTimeout))
}

func (m *Sessions) setCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: m.cfg.CookieName, Value: token, Path: m.cfg.Path, Expires: expires,
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

func (m *Sessions) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: m.cfg.CookieName, Value: "", Path: m.cfg.Path, MaxAge: -1,
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

// SecureBaseURL reports whether cookies under baseURL must be Secure.
func SecureBaseURL(baseURL string) bool {
	return strings.HasPrefix(strings.ToLower(baseURL), "https://")
}

// SweepExpired deletes the sessions of every kind that are past their
// absolute timeout or idle for longer than DefaultAbsoluteTimeout (more than
// any session is allowed): garbage collection for a worker, since Lookup
// refuses such sessions anyway.
func SweepExpired(ctx context.Context, store selo.WebSessionStore, now time.Time) (int, error) {
	return store.DeleteExpiredWebSessions(ctx, now, now.Add(-DefaultAbsoluteTimeout))
}
