//go:build !cgo

package pkcs11

import (
	"crypto"
	"crypto/x509"
	"math/big"
)

// Token stands in for a holder's PKCS#11 token in a build without cgo. It
// cannot be opened.
type Token struct{}

// TokenKey is a key pair on a token.
type TokenKey struct {
	ID     []byte
	Label  string
	Signer crypto.Signer
}

// TokenCertificate is a certificate object on a token.
type TokenCertificate struct {
	Label       string
	Certificate *x509.Certificate
}

// OpenToken fails: PKCS#11 needs cgo.
func OpenToken(Config) (*Token, error) { return nil, errNoCgo }

// Close does nothing.
func (*Token) Close() error { return nil }

// Keys fails: PKCS#11 needs cgo.
func (*Token) Keys() ([]*TokenKey, error) { return nil, errNoCgo }

// FindKey fails: PKCS#11 needs cgo.
func (*Token) FindKey([]byte, string) (*TokenKey, error) { return nil, errNoCgo }

// Certificates fails: PKCS#11 needs cgo.
func (*Token) Certificates([]byte) ([]*TokenCertificate, error) { return nil, errNoCgo }

// ImportCertificate fails: PKCS#11 needs cgo.
func (*Token) ImportCertificate([]byte, string, *x509.Certificate) error { return errNoCgo }

// DeleteCertificate fails: PKCS#11 needs cgo.
func (*Token) DeleteCertificate([]byte, *big.Int) error { return errNoCgo }

// RelabelCertificate fails: PKCS#11 needs cgo.
func (*Token) RelabelCertificate([]byte, *big.Int, string) error { return errNoCgo }
