//go:build cgo

package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/selo-qtsp/selo"
)

const (
	softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"
	testPIN       = "1234"
	testPUK       = "87654321"
)

// softHSM gives the test a fresh SoftHSM2 configuration with one token
// labelled label, and a Client on it. The module reads SOFTHSM2_CONF at
// C_Initialize, and Close finalises it, so each test sees only its own token.
func softHSM(t *testing.T, label string) (*Client, string) {
	t.Helper()
	module := softHSMModule
	if m := os.Getenv("SELO_TEST_PKCS11_MODULE"); m != "" {
		module = m
	}
	util, err := exec.LookPath("softhsm2-util")
	if _, serr := os.Stat(module); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but SoftHSM2 is missing (apt-get install softhsm2)")
		}
		t.Skip("SKIPPING TOKEN TESTS: SoftHSM2 is not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", testPIN, "--so-pin", testPUK).CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	c, err := Open(module)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, module
}

func find(t *testing.T, c *Client, label string) Info {
	t.Helper()
	info, err := c.Find(Selector{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func wantCode(t *testing.T, err error, code string, msgs ...string) {
	t.Helper()
	if err == nil || selo.ErrorCode(err) != code {
		t.Fatalf("want a %s error, got %v", code, err)
	}
	for _, m := range msgs {
		if !strings.Contains(selo.ErrorMessage(err), m) {
			t.Fatalf("want %q in %q", m, selo.ErrorMessage(err))
		}
	}
}

func TestFindAndStatus(t *testing.T) {
	c, _ := softHSM(t, "holder")
	info := find(t, c, "holder")
	if !info.PINInitialized || info.PIN != (PINState{}) || info.PUK != (PINState{}) || info.PIN.String() != "ok" {
		t.Fatalf("fresh token: %+v", info)
	}
	if info.MinPINLen == 0 || info.MaxPINLen < info.MinPINLen {
		t.Fatalf("PIN length range %d..%d", info.MinPINLen, info.MaxPINLen)
	}
	if only, err := c.Find(Selector{}); err != nil || only.Slot != info.Slot {
		t.Fatalf("the only token: %+v, %v", only, err)
	}
	if bySlot, err := c.Find(Selector{Slot: info.Slot, HasSlot: true}); err != nil || bySlot.Label != "holder" {
		t.Fatalf("by slot: %+v, %v", bySlot, err)
	}
	_, err := c.Find(Selector{Label: "other"})
	wantCode(t, err, selo.ENOTFOUND, `no token labelled "other"`, `"holder" in slot`)
	_, err = c.Find(Selector{Slot: info.Slot + 1, HasSlot: true})
	wantCode(t, err, selo.ENOTFOUND, "no token in slot")
}

// TestSoftHSMNeverLocks records SoftHSM2's behaviour (2.6): a wrong PIN sets
// CKF_USER_PIN_COUNT_LOW, and no number of wrong PINs ever locks it; the
// next right PIN clears the flag. The locked branch is tested against a token
// that does lock (TestLockingToken).
func TestSoftHSMNeverLocks(t *testing.T) {
	c, _ := softHSM(t, "holder")
	info := find(t, c, "holder")
	for i := range 12 {
		err := c.ChangePIN(info.Slot, "0000", "24680")
		wantCode(t, err, selo.EUNAUTHORIZED, `wrong PIN for token "holder"`)
		if i == 0 && !strings.Contains(selo.ErrorMessage(err), "does not say how many tries are left") {
			t.Fatalf("after a wrong PIN SoftHSM2 sets COUNT_LOW, and the message says so: %v", err)
		}
	}
	after := find(t, c, "holder")
	if !after.PIN.CountLow || after.PIN.Locked || after.PIN.FinalTry {
		t.Fatalf("after 12 wrong PINs: %+v", after.PIN)
	}
	if _, err := c.Objects(info.Slot, testPIN); err != nil {
		t.Fatalf("the right PIN after 12 wrong ones: %v", err)
	}
	if got := find(t, c, "holder").PIN; got.CountLow {
		t.Fatalf("a good login leaves COUNT_LOW set: %+v", got)
	}
}

func TestChangePIN(t *testing.T) {
	c, _ := softHSM(t, "holder")
	slot := find(t, c, "holder").Slot
	if err := c.ChangePIN(slot, testPIN, "97531"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Objects(slot, testPIN)
	wantCode(t, err, selo.EUNAUTHORIZED, "wrong PIN")
	if _, err := c.Objects(slot, "97531"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	wantCode(t, c.ChangePIN(slot, "97531", "1"), selo.EINVALID, "the new PIN must have 4 to 255 characters")
	wantCode(t, c.ChangePIN(slot, testPIN, "13579"), selo.EUNAUTHORIZED, "wrong PIN")
}

func TestUnblockWithPUK(t *testing.T) {
	c, _ := softHSM(t, "holder")
	slot := find(t, c, "holder").Slot
	wantCode(t, c.ChangePIN(slot, "0000", "24680"), selo.EUNAUTHORIZED)

	wantCode(t, c.Unblock(slot, "11111111", "24680"), selo.EUNAUTHORIZED, `wrong PUK for token "holder"`)
	if got := find(t, c, "holder").PUK; !got.CountLow {
		t.Fatalf("SoftHSM2 marks a wrong PUK with SO_PIN_COUNT_LOW: %+v", got)
	}
	if _, err := c.Objects(slot, "24680"); err == nil {
		t.Fatal("a wrong PUK changed the PIN")
	}
	if err := c.Unblock(slot, testPUK, "24680"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Objects(slot, "24680"); err != nil {
		t.Fatalf("the new PIN after unblock: %v", err)
	}
	_, err := c.Objects(slot, testPIN)
	wantCode(t, err, selo.EUNAUTHORIZED, "wrong PIN")
	if got := find(t, c, "holder"); got.PUK.CountLow {
		t.Fatalf("a good PUK leaves SO_PIN_COUNT_LOW set: %+v", got.PUK)
	}
}

// lockingToken plays, around a real SoftHSM2 token, a token with a retry
// counter (the seed's SafeSign cards lock after 3 wrong PINs, and after 10
// wrong PUKs for good): the fault is injected at the PKCS#11 edge only, and
// every call that gets past it reaches SoftHSM2.
type lockingToken struct {
	Module
	maxPIN, maxPUK int

	mu                   sync.Mutex
	wrongPIN, wrongPUK   int
	pinLocked, pukLocked bool
	logins               int
	so                   bool // the SO is logged in
	sessionFlags         []uint
	keyAttrs             []uint // attributes asked of key objects
	classes              map[p11.ObjectHandle]uint
}

func (m *lockingToken) GetTokenInfo(slot uint) (p11.TokenInfo, error) {
	ti, err := m.Module.GetTokenInfo(slot)
	m.mu.Lock()
	defer m.mu.Unlock()
	ti.Flags &^= p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_SO_PIN_COUNT_LOW
	flags := func(wrong, max int, locked bool, low, final, lock uint) {
		switch {
		case locked:
			ti.Flags |= lock
		case wrong == max-1:
			ti.Flags |= final | low
		case wrong > 0:
			ti.Flags |= low
		}
	}
	flags(m.wrongPIN, m.maxPIN, m.pinLocked, p11.CKF_USER_PIN_COUNT_LOW, p11.CKF_USER_PIN_FINAL_TRY, p11.CKF_USER_PIN_LOCKED)
	flags(m.wrongPUK, m.maxPUK, m.pukLocked, p11.CKF_SO_PIN_COUNT_LOW, p11.CKF_SO_PIN_FINAL_TRY, p11.CKF_SO_PIN_LOCKED)
	return ti, err
}

func (m *lockingToken) OpenSession(slot uint, flags uint) (p11.SessionHandle, error) {
	m.mu.Lock()
	m.sessionFlags = append(m.sessionFlags, flags)
	m.mu.Unlock()
	return m.Module.OpenSession(slot, flags)
}

func (m *lockingToken) Login(sh p11.SessionHandle, userType uint, pin string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logins++
	if userType == p11.CKU_SO {
		if m.pukLocked {
			return p11.Error(p11.CKR_PIN_LOCKED)
		}
		err := m.Module.Login(sh, userType, pin)
		if errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)) {
			m.wrongPUK++
			m.pukLocked = m.wrongPUK >= m.maxPUK
		} else if err == nil {
			m.wrongPUK, m.so = 0, true
		}
		return err
	}
	if m.pinLocked {
		return p11.Error(p11.CKR_PIN_LOCKED)
	}
	err := m.Module.Login(sh, userType, pin)
	if errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)) {
		m.wrongPIN++
		m.pinLocked = m.wrongPIN >= m.maxPIN
	} else if err == nil {
		m.wrongPIN = 0
	}
	return err
}

func (m *lockingToken) Logout(sh p11.SessionHandle) error {
	m.mu.Lock()
	m.so = false
	m.mu.Unlock()
	return m.Module.Logout(sh)
}

// InitPIN by the security officer resets the user PIN's counter, as on a card.
func (m *lockingToken) InitPIN(sh p11.SessionHandle, pin string) error {
	err := m.Module.InitPIN(sh, pin)
	m.mu.Lock()
	if err == nil && m.so {
		m.wrongPIN, m.pinLocked = 0, false
	}
	m.mu.Unlock()
	return err
}

func (m *lockingToken) GetAttributeValue(sh p11.SessionHandle, o p11.ObjectHandle, a []*p11.Attribute) ([]*p11.Attribute, error) {
	out, err := m.Module.GetAttributeValue(sh, o, a)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.classes == nil {
		m.classes = map[p11.ObjectHandle]uint{}
	}
	for _, at := range a {
		if at.Type == p11.CKA_CLASS && err == nil && len(out) == 1 && len(out[0].Value) == 8 {
			m.classes[o] = uint(out[0].Value[0]) // the classes used here fit one byte
			continue
		}
		if class, ok := m.classes[o]; ok && class != p11.CKO_CERTIFICATE {
			m.keyAttrs = append(m.keyAttrs, at.Type)
		}
	}
	return out, err
}

// wrap puts a lockingToken between c and its module.
func wrap(c *Client) *lockingToken {
	m := &lockingToken{Module: c.mod, maxPIN: 3, maxPUK: 2}
	c.mod = m
	return m
}

func TestLockingToken(t *testing.T) {
	c, _ := softHSM(t, "safesign")
	m := wrap(c)
	slot := find(t, c, "safesign").Slot

	wantCode(t, c.ChangePIN(slot, "0000", "24680"), selo.EUNAUTHORIZED, `wrong PIN for token "safesign" (the token does not say how many tries are left)`)
	_, err := c.Objects(slot, "0000")
	wantCode(t, err, selo.EUNAUTHORIZED, "one try left before the PIN locks")
	if got := find(t, c, "safesign").PIN; !got.FinalTry || got.String() != "one try left" {
		t.Fatalf("after 2 of 3 tries: %+v", got)
	}
	wantCode(t, c.ChangePIN(slot, "0000", "24680"), selo.EUNAUTHORIZED, "the PIN is now locked")
	if got := find(t, c, "safesign").PIN; !got.Locked || got.String() != "locked" {
		t.Fatalf("after 3 wrong PINs: %+v", got)
	}

	// Locked: the right PIN no longer works, and the commands that would
	// spend a try do not even try.
	before := m.logins
	wantCode(t, c.ChangePIN(slot, testPIN, "24680"), selo.EFORBIDDEN, "is locked: unblock it with the PUK ('selo token unblock')")
	_, err = c.Objects(slot, testPIN)
	wantCode(t, err, selo.EFORBIDDEN, "is locked")
	if m.logins != before {
		t.Fatalf("%d logins tried on a locked PIN", m.logins-before)
	}
	// Public objects still list without a PIN.
	if _, err := c.Objects(slot, ""); err != nil {
		t.Fatalf("list without a PIN on a locked token: %v", err)
	}

	wantCode(t, c.Unblock(slot, "11111111", "24680"), selo.EUNAUTHORIZED, "wrong PUK", "one try left before the PUK locks")
	if err := c.Unblock(slot, testPUK, "24680"); err != nil {
		t.Fatal(err)
	}
	if got := find(t, c, "safesign"); got.PIN != (PINState{}) || got.PUK != (PINState{}) {
		t.Fatalf("after unblock: %+v", got)
	}
	if _, err := c.Objects(slot, "24680"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}

	// A PUK locks too, and then the token cannot be unblocked.
	wantCode(t, c.Unblock(slot, "11111111", "13579"), selo.EUNAUTHORIZED, "wrong PUK")
	wantCode(t, c.Unblock(slot, "11111111", "13579"), selo.EUNAUTHORIZED, "the PUK is now locked")
	wantCode(t, c.Unblock(slot, testPUK, "13579"), selo.EFORBIDDEN, "the PUK of token \"safesign\" is locked", "cannot be unblocked")
	if _, err := c.Objects(slot, "24680"); err != nil {
		t.Fatalf("a locked PUK touched the PIN: %v", err)
	}
}

// writeHolderObjects puts what a certificate update leaves on a token — a P-256
// key pair and its certificate under one CKA_ID — with OpenSC's pkcs11-tool, a
// writer nobody here wrote.
func writeHolderObjects(t *testing.T, module, label string) *x509.Certificate {
	t.Helper()
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but pkcs11-tool is not installed (apt-get install opensc)")
		}
		t.Skip("SKIPPING: pkcs11-tool is not installed (apt-get install opensc)")
	}
	run := func(args ...string) {
		t.Helper()
		args = append([]string{"--module", module, "--token-label", label, "--login", "--pin", testPIN}, args...)
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("pkcs11-tool %v: %v\n%s", args, err, out)
		}
	}
	run("--keypairgen", "--key-type", "EC:prime256v1", "--id", "a1b2", "--label", "Ana Silva")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5e10), Subject: pkix.Name{CommonName: "Ana Silva", Country: []string{"PT"}},
		NotBefore: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2029, 1, 2, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cert.der")
	if err := os.WriteFile(file, der, 0o600); err != nil {
		t.Fatal(err)
	}
	run("--write-object", file, "--type", "cert", "--id", "a1b2", "--label", "Ana Silva")
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func TestObjects(t *testing.T) {
	c, module := softHSM(t, "holder")
	cert := writeHolderObjects(t, module, "holder")
	// The module was initialised before pkcs11-tool wrote: reopen to see it.
	c.Close()
	c, err := Open(module)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := wrap(c)
	slot := find(t, c, "holder").Slot

	public, err := c.Objects(slot, "")
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, o := range public {
		classes = append(classes, o.Class)
	}
	if strings.Join(classes, ",") != "certificate,public key" {
		t.Fatalf("without a PIN: %v, want the certificate and the public key", classes)
	}
	all, err := c.Objects(slot, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("with the PIN: %+v", all)
	}
	crt, priv, pub := all[0], all[1], all[2]
	if crt.Class != "certificate" || crt.ID != "a1b2" || crt.Label != "Ana Silva" || crt.Subject != cert.Subject.String() ||
		crt.Issuer != cert.Issuer.String() || crt.Serial != "5E10" || !crt.NotBefore.Equal(cert.NotBefore) || !crt.NotAfter.Equal(cert.NotAfter) {
		t.Fatalf("certificate: %+v", crt)
	}
	if priv.Class != "private key" || priv.ID != "a1b2" || priv.KeyType != "EC P-256" || !priv.Private ||
		priv.Sensitive == nil || !*priv.Sensitive || priv.Extractable == nil || *priv.Extractable {
		t.Fatalf("private key: %+v", priv)
	}
	if pub.Class != "public key" || pub.KeyType != "EC P-256" || pub.Label != "Ana Silva" {
		t.Fatalf("public key: %+v", pub)
	}
	// Key material is never asked for: of a key, only what describes it.
	allowed := map[uint]bool{p11.CKA_LABEL: true, p11.CKA_ID: true, p11.CKA_PRIVATE: true, p11.CKA_KEY_TYPE: true,
		p11.CKA_EC_PARAMS: true, p11.CKA_MODULUS_BITS: true, p11.CKA_MODULUS: true, p11.CKA_SENSITIVE: true, p11.CKA_EXTRACTABLE: true}
	for _, a := range m.keyAttrs {
		if !allowed[a] {
			t.Fatalf("attribute 0x%X read from a key", a)
		}
	}
	if len(m.keyAttrs) == 0 {
		t.Fatal("no key attributes recorded: the check above checked nothing")
	}
}

// TestReadOnlySessions: listing and status never open a read-write session,
// so they cannot write to the token; only the two PIN commands do.
func TestReadOnlySessions(t *testing.T) {
	c, _ := softHSM(t, "holder")
	m := wrap(c)
	slot := find(t, c, "holder").Slot
	if _, err := c.Tokens(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Objects(slot, testPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Objects(slot, ""); err != nil {
		t.Fatal(err)
	}
	if len(m.sessionFlags) != 2 {
		t.Fatalf("sessions: %v", m.sessionFlags)
	}
	for _, f := range m.sessionFlags {
		if f&p11.CKF_RW_SESSION != 0 {
			t.Fatalf("a listing opened a read-write session (flags 0x%X)", f)
		}
	}
}
