package approval

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

var walletNow = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func newDeviceKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnrollment(t testing.TB) *WalletEnrollment {
	t.Helper()
	e, err := NewWalletEnrollment("https://selo.example/api/wallet/register", "enr_01J9Z", walletNow.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func wantCode(t *testing.T, name string, err error, code string) {
	t.Helper()
	if got := selo.ErrorCode(err); got != code {
		t.Errorf("%s: err = %v (code %q), want code %q", name, err, got, code)
	}
}

func TestWalletEnrollmentURIRoundTrip(t *testing.T) {
	e := newEnrollment(t)
	e.ExpiresAt = e.ExpiresAt.Add(123 * time.Millisecond) // the URI keeps whole seconds
	uri := e.URI()
	if !strings.HasPrefix(uri, "selo-wallet://enroll?") {
		t.Fatalf("URI = %s", uri)
	}
	got, err := ParseWalletEnrollmentURI(uri)
	if err != nil {
		t.Fatalf("ParseWalletEnrollmentURI(%s): %v", uri, err)
	}
	if got.URL != e.URL || got.EnrollmentID != e.EnrollmentID || !bytes.Equal(got.Secret, e.Secret) || got.ExpiresAt.Unix() != e.ExpiresAt.Unix() {
		t.Fatalf("round trip: got %+v, want %+v", got, e)
	}
	// A registration made from the parsed QR code verifies against the
	// enrollment the service kept, sub-second expiry and all.
	r, err := NewWalletRegistration(got, "Pixel 9", newDeviceKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyWalletRegistration(e, r, walletNow); err != nil {
		t.Fatalf("registration from the parsed URI: %v", err)
	}
}

func TestParseWalletEnrollmentURIRefuses(t *testing.T) {
	e := newEnrollment(t)
	secret := base32NoPad.EncodeToString(e.Secret)
	good := e.URI()
	for _, tc := range []struct{ name, uri string }{
		{"empty", ""},
		{"other scheme", strings.Replace(good, "selo-wallet:", "https:", 1)},
		{"other host", strings.Replace(good, "//enroll?", "//approve?", 1)},
		{"path", strings.Replace(good, "enroll?", "enroll/x?", 1)},
		{"fragment", good + "#x"},
		{"user", strings.Replace(good, "//enroll", "//u@enroll", 1)},
		{"version 2", strings.Replace(good, "v=1", "v=2", 1)},
		{"unknown parameter", good + "&color=red"},
		{"repeated parameter", good + "&id=other"},
		{"missing secret", strings.Replace(good, "secret="+secret, "", 1)},
		{"padded secret", strings.Replace(good, "secret="+secret, "secret="+secret+"====", 1)},
		{"short secret", strings.Replace(good, "secret="+secret, "secret="+secret[:20], 1)},
		{"lower-case secret", strings.Replace(good, "secret="+secret, "secret="+strings.ToLower(secret), 1)},
		{"http URL", strings.Replace(good, "https%3A", "http%3A", 1)},
		{"ftp URL", strings.Replace(good, "https%3A", "ftp%3A", 1)},
		{"ID with space", strings.Replace(good, "id=enr_01J9Z", "id=enr+01", 1)},
		{"empty ID", strings.Replace(good, "id=enr_01J9Z", "id=", 1)},
		{"negative expiry", strings.Replace(good, "exp=", "exp=-", 1)},
		{"expiry with plus", strings.Replace(good, "exp=", "exp=%2B", 1)},
		{"expiry not a number", strings.Replace(good, "exp=", "exp=x", 1)},
		{"semicolon", strings.Replace(good, "&", ";", 1)},
		{"too long", good + "&" + strings.Repeat("x", maxURILength)},
	} {
		_, err := ParseWalletEnrollmentURI(tc.uri)
		wantCode(t, tc.name, err, selo.EINVALID)
		if err != nil && len(secret) > 8 && strings.Contains(err.Error(), secret[:16]) {
			t.Errorf("%s: error quotes the secret: %v", tc.name, err)
		}
	}
	if _, err := ParseWalletEnrollmentURI(strings.Replace(good, "https%3A%2F%2Fselo.example", "http%3A%2F%2F127.0.0.1%3A8080", 1)); err != nil {
		t.Errorf("http on loopback refused: %v", err)
	}
}

func TestWalletRegistration(t *testing.T) {
	e := newEnrollment(t)
	key := newDeviceKey(t)
	r, err := NewWalletRegistration(e, "Ana's iPhone", key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := VerifyWalletRegistration(e, r, walletNow)
	if err != nil {
		t.Fatalf("VerifyWalletRegistration: %v", err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("returned key is not the device's")
	}

	otherKey := newDeviceKey(t)
	otherDER, _ := x509.MarshalPKIXPublicKey(&otherKey.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	otherEnrollment := newEnrollment(t) // same ID, another secret
	otherRegistration, _ := NewWalletRegistration(otherEnrollment, "Ana's iPhone", otherKey)

	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c }
	for _, tc := range []struct {
		name   string
		change func(e *WalletEnrollment, r *WalletRegistration)
		now    time.Time
		code   string
	}{
		{"other enrollment ID", func(e *WalletEnrollment, r *WalletRegistration) { r.EnrollmentID = "enr_other" }, walletNow, selo.EUNAUTHORIZED},
		{"device name changed", func(e *WalletEnrollment, r *WalletRegistration) { r.DeviceName = "Mallory's phone" }, walletNow, selo.EUNAUTHORIZED},
		{"public key swapped", func(e *WalletEnrollment, r *WalletRegistration) { r.PublicKey = otherDER }, walletNow, selo.EUNAUTHORIZED},
		{"proof flipped", func(e *WalletEnrollment, r *WalletRegistration) { r.Proof = flip(r.Proof) }, walletNow, selo.EUNAUTHORIZED},
		{"no proof", func(e *WalletEnrollment, r *WalletRegistration) { r.Proof = nil }, walletNow, selo.EUNAUTHORIZED},
		{"signature flipped", func(e *WalletEnrollment, r *WalletRegistration) { r.Signature = flip(r.Signature) }, walletNow, selo.EUNAUTHORIZED},
		{"proof and key from another enrollment's secret", func(e *WalletEnrollment, r *WalletRegistration) { *r = *otherRegistration }, walletNow, selo.EUNAUTHORIZED},
		{"enrollment URL differs", func(e *WalletEnrollment, r *WalletRegistration) { e.URL = "https://evil.example/register" }, walletNow, selo.EUNAUTHORIZED},
		{"expired exactly", func(e *WalletEnrollment, r *WalletRegistration) {}, walletNow.Add(10 * time.Minute), selo.EUNAUTHORIZED},
		{"expired long ago", func(e *WalletEnrollment, r *WalletRegistration) {}, walletNow.Add(24 * time.Hour), selo.EUNAUTHORIZED},
		{"P-384 key", func(e *WalletEnrollment, r *WalletRegistration) { r.PublicKey = p384DER }, walletNow, selo.EINVALID},
		{"garbage key", func(e *WalletEnrollment, r *WalletRegistration) { r.PublicKey = []byte("not DER") }, walletNow, selo.EINVALID},
		{"empty device name", func(e *WalletEnrollment, r *WalletRegistration) { r.DeviceName = "" }, walletNow, selo.EINVALID},
		{"control character in name", func(e *WalletEnrollment, r *WalletRegistration) { r.DeviceName = "a\u202eb" }, walletNow, selo.EINVALID},
	} {
		e2 := *e
		r2 := *r
		tc.change(&e2, &r2)
		_, err := VerifyWalletRegistration(&e2, &r2, tc.now)
		wantCode(t, tc.name, err, tc.code)
	}
	// Nothing above damaged the originals.
	if _, err := VerifyWalletRegistration(e, r, walletNow.Add(10*time.Minute-time.Second)); err != nil {
		t.Fatalf("original registration, a second before expiry: %v", err)
	}

	if _, err := NewWalletRegistration(e, "phone", p384); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("NewWalletRegistration with P-384 = %v", err)
	}
	if _, err := NewWalletRegistration(e, "phone", nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("NewWalletRegistration with no key = %v", err)
	}
	if _, err := NewWalletRegistration(e, strings.Repeat("x", 65), key); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("NewWalletRegistration with a long name = %v", err)
	}
}

func TestNewWalletEnrollmentRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, url, id string
		exp           time.Time
	}{
		{"http", "http://selo.example/register", "e1", walletNow},
		{"relative", "/register", "e1", walletNow},
		{"user info", "https://u:p@selo.example/register", "e1", walletNow},
		{"empty ID", "https://selo.example/register", "", walletNow},
		{"no expiry", "https://selo.example/register", "e1", time.Time{}},
		{"URL over 2048 bytes", "https://selo.example/" + strings.Repeat("a", 2048), "e1", walletNow},
	} {
		_, err := NewWalletEnrollment(tc.url, tc.id, tc.exp)
		wantCode(t, tc.name, err, selo.EINVALID)
	}
}

// TestWalletEnrollmentLongURL is the fuzzer's finding: an enrollment URI
// under 8,192 bytes whose URL, written raw, doubled once URI escaped it, so
// the parser accepted a URI whose own rewrite it refused. Whatever is
// accepted now reads back.
func TestWalletEnrollmentLongURL(t *testing.T) {
	for _, n := range []int{100, 1000, 1013, 3900} {
		s := "selo-wallet://enroll?v=1&url=https://x/" + strings.Repeat("a/", n) +
			"&id=e&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&exp=1"
		e, err := ParseWalletEnrollmentURI(s)
		if n > 1013 {
			wantCode(t, "long URL", err, selo.EINVALID)
			continue
		}
		if err != nil {
			t.Fatalf("URL of %d pairs: %v", n, err)
		}
		if _, err := ParseWalletEnrollmentURI(e.URI()); err != nil {
			t.Errorf("accepted a %d-byte URL but not its %d-byte rewrite: %v", len(e.URL), len(e.URI()), err)
		}
	}
}
