package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// Module is the PKCS#11 module's state: one slot (token) per configured
// account, the open sessions and the objects the tokens show. The C ABI
// (cmd/selo-pkcs11) calls its methods; every one of them returns a CK_RV
// and none blocks longer than the configured timeouts.
type Module struct {
	cfg *Config
	log *slog.Logger
	// closeLog closes the log file.
	closeLog func()
	// httpClient carries the requests to the service (cfg.Timeout each).
	httpClient *http.Client

	mu          sync.Mutex
	slots       []*slot
	sessions    map[uint]*session
	nextSession uint
	objects     map[uint]*object
	nextObject  uint
}

// slot is one account's token.
type slot struct {
	id   uint
	acct Account
	// client carries the access token once logged in.
	client   *csc.Client
	loggedIn bool
	// loaded is when the objects were read from the service.
	loaded  time.Time
	objects []*object
	// mechs are the mechanisms some key of the token signs with.
	mechs map[uint]bool
	// loading serializes reading the objects, so that two sessions do not
	// read them at once and hand out handles the other one replaces.
	loading sync.Mutex
}

// session is an open session.
type session struct {
	handle uint
	slot   *slot
	flags  uint
	find   []uint
	// finding says C_FindObjectsInit was called.
	finding bool
	sign    *signOp
}

// Open reads the configuration (ConfigPath) and opens the log; the module
// answers with no slots when there is no usable configuration, and says
// why in the log.
func Open() *Module {
	path, err := ConfigPath()
	var cfg *Config
	if err == nil {
		cfg, err = ReadConfig(path)
	}
	if err != nil {
		cfg = &Config{}
	}
	m := New(cfg)
	if err != nil {
		m.log.Error("no usable configuration: the module shows no tokens", "config", path, "err", err)
	}
	return m
}

// New returns a module over cfg (already checked).
func New(cfg *Config) *Module {
	m := &Module{cfg: cfg, sessions: map[uint]*session{}, objects: map[uint]*object{}, closeLog: func() {}}
	m.log, m.closeLog = openLog(cfg.LogFile)
	timeout := time.Duration(cfg.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 10*time.Second)}).DialContext
	tr.TLSHandshakeTimeout = min(timeout, 10*time.Second)
	tr.ResponseHeaderTimeout = timeout
	m.httpClient = &http.Client{Timeout: timeout, Transport: tr}
	for i, a := range cfg.Accounts {
		m.slots = append(m.slots, &slot{id: uint(i), acct: a})
	}
	m.log.Info("module loaded", "accounts", len(cfg.Accounts), "pid", os.Getpid())
	return m
}

// openLog opens the log file the configuration names.
func openLog(path string) (*slog.Logger, func()) {
	switch path {
	case "off":
		return slog.New(slog.DiscardHandler), func() {}
	case "-":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), func() {}
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return slog.New(slog.DiscardHandler), func() {}
		}
		path = filepath.Join(dir, "selo", "pkcs11.log")
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o700)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return slog.New(slog.DiscardHandler), func() {}
	}
	return slog.New(slog.NewTextHandler(io.Writer(f), nil)), func() { f.Close() }
}

// Log is the module's logger (for the C glue's panics).
func (m *Module) Log() *slog.Logger { return m.log }

// Close ends every session and closes the log (C_Finalize).
func (m *Module) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions = map[uint]*session{}
	m.log.Info("module finalized")
	m.closeLog()
}

// SlotIDs returns the slots, each with its token present.
func (m *Module) SlotIDs() []uint {
	ids := make([]uint, len(m.slots))
	for i, s := range m.slots {
		ids[i] = s.id
	}
	return ids
}

func (m *Module) slot(id uint) *slot {
	if id >= uint(len(m.slots)) {
		return nil
	}
	return m.slots[id]
}

// SlotInfo describes a slot.
type SlotInfo struct {
	Description, Manufacturer string
	Flags                     uint
}

// SlotInfo returns what C_GetSlotInfo says of slot id.
func (m *Module) SlotInfo(id uint) (SlotInfo, RV) {
	s := m.slot(id)
	if s == nil {
		return SlotInfo{}, CKR_SLOT_ID_INVALID
	}
	return SlotInfo{Description: "Selo cloud signing " + s.acct.Server, Manufacturer: "Selo", Flags: CKF_TOKEN_PRESENT}, CKR_OK
}

// TokenInfo describes a token.
type TokenInfo struct {
	Label, Manufacturer, Model, Serial string
	Flags                              uint
	Sessions                           uint
}

// TokenInfo returns what C_GetTokenInfo says of the token in slot id.
//
// A token logged in by the token file needs no login (no
// CKF_LOGIN_REQUIRED), so that applications do not ask for a PIN they do
// not need; otherwise they ask for the account password.
func (m *Module) TokenInfo(id uint) (TokenInfo, RV) {
	s := m.slot(id)
	if s == nil {
		return TokenInfo{}, CKR_SLOT_ID_INVALID
	}
	m.tokenFileLogin(s)
	m.mu.Lock()
	defer m.mu.Unlock()
	n := uint(0)
	for _, se := range m.sessions {
		if se.slot == s {
			n++
		}
	}
	flags := CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_WRITE_PROTECTED
	if !s.loggedIn {
		flags |= CKF_LOGIN_REQUIRED
	}
	return TokenInfo{
		Label: s.acct.Label, Manufacturer: "Selo", Model: "CSC cloud token", Serial: serial(s.acct),
		Flags: flags, Sessions: n,
	}, CKR_OK
}

// serial is a short stable serial number of an account's token.
func serial(a Account) string {
	h := uint32(2166136261)
	for _, c := range []byte(a.Server + "\x00" + a.Email) {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

// Mechanisms returns the mechanisms the token's keys sign with: all of the
// module's before the objects are known.
func (m *Module) Mechanisms(id uint) ([]uint, RV) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slot(id)
	if s == nil {
		return nil, CKR_SLOT_ID_INVALID
	}
	var out []uint
	for _, mech := range allMechanisms {
		if s.mechs == nil || s.mechs[mech] {
			out = append(out, mech)
		}
	}
	return out, CKR_OK
}

var allMechanisms = []uint{CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512,
	CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS}

// MechanismInfo returns the key sizes and flags of a mechanism.
func (m *Module) MechanismInfo(id, mech uint) (minBits, maxBits, flags uint, rv RV) {
	if m.slot(id) == nil {
		return 0, 0, 0, CKR_SLOT_ID_INVALID
	}
	switch mech {
	case CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512:
		return 256, 521, CKF_HW | CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS, CKR_OK
	case CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS:
		return 2048, 4096, CKF_HW | CKF_SIGN, CKR_OK
	}
	return 0, 0, 0, CKR_MECHANISM_INVALID
}

// OpenSession opens a session on slot id. The token is read-only: a
// read/write session is refused (CKR_TOKEN_WRITE_PROTECTED).
func (m *Module) OpenSession(id, flags uint) (uint, RV) {
	if flags&CKF_SERIAL_SESSION == 0 {
		return 0, CKR_SESSION_PARALLEL_NOT_SUPPORTED
	}
	if flags&CKF_RW_SESSION != 0 {
		return 0, CKR_TOKEN_WRITE_PROTECTED
	}
	m.mu.Lock()
	s := m.slot(id)
	if s == nil {
		m.mu.Unlock()
		return 0, CKR_SLOT_ID_INVALID
	}
	idle := true
	for _, se := range m.sessions {
		if se.slot == s {
			idle = false
		}
	}
	if idle {
		// The first session reads the objects afresh.
		s.loaded = time.Time{}
	}
	m.nextSession++
	h := m.nextSession
	m.sessions[h] = &session{handle: h, slot: s, flags: flags}
	m.mu.Unlock()
	m.tokenFileLogin(s)
	return h, CKR_OK
}

// tokenFileLogin logs slot s in with a live token of `selo csc login`.
func (m *Module) tokenFileLogin(s *slot) {
	m.mu.Lock()
	in := s.loggedIn
	m.mu.Unlock()
	if in {
		return
	}
	if tok := readToken(s.acct.TokenFile, s.acct.Server, time.Now()); tok != "" {
		m.setClient(s, tok, "token file")
	}
}

// setClient logs slot s in with an access token.
func (m *Module) setClient(s *slot, token, how string) {
	cl, err := csc.NewClient(s.acct.Server, csc.WithHTTPClient(m.httpClient), csc.WithAccessToken(token))
	if err != nil {
		m.log.Error("client", "server", s.acct.Server, "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.loggedIn {
		s.client, s.loggedIn, s.loaded = cl, true, time.Time{}
		m.log.Info("token logged in", "account", s.acct.Email, "with", how)
	}
}

// CloseSession closes session h.
func (m *Module) CloseSession(h uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[h] == nil {
		return CKR_SESSION_HANDLE_INVALID
	}
	delete(m.sessions, h)
	return CKR_OK
}

// CloseAllSessions closes the sessions of slot id.
func (m *Module) CloseAllSessions(id uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slot(id)
	if s == nil {
		return CKR_SLOT_ID_INVALID
	}
	for h, se := range m.sessions {
		if se.slot == s {
			delete(m.sessions, h)
		}
	}
	return CKR_OK
}

// SessionInfo returns the slot, state and flags of session h.
func (m *Module) SessionInfo(h uint) (slotID, state, flags uint, rv RV) {
	m.mu.Lock()
	defer m.mu.Unlock()
	se := m.sessions[h]
	if se == nil {
		return 0, 0, 0, CKR_SESSION_HANDLE_INVALID
	}
	state = CKS_RO_PUBLIC_SESSION
	if se.slot.loggedIn {
		state = CKS_RO_USER_FUNCTIONS
	}
	return se.slot.id, state, se.flags, CKR_OK
}

// session returns session h (m.mu held).
func (m *Module) session(h uint) (*session, RV) {
	se := m.sessions[h]
	if se == nil {
		return nil, CKR_SESSION_HANDLE_INVALID
	}
	return se, CKR_OK
}

// Limits of what the module accepts from an application.
const (
	maxPIN      = 1024
	maxSignData = 64 << 20
	maxTemplate = 64
)

// Login logs the token in with the account password (CKU_USER), or gives
// the code that approves the signature under way (CKU_CONTEXT_SPECIFIC:
// the SMS, authenticator or authorizer code).
func (m *Module) Login(h, userType uint, pin []byte) RV {
	if len(pin) > maxPIN {
		return CKR_PIN_LEN_RANGE
	}
	m.mu.Lock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		m.mu.Unlock()
		return rv
	}
	s := se.slot
	switch userType {
	case CKU_SO:
		m.mu.Unlock()
		return CKR_USER_TYPE_INVALID
	case CKU_CONTEXT_SPECIFIC:
		defer m.mu.Unlock()
		op := se.sign
		if op == nil {
			return CKR_OPERATION_NOT_INITIALIZED
		}
		if op.key.approval == string(selo.ApprovalWallet) {
			// The wallet approves; a PIN given here is not needed.
			op.authenticated = true
			return CKR_OK
		}
		if len(pin) == 0 || len(pin) > 64 {
			return CKR_PIN_INCORRECT
		}
		op.code, op.authenticated = string(pin), true
		return CKR_OK
	case CKU_USER:
	default:
		m.mu.Unlock()
		return CKR_USER_TYPE_INVALID
	}
	if s.loggedIn {
		m.mu.Unlock()
		return CKR_USER_ALREADY_LOGGED_IN
	}
	m.mu.Unlock()
	if len(pin) == 0 {
		return CKR_PIN_INCORRECT
	}
	cl, err := csc.NewClient(s.acct.Server, csc.WithHTTPClient(m.httpClient))
	if err != nil {
		return CKR_GENERAL_ERROR
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.cfg.Timeout))
	defer cancel()
	if _, err := cl.Login(ctx, s.acct.Email, string(pin)); err != nil {
		rv := m.rv("login", err)
		if rv == CKR_USER_NOT_LOGGED_IN {
			rv = CKR_PIN_INCORRECT
		}
		return rv
	}
	m.setClient(s, cl.AccessToken(), "password")
	return CKR_OK
}

// Logout forgets the token's login (the access token got with the
// password; a token file stays where it is, and is read again at the next
// session).
func (m *Module) Logout(h uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		return rv
	}
	if !se.slot.loggedIn {
		return CKR_USER_NOT_LOGGED_IN
	}
	m.logout(se.slot)
	return CKR_OK
}

// logout drops slot s's login and private objects (m.mu held).
func (m *Module) logout(s *slot) {
	s.loggedIn, s.client, s.loaded = false, nil, time.Time{}
	for _, o := range s.objects {
		delete(m.objects, o.handle)
	}
	s.objects = nil
	for _, se := range m.sessions {
		if se.slot == s {
			se.sign, se.find, se.finding = nil, nil, false
		}
	}
}

// rv turns an error of the CSC client into a CK_RV and logs it.
func (m *Module) rv(op string, err error) RV {
	rv := errorRV(err)
	m.log.Warn(op+" failed", "rv", rv.String(), "err", err)
	return rv
}

// errorRV maps an error of the CSC client or service to a CK_RV.
func errorRV(err error) RV {
	var ce *csc.Error
	if errors.As(err, &ce) {
		switch ce.Name {
		case csc.ErrInvalidToken:
			return CKR_USER_NOT_LOGGED_IN
		case csc.ErrInvalidOTP, csc.ErrAuthenticationError:
			return CKR_PIN_INCORRECT
		case csc.ErrAccessDenied:
			return CKR_FUNCTION_REJECTED
		case csc.ErrServerError:
			return CKR_DEVICE_ERROR
		}
		if ce.Status == http.StatusUnauthorized {
			return CKR_USER_NOT_LOGGED_IN
		}
		return CKR_FUNCTION_FAILED
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) {
		return CKR_DEVICE_ERROR
	}
	switch selo.ErrorCode(err) {
	case selo.EFORBIDDEN:
		return CKR_FUNCTION_REJECTED
	case selo.EUNAUTHORIZED:
		return CKR_USER_NOT_LOGGED_IN
	case selo.EINVALID:
		return CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	return CKR_FUNCTION_FAILED
}
