//go:build cgo

package token

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/selo-qtsp/selo"
)

// Module is the part of a PKCS#11 module this package calls. *pkcs11.Ctx
// implements it once initialised; tests wrap one to play a token that locks.
type Module interface {
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slot uint) (p11.TokenInfo, error)
	OpenSession(slot uint, flags uint) (p11.SessionHandle, error)
	CloseSession(sh p11.SessionHandle) error
	Login(sh p11.SessionHandle, userType uint, pin string) error
	Logout(sh p11.SessionHandle) error
	SetPIN(sh p11.SessionHandle, oldPIN, newPIN string) error
	InitPIN(sh p11.SessionHandle, pin string) error
	FindObjectsInit(sh p11.SessionHandle, template []*p11.Attribute) error
	FindObjects(sh p11.SessionHandle, max int) ([]p11.ObjectHandle, bool, error)
	FindObjectsFinal(sh p11.SessionHandle) error
	GetAttributeValue(sh p11.SessionHandle, o p11.ObjectHandle, a []*p11.Attribute) ([]*p11.Attribute, error)
}

// Client talks to the tokens of one PKCS#11 module.
type Client struct {
	mod   Module
	close func() error
}

// Open loads and initialises the PKCS#11 module at path. Close unloads it.
func Open(path string) (*Client, error) {
	// dlopen's own message for a missing library is cryptic; say it plainly.
	if _, err := os.Stat(path); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "PKCS#11 module %s: %v", path, err)
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, selo.Errorf(selo.EINVALID, "%s is not a PKCS#11 module (it cannot be loaded)", path)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		return nil, fmt.Errorf("initialise PKCS#11 module %s: %w", path, err)
	}
	return &Client{mod: ctx, close: func() error {
		err := ctx.Finalize()
		ctx.Destroy()
		return err
	}}, nil
}

// New returns a Client over an initialised module; Close does not finalise it.
func New(m Module) *Client { return &Client{mod: m} }

// Close finalises and unloads the module Open loaded.
func (c *Client) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

// Tokens reports every token present, in slot order.
func (c *Client) Tokens() ([]Info, error) {
	slots, err := c.mod.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("list PKCS#11 slots: %w", err)
	}
	var out []Info
	for _, s := range slots {
		ti, err := c.mod.GetTokenInfo(s)
		if err != nil {
			return nil, fmt.Errorf("read token in slot %d: %w", s, err)
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // SoftHSM2's spare empty slot, a blank card
		}
		out = append(out, infoOf(s, ti))
	}
	return out, nil
}

func infoOf(slot uint, ti p11.TokenInfo) Info {
	f := ti.Flags
	return Info{
		Slot:           slot,
		Label:          strings.TrimRight(ti.Label, " \x00"),
		Manufacturer:   strings.TrimRight(ti.ManufacturerID, " \x00"),
		Model:          strings.TrimRight(ti.Model, " \x00"),
		Serial:         strings.TrimRight(ti.SerialNumber, " \x00"),
		PINInitialized: f&p11.CKF_USER_PIN_INITIALIZED != 0,
		PINPad:         f&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0,
		MinPINLen:      ti.MinPinLen,
		MaxPINLen:      ti.MaxPinLen,
		PIN: PINState{
			CountLow:    f&p11.CKF_USER_PIN_COUNT_LOW != 0,
			FinalTry:    f&p11.CKF_USER_PIN_FINAL_TRY != 0,
			Locked:      f&p11.CKF_USER_PIN_LOCKED != 0,
			ToBeChanged: f&p11.CKF_USER_PIN_TO_BE_CHANGED != 0,
		},
		PUK: PINState{
			CountLow:    f&p11.CKF_SO_PIN_COUNT_LOW != 0,
			FinalTry:    f&p11.CKF_SO_PIN_FINAL_TRY != 0,
			Locked:      f&p11.CKF_SO_PIN_LOCKED != 0,
			ToBeChanged: f&p11.CKF_SO_PIN_TO_BE_CHANGED != 0,
		},
	}
}

// Find returns the token sel picks. With an empty Selector there must be
// exactly one token.
func (c *Client) Find(sel Selector) (Info, error) {
	tokens, err := c.Tokens()
	if err != nil {
		return Info{}, err
	}
	var found []Info
	for _, t := range tokens {
		if (sel.HasSlot && t.Slot == sel.Slot) || (!sel.HasSlot && (sel.Label == "" || t.Label == sel.Label)) {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(tokens) == 0:
		return Info{}, selo.Errorf(selo.ENOTFOUND, "no token found: is it plugged in?")
	case sel.HasSlot && len(found) == 0:
		return Info{}, selo.Errorf(selo.ENOTFOUND, "no token in slot %d (tokens: %s)", sel.Slot, names(tokens))
	case len(found) == 0:
		return Info{}, selo.Errorf(selo.ENOTFOUND, "no token labelled %q (tokens: %s)", sel.Label, names(tokens))
	case sel.Label != "":
		return Info{}, selo.Errorf(selo.EINVALID, "%d tokens are labelled %q: pick one with --slot (tokens: %s)", len(found), sel.Label, names(tokens))
	}
	return Info{}, selo.Errorf(selo.EINVALID, "%d tokens are present: pick one with --token or --slot (tokens: %s)", len(found), names(tokens))
}

func names(tokens []Info) string {
	var parts []string
	for _, t := range tokens {
		parts = append(parts, fmt.Sprintf("%q in slot %d", t.Label, t.Slot))
	}
	return strings.Join(parts, ", ")
}

// ChangePIN replaces the user PIN of the token in slot. A wrong current PIN
// is EUNAUTHORIZED, saying what the token then says about tries left; a
// locked PIN is EFORBIDDEN and costs no try.
func (c *Client) ChangePIN(slot uint, oldPIN, newPIN string) error {
	info, err := c.info(slot)
	if err != nil {
		return err
	}
	if info.PIN.Locked {
		return lockedPIN(info)
	}
	if err := checkNewPIN(info, newPIN); err != nil {
		return err
	}
	sh, err := c.mod.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("open session on token %q: %w", info.Label, err)
	}
	defer c.mod.CloseSession(sh)
	if err := c.login(sh, info, p11.CKU_USER, oldPIN); err != nil {
		return err
	}
	defer c.mod.Logout(sh)
	if err := c.mod.SetPIN(sh, oldPIN, newPIN); err != nil {
		return c.pinError(err, info, "set the new PIN")
	}
	return nil
}

// Unblock logs in as security officer with the PUK and sets a new user PIN,
// which unlocks a locked one; then it logs in with the new PIN to show it
// works (and to clear the token's count of wrong tries where it keeps one).
// A wrong PUK is EUNAUTHORIZED; a locked PUK is EFORBIDDEN.
func (c *Client) Unblock(slot uint, puk, newPIN string) error {
	info, err := c.info(slot)
	if err != nil {
		return err
	}
	if info.PUK.Locked {
		return lockedPUK(info)
	}
	if err := checkNewPIN(info, newPIN); err != nil {
		return err
	}
	sh, err := c.mod.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("open session on token %q: %w", info.Label, err)
	}
	defer c.mod.CloseSession(sh)
	if err := c.login(sh, info, p11.CKU_SO, puk); err != nil {
		return err
	}
	err = c.mod.InitPIN(sh, newPIN)
	c.mod.Logout(sh)
	if err != nil {
		return c.pinError(err, info, "set the new PIN")
	}
	if err := c.login(sh, info, p11.CKU_USER, newPIN); err != nil {
		return fmt.Errorf("the new PIN was set but does not log in: %w", err)
	}
	c.mod.Logout(sh)
	return nil
}

// Objects lists the certificates and keys on the token in slot. With a PIN it
// logs in first, so private keys show too; without one it lists the public
// objects only. It reads no key material.
func (c *Client) Objects(slot uint, pin string) ([]Object, error) {
	info, err := c.info(slot)
	if err != nil {
		return nil, err
	}
	sh, err := c.mod.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("open session on token %q: %w", info.Label, err)
	}
	defer c.mod.CloseSession(sh)
	if pin != "" {
		if info.PIN.Locked {
			return nil, lockedPIN(info)
		}
		if err := c.login(sh, info, p11.CKU_USER, pin); err != nil {
			return nil, err
		}
		defer c.mod.Logout(sh)
	}
	if err := c.mod.FindObjectsInit(sh, nil); err != nil {
		return nil, fmt.Errorf("search token %q: %w", info.Label, err)
	}
	var handles []p11.ObjectHandle
	for {
		hs, _, err := c.mod.FindObjects(sh, 64)
		if err != nil {
			c.mod.FindObjectsFinal(sh)
			return nil, fmt.Errorf("search token %q: %w", info.Label, err)
		}
		if len(hs) == 0 {
			break
		}
		handles = append(handles, hs...)
	}
	if err := c.mod.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("search token %q: %w", info.Label, err)
	}
	var out []Object
	for _, h := range handles {
		o, ok := c.describe(sh, h)
		if ok {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Object) int {
		if a.ID != b.ID {
			return strings.Compare(a.ID, b.ID)
		}
		return strings.Compare(a.Class, b.Class)
	})
	return out, nil
}

// attr reads one attribute; ok is false when the object has none or the token
// refuses it (attributes are read one by one, since one refusal fails the
// whole C_GetAttributeValue call).
func (c *Client) attr(sh p11.SessionHandle, h p11.ObjectHandle, typ uint) ([]byte, bool) {
	a, err := c.mod.GetAttributeValue(sh, h, []*p11.Attribute{p11.NewAttribute(typ, nil)})
	if err != nil || len(a) != 1 || a[0].Value == nil {
		return nil, false
	}
	return a[0].Value, true
}

func (c *Client) boolAttr(sh p11.SessionHandle, h p11.ObjectHandle, typ uint) *bool {
	v, ok := c.attr(sh, h, typ)
	if !ok || len(v) != 1 {
		return nil
	}
	b := v[0] != 0
	return &b
}

func (c *Client) ulongAttr(sh p11.SessionHandle, h p11.ObjectHandle, typ uint) (uint, bool) {
	v, ok := c.attr(sh, h, typ)
	if !ok {
		return 0, false
	}
	// A CK_ULONG in the machine's byte order.
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	}
	return 0, false
}

// describe reads what may be shown of one object: never CKA_VALUE of a key,
// nor any private part.
func (c *Client) describe(sh p11.SessionHandle, h p11.ObjectHandle) (Object, bool) {
	class, ok := c.ulongAttr(sh, h, p11.CKA_CLASS)
	if !ok {
		return Object{}, false
	}
	var o Object
	switch class {
	case p11.CKO_CERTIFICATE:
		o.Class = "certificate"
	case p11.CKO_PRIVATE_KEY:
		o.Class = "private key"
	case p11.CKO_PUBLIC_KEY:
		o.Class = "public key"
	case p11.CKO_SECRET_KEY:
		o.Class = "secret key"
	default:
		return Object{}, false // data objects, mechanisms, profiles
	}
	if v, ok := c.attr(sh, h, p11.CKA_LABEL); ok {
		o.Label = string(v)
	}
	if v, ok := c.attr(sh, h, p11.CKA_ID); ok {
		o.ID = hex.EncodeToString(v)
	}
	if p := c.boolAttr(sh, h, p11.CKA_PRIVATE); p != nil {
		o.Private = *p
	}
	switch class {
	case p11.CKO_CERTIFICATE:
		// A certificate is public: its DER value is what the token shows
		// anyone, and the subject and validity come from it.
		if der, ok := c.attr(sh, h, p11.CKA_VALUE); ok {
			if cert, err := x509.ParseCertificate(der); err == nil {
				o.Subject = cert.Subject.String()
				o.Issuer = cert.Issuer.String()
				o.Serial = fmt.Sprintf("%X", cert.SerialNumber)
				nb, na := cert.NotBefore.UTC(), cert.NotAfter.UTC()
				o.NotBefore, o.NotAfter = &nb, &na
			} else {
				o.Subject = "(not an X.509 certificate this tool can read)"
			}
		}
	case p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY, p11.CKO_SECRET_KEY:
		o.KeyType = c.keyType(sh, h)
		if class == p11.CKO_PRIVATE_KEY || class == p11.CKO_SECRET_KEY {
			o.Sensitive = c.boolAttr(sh, h, p11.CKA_SENSITIVE)
			o.Extractable = c.boolAttr(sh, h, p11.CKA_EXTRACTABLE)
		}
	}
	return o, true
}

var curveNames = map[string]string{
	"1.2.840.10045.3.1.7": "P-256",
	"1.3.132.0.34":        "P-384",
	"1.3.132.0.35":        "P-521",
}

// keyType names a key's algorithm and size from its public attributes
// (CKA_EC_PARAMS, CKA_MODULUS_BITS or the public modulus).
func (c *Client) keyType(sh p11.SessionHandle, h p11.ObjectHandle) string {
	kt, ok := c.ulongAttr(sh, h, p11.CKA_KEY_TYPE)
	if !ok {
		return "unknown"
	}
	switch kt {
	case p11.CKK_EC:
		if params, ok := c.attr(sh, h, p11.CKA_EC_PARAMS); ok {
			var oid asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(params, &oid); err == nil {
				if n, ok := curveNames[oid.String()]; ok {
					return "EC " + n
				}
				return "EC " + oid.String()
			}
		}
		return "EC"
	case p11.CKK_RSA:
		if bits, ok := c.ulongAttr(sh, h, p11.CKA_MODULUS_BITS); ok && bits > 0 {
			return fmt.Sprintf("RSA %d", bits)
		}
		if n, ok := c.attr(sh, h, p11.CKA_MODULUS); ok && len(n) > 0 {
			return fmt.Sprintf("RSA %d", len(n)*8)
		}
		return "RSA"
	case 0x40: // CKK_EC_EDWARDS (PKCS#11 3.0), newer than the Go binding
		return "EdDSA"
	case p11.CKK_AES:
		return "AES"
	}
	return fmt.Sprintf("key type 0x%X", kt)
}

func (c *Client) info(slot uint) (Info, error) {
	ti, err := c.mod.GetTokenInfo(slot)
	if err != nil {
		return Info{}, fmt.Errorf("read token in slot %d: %w", slot, err)
	}
	return infoOf(slot, ti), nil
}

// login logs in as user (PIN) or security officer (PUK) and turns the
// module's answer into a message for the holder.
func (c *Client) login(sh p11.SessionHandle, info Info, userType uint, pin string) error {
	err := c.mod.Login(sh, userType, pin)
	if err == nil || errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
		return nil
	}
	// The flags after the failed try are what the token now says.
	if after, ierr := c.info(info.Slot); ierr == nil {
		info = after
	}
	if userType == p11.CKU_SO {
		switch {
		case errors.Is(err, p11.Error(p11.CKR_PIN_LOCKED)):
			return lockedPUK(info)
		case errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)), errors.Is(err, p11.Error(p11.CKR_PIN_INVALID)), errors.Is(err, p11.Error(p11.CKR_PIN_LEN_RANGE)):
			return selo.Errorf(selo.EUNAUTHORIZED, "wrong PUK for token %q%s", info.Label, triesLeft(info.PUK, "PUK"))
		}
		return fmt.Errorf("log in to token %q with the PUK: %w", info.Label, err)
	}
	switch {
	case errors.Is(err, p11.Error(p11.CKR_PIN_LOCKED)):
		return lockedPIN(info)
	case errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)), errors.Is(err, p11.Error(p11.CKR_PIN_INVALID)), errors.Is(err, p11.Error(p11.CKR_PIN_LEN_RANGE)):
		return selo.Errorf(selo.EUNAUTHORIZED, "wrong PIN for token %q%s", info.Label, triesLeft(info.PIN, "PIN"))
	case errors.Is(err, p11.Error(p11.CKR_USER_PIN_NOT_INITIALIZED)):
		return selo.Errorf(selo.EINVALID, "token %q has no user PIN yet: set one with 'selo token unblock' and the PUK", info.Label)
	}
	return fmt.Errorf("log in to token %q: %w", info.Label, err)
}

// triesLeft says what the token's flags tell about the tries left, after a
// wrong one.
func triesLeft(s PINState, what string) string {
	switch {
	case s.Locked:
		return fmt.Sprintf(": the %s is now locked", what)
	case s.FinalTry:
		return fmt.Sprintf(": one try left before the %s locks", what)
	case s.CountLow:
		return " (the token does not say how many tries are left)"
	}
	return ""
}

func lockedPIN(info Info) error {
	return selo.Errorf(selo.EFORBIDDEN, "the PIN of token %q is locked: unblock it with the PUK ('selo token unblock')", info.Label)
}

func lockedPUK(info Info) error {
	return selo.Errorf(selo.EFORBIDDEN, "the PUK of token %q is locked: the token cannot be unblocked; ask the issuer of your certificate for a new token", info.Label)
}

func checkNewPIN(info Info, pin string) error {
	n := uint(len(pin))
	if (info.MinPINLen > 0 && n < info.MinPINLen) || (info.MaxPINLen > 0 && n > info.MaxPINLen) {
		return selo.Errorf(selo.EINVALID, "the new PIN must have %d to %d characters for token %q", info.MinPINLen, info.MaxPINLen, info.Label)
	}
	return nil
}

// pinError words a failed C_SetPIN or C_InitPIN.
func (c *Client) pinError(err error, info Info, doing string) error {
	switch {
	case errors.Is(err, p11.Error(p11.CKR_PIN_LEN_RANGE)), errors.Is(err, p11.Error(p11.CKR_PIN_INVALID)):
		return selo.Errorf(selo.EINVALID, "token %q refuses the new PIN (length %d to %d, and the characters it allows)", info.Label, info.MinPINLen, info.MaxPINLen)
	case errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)):
		return selo.Errorf(selo.EUNAUTHORIZED, "wrong PIN for token %q", info.Label)
	case errors.Is(err, p11.Error(p11.CKR_PIN_LOCKED)):
		return lockedPIN(info)
	case errors.Is(err, p11.Error(p11.CKR_TOKEN_WRITE_PROTECTED)):
		return selo.Errorf(selo.EFORBIDDEN, "token %q is write-protected", info.Label)
	}
	return fmt.Errorf("%s on token %q: %w", doing, info.Label, err)
}
