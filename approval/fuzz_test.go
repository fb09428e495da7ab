package approval

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParseWalletEnrollmentURI checks that the parser never panics and that
// whatever it accepts writes back to a URI that parses to the same thing.
func FuzzParseWalletEnrollmentURI(f *testing.F) {
	f.Add(newEnrollment(f).URI())
	f.Add("selo-wallet://enroll?v=1&url=http%3A%2F%2F127.0.0.1%3A8080%2Fr&id=e&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&exp=1")
	f.Add("selo-wallet://enroll?v=1&url=https%3A%2F%2Fx&id=e&id=f&secret=&exp=9")
	f.Add("selo-wallet://enroll")
	f.Add("selo-wallet://enroll?v=1&url=https://x/" + strings.Repeat("a/", 2000) + "&id=e&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&exp=1")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseWalletEnrollmentURI(s)
		if err != nil {
			return
		}
		again, err := ParseWalletEnrollmentURI(e.URI())
		if err != nil {
			t.Fatalf("accepted %q but not its own rewrite %q: %v", s, e.URI(), err)
		}
		if again.URL != e.URL || again.EnrollmentID != e.EnrollmentID || !bytes.Equal(again.Secret, e.Secret) || !again.ExpiresAt.Equal(e.ExpiresAt) {
			t.Fatalf("rewrite changed %+v into %+v", e, again)
		}
	})
}

// FuzzParseWalletChallengeURI checks the same for challenges, and that a
// parsed challenge can be signed over.
func FuzzParseWalletChallengeURI(f *testing.F) {
	f.Add(newChallenge(f).URI())
	f.Add("selo-wallet://approve?v=1&approval=a&credential=c&description=&alg=2.16.840.1.101.3.4.2.3&hash=" +
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
		"&nonce=AAAAAAAAAAAAAAAAAAAAAA&exp=1")
	f.Add("selo-wallet://approve?v=1&hash=&hash=")
	f.Add("selo-wallet://approve?%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseWalletChallengeURI(s)
		if err != nil {
			return
		}
		again, err := ParseWalletChallengeURI(c.URI())
		if err != nil {
			t.Fatalf("accepted %q but not its own rewrite %q: %v", s, c.URI(), err)
		}
		if !bytes.Equal(again.SigningBytes(), c.SigningBytes()) {
			t.Fatalf("rewrite changed %+v into %+v", c, again)
		}
		if !c.ExpiresAt.After(time.Unix(0, 0)) {
			t.Fatalf("accepted an expiry of %v", c.ExpiresAt)
		}
	})
}
