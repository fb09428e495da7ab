package soft

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
)

// A SecretBox ciphertext is
//
//	version (1 byte, 1) | nonce (12 bytes) | AES-256-GCM(plaintext)
//
// and the GCM additional data is version | associatedData. Binding the
// version byte means a future format can never be confused with this one;
// binding the caller's associated data (a row's ID) means a ciphertext copied
// into another row does not open there.
const (
	secretBoxVersion byte = 1
	secretBoxInfo         = "selo secretbox v1"
)

// ErrSealedSecret is in the chain of every error Open returns for a
// ciphertext that does not open. It is deliberately not a selo.Error: a
// sealed secret that fails to open means the database was damaged or
// tampered with, which is an internal fault to log, never the user's doing.
var ErrSealedSecret = errors.New("sealed secret does not open")

// secretBox is the selo.SecretBox returned by NewSecretBox.
type secretBox struct {
	aead cipher.AEAD
}

var _ selo.SecretBox = (*secretBox)(nil)

// NewSecretBox returns a selo.SecretBox that seals small secrets (TOTP seeds,
// authorizer secrets, one-time codes) with AES-256-GCM under a subkey derived
// from the 32-byte master key by HKDF-SHA256 (info "selo secretbox v1"), so
// it never shares a key with the sealed key files. Nonces are random 96-bit
// values: safe for far more secrets than a QTSP will ever store under one
// master key. It keeps no copy of masterKey.
func NewSecretBox(masterKey []byte) (selo.SecretBox, error) {
	if len(masterKey) != MasterKeySize {
		return nil, selo.Errorf(selo.EINVALID, "the secret box master key must be %d bytes, not %d", MasterKeySize, len(masterKey))
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, secretBoxInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive secret box key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret box cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret box cipher: %w", err)
	}
	return &secretBox{aead: aead}, nil
}

func secretBoxAAD(associatedData []byte) []byte {
	aad := make([]byte, 0, 1+len(associatedData))
	return append(append(aad, secretBoxVersion), associatedData...)
}

// Seal encrypts plaintext bound to associatedData.
func (b *secretBox) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(plaintext)+b.aead.Overhead())
	out[0] = secretBoxVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, secretBoxAAD(associatedData)), nil
}

// Open decrypts a ciphertext from Seal given the same associatedData. A
// damaged ciphertext, one sealed for other associated data (moved to another
// row) or under another master key fails with an error wrapping
// ErrSealedSecret; GCM cannot tell these apart, so the message does not guess.
func (b *secretBox) Open(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) < 1+nonceLen+b.aead.Overhead() {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrSealedSecret, len(ciphertext))
	}
	if ciphertext[0] != secretBoxVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrSealedSecret, ciphertext[0])
	}
	nonce := ciphertext[1 : 1+nonceLen]
	plaintext, err := b.aead.Open(nil, nonce, ciphertext[1+nonceLen:], secretBoxAAD(associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: damaged, bound to another record, or sealed under another master key", ErrSealedSecret)
	}
	return plaintext, nil
}
