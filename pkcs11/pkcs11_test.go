package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// digestInfoDER is the DigestInfo of digest under hash OID oid.
func digestInfoDER(t testing.TB, oid asn1.ObjectIdentifier, digest []byte) []byte {
	b, err := asn1.Marshal(digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDigestInfo(t *testing.T) {
	sum := sha256.Sum256([]byte("invoice"))
	h, d, err := ParseDigestInfo(digestInfoDER(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, sum[:]))
	if err != nil || h != crypto.SHA256 || !bytes.Equal(d, sum[:]) {
		t.Fatalf("SHA-256 DigestInfo: %v %x %v", h, d, err)
	}
	for name, b := range map[string][]byte{
		"SHA-1":          digestInfoDER(t, asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, sum[:20]),
		"short digest":   digestInfoDER(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, sum[:31]),
		"trailing bytes": append(digestInfoDER(t, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, sum[:]), 0),
		"raw hash":       sum[:],
		"empty":          nil,
	} {
		if _, _, err := ParseDigestInfo(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseDigestInfo(f *testing.F) {
	sum := sha256.Sum256(nil)
	f.Add(digestInfoDER(f, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, sum[:]))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, d, err := ParseDigestInfo(b)
		if err == nil && (h == 0 || len(d) != h.Size()) {
			t.Fatalf("accepted %x as %v %x", b, h, d)
		}
	})
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"accounts":[{"server":"https://sign.example.eu","email":"maria@example.pt"}],"wallet_timeout":"45s"}`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accounts[0]
	if a.Server != "https://sign.example.eu/csc/v2" || a.Label != "maria@example.pt" || a.TokenFile == "" ||
		time.Duration(c.Timeout) != DefaultTimeout || time.Duration(c.WalletTimeout) != 45*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	many := `{"accounts":[` + strings.Repeat(`{"server":"https://a.eu","email":"a@a.eu"},`, MaxAccounts) + `{"server":"https://a.eu","email":"a@a.eu"}]}`
	for name, s := range map[string]string{
		"no accounts":       `{"accounts":[]}`,
		"unknown field":     `{"accounts":[{"server":"https://a.eu","email":"a@a.eu"}],"pin":"1234"}`,
		"not a URL":         `{"accounts":[{"server":"ftp://a.eu","email":"a@a.eu"}]}`,
		"URL with a user":   `{"accounts":[{"server":"https://u:p@a.eu","email":"a@a.eu"}]}`,
		"no e-mail":         `{"accounts":[{"server":"https://a.eu","email":"maria"}]}`,
		"long timeout":      `{"accounts":[{"server":"https://a.eu","email":"a@a.eu"}],"timeout":"11m"}`,
		"negative timeout":  `{"accounts":[{"server":"https://a.eu","email":"a@a.eu"}],"timeout":"-1s"}`,
		"bad duration":      `{"accounts":[{"server":"https://a.eu","email":"a@a.eu"}],"timeout":30}`,
		"too many":          many,
		"not JSON":          `accounts`,
		"server with query": `{"accounts":[{"server":"http://[::1]?b/v2","email":"a@c"}]}`,
		"empty query":       `{"accounts":[{"server":"https://a.eu/csc/v2?","email":"a@a.eu"}]}`,
		"fragment":          `{"accounts":[{"server":"https://a.eu#x/csc/v2","email":"a@a.eu"}]}`,
	} {
		if _, err := ParseConfig([]byte(s)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), maxConfigBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a configuration over %d bytes: %v", maxConfigBytes, err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"accounts":[{"server":"https://sign.example.eu","email":"maria@example.pt"}],"timeout":"5s"}`))
	f.Add([]byte(`{"accounts":[{"server":"http://[::1]:8443/csc/v2","email":"a@b"}],"code_command":["zenity","--entry"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if len(c.Accounts) == 0 || len(c.Accounts) > MaxAccounts || c.Timeout <= 0 || c.WalletTimeout <= 0 {
			t.Fatalf("accepted %q as %+v", b, c)
		}
		for _, a := range c.Accounts {
			if !strings.HasSuffix(a.Server, "/csc/v2") {
				t.Fatalf("server %q", a.Server)
			}
		}
	})
}

func TestReadToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	now := time.Now()
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"server":"https://a.eu/csc/v2","access_token":"tok","expires_at":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`)
	if got := readToken(path, "https://a.eu/csc/v2", now); got != "tok" {
		t.Fatalf("live token: %q", got)
	}
	// Never sent to another server; never once expired.
	if got := readToken(path, "https://b.eu/csc/v2", now); got != "" {
		t.Fatalf("token of another server: %q", got)
	}
	if got := readToken(path, "https://a.eu/csc/v2", now.Add(2*time.Hour)); got != "" {
		t.Fatalf("expired token: %q", got)
	}
	write(`not json`)
	if got := readToken(path, "https://a.eu/csc/v2", now); got != "" {
		t.Fatalf("garbage: %q", got)
	}
}

func TestRawECDSA(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sum := sha256.Sum256([]byte("x"))
	der, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
	raw, err := rawECDSA(der, 96)
	if err != nil || len(raw) != 96 {
		t.Fatalf("%d bytes, %v", len(raw), err)
	}
	if _, err := rawECDSA(append(der, 0), 96); err == nil {
		t.Fatal("trailing data accepted")
	}
	if _, err := rawECDSA(der, 64); err == nil {
		t.Fatal("a P-384 signature fitted into 64 bytes")
	}
}

// TestErrorRV: what the service or the network says reaches the
// application as the CKR_ code the standard has for it.
func TestErrorRV(t *testing.T) {
	for _, c := range []struct {
		err  error
		want RV
	}{
		{&csc.Error{Name: csc.ErrInvalidOTP}, CKR_PIN_INCORRECT},
		{&csc.Error{Name: csc.ErrAuthenticationError}, CKR_PIN_INCORRECT},
		{&csc.Error{Name: csc.ErrInvalidToken}, CKR_USER_NOT_LOGGED_IN},
		{&csc.Error{Name: csc.ErrAccessDenied}, CKR_FUNCTION_REJECTED},
		{&csc.Error{Name: csc.ErrServerError}, CKR_DEVICE_ERROR},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, CKR_DEVICE_ERROR},
		{selo.Errorf(selo.EFORBIDDEN, "the holder did not approve"), CKR_FUNCTION_REJECTED},
		{errors.New("other"), CKR_FUNCTION_FAILED},
	} {
		if got := errorRV(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}
