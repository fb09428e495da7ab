package pki

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// serialBits is the serial size: 128 random bits, well above the 64 bits of
// CSPRNG output the CA/B Forum requires, with the top bit cleared below.
const serialBits = 128

// RandomSerial returns a positive serial of 128 random bits (at least 64 bits
// of CSPRNG output, top bit cleared so the DER is 16 or 17 bytes).
func RandomSerial() (*big.Int, error) {
	var b [serialBits / 8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("random serial: %w", err)
		}
		// Clearing the top bit keeps the INTEGER positive without a leading
		// zero byte, so every serial encodes in at most 16 content bytes.
		b[0] &= 0x7f
		n := new(big.Int).SetBytes(b[:])
		// Zero is not a valid serial (RFC 5280 4.1.2.2); tiny serials would
		// mean a broken RNG, so draw again rather than issue a guessable one.
		if n.BitLen() > 64 {
			return n, nil
		}
	}
}

// SerialHex formats a serial as Selo stores it: lower-case hex.
func SerialHex(n *big.Int) string { return n.Text(16) }
