// Package keystoretest is the conformance suite every selo.KeyStore passes:
// the software store always, the PKCS#11 store against SoftHSM2. A test for a
// new provider is one call to Run.
package keystoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
)

// Run runs the conformance suite. newStore returns a store for one subtest and
// arranges for it to be closed (t.Cleanup); stores it returns may share their
// keys (one HSM token for all), so the suite gives every key an ID no other
// run uses.
func Run(t *testing.T, newStore func(t *testing.T) selo.KeyStore) {
	t.Helper()
	prefix := "conformance/" + randomHex(t, 6)
	id := func(name string) string { return prefix + "/" + name }

	t.Run("GenerateAndSign", func(t *testing.T) {
		for _, alg := range selo.KeyAlgorithms {
			t.Run(string(alg), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				ks := newStore(t)
				kid := id("gen-" + string(alg))
				signer, err := ks.GenerateKey(ctx, kid, alg, selo.KeyOptions{})
				if err != nil {
					t.Fatalf("GenerateKey(%s): %v", alg, err)
				}
				CheckAlgorithm(t, signer.Public(), alg)
				CheckSigns(t, signer)

				again, err := ks.Signer(ctx, kid)
				if err != nil {
					t.Fatalf("Signer after GenerateKey: %v", err)
				}
				if !samePublic(signer.Public(), again.Public()) {
					t.Fatal("Signer returned another public key than GenerateKey")
				}
				CheckSigns(t, again)
			})
		}
	})

	t.Run("DuplicateIsConflict", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("duplicate")
		first, err := ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []selo.KeyAlgorithm{selo.KeyECDSAP256, selo.KeyECDSAP384} {
			if _, err := ks.GenerateKey(ctx, kid, alg, selo.KeyOptions{}); selo.ErrorCode(err) != selo.ECONFLICT {
				t.Fatalf("second GenerateKey(%s): got %v, want ECONFLICT", alg, err)
			}
		}
		got, err := ks.Signer(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		if !samePublic(first.Public(), got.Public()) {
			t.Fatal("a refused GenerateKey replaced the existing key")
		}
	})

	t.Run("MissingIsNotFound", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("missing")
		if _, err := ks.Signer(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Errorf("Signer: got %v, want ENOTFOUND", err)
		}
		if _, err := ks.ExportKey(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Errorf("ExportKey: got %v, want ENOTFOUND", err)
		}
		if err := ks.DeleteKey(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Errorf("DeleteKey: got %v, want ENOTFOUND", err)
		}
	})

	t.Run("InvalidIsInvalid", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("bad-alg")
		for _, alg := range []selo.KeyAlgorithm{"", "ed25519", "rsa-1024", "ecdsa-p521", "ECDSA-P256"} {
			if _, err := ks.GenerateKey(ctx, kid, alg, selo.KeyOptions{}); selo.ErrorCode(err) != selo.EINVALID {
				t.Errorf("GenerateKey(%q): got %v, want EINVALID", alg, err)
			}
		}
		if _, err := ks.Signer(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Errorf("a refused GenerateKey left a key behind: Signer gave %v", err)
		}
		long := make([]byte, 121)
		for i := range long {
			long[i] = 'a'
		}
		for _, bad := range []string{"", "/abs", "trailing/", "a//b", "..", "a/../b", "./a", "a/.", "sp ace", "nul\x00", "back\\slash", "ü", string(long)} {
			if _, err := ks.GenerateKey(ctx, bad, selo.KeyECDSAP256, selo.KeyOptions{}); selo.ErrorCode(err) != selo.EINVALID {
				t.Errorf("GenerateKey(id %q): got %v, want EINVALID", bad, err)
			}
			if _, err := ks.Signer(ctx, bad); selo.ErrorCode(err) != selo.EINVALID {
				t.Errorf("Signer(id %q): got %v, want EINVALID", bad, err)
			}
		}
	})

	t.Run("ExportRules", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		fixed := id("export-no")
		if _, err := ks.GenerateKey(ctx, fixed, selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.ExportKey(ctx, fixed); selo.ErrorCode(err) != selo.EFORBIDDEN {
			t.Errorf("ExportKey of a non-exportable key: got %v, want EFORBIDDEN", err)
		}
		// A store may refuse every export (an HSM does); one that exports must
		// hand back the key that belongs to the signer.
		free := id("export-yes")
		signer, err := ks.GenerateKey(ctx, free, selo.KeyECDSAP256, selo.KeyOptions{Exportable: true})
		if err != nil {
			t.Fatal(err)
		}
		key, err := ks.ExportKey(ctx, free)
		if selo.ErrorCode(err) == selo.EFORBIDDEN {
			return
		} else if err != nil {
			t.Fatalf("ExportKey of an exportable key: %v", err)
		}
		k, ok := key.(crypto.Signer)
		if !ok || !samePublic(k.Public(), signer.Public()) {
			t.Fatal("ExportKey returned a key that does not match the signer")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("delete")
		old, err := ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.DeleteKey(ctx, kid); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if _, err := ks.Signer(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("Signer after DeleteKey: got %v, want ENOTFOUND", err)
		}
		if err := ks.DeleteKey(ctx, kid); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("second DeleteKey: got %v, want ENOTFOUND", err)
		}
		fresh, err := ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{})
		if err != nil {
			t.Fatalf("GenerateKey after DeleteKey: %v", err)
		}
		if samePublic(old.Public(), fresh.Public()) {
			t.Fatal("a new key under a deleted ID has the old public key")
		}
		got, err := ks.Signer(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		if !samePublic(fresh.Public(), got.Public()) {
			t.Fatal("Signer returned the deleted key, not the new one")
		}
	})

	t.Run("ConcurrentGenerateOneWinner", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("race")
		const n = 8
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			signers = make([]crypto.Signer, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				signers[i], errs[i] = ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{})
			})
		}
		close(start)
		wg.Wait()
		var winner crypto.Signer
		for i, err := range errs {
			switch {
			case err == nil && winner != nil:
				t.Fatal("two concurrent GenerateKey calls for one ID both succeeded")
			case err == nil:
				winner = signers[i]
			case selo.ErrorCode(err) != selo.ECONFLICT:
				t.Fatalf("losing GenerateKey: got %v, want ECONFLICT", err)
			}
		}
		if winner == nil {
			t.Fatal("no concurrent GenerateKey call succeeded")
		}
		got, err := ks.Signer(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		if !samePublic(winner.Public(), got.Public()) {
			t.Fatal("Signer returned a loser's key")
		}
	})

	t.Run("ConcurrentSign", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kids := []string{id("sign-a"), id("sign-b")}
		pubs := make([]crypto.PublicKey, len(kids))
		for i, kid := range kids {
			s, err := ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pubs[i] = s.Public()
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Go(func() {
				for j := range 20 {
					k := (g + j) % len(kids)
					s, err := ks.Signer(ctx, kids[k])
					if err != nil {
						errs <- err
						return
					}
					digest := sha256.Sum256(fmt.Appendf(nil, "message %d %d", g, j))
					sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
					if err != nil {
						errs <- err
						return
					}
					if !ecdsa.VerifyASN1(pubs[k].(*ecdsa.PublicKey), digest[:], sig) {
						errs <- fmt.Errorf("signature %d/%d does not verify", g, j)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		ctx := context.Background()
		ks := newStore(t)
		kid := id("close")
		if _, err := ks.GenerateKey(ctx, kid, selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := ks.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := ks.Signer(ctx, kid); err == nil {
			t.Error("Signer after Close succeeded")
		}
		if _, err := ks.GenerateKey(ctx, id("after-close"), selo.KeyECDSAP256, selo.KeyOptions{}); err == nil {
			t.Error("GenerateKey after Close succeeded")
		}
		if err := ks.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// CheckAlgorithm fails t unless pub is a key of algorithm alg.
func CheckAlgorithm(t testing.TB, pub crypto.PublicKey, alg selo.KeyAlgorithm) {
	t.Helper()
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[selo.KeyAlgorithm]elliptic.Curve{selo.KeyECDSAP256: elliptic.P256(), selo.KeyECDSAP384: elliptic.P384()}[alg]
		if k.Curve != want {
			t.Fatalf("%s: got an ECDSA %s key", alg, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		want := map[selo.KeyAlgorithm]int{selo.KeyRSA2048: 2048, selo.KeyRSA3072: 3072, selo.KeyRSA4096: 4096}[alg]
		if k.N.BitLen() != want {
			t.Fatalf("%s: got an RSA-%d key", alg, k.N.BitLen())
		}
		if k.E != 65537 {
			t.Fatalf("%s: public exponent %d, want 65537", alg, k.E)
		}
	default:
		t.Fatalf("%s: got a %T public key", alg, pub)
	}
}

// CheckSigns signs digests with signer in every way Selo uses its algorithm
// (ECDSA over SHA-256 and SHA-384; RSA PKCS #1 v1.5 and PSS) and verifies each
// signature with the public key, and that it fails for another digest.
func CheckSigns(t testing.TB, signer crypto.Signer) {
	t.Helper()
	msg := []byte("Selo conformance: the quick brown fox")
	d256 := sha256.Sum256(msg)
	d384 := sha512.Sum384(msg)
	other := sha256.Sum256([]byte("another message"))
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		for _, c := range []struct {
			hash   crypto.Hash
			digest []byte
		}{{crypto.SHA256, d256[:]}, {crypto.SHA384, d384[:]}} {
			sig, err := signer.Sign(rand.Reader, c.digest, c.hash)
			if err != nil {
				t.Fatalf("ECDSA sign %v: %v", c.hash, err)
			}
			if !ecdsa.VerifyASN1(pub, c.digest, sig) {
				t.Fatalf("ECDSA %v signature does not verify", c.hash)
			}
			if ecdsa.VerifyASN1(pub, other[:], sig) {
				t.Fatalf("ECDSA %v signature verifies for another digest", c.hash)
			}
		}
	case *rsa.PublicKey:
		sig, err := signer.Sign(rand.Reader, d256[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("RSA PKCS #1 v1.5 sign: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256[:], sig); err != nil {
			t.Fatalf("RSA PKCS #1 v1.5 signature: %v", err)
		}
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, other[:], sig) == nil {
			t.Fatal("RSA PKCS #1 v1.5 signature verifies for another digest")
		}
		for _, c := range []struct {
			hash   crypto.Hash
			digest []byte
		}{{crypto.SHA256, d256[:]}, {crypto.SHA384, d384[:]}} {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: c.hash}
			sig, err := signer.Sign(rand.Reader, c.digest, opts)
			if err != nil {
				t.Fatalf("RSA-PSS %v sign: %v", c.hash, err)
			}
			if err := rsa.VerifyPSS(pub, c.hash, c.digest, sig, opts); err != nil {
				t.Fatalf("RSA-PSS %v signature: %v", c.hash, err)
			}
		}
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
}

// samePublic reports whether a and b are the same public key.
func samePublic(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
