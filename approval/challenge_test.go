package approval

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

func newChallenge(t testing.TB) *WalletChallenge {
	t.Helper()
	h1 := sha256.Sum256([]byte("invoice 2026/0001.pdf"))
	h2 := sha256.Sum256([]byte("invoice 2026/0002.pdf"))
	c, err := NewWalletChallenge("apr_7", "cred_42", "Sign 2 invoices for Acme, Lda.", OIDSHA256,
		[][]byte{h1[:], h2[:]}, walletNow.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cloneChallenge(c *WalletChallenge) *WalletChallenge {
	d := *c
	d.Hashes = make([][]byte, len(c.Hashes))
	for i, h := range c.Hashes {
		d.Hashes[i] = bytes.Clone(h)
	}
	d.Nonce = bytes.Clone(c.Nonce)
	return &d
}

func TestWalletDecisionRoundTrip(t *testing.T) {
	c := newChallenge(t)
	key := newDeviceKey(t)
	for _, approve := range []bool{true, false} {
		sig, err := SignWalletDecision(c, approve, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyWalletDecision(c, approve, &key.PublicKey, sig, walletNow); err != nil {
			t.Fatalf("approve=%v: %v", approve, err)
		}
		if err := VerifyWalletDecision(c, !approve, &key.PublicKey, sig, walletNow); selo.ErrorCode(err) != selo.EUNAUTHORIZED {
			t.Fatalf("decision flipped from %v: err = %v, want EUNAUTHORIZED", approve, err)
		}
	}
}

func TestWalletDecisionRefuses(t *testing.T) {
	c := newChallenge(t)
	key := newDeviceKey(t)
	sig, err := SignWalletDecision(c, true, key)
	if err != nil {
		t.Fatal(err)
	}
	other := newDeviceKey(t)
	otherHash := sha256.Sum256([]byte("something else"))
	for _, tc := range []struct {
		name   string
		change func(c *WalletChallenge)
		code   string
	}{
		{"approval ID", func(c *WalletChallenge) { c.ApprovalID = "apr_8" }, selo.EUNAUTHORIZED},
		{"credential ID", func(c *WalletChallenge) { c.CredentialID = "cred_43" }, selo.EUNAUTHORIZED},
		{"description", func(c *WalletChallenge) { c.Description = "Sign 2 invoices for Acme, Lda" }, selo.EUNAUTHORIZED},
		{"hash algorithm", func(c *WalletChallenge) {
			c.HashAlgorithmOID = OIDSHA512
			for i := range c.Hashes {
				h := sha512.Sum512(c.Hashes[i])
				c.Hashes[i] = h[:]
			}
		}, selo.EUNAUTHORIZED},
		{"a hash's byte", func(c *WalletChallenge) { c.Hashes[1][31] ^= 1 }, selo.EUNAUTHORIZED},
		{"a hash replaced", func(c *WalletChallenge) { c.Hashes[0] = otherHash[:] }, selo.EUNAUTHORIZED},
		{"hashes reordered", func(c *WalletChallenge) { c.Hashes[0], c.Hashes[1] = c.Hashes[1], c.Hashes[0] }, selo.EUNAUTHORIZED},
		{"hash dropped", func(c *WalletChallenge) { c.Hashes = c.Hashes[:1] }, selo.EUNAUTHORIZED},
		{"hash added", func(c *WalletChallenge) { c.Hashes = append(c.Hashes, otherHash[:]) }, selo.EUNAUTHORIZED},
		{"nonce", func(c *WalletChallenge) { c.Nonce[0] ^= 1 }, selo.EUNAUTHORIZED},
		{"expiry extended", func(c *WalletChallenge) { c.ExpiresAt = c.ExpiresAt.Add(time.Hour) }, selo.EUNAUTHORIZED},
		{"hash of the wrong size", func(c *WalletChallenge) { c.Hashes[0] = c.Hashes[0][:20] }, selo.EINVALID},
		{"unknown algorithm", func(c *WalletChallenge) { c.HashAlgorithmOID = "1.3.14.3.2.26" }, selo.EINVALID},
		{"no hashes", func(c *WalletChallenge) { c.Hashes = nil }, selo.EINVALID},
		{"short nonce", func(c *WalletChallenge) { c.Nonce = c.Nonce[:8] }, selo.EINVALID},
	} {
		d := cloneChallenge(c)
		tc.change(d)
		wantCode(t, tc.name, VerifyWalletDecision(d, true, &key.PublicKey, sig, walletNow), tc.code)
	}

	wantCode(t, "another device's key", VerifyWalletDecision(c, true, &other.PublicKey, sig, walletNow), selo.EUNAUTHORIZED)
	wantCode(t, "no key", VerifyWalletDecision(c, true, nil, sig, walletNow), selo.EINVALID)
	wantCode(t, "no signature", VerifyWalletDecision(c, true, &key.PublicKey, nil, walletNow), selo.EUNAUTHORIZED)
	wantCode(t, "truncated signature", VerifyWalletDecision(c, true, &key.PublicKey, sig[:len(sig)-1], walletNow), selo.EUNAUTHORIZED)
	wantCode(t, "expired exactly", VerifyWalletDecision(c, true, &key.PublicKey, sig, c.ExpiresAt), selo.EUNAUTHORIZED)
	wantCode(t, "expired later", VerifyWalletDecision(c, true, &key.PublicKey, sig, c.ExpiresAt.Add(time.Hour)), selo.EUNAUTHORIZED)
	if err := VerifyWalletDecision(c, true, &key.PublicKey, sig, c.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if _, err := SignWalletDecision(&WalletChallenge{}, true, key); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("SignWalletDecision of an empty challenge = %v", err)
	}
}

func TestSigningBytes(t *testing.T) {
	c := newChallenge(t)
	b := c.SigningBytes()
	if !bytes.HasPrefix(b, []byte("\x00\x00\x00\x17selo-wallet-approval-v1")) {
		t.Fatalf("SigningBytes does not start with the domain: %q", b[:30])
	}
	if !bytes.Equal(b, cloneChallenge(c).SigningBytes()) {
		t.Fatal("SigningBytes is not deterministic")
	}
	if a, d := c.DecisionBytes(true), c.DecisionBytes(false); !bytes.Equal(a[:len(b)], b) || a[len(b)] != 1 || d[len(b)] != 0 || len(a) != len(b)+1 {
		t.Fatal("DecisionBytes is not SigningBytes plus the decision byte")
	}
	// Moving bytes between neighbouring fields changes the encoding.
	d := cloneChallenge(c)
	d.ApprovalID, d.CredentialID = "apr_7c", "red_42"
	if bytes.Equal(d.SigningBytes(), b) {
		t.Fatal("fields run into each other")
	}
	e := cloneChallenge(c)
	e.Hashes = [][]byte{append(bytes.Clone(c.Hashes[0]), c.Hashes[1]...)}
	if bytes.Equal(e.SigningBytes(), b) {
		t.Fatal("two hashes encode like their concatenation")
	}
}

func TestWalletChallengeURIRoundTrip(t *testing.T) {
	c := newChallenge(t)
	c.Description = "Assinar 2 faturas & notas: Acme, Lda. €"
	uri := c.URI()
	got, err := ParseWalletChallengeURI(uri)
	if err != nil {
		t.Fatalf("ParseWalletChallengeURI(%s): %v", uri, err)
	}
	if !bytes.Equal(got.SigningBytes(), c.SigningBytes()) {
		t.Fatalf("round trip changed the challenge: %+v", got)
	}
	// A decision signed from the QR code verifies against the kept challenge.
	key := newDeviceKey(t)
	sig, err := SignWalletDecision(got, true, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyWalletDecision(c, true, &key.PublicKey, sig, walletNow); err != nil {
		t.Fatalf("decision from the QR code: %v", err)
	}
	if _, err := QRPNG(uri, 512); err != nil {
		t.Fatalf("the challenge does not fit a QR code: %v", err)
	}
}

func TestParseWalletChallengeURIRefuses(t *testing.T) {
	good := newChallenge(t).URI()
	hash := good[strings.Index(good, "hash=")+5:]
	hash = hash[:strings.Index(hash, "&")]
	for _, tc := range []struct{ name, uri string }{
		{"empty", ""},
		{"enrollment host", strings.Replace(good, "//approve?", "//enroll?", 1)},
		{"version 0", strings.Replace(good, "v=1", "v=0", 1)},
		{"unknown parameter", good + "&x=1"},
		{"repeated nonce", good + "&nonce=AAAAAAAAAAAAAAAAAAAAAA"},
		{"repeated approval", good + "&approval=apr_9"},
		{"missing description", strings.Replace(good, "description=", "descriptio=", 1)},
		{"hash not base64url", strings.Replace(good, "hash="+hash, "hash=%2F%2F%2F", 1)},
		{"hash padded", strings.Replace(good, "hash="+hash, "hash="+hash+"%3D", 1)},
		{"hash too short", strings.Replace(good, "hash="+hash, "hash="+hash[:20], 1)},
		{"SHA-1", strings.Replace(good, "alg=2.16.840.1.101.3.4.2.1", "alg=1.3.14.3.2.26", 1)},
		{"too many hashes", good + strings.Repeat("&hash="+hash, maxChallengeHashes)},
		{"control character", strings.Replace(good, "description=", "description=%07", 1)},
		{"invalid UTF-8", strings.Replace(good, "description=", "description=%FF", 1)},
		{"expiry 0", regexp.MustCompile(`exp=[0-9]+`).ReplaceAllString(good, "exp=0")},
		{"expiry with leading zero", strings.Replace(good, "exp=", "exp=0", 1)},
	} {
		_, err := ParseWalletChallengeURI(tc.uri)
		wantCode(t, tc.name, err, selo.EINVALID)
	}
}

// TestWalletChallengeURIBounded: each field within its limit, 64 SHA-512
// hashes and a 500-byte description that URI escaping triples write a URI
// longer than the parser reads, so the wallet could never read the fallback
// QR code. Such a challenge is refused when made; at the edge it reads back.
func TestWalletChallengeURIBounded(t *testing.T) {
	hashes := make([][]byte, 64)
	for i := range hashes {
		h := sha512.Sum512([]byte{byte(i)})
		hashes[i] = h[:]
	}
	_, err := NewWalletChallenge(strings.Repeat("%", 256), strings.Repeat("&", 256), strings.Repeat("é", 250), OIDSHA512, hashes, walletNow.Add(time.Minute))
	wantCode(t, "64 hashes, escaped IDs and description", err, selo.EINVALID)

	c, err := NewWalletChallenge("apr_7", "cred_42", strings.Repeat("é", 250), OIDSHA512, hashes, walletNow.Add(time.Minute))
	if err != nil {
		t.Fatalf("64 hashes and a 500-byte description: %v", err)
	}
	if _, err := ParseWalletChallengeURI(c.URI()); err != nil {
		t.Errorf("a challenge made does not read back from its %d-byte URI: %v", len(c.URI()), err)
	}
}
