package selo

import (
	"context"
	"crypto"
)

// KeyAlgorithm names a key type and size that Selo can generate or accept.
type KeyAlgorithm string

// Key algorithms Selo generates. CSR intake accepts more RSA sizes (see pki).
const (
	KeyECDSAP256 KeyAlgorithm = "ecdsa-p256"
	KeyECDSAP384 KeyAlgorithm = "ecdsa-p384"
	KeyRSA2048   KeyAlgorithm = "rsa-2048"
	KeyRSA3072   KeyAlgorithm = "rsa-3072"
	KeyRSA4096   KeyAlgorithm = "rsa-4096"
)

// KeyAlgorithms lists every algorithm a key store must be able to generate.
var KeyAlgorithms = []KeyAlgorithm{KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA3072, KeyRSA4096}

// Valid reports whether a is one of KeyAlgorithms.
func (a KeyAlgorithm) Valid() bool {
	for _, k := range KeyAlgorithms {
		if a == k {
			return true
		}
	}
	return false
}

// KeyOptions tunes key generation.
type KeyOptions struct {
	// Exportable marks a key that may later leave the store, once, inside a
	// password-protected PKCS#12 (software delivery). CA keys and cloud
	// signing keys are never exportable.
	Exportable bool
}

// KeyStore holds private keys and hands out crypto.Signers for them. A key is
// named by an ID chosen by the caller (for example "ca/root-ecc-v1"). The
// private key of a non-exportable key never leaves the store.
type KeyStore interface {
	// GenerateKey makes a new key under id. It fails with ECONFLICT when id exists
	// and EINVALID for an unknown algorithm.
	GenerateKey(ctx context.Context, id string, alg KeyAlgorithm, opts KeyOptions) (crypto.Signer, error)
	// Signer returns the signer of an existing key, or ENOTFOUND.
	Signer(ctx context.Context, id string) (crypto.Signer, error)
	// ExportKey returns the private key of an exportable key; EFORBIDDEN for any
	// other key, ENOTFOUND when there is none.
	ExportKey(ctx context.Context, id string) (crypto.PrivateKey, error)
	// DeleteKey removes a key (used to clean up after a failed issuance).
	DeleteKey(ctx context.Context, id string) error
	// Close releases the store's resources (HSM sessions, cached keys).
	Close() error
}
