// Package token looks after a holder's PKCS#11 token (a smart card, a USB
// token, SoftHSM2): the state of its PIN and PUK from the token flags,
// changing the PIN, unblocking a locked PIN with the PUK, and listing the
// certificates and keys it holds.
//
// It never writes an object and never reads key material: certificates and
// keys reach a token only through the certificate update (package lift), and
// the listing reads labels, IDs, key types and public certificates only.
// Sessions are read-only except the two that change a PIN.
package token

import (
	"time"
)

// PINState is what a token's flags say about one of its PINs. PKCS#11 gives
// no count of tries left: only that a wrong PIN was entered since the last
// good one (CountLow), that one try is left (FinalTry), or that the PIN is
// locked.
type PINState struct {
	CountLow    bool `json:"count_low"`
	FinalTry    bool `json:"final_try"`
	Locked      bool `json:"locked"`
	ToBeChanged bool `json:"to_be_changed"`
}

// String says the state in words for a person.
func (p PINState) String() string {
	switch {
	case p.Locked:
		return "locked"
	case p.FinalTry:
		return "one try left"
	case p.CountLow:
		return "a wrong PIN was entered: fewer tries left (the token does not say how many)"
	case p.ToBeChanged:
		return "ok, must be changed before use"
	}
	return "ok"
}

// Info is one token as the module reports it.
type Info struct {
	Slot         uint   `json:"slot"`
	Label        string `json:"label"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Serial       string `json:"serial"`
	// PINInitialized is false on a token whose user PIN was never set.
	PINInitialized bool `json:"pin_initialized"`
	// PINPad is set when the PIN is entered on the reader, not the computer
	// (CKF_PROTECTED_AUTHENTICATION_PATH).
	PINPad    bool     `json:"pin_pad"`
	MinPINLen uint     `json:"min_pin_length"`
	MaxPINLen uint     `json:"max_pin_length"`
	PIN       PINState `json:"pin"`
	// PUK is the security officer PIN, which unblocks the user PIN.
	PUK PINState `json:"puk"`
}

// Object is a certificate or key on a token, described without key
// material.
type Object struct {
	// Class is "certificate", "private key", "public key" or "secret key".
	Class string `json:"class"`
	Label string `json:"label"`
	// ID is CKA_ID in hexadecimal: a certificate and its key share it.
	ID string `json:"id"`
	// KeyType is "EC P-256", "RSA 2048" and the like, for keys.
	KeyType string `json:"key_type,omitempty"`
	// Private objects are listed only after a PIN login.
	Private bool `json:"private"`
	// Sensitive and Extractable are the token's word on a private key.
	Sensitive   *bool `json:"sensitive,omitempty"`
	Extractable *bool `json:"extractable,omitempty"`
	// Certificate fields.
	Subject   string     `json:"subject,omitempty"`
	Issuer    string     `json:"issuer,omitempty"`
	Serial    string     `json:"serial,omitempty"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// Selector picks a token: by slot ID when HasSlot is set, else by label, else
// the only token present.
type Selector struct {
	Slot    uint
	HasSlot bool
	Label   string
}
