package approval

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// Algorithm is the HMAC hash of an HOTP or TOTP generator, spelled as in
// otpauth URIs.
type Algorithm string

// The algorithms RFC 6238 defines. SHA1 is what most authenticator apps
// support; authorizers use SHA256.
const (
	AlgSHA1   Algorithm = "SHA1"
	AlgSHA256 Algorithm = "SHA256"
	AlgSHA512 Algorithm = "SHA512"
)

// Limits on OTP parameters. Fewer than 6 digits is below RFC 4226's minimum;
// more than 8 is more than common authenticator apps display.
const (
	MinDigits = 6
	MaxDigits = 8
)

// minVerifySecret is the shortest secret VerifyTOTP accepts codes for: RFC
// 4226 requires 128 bits. It stops a row with an empty or truncated secret,
// a bug elsewhere, from accepting codes anyone can compute.
const minVerifySecret = 16

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// resolve returns the algorithm with the zero value read as SHA1, and
// whether it is known.
func (a Algorithm) resolve() (Algorithm, bool) {
	switch a {
	case "":
		return AlgSHA1, true
	case AlgSHA1, AlgSHA256, AlgSHA512:
		return a, true
	}
	return a, false
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case AlgSHA256:
		return sha256.New
	case AlgSHA512:
		return sha512.New
	}
	return sha1.New
}

// secretSize is the key length RFC 6238's reference uses for each hash: the
// hash's output size.
func (a Algorithm) secretSize() int {
	switch a {
	case AlgSHA256:
		return 32
	case AlgSHA512:
		return 64
	}
	return 20
}

// OTPParams are the parameters of a TOTP generator. The zero value means
// SHA1, 6 digits, 30 seconds: what every authenticator app supports.
type OTPParams struct {
	Algorithm Algorithm
	Digits    int
	Period    time.Duration
}

// resolved returns p with zero values replaced by their defaults.
func (p OTPParams) resolved() OTPParams {
	p.Algorithm, _ = p.Algorithm.resolve()
	if p.Digits == 0 {
		p.Digits = 6
	}
	if p.Period == 0 {
		p.Period = 30 * time.Second
	}
	return p
}

// Validate reports whether p, with zero values read as their defaults, can be
// used: a known algorithm, 6 to 8 digits and a period of whole seconds
// between 1 s and 10 min. HOTP, TOTP and VerifyTOTP treat parameters that
// fail it as producing no code; call Validate where parameters come in.
func (p OTPParams) Validate() error {
	r := p.resolved()
	if _, ok := p.Algorithm.resolve(); !ok {
		return selo.Errorf(selo.EINVALID, "unknown OTP algorithm %q (want SHA1, SHA256 or SHA512)", p.Algorithm)
	}
	if r.Digits < MinDigits || r.Digits > MaxDigits {
		return selo.Errorf(selo.EINVALID, "an OTP has %d to %d digits, not %d", MinDigits, MaxDigits, r.Digits)
	}
	if r.Period < time.Second || r.Period > 10*time.Minute || r.Period%time.Second != 0 {
		return selo.Errorf(selo.EINVALID, "an OTP period is whole seconds between 1 s and 10 min, not %v", r.Period)
	}
	return nil
}

// NewOTPSecret returns a fresh random secret from crypto/rand of the length
// RFC 6238 uses for alg ("" is SHA1): 20 bytes for SHA1, 32 for SHA256, 64
// for SHA512.
func NewOTPSecret(alg Algorithm) ([]byte, error) {
	a, ok := alg.resolve()
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "unknown OTP algorithm %q (want SHA1, SHA256 or SHA512)", alg)
	}
	secret := make([]byte, a.secretSize())
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("OTP secret: %w", err)
	}
	return secret, nil
}

// HOTP returns the RFC 4226 one-time password for counter: HMAC-alg of the
// big-endian counter, dynamically truncated, the last digits decimal digits
// zero-padded. alg "" is SHA1 and digits 0 is 6; an unknown algorithm or
// digits outside 6..8 yields "", which no code equals.
func HOTP(secret []byte, counter uint64, alg Algorithm, digits int) string {
	a, ok := alg.resolve()
	if digits == 0 {
		digits = 6
	}
	if !ok || digits < MinDigits || digits > MaxDigits {
		return ""
	}
	mac := hmac.New(a.hash(), secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	code := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(code)) + code
}

// step returns the RFC 6238 time step of t, or false when p is unusable or t
// is before the Unix epoch.
func (p OTPParams) step(t time.Time) (int64, bool) {
	if p.Validate() != nil {
		return 0, false
	}
	sec := t.Unix()
	if sec < 0 {
		return 0, false
	}
	return sec / int64(p.resolved().Period/time.Second), true
}

// TOTP returns the RFC 6238 code at time t: the HOTP of t's time step
// (Unix seconds divided by the period). Parameters that fail Validate, or a
// time before 1970, yield "".
func TOTP(secret []byte, t time.Time, p OTPParams) string {
	s, ok := p.step(t)
	if !ok {
		return ""
	}
	r := p.resolved()
	return HOTP(secret, uint64(s), r.Algorithm, r.Digits)
}

// VerifyTOTP reports whether code is the TOTP of a step from one before to
// one after now's step (a step of clock drift either way) that is greater
// than lastStep, and returns that step for the caller to store as the new
// lastStep. Passing the last accepted step (-1 for none) makes every code
// single use: a code, or any older one, is refused once a step was accepted.
//
// Every fresh candidate is computed and compared in constant time, whether
// or not an earlier one matched. A code of the wrong length or with anything but ASCII digits
// simply fails, as does a secret shorter than 128 bits.
func VerifyTOTP(secret []byte, code string, now time.Time, p OTPParams, lastStep int64) (step int64, ok bool) {
	r := p.resolved()
	current, valid := p.step(now)
	if !valid || len(secret) < minVerifySecret || len(code) != r.Digits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	matched := int64(-1)
	for s := current - 1; s <= current+1; s++ {
		// Freshness depends on nothing secret; only the code comparison does.
		if s < 0 || s <= lastStep {
			continue
		}
		want := HOTP(secret, uint64(s), r.Algorithm, r.Digits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = s // the greatest matching step: storing it refuses the most
		}
	}
	if matched < 0 {
		return 0, false
	}
	return matched, true
}

// OTPAuthURI returns the Key URI an authenticator app imports from a QR code:
//
//	otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// with issuer and account percent-encoded, the secret in unpadded base32, and
// every parameter written out (zero values resolved), since some apps ignore
// what they do not see. An empty issuer leaves out the prefix and parameter.
func OTPAuthURI(issuer, account string, secret []byte, p OTPParams) string {
	r := p.resolved()
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escapeURIComponent(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escapeURIComponent(account))
	b.WriteString("?secret=")
	b.WriteString(base32NoPad.EncodeToString(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escapeURIComponent(issuer))
	}
	fmt.Fprintf(&b, "&algorithm=%s&digits=%d&period=%d", r.Algorithm, r.Digits, int64(r.Period/time.Second))
	return b.String()
}

// escapeURIComponent percent-encodes s for a label or query value: ':' and
// '&' among others are escaped, and a space is %20, not '+', which the Key URI
// format asks for.
func escapeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
