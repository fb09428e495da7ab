package approval

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/selo-qtsp/selo"
)

// NewNumericCode returns a one-time code of digits decimal digits (6 to 8)
// for an SMS or an e-mail, drawn uniformly from crypto/rand: 32-bit values
// at or above the largest multiple of 10^digits are drawn again, so no code
// is likelier than another.
func NewNumericCode(digits int) (string, error) {
	if digits < MinDigits || digits > MaxDigits {
		return "", selo.Errorf(selo.EINVALID, "a one-time code has %d to %d digits, not %d", MinDigits, MaxDigits, digits)
	}
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	limit := (1 << 32) / mod * mod
	var buf [4]byte
	for {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("one-time code: %w", err)
		}
		v := uint64(binary.BigEndian.Uint32(buf[:]))
		if v < limit {
			code := strconv.FormatUint(v%mod, 10)
			return strings.Repeat("0", digits-len(code)) + code, nil
		}
	}
}

// HashCode returns HMAC-SHA256(key, purpose || 0x00 || code): what is stored
// in place of a one-time code, so a copy of the database does not reveal
// codes still valid. purpose names what the code approves ("sms-signature",
// "authorizer-confirm") so that a code sent for one thing cannot be checked
// against a hash kept for another; it is a constant of the caller and must
// not contain a NUL byte, which would make the encoding ambiguous.
func HashCode(key []byte, purpose, code string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(code))
	return mac.Sum(nil)
}

// CodeEqual reports, in constant time, whether code is the one whose
// HashCode(key, purpose, code) is stored. The code is compared exactly: trim
// what the user typed around it before calling.
func CodeEqual(key []byte, purpose, code string, stored []byte) bool {
	return hmac.Equal(HashCode(key, purpose, code), stored)
}
