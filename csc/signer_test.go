package csc_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/internal/csctest"
)

func stubClient(t *testing.T, s *csctest.Stub) *csc.Client {
	t.Helper()
	c, err := csc.NewClient(s.URL, csc.WithAccessToken("token"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func approveWithCode(context.Context, string) (string, error) { return csctest.OTP, nil }

// TestSignerSignAlgoFollowsKeyAlgo: the CSC API v2 takes only a signAlgo
// the credential lists in key/algo. csc.Signer used to send rsaEncryption
// whatever the credential said, and 'selo csc sign-hash' sha256WithRSA:
// each failed against a service listing only the other.
func TestSignerSignAlgoFollowsKeyAlgo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		algos []string
		want  string
	}{
		{"rsaEncryption only", []string{csc.OIDRSAEncryption}, csc.OIDRSAEncryption},
		{"sha256WithRSA only", []string{csc.OIDSHA256WithRSA}, csc.OIDSHA256WithRSA},
		{"both: the one that binds the hash", []string{csc.OIDRSAEncryption, csc.OIDSHA256WithRSA}, csc.OIDSHA256WithRSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := csctest.New(t, "rsa")
			s.Algos = tc.algos
			// A literal Signer, as integrators write it, reads the
			// credential on its first signature.
			sg := &csc.Signer{Client: stubClient(t, s), CredentialID: csctest.CredentialID, Key: s.Cert.PublicKey, Approve: approveWithCode}
			digest := sha256.Sum256([]byte("a contract"))
			if _, err := sg.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			if got := s.SignAlgos(); !slices.Equal(got, []string{tc.want}) {
				t.Fatalf("signAlgo sent: %v, want %s", got, tc.want)
			}
		})
	}
}

// TestSignerBatches: n digests take one approval per multisign hashes,
// the caller is told of each, and the signatures come back in order.
func TestSignerBatches(t *testing.T) {
	t.Parallel()
	s := csctest.New(t, "ecdsa")
	s.Multisign = 2
	sg, err := csc.OpenSigner(t.Context(), stubClient(t, s), csctest.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	sg.Approve = approveWithCode
	var told []int
	sg.OnBatch = func(batch, batches, hashes int) { told = append(told, batch, batches, hashes) }
	var digests [][]byte
	for i := range 5 {
		d := sha256.Sum256([]byte{byte(i)})
		digests = append(digests, d[:])
	}
	if got := sg.Approvals(5); got != 3 {
		t.Fatalf("Approvals(5) = %d, want 3", got)
	}
	sigs, err := sg.SignDigests(t.Context(), crypto.SHA256, digests)
	if err != nil {
		t.Fatal(err)
	}
	if s.Authorizations() != 3 || !slices.Equal(told, []int{1, 3, 2, 2, 3, 2, 3, 3, 1}) {
		t.Fatalf("%d authorizations, told %v", s.Authorizations(), told)
	}
	for i, sig := range sigs {
		if err := csc.VerifySignature(s.Cert.PublicKey, crypto.SHA256, digests[i], sig); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
}

// TestSignerWallet: a wallet credential is not asked for a code; the
// caller is told of the wait (where a QR fallback is shown) and the
// signer polls until the holder approves.
func TestSignerWallet(t *testing.T) {
	t.Parallel()
	s := csctest.New(t, "ecdsa")
	s.Wallet = true
	sg, err := csc.OpenSigner(t.Context(), stubClient(t, s), csctest.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	sg.Approve = func(context.Context, string) (string, error) {
		t.Error("a wallet credential was asked for a code")
		return "", nil
	}
	waited := ""
	sg.OnWalletWait = func(id string, hashes int) { waited = id }
	sg.PollInterval = 1 // the stub approves on the second check
	digest := sha256.Sum256([]byte("a lease"))
	if _, err := sg.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if waited != "sad-1" {
		t.Fatalf("OnWalletWait got %q", waited)
	}
}

// TestSignerRefusals: what can be known before an approval spends none,
// and a signature that does not verify is never returned.
func TestSignerRefusals(t *testing.T) {
	t.Parallel()
	digest256 := sha256.Sum256([]byte("x"))
	digest512 := sha512.Sum512([]byte("x"))
	for _, tc := range []struct {
		name      string
		setup     func(*csctest.Stub)
		h         crypto.Hash
		digest    []byte
		want      string
		approvals int
	}{
		{"revoked certificate", func(s *csctest.Stub) { s.CertStatus = "revoked" }, crypto.SHA256, digest256[:], "is revoked", 0},
		{"algorithm not offered", func(s *csctest.Stub) {}, crypto.SHA512, digest512[:], "offers none", 0},
		{"digest of the wrong size", func(s *csctest.Stub) {}, crypto.SHA256, digest512[:], "not the 32", 0},
		{"signature that does not verify", func(s *csctest.Stub) { s.Corrupt = true }, crypto.SHA256, digest256[:], "does not verify", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := csctest.New(t, "ecdsa")
			tc.setup(s)
			sg, err := csc.OpenSigner(t.Context(), stubClient(t, s), csctest.CredentialID)
			if err != nil {
				t.Fatal(err)
			}
			sg.Approve = approveWithCode
			sigs, err := sg.SignDigests(t.Context(), tc.h, [][]byte{tc.digest})
			if err == nil || !strings.Contains(err.Error(), tc.want) || sigs != nil {
				t.Fatalf("got %v, %v; want an error with %q", sigs, err, tc.want)
			}
			if tc.approvals == 0 && selo.ErrorCode(err) == selo.EINTERNAL {
				t.Fatalf("a refusal before the approval is an application error: %v", err)
			}
			if got := s.Authorizations(); got != tc.approvals {
				t.Fatalf("%d approvals asked for, want %d", got, tc.approvals)
			}
		})
	}
}
