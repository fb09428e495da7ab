package cscserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// Defaults for the zero values of Config.
const (
	// DefaultMaxBodyBytes bounds request bodies: 1000 SHA-512 hashes in
	// base64 take about 92 KB, so 512 KiB leaves room for the rest.
	DefaultMaxBodyBytes = 512 << 10
	// DefaultMaxHashes is the most hashes one authorize or signHash takes.
	DefaultMaxHashes = 1000
	// SpecVersion is the CSC API version served.
	SpecVersion = "2.0.0.2"
)

// Config wires the CSC handler. Backend is required.
type Config struct {
	// Backend is the remote-signing service (*signing.Service in selo serve).
	Backend selo.SigningService
	// Clock tells certificate status (valid or expired); nil uses the system clock.
	Clock selo.Clock
	// Logger receives the details of internal errors; nil uses slog.Default().
	Logger *slog.Logger
	// Name, Logo (a URL), Region (ISO 3166-1 alpha-2), Lang and Description
	// are what info reports about the service.
	Name, Logo, Region, Lang, Description string
	// MaxBodyBytes bounds every request body (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// MaxHashes bounds the hashes of one request (DefaultMaxHashes when 0).
	MaxHashes int
}

// handler serves the CSC API v2 endpoints below its mount point.
type handler struct {
	cfg Config
	mux *http.ServeMux
}

// methodList is what info reports, in the specification's order.
var methodList = []string{
	"info", "auth/login", "auth/revoke", "credentials/list", "credentials/info",
	"credentials/authorize", "credentials/authorizeCheck", "credentials/sendOTP", "signatures/signHash",
}

// NewHandler returns the CSC API v2 handler. It serves paths relative to
// its mount point ("/info", "/credentials/list", ...): mount it with
// http.StripPrefix("/csc/v2", h). Every endpoint is POST with a JSON body;
// all but info and auth/login need "Authorization: Bearer <access_token>".
// It panics when cfg.Backend is nil, a wiring mistake.
func NewHandler(cfg Config) http.Handler {
	if cfg.Backend == nil {
		panic("cscserver: Config.Backend is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = selo.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxHashes <= 0 {
		cfg.MaxHashes = DefaultMaxHashes
	}
	if cfg.Name == "" {
		cfg.Name = "Selo"
	}
	if cfg.Lang == "" {
		cfg.Lang = "en-US"
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /info", h.info)
	h.mux.HandleFunc("POST /auth/login", h.login)
	h.mux.HandleFunc("POST /auth/revoke", h.authed(h.revoke))
	h.mux.HandleFunc("POST /credentials/list", h.authed(h.list))
	h.mux.HandleFunc("POST /credentials/info", h.authed(h.credentialInfo))
	h.mux.HandleFunc("POST /credentials/sendOTP", h.authed(h.sendOTP))
	h.mux.HandleFunc("POST /credentials/authorize", h.authed(h.authorize))
	h.mux.HandleFunc("POST /credentials/authorizeCheck", h.authed(h.authorizeCheck))
	h.mux.HandleFunc("POST /signatures/signHash", h.authed(h.signHash))
	return h
}

// ServeHTTP routes a request; unknown paths and methods get CSC errors, not
// the mux's plain text.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		known := false
		for _, m := range methodList {
			if r.URL.Path == "/"+m {
				known = true
			}
		}
		if known {
			w.Header().Set("Allow", http.MethodPost)
			e := newError(csc.ErrInvalidRequest, "use POST")
			e.Status = http.StatusMethodNotAllowed
			h.writeError(w, r, e)
			return
		}
		e := newError(csc.ErrInvalidRequest, "no such CSC method: %s", truncate(r.URL.Path, 64))
		e.Status = http.StatusNotFound
		h.writeError(w, r, e)
		return
	}
	h.mux.ServeHTTP(w, r)
}

type sessionKey struct{}

// authed wraps an endpoint that needs a bearer access token and hands it
// the session.
func (h *handler) authed(next func(http.ResponseWriter, *http.Request, *selo.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			h.writeError(w, r, newError(csc.ErrInvalidToken, "Missing access token: send Authorization: Bearer <access_token>"))
			return
		}
		sess, err := h.cfg.Backend.Authenticate(r.Context(), token)
		if err != nil {
			h.backendError(w, r, opToken, err)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, token)
		next(w, r.WithContext(ctx), sess)
	}
}

func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && len(token) <= 512
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Lang string `json:"lang"`
	}
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, csc.InfoResponse{
		Specs: SpecVersion, Name: h.cfg.Name, Logo: h.cfg.Logo, Region: h.cfg.Region, Lang: h.cfg.Lang,
		Description: h.cfg.Description, AuthType: []string{"basic"}, Methods: methodList,
		SignAlgorithms: csc.SignAlgorithms{Algos: allSignAlgorithms},
	})
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var req csc.LoginRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	email, password, ok := r.BasicAuth()
	if !ok || email == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="csc", charset="UTF-8"`)
		h.writeError(w, r, newError(csc.ErrAuthenticationError, "send the e-mail and password with HTTP Basic authentication"))
		return
	}
	if !utf8.ValidString(email) || len(email) > 320 || len(password) > 1024 {
		h.writeError(w, r, newError(csc.ErrAuthenticationError, "invalid e-mail or password"))
		return
	}
	token, sess, err := h.cfg.Backend.Login(r.Context(), email, password)
	if err != nil {
		h.backendError(w, r, opLogin, err)
		return
	}
	expires := int64(sess.ExpiresAt.Sub(h.cfg.Clock.Now()).Seconds())
	if expires < 0 {
		expires = 0
	}
	writeJSON(w, http.StatusOK, csc.LoginResponse{AccessToken: token, ExpiresIn: expires})
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.RevokeRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	if req.TokenTypeHint != "" && req.TokenTypeHint != "access_token" {
		h.writeError(w, r, newError(csc.ErrInvalidRequest, "Invalid parameter token_type_hint: only access tokens exist here"))
		return
	}
	token := r.Context().Value(sessionKey{}).(string)
	if req.Token != "" && req.Token != token {
		// Only the holder's own tokens: another account's token, even if
		// known, is not this caller's to revoke.
		other, err := h.cfg.Backend.Authenticate(r.Context(), req.Token)
		if err != nil || other.AccountID != sess.AccountID {
			h.writeError(w, r, newError(csc.ErrInvalidRequest, "Invalid parameter token"))
			return
		}
		token = req.Token
	}
	if err := h.cfg.Backend.Logout(r.Context(), token); err != nil {
		h.backendError(w, r, opToken, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) sendOTP(w http.ResponseWriter, r *http.Request, sess *selo.Session) {
	var req csc.SendOTPRequest
	if e := decodeBody(r, h.cfg.MaxBodyBytes, &req); e != nil {
		h.writeError(w, r, e)
		return
	}
	if e := checkID("credentialID", req.CredentialID); e != nil {
		h.writeError(w, r, e)
		return
	}
	if err := h.cfg.Backend.SendOTP(r.Context(), sess.AccountID, req.CredentialID); err != nil {
		h.backendError(w, r, opCredential, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkID refuses a missing or absurd identifier before it reaches the backend.
func checkID(name, v string) *csc.Error {
	if v == "" {
		return newError(csc.ErrInvalidRequest, "Missing (or invalid type) string parameter %s", name)
	}
	if len(v) > 256 || !utf8.ValidString(v) {
		return newError(csc.ErrInvalidRequest, "Invalid parameter %s", name)
	}
	return nil
}

// backendError answers a backend error mapped for op; internal errors are
// logged with their details and answered without them.
func (h *handler) backendError(w http.ResponseWriter, r *http.Request, op operation, err error) {
	e, internal := mapError(op, err)
	if internal {
		h.cfg.Logger.ErrorContext(r.Context(), "csc: internal error", "path", r.URL.Path, "err", err)
	}
	h.writeError(w, r, e)
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, e *csc.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(selo.RetryAfterSeconds(e.RetryAfter)))
	}
	if status == http.StatusUnauthorized && e.Name == csc.ErrInvalidToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="csc", error="invalid_token"`)
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"Internal error."}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

var b64 = base64.StdEncoding
