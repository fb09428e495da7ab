// Package pkcs11 is Selo's key store in a hardware security module, through
// PKCS#11 (github.com/ThalesGroup/crypto11). Keys are generated on the token,
// sensitive and non-extractable: they never leave it, so ExportKey always
// refuses. SoftHSM2 stands in for an HSM in tests.
//
// A Selo key ID is the private and public key objects' CKA_LABEL. Their
// CKA_ID, which pairs the two halves, is 16 random bytes chosen at
// generation, so that two objects with one label (a race between two
// replicas) can still be told apart. Keys made by other tools (a key
// ceremony with pkcs11-tool) are usable when their label is a valid Selo key
// ID and both halves share a non-empty CKA_ID.
//
// The package needs cgo; without it Open fails with a clear error.
package pkcs11

// Config selects a token and logs in to it.
type Config struct {
	// Module is the path of the vendor's PKCS#11 library, for SoftHSM2
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel names the token to use.
	TokenLabel string
	// PIN is the user PIN. Keep it out of command lines and config files
	// (SELO_PKCS11_PIN or a PIN file).
	PIN string
	// MaxSessions caps the PKCS#11 sessions the store opens; 0 means
	// crypto11's default (1024, or less when the token says so).
	MaxSessions int
}
