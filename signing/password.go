package signing

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters (RFC 9106).
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultPasswordParams follow OWASP's minimum for argon2id: 19 MiB, two
// passes, one lane. Hashes record their own parameters, so raising these
// later leaves existing passwords working.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1}

// Bounds on parameters read back from a stored hash, so a tampered row
// cannot make one login allocate gigabytes.
const (
	maxPasswordMemory = 1 << 20 // 1 GiB in KiB
	maxPasswordTime   = 16
	passwordSaltLen   = 16
	passwordKeyLen    = 32
	maxPasswordLength = 1024
)

func (p PasswordParams) check() error {
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxPasswordMemory || p.Time < 1 || p.Time > maxPasswordTime || p.Threads < 1 {
		return fmt.Errorf("argon2id parameters m=%d t=%d p=%d out of range", p.Memory, p.Time, p.Threads)
	}
	return nil
}

// HashPassword returns the argon2id hash of password in PHC string form:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, salt 16 random
// bytes and hash 32 bytes, both unpadded standard base64.
func HashPassword(password string, p PasswordParams) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, passwordSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, passwordKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches a PHC argon2id hash, in
// constant time with respect to the hash. A malformed hash never matches.
func VerifyPassword(password, phc string) bool {
	p, salt, want, err := parsePHC(phc)
	if err != nil || len(password) > maxPasswordLength {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// parsePHC reads an argon2id PHC string.
func parsePHC(phc string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version")
	}
	var m, t, threads uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil || n != 3 ||
		m > maxPasswordMemory || t > maxPasswordTime || threads > 255 {
		return p, nil, nil, fmt.Errorf("bad argon2id parameters")
	}
	p = PasswordParams{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads)}
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("bad hash")
	}
	return p, salt, key, nil
}
