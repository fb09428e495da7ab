package cades_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

var content = []byte("%PDF-1.7 not really, but any file will do\n")

// at is when the tests sign: the pkitest hierarchy is valid then.
var at = pkitest.Now.Add(2 * time.Hour)

func TestBaselineLevels(t *testing.T) {
	r := signtest.TSAResponder(t, at)
	for _, kind := range []string{"ecdsa-p256", "rsa-2048"} {
		s := signtest.NewSigner(t, kind)
		for _, detached := range []bool{true, false} {
			for _, ts := range []cades.Timestamper{nil, r} {
				der, err := cades.Sign(context.Background(), s.Key, content, cms.Options{
					Certificate: s.Cert, Chain: s.Chain, Detached: detached, SigningTime: at,
				}, ts)
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				opts := cades.VerifyOptions{Roots: s.Roots(), Now: at}
				if detached {
					opts.Content = content
				}
				rep, err := cades.Verify(der, opts)
				if err != nil {
					t.Fatal(err)
				}
				sig := rep.Signatures[0]
				wantLevel := cades.LevelBB
				if ts != nil {
					wantLevel = cades.LevelBT
				}
				if !rep.Valid() || sig.Level != wantLevel || !strings.Contains(sig.Signer, "Exemplo Faturas") || sig.ClaimedTime == nil || !sig.ClaimedTime.Equal(at) {
					t.Fatalf("%s detached=%v: report %+v", kind, detached, sig)
				}
				if ts != nil && (sig.Timestamp == nil || !sig.Timestamp.Equal(at) || !strings.Contains(sig.TSA, "Selo Test TSA") || !sig.TimestampOK) {
					t.Fatalf("timestamp not reported: %+v", sig)
				}
			}
		}
	}
}

func TestTamperedIsInvalid(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	der, err := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: true}, signtest.TSAResponder(t, at))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(content)
	bad[len(bad)-2] ^= 0x20
	rep, err := cades.Verify(der, cades.VerifyOptions{Content: bad, Roots: s.Roots(), Now: at})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if rep.Valid() || sig.Status != cades.StatusInvalid || sig.DigestOK || !strings.Contains(strings.Join(sig.Problems, ";"), "changed after signing") {
		t.Fatalf("report %+v", sig)
	}
}

func TestUntrustedIsIndeterminate(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	der, _ := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain}, nil)
	rep, err := cades.Verify(der, cades.VerifyOptions{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if sig := rep.Signatures[0]; sig.Status != cades.StatusIndeterminate || !sig.SignatureOK || sig.ChainOK {
		t.Fatalf("report %+v", sig)
	}
}

// TestTimestampKeepsSignatureValidAfterExpiry: a B-T signature is checked at
// the timestamp's time, so it stays valid after the certificate expires; a
// B-B one does not.
func TestTimestampKeepsSignatureValidAfterExpiry(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	later := s.Cert.NotAfter.Add(24 * time.Hour)
	bt, _ := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain}, signtest.TSAResponder(t, at))
	bb, _ := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain}, nil)
	repT, _ := cades.Verify(bt, cades.VerifyOptions{Roots: s.Roots(), Now: later})
	repB, _ := cades.Verify(bb, cades.VerifyOptions{Roots: s.Roots(), Now: later})
	if !repT.Valid() {
		t.Fatalf("B-T after expiry: %+v", repT.Signatures[0])
	}
	if repB.Valid() {
		t.Fatalf("B-B after expiry is valid: %+v", repB.Signatures[0])
	}
}

// remoteKey only ever sees digests, like a CSC credential.
type remoteKey struct {
	key   crypto.Signer
	calls int
}

func (k *remoteKey) Public() crypto.PublicKey { return k.key.Public() }
func (k *remoteKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.calls++
	return k.key.Sign(r, digest, opts)
}

func TestTwoStepOverHTTP(t *testing.T) {
	r := signtest.TSAResponder(t, at)
	srv := httptest.NewServer(r)
	defer srv.Close()
	s := signtest.NewSigner(t, "ecdsa-p384")
	remote := &remoteKey{key: s.Key}
	p, err := cades.Prepare(content, cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := remote.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := cades.Finish(context.Background(), p, sig, &timestamp.Client{URL: srv.URL})
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	rep, err := cades.Verify(der, cades.VerifyOptions{Content: content, Roots: s.Roots(), Now: at})
	if err != nil || !rep.Valid() || rep.Signatures[0].Level != cades.LevelBT || remote.calls != 1 {
		t.Fatalf("err %v, report %+v, calls %d", err, rep.Signatures[0], remote.calls)
	}
}

// TestOpenSSLAcceptsBT: openssl cms -verify accepts B-T signatures (the
// timestamp is an unsigned attribute it carries along).
func TestOpenSSLAcceptsBT(t *testing.T) {
	openssl := signtest.OpenSSL(t)
	dir := t.TempDir()
	r := signtest.TSAResponder(t, at)
	for _, kind := range []string{"ecdsa-p256", "rsa-2048"} {
		s := signtest.NewSigner(t, kind)
		der, err := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: true}, r)
		if err != nil {
			t.Fatal(err)
		}
		p7s := filepath.Join(dir, kind+".p7s")
		in := filepath.Join(dir, "in.bin")
		os.WriteFile(p7s, der, 0o600)
		os.WriteFile(in, content, 0o600)
		root := signtest.WritePEM(t, dir, "root.pem", s.Root)
		out, err := signtest.Run(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", in,
			"-CAfile", root, "-attime", strconv.FormatInt(at.Unix(), 10), "-out", filepath.Join(dir, "out"))
		if err != nil || !strings.Contains(out, "Verification successful") {
			t.Fatalf("openssl cms -verify %s: %v\n%s", kind, err, out)
		}
	}
}

// TestVerifyWithStreamedDigests: a large detached file is hashed by the
// caller once per hash the signers use.
func TestVerifyWithStreamedDigests(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p384")
	der, err := cades.Sign(context.Background(), s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := cades.Hashes(der)
	if err != nil || len(hashes) != 1 || hashes[0] != crypto.SHA384 {
		t.Fatalf("hashes %v, %v", hashes, err)
	}
	digest := func(b []byte) map[crypto.Hash][]byte {
		h := crypto.SHA384.New()
		h.Write(b)
		return map[crypto.Hash][]byte{crypto.SHA384: h.Sum(nil)}
	}
	rep, err := cades.Verify(der, cades.VerifyOptions{ContentDigests: digest(content), Roots: s.Roots(), Now: at})
	if err != nil || !rep.Valid() {
		t.Fatalf("err %v report %+v", err, rep.Signatures[0])
	}
	rep, _ = cades.Verify(der, cades.VerifyOptions{ContentDigests: digest([]byte("other")), Roots: s.Roots(), Now: at})
	if rep.Valid() || rep.Signatures[0].Status != cades.StatusInvalid {
		t.Fatalf("other content: %+v", rep.Signatures[0])
	}
	// A digest under another hash than the signer's is no proof.
	rep, _ = cades.Verify(der, cades.VerifyOptions{ContentDigests: map[crypto.Hash][]byte{crypto.SHA256: make([]byte, 32)}, Roots: s.Roots(), Now: at})
	if rep.Valid() {
		t.Fatal("verified without a digest under the signer's hash")
	}
}
