package approval

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// RFC 4226 Appendix D.
func TestHOTPRFC4226(t *testing.T) {
	secret := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, code := range want {
		if got := HOTP(secret, uint64(counter), AlgSHA1, 6); got != code {
			t.Errorf("HOTP(counter %d) = %q, want %q", counter, got, code)
		}
	}
	// The zero values mean SHA1 and 6 digits.
	if got := HOTP(secret, 0, "", 0); got != want[0] {
		t.Errorf("HOTP with zero values = %q, want %q", got, want[0])
	}
}

// RFC 6238 Appendix B, each algorithm with its own seed.
func TestTOTPRFC6238(t *testing.T) {
	seeds := map[Algorithm][]byte{
		AlgSHA1:   []byte("12345678901234567890"),
		AlgSHA256: []byte("12345678901234567890123456789012"),
		AlgSHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	vectors := []struct {
		unix int64
		want map[Algorithm]string
	}{
		{59, map[Algorithm]string{AlgSHA1: "94287082", AlgSHA256: "46119246", AlgSHA512: "90693936"}},
		{1111111109, map[Algorithm]string{AlgSHA1: "07081804", AlgSHA256: "68084774", AlgSHA512: "25091201"}},
		{1111111111, map[Algorithm]string{AlgSHA1: "14050471", AlgSHA256: "67062674", AlgSHA512: "99943326"}},
		{1234567890, map[Algorithm]string{AlgSHA1: "89005924", AlgSHA256: "91819424", AlgSHA512: "93441116"}},
		{2000000000, map[Algorithm]string{AlgSHA1: "69279037", AlgSHA256: "90698825", AlgSHA512: "38618901"}},
		{20000000000, map[Algorithm]string{AlgSHA1: "65353130", AlgSHA256: "77737706", AlgSHA512: "47863826"}},
	}
	for _, v := range vectors {
		for alg, want := range v.want {
			p := OTPParams{Algorithm: alg, Digits: 8, Period: 30 * time.Second}
			now := time.Unix(v.unix, 0).UTC()
			if got := TOTP(seeds[alg], now, p); got != want {
				t.Errorf("TOTP(%s, %d) = %q, want %q", alg, v.unix, got, want)
			}
			step, ok := VerifyTOTP(seeds[alg], want, now, p, -1)
			if !ok || step != v.unix/30 {
				t.Errorf("VerifyTOTP(%s, %d) = %d, %v; want %d, true", alg, v.unix, step, ok, v.unix/30)
			}
		}
	}
}

func TestHOTPRefusesBadParameters(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		alg    Algorithm
		digits int
	}{
		{"MD5", 6}, {"sha1", 6}, {AlgSHA1, 5}, {AlgSHA1, 9}, {AlgSHA1, -1},
	} {
		if got := HOTP(secret, 1, tc.alg, tc.digits); got != "" {
			t.Errorf("HOTP(%q, %d digits) = %q, want \"\"", tc.alg, tc.digits, got)
		}
	}
	now := time.Unix(1111111109, 0)
	for _, p := range []OTPParams{
		{Algorithm: "SHA3"}, {Digits: 4}, {Digits: 10}, {Period: -time.Second},
		{Period: 1500 * time.Millisecond}, {Period: time.Hour},
	} {
		if err := p.Validate(); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("Validate(%+v) = %v, want EINVALID", p, err)
		}
		if got := TOTP(secret, now, p); got != "" {
			t.Errorf("TOTP(%+v) = %q, want \"\"", p, got)
		}
	}
	if got := TOTP(secret, time.Unix(-60, 0), OTPParams{}); got != "" {
		t.Errorf("TOTP before 1970 = %q, want \"\"", got)
	}
	for _, p := range []OTPParams{{}, {Algorithm: AlgSHA512, Digits: 8, Period: 60 * time.Second}} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", p, err)
		}
	}
}

func TestVerifyTOTPDrift(t *testing.T) {
	secret := []byte("12345678901234567890")
	p := OTPParams{}
	now := time.Unix(1700000000, 0) // mid-step: 1700000000 % 30 = 20
	current := now.Unix() / 30
	for _, tc := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		code := HOTP(secret, uint64(current+tc.offset), AlgSHA1, 6)
		step, ok := VerifyTOTP(secret, code, now, p, -1)
		if ok != tc.ok {
			t.Errorf("code of step %+d: ok = %v, want %v", tc.offset, ok, tc.ok)
		}
		if ok && step != current+tc.offset {
			t.Errorf("code of step %+d: step = %d, want %d", tc.offset, step, current+tc.offset)
		}
	}
}

func TestVerifyTOTPReplay(t *testing.T) {
	secret := []byte("12345678901234567890")
	p := OTPParams{Algorithm: AlgSHA256, Digits: 8}
	now := time.Unix(1700000000, 0)
	code := TOTP(secret, now, p)
	step, ok := VerifyTOTP(secret, code, now, p, -1)
	if !ok {
		t.Fatal("fresh code refused")
	}
	if _, ok := VerifyTOTP(secret, code, now, p, step); ok {
		t.Fatal("the same code accepted twice")
	}
	if _, ok := VerifyTOTP(secret, code, now.Add(20*time.Second), p, step); ok {
		t.Fatal("the same code accepted again in the next step")
	}
	// An older code, still inside the drift window, is refused once a newer
	// one was accepted.
	older := TOTP(secret, now.Add(-30*time.Second), p)
	if _, ok := VerifyTOTP(secret, older, now, p, step); ok {
		t.Fatal("an older code accepted after a newer one")
	}
	// The next step's code is still good.
	next := TOTP(secret, now.Add(30*time.Second), p)
	if s, ok := VerifyTOTP(secret, next, now.Add(30*time.Second), p, step); !ok || s != step+1 {
		t.Fatalf("next code: %d, %v; want %d, true", s, ok, step+1)
	}
}

func TestVerifyTOTPRefusesMalformed(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111109, 0)
	good := TOTP(secret, now, OTPParams{})
	for _, code := range []string{
		"", good[:5], good + "0", " " + good[1:], good[:5] + "a", "-" + good[1:],
		"１２３４５６", good[:5] + "\x00", "0x" + good[2:],
	} {
		if _, ok := VerifyTOTP(secret, code, now, OTPParams{}, -1); ok {
			t.Errorf("code %q accepted", code)
		}
	}
	if _, ok := VerifyTOTP(secret[:15], TOTP(secret[:15], now, OTPParams{}), now, OTPParams{}, -1); ok {
		t.Error("a code for a 120-bit secret accepted")
	}
	if _, ok := VerifyTOTP(nil, TOTP(nil, now, OTPParams{}), now, OTPParams{}, -1); ok {
		t.Error("a code for an empty secret accepted")
	}
	if _, ok := VerifyTOTP(secret, good, now, OTPParams{Digits: 5}, -1); ok {
		t.Error("code accepted with invalid parameters")
	}
	if _, ok := VerifyTOTP(secret, good, now, OTPParams{}, -1); !ok {
		t.Error("the good code itself was refused")
	}
}

func TestNewOTPSecret(t *testing.T) {
	for alg, size := range map[Algorithm]int{"": 20, AlgSHA1: 20, AlgSHA256: 32, AlgSHA512: 64} {
		a, err := NewOTPSecret(alg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewOTPSecret(alg)
		if len(a) != size {
			t.Errorf("NewOTPSecret(%q) has %d bytes, want %d", alg, len(a), size)
		}
		if bytes.Equal(a, b) {
			t.Errorf("NewOTPSecret(%q) returned the same secret twice", alg)
		}
	}
	if _, err := NewOTPSecret("SHA3"); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("NewOTPSecret(SHA3) = %v, want EINVALID", err)
	}
}

func TestOTPAuthURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	got := OTPAuthURI("Selo", "ana@example.com", secret, OTPParams{})
	want := "otpauth://totp/Selo:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Selo&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Fatalf("OTPAuthURI =\n%s\nwant\n%s", got, want)
	}

	// Awkward names survive, and the parameters read back.
	got = OTPAuthURI("Selo: Trust & Co", "Ana Sá:1", secret, OTPParams{Algorithm: AlgSHA512, Digits: 8, Period: time.Minute})
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("scheme/host = %s/%s", u.Scheme, u.Host)
	}
	issuer, account, ok := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), ":")
	if !ok {
		t.Fatalf("label %q has no unescaped issuer separator", u.EscapedPath())
	}
	if s, _ := url.PathUnescape(issuer); s != "Selo: Trust & Co" {
		t.Errorf("issuer in label = %q", s)
	}
	if s, _ := url.PathUnescape(account); s != "Ana Sá:1" {
		t.Errorf("account in label = %q", s)
	}
	if strings.Contains(got, "+") {
		t.Errorf("URI %q encodes a space as '+'", got)
	}
	q := u.Query()
	if q.Get("issuer") != "Selo: Trust & Co" || q.Get("algorithm") != "SHA512" || q.Get("digits") != "8" || q.Get("period") != "60" {
		t.Errorf("query = %v", q)
	}
	if s, err := base32NoPad.DecodeString(q.Get("secret")); err != nil || !bytes.Equal(s, secret) {
		t.Errorf("secret reads back as %x, %v", s, err)
	}

	if got := OTPAuthURI("", "ana", secret, OTPParams{}); strings.Contains(got, "issuer") || !strings.HasPrefix(got, "otpauth://totp/ana?") {
		t.Errorf("URI without issuer = %q", got)
	}
}
