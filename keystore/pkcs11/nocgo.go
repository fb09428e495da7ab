//go:build !cgo

package pkcs11

import (
	"context"
	"crypto"

	"github.com/selo-qtsp/selo"
)

// errNoCgo is what every call returns in a build without cgo.
var errNoCgo = selo.Errorf(selo.ENOTIMPLEMENTED, "PKCS#11 support needs a cgo build: rebuild with CGO_ENABLED=1 and a C compiler, or use the soft key store")

// Store stands in for the PKCS#11 key store in a build without cgo. It cannot
// be opened.
type Store struct{}

var _ selo.KeyStore = (*Store)(nil)

// Open fails: PKCS#11 needs cgo.
func Open(cfg Config) (*Store, error) { return nil, errNoCgo }

// GenerateKey fails: PKCS#11 needs cgo.
func (*Store) GenerateKey(context.Context, string, selo.KeyAlgorithm, selo.KeyOptions) (crypto.Signer, error) {
	return nil, errNoCgo
}

// Signer fails: PKCS#11 needs cgo.
func (*Store) Signer(context.Context, string) (crypto.Signer, error) { return nil, errNoCgo }

// ExportKey fails: PKCS#11 needs cgo.
func (*Store) ExportKey(context.Context, string) (crypto.PrivateKey, error) { return nil, errNoCgo }

// DeleteKey fails: PKCS#11 needs cgo.
func (*Store) DeleteKey(context.Context, string) error { return errNoCgo }

// Close does nothing.
func (*Store) Close() error { return nil }
