package soft

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/selo-qtsp/selo"
)

func newBox(t *testing.T, mk []byte) selo.SecretBox {
	t.Helper()
	b, err := NewSecretBox(mk)
	if err != nil {
		t.Fatalf("NewSecretBox: %v", err)
	}
	return b
}

func TestSecretBoxRoundTrip(t *testing.T) {
	box := newBox(t, newMasterKey(t))
	for _, tc := range []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"totp seed", []byte("12345678901234567890"), []byte("authenticator:42")},
		{"empty plaintext", nil, []byte("row 1")},
		{"no associated data", []byte("secret"), nil},
		{"long", bytes.Repeat([]byte{0xA5}, 4096), []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := box.Seal(tc.plaintext, tc.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(tc.plaintext) >= 4 && bytes.Contains(ct, tc.plaintext) {
				t.Fatal("ciphertext contains the plaintext")
			}
			if want := 1 + 12 + len(tc.plaintext) + 16; len(ct) != want {
				t.Fatalf("ciphertext is %d bytes, want %d", len(ct), want)
			}
			pt, err := box.Open(ct, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(pt, tc.plaintext) {
				t.Fatalf("Open = %x, want %x", pt, tc.plaintext)
			}
		})
	}
}

func TestSecretBoxFreshNonces(t *testing.T) {
	box := newBox(t, newMasterKey(t))
	a, _ := box.Seal([]byte("same"), []byte("ad"))
	b, _ := box.Seal([]byte("same"), []byte("ad"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestSecretBoxRefuses(t *testing.T) {
	mk := newMasterKey(t)
	box := newBox(t, mk)
	ad := []byte("authorizer:7")
	ct, err := box.Seal([]byte("authorizer secret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	otherBox := newBox(t, newMasterKey(t))

	cases := []struct {
		name string
		box  selo.SecretBox
		ct   []byte
		ad   []byte
	}{
		{"moved to another row", box, ct, []byte("authorizer:8")},
		{"associated data dropped", box, ct, nil},
		{"other master key", otherBox, ct, ad},
		{"truncated", box, ct[:len(ct)-1], ad},
		{"header only", box, ct[:13], ad},
		{"empty", box, nil, ad},
		{"unknown version", box, append([]byte{2}, ct[1:]...), ad},
		{"appended byte", box, append(bytes.Clone(ct), 0), ad},
	}
	// Every single flipped bit anywhere in the ciphertext must be caught.
	for i := range ct {
		tampered := bytes.Clone(ct)
		tampered[i] ^= 0x01
		cases = append(cases, struct {
			name string
			box  selo.SecretBox
			ct   []byte
			ad   []byte
		}{fmt.Sprintf("bit flipped in byte %d", i), box, tampered, ad})
	}
	for _, tc := range cases {
		pt, err := tc.box.Open(tc.ct, tc.ad)
		if err == nil {
			t.Fatalf("%s: Open succeeded with %q", tc.name, pt)
		}
		if !errors.Is(err, ErrSealedSecret) {
			t.Errorf("%s: error %v does not wrap ErrSealedSecret", tc.name, err)
		}
		if selo.ErrorCode(err) != selo.EINTERNAL {
			t.Errorf("%s: code %q, want internal (a damaged database is not the user's doing)", tc.name, selo.ErrorCode(err))
		}
		if bytes.Contains([]byte(err.Error()), []byte("authorizer secret")) {
			t.Errorf("%s: error leaks the plaintext", tc.name)
		}
	}
	// The original still opens: nothing above damaged it.
	if _, err := box.Open(ct, ad); err != nil {
		t.Fatalf("original no longer opens: %v", err)
	}
}

// TestSecretBoxKeySeparation checks that the secret box key is not the key
// file sealing key: a secret box ciphertext must never open as a key file and
// the other way round, though both come from one master key.
func TestSecretBoxKeySeparation(t *testing.T) {
	mk := newMasterKey(t)
	box := newBox(t, mk)
	aead, err := newAEAD(mk)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := box.Seal([]byte("x"), nil)
	if _, err := aead.Open(nil, ct[1:13], ct[13:], []byte{1}); err == nil {
		t.Fatal("secret box ciphertext opens under the key sealing key")
	}
}

func TestNewSecretBoxKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewSecretBox(make([]byte, n))
		if selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%d-byte master key: err = %v, want EINVALID", n, err)
		}
	}
}
