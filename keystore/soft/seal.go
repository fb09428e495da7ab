package soft

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// A key file is
//
//	magic "SELOKEY1" | flags (1 byte) | nonce (12 bytes) | AES-256-GCM(PKCS#8 DER)
//
// and the GCM additional data is magic | flags | key ID. Binding the ID stops a
// file renamed to another key's name from opening as that key; binding the
// flags stops anyone from turning a key exportable by editing one byte.
const (
	keyMagic   = "SELOKEY1"
	checkMagic = "SELOCHK1"
	headerLen  = len(keyMagic) + 1
	nonceLen   = 12

	flagExportable byte = 1 << 0
	knownFlags          = flagExportable

	// checkPlaintext is sealed into keystore.check so that Open can tell a
	// wrong master key at once rather than at the first signature.
	checkPlaintext = "selo soft key store check value v1"

	// sealingInfo separates the sealing key from anything else that might one
	// day be derived from the same master key.
	sealingInfo = "selo/keystore/soft v1 key sealing"
)

// errOpen is what any damaged, swapped or wrongly keyed file yields. It says
// nothing more on purpose: GCM cannot tell these apart, and the cause is never
// worth a guess in an error message.
var errOpen = errors.New("file is damaged, belongs to another key, or was sealed under another master key")

// newAEAD derives the sealing key from the master key and returns its cipher.
func newAEAD(masterKey []byte) (cipher.AEAD, error) {
	kek, err := hkdf.Key(sha256.New, masterKey, nil, sealingInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	defer clear(kek)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func keyAAD(header []byte, id string) []byte {
	aad := make([]byte, 0, len(header)+len(id))
	return append(append(aad, header...), id...)
}

// sealKey returns the file contents for the PKCS#8 DER of key id.
func sealKey(aead cipher.AEAD, id string, exportable bool, der []byte) ([]byte, error) {
	var flags byte
	if exportable {
		flags |= flagExportable
	}
	out := make([]byte, 0, headerLen+nonceLen+len(der)+aead.Overhead())
	out = append(append(out, keyMagic...), flags)
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, der, keyAAD(out[:headerLen], id)), nil
}

// openKey returns the PKCS#8 DER sealed in data for key id and whether the
// key is exportable. The caller must clear the DER when done with it.
func openKey(aead cipher.AEAD, id string, data []byte) (der []byte, exportable bool, err error) {
	if len(data) < headerLen+nonceLen+aead.Overhead() || string(data[:len(keyMagic)]) != keyMagic {
		return nil, false, errOpen
	}
	flags := data[len(keyMagic)]
	if flags&^knownFlags != 0 {
		return nil, false, errOpen
	}
	nonce := data[headerLen : headerLen+nonceLen]
	der, err = aead.Open(nil, nonce, data[headerLen+nonceLen:], keyAAD(data[:headerLen], id))
	if err != nil {
		return nil, false, errOpen
	}
	return der, flags&flagExportable != 0, nil
}

// sealCheck returns the contents of keystore.check.
func sealCheck(aead cipher.AEAD) ([]byte, error) {
	out := []byte(checkMagic)
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, []byte(checkPlaintext), []byte(checkMagic)), nil
}

// openCheck reports whether data is a check value sealed under aead's key.
func openCheck(aead cipher.AEAD, data []byte) bool {
	if len(data) < len(checkMagic)+nonceLen || string(data[:len(checkMagic)]) != checkMagic {
		return false
	}
	nonce := data[len(checkMagic) : len(checkMagic)+nonceLen]
	pt, err := aead.Open(nil, nonce, data[len(checkMagic)+nonceLen:], []byte(checkMagic))
	return err == nil && string(pt) == checkPlaintext
}
