//go:build !cgo

package token

import "github.com/selo-qtsp/selo"

// errNoCgo is what every call returns in a build without cgo.
var errNoCgo = selo.Errorf(selo.ENOTIMPLEMENTED, "PKCS#11 tokens need a cgo build: rebuild with CGO_ENABLED=1 and a C compiler")

// Client stands in for the token client in a build without cgo. It cannot be
// opened.
type Client struct{}

// Open fails: PKCS#11 needs cgo.
func Open(path string) (*Client, error) { return nil, errNoCgo }

// Close does nothing.
func (*Client) Close() error { return nil }

// Tokens fails: PKCS#11 needs cgo.
func (*Client) Tokens() ([]Info, error) { return nil, errNoCgo }

// Find fails: PKCS#11 needs cgo.
func (*Client) Find(Selector) (Info, error) { return Info{}, errNoCgo }

// ChangePIN fails: PKCS#11 needs cgo.
func (*Client) ChangePIN(slot uint, oldPIN, newPIN string) error { return errNoCgo }

// Unblock fails: PKCS#11 needs cgo.
func (*Client) Unblock(slot uint, puk, newPIN string) error { return errNoCgo }

// Objects fails: PKCS#11 needs cgo.
func (*Client) Objects(slot uint, pin string) ([]Object, error) { return nil, errNoCgo }
