package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var content = []byte("Fatura FT 2026/0001\nTotal: 123,45 EUR\n")

type keyCase struct {
	kind string
	hash crypto.Hash
	pss  bool
}

var keyCases = []keyCase{
	{"ecdsa-p256", 0, false},
	{"ecdsa-p256", crypto.SHA512, false},
	{"ecdsa-p384", 0, false},
	{"rsa-2048", crypto.SHA256, false},
	{"rsa-2048", crypto.SHA384, true},
}

func (k keyCase) name() string {
	n := k.kind
	if k.hash != 0 {
		n += "-" + strings.ReplaceAll(k.hash.String(), "-", "")
	}
	if k.pss {
		n += "-pss"
	}
	return n
}

func sign(t *testing.T, s *signtest.Signer, k keyCase, detached bool) []byte {
	t.Helper()
	sd, err := cms.Sign(s.Key, content, cms.Options{
		Certificate: s.Cert, Chain: s.Chain, Hash: k.hash, PSS: k.pss, Detached: detached,
		SigningTime: pkitest.Now.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	der, err := sd.Bytes()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return der
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, k := range keyCases {
		s := signtest.NewSigner(t, k.kind)
		for _, detached := range []bool{true, false} {
			t.Run(k.name()+map[bool]string{true: "-detached", false: "-enveloping"}[detached], func(t *testing.T) {
				der := sign(t, s, k, detached)
				sd, err := cms.Parse(der)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if sd.Detached != detached {
					t.Fatalf("detached = %v, want %v", sd.Detached, detached)
				}
				opts := cms.VerifyOptions{Roots: s.Roots(), Time: pkitest.Now.Add(time.Hour)}
				if detached {
					opts.Content = content
				} else if !bytes.Equal(sd.Content, content) {
					t.Fatalf("enveloped content differs")
				}
				reports, err := sd.Verify(opts)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				r := reports[0]
				if !r.DigestOK || !r.SignatureOK || !r.CertificateBound || !r.ChainOK || !r.Certificate.Equal(s.Cert) {
					t.Fatalf("report = %+v", r)
				}
				if got := sd.Signers[0].SigningTime(); !got.Equal(pkitest.Now.Add(time.Hour)) {
					t.Fatalf("signing time = %v", got)
				}
				// A re-encoded parsed message is byte for byte the same.
				again, err := sd.Bytes()
				if err != nil || !bytes.Equal(again, der) {
					t.Fatalf("re-encoding changed the message (err %v)", err)
				}
			})
		}
	}
}

func TestTamperedContentFails(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	der := sign(t, s, keyCase{kind: "ecdsa-p256"}, true)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(content)
	tampered[5] ^= 1
	reports, err := sd.Verify(cms.VerifyOptions{Content: tampered, Roots: s.Roots(), Time: pkitest.Now})
	if err == nil || !strings.Contains(selo.ErrorMessage(err), "changed after signing") {
		t.Fatalf("err = %v, want content changed", err)
	}
	if reports[0].DigestOK || reports[0].SignatureOK {
		t.Fatalf("report claims checks passed: %+v", reports[0])
	}

	// Enveloping: flip a byte of the content inside the message.
	env := sign(t, s, keyCase{kind: "ecdsa-p256"}, false)
	i := bytes.Index(env, content)
	env[i+5] ^= 1
	sd, err = cms.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(cms.VerifyOptions{}); err == nil || !strings.Contains(selo.ErrorMessage(err), "changed after signing") {
		t.Fatalf("err = %v, want content changed", err)
	}
}

func TestTamperedSignatureAndAttributes(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	der := sign(t, s, keyCase{kind: "ecdsa-p256"}, true)
	sd, _ := cms.Parse(der)
	sd.Signers[0].Signature[10] ^= 1
	if _, err := sd.Verify(cms.VerifyOptions{Content: content}); err == nil || !strings.Contains(selo.ErrorMessage(err), "not valid") {
		t.Fatalf("err = %v, want bad signature", err)
	}
	// A changed signing time (inside the signed attributes) breaks the signature.
	der = sign(t, s, keyCase{kind: "ecdsa-p256"}, true)
	i := bytes.Index(der, []byte("261124110000Z"))
	if i < 0 {
		t.Fatal("signing time not found in message")
	}
	der[i+1] = '7' // 2027
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(cms.VerifyOptions{Content: content}); err == nil {
		t.Fatal("a changed signed attribute verified")
	}
}

func TestUntrustedRootFails(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	other := signtest.NewSigner(t, "ecdsa-p256")
	der := sign(t, s, keyCase{kind: "ecdsa-p256"}, true)
	sd, _ := cms.Parse(der)
	// The same hierarchy root trusts it; an empty pool does not.
	if _, err := sd.Verify(cms.VerifyOptions{Content: content, Roots: other.Roots(), Time: pkitest.Now}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	reports, err := sd.Verify(cms.VerifyOptions{Content: content, Roots: x509NewPool(), Time: pkitest.Now})
	if err == nil || reports[0].ChainOK || !reports[0].SignatureOK {
		t.Fatalf("err = %v, report %+v", err, reports[0])
	}
	// After the certificate expired the chain is not valid.
	if _, err := sd.Verify(cms.VerifyOptions{Content: content, Roots: s.Roots(), Time: s.Cert.NotAfter.Add(time.Hour)}); err == nil {
		t.Fatal("chain valid after expiry")
	}
}

// digestOnlySigner is a remote key: it sees the digest and nothing else.
type digestOnlySigner struct {
	key  crypto.Signer
	seen [][]byte
	raw  bool // answer ECDSA as raw r||s, as some remote services do
}

func (d *digestOnlySigner) Public() crypto.PublicKey { return d.key.Public() }
func (d *digestOnlySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	d.seen = append(d.seen, bytes.Clone(digest))
	sig, err := d.key.Sign(r, digest, opts)
	if err != nil || !d.raw {
		return sig, err
	}
	var v struct{ R, S *big.Int }
	if _, err := asn1Unmarshal(sig, &v); err != nil {
		return nil, err
	}
	size := (d.key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}

func TestTwoStepSigning(t *testing.T) {
	for _, raw := range []bool{false, true} {
		s := signtest.NewSigner(t, "ecdsa-p384")
		remote := &digestOnlySigner{key: s.Key, raw: raw}
		// Step 1: prepare from the file's digest only (the file stays home).
		p, err := cms.PrepareDigest(sha512_384(content), cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: true})
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
		if p.Hash() != crypto.SHA384 {
			t.Fatalf("hash for P-384 = %v", p.Hash())
		}
		want := p.Hash().New()
		want.Write(p.SignedAttributes())
		if !bytes.Equal(p.Digest(), want.Sum(nil)) {
			t.Fatal("Digest is not the hash of SignedAttributes")
		}
		// Step 2: the remote key signs the digest; step 3: inject it.
		sig, err := remote.Sign(rand.Reader, p.Digest(), p.SignerOpts())
		if err != nil {
			t.Fatal(err)
		}
		if len(remote.seen) != 1 || !bytes.Equal(remote.seen[0], p.Digest()) {
			t.Fatal("the remote signer did not get exactly the digest")
		}
		sd, err := p.Finish(sig)
		if err != nil {
			t.Fatalf("finish (raw=%v): %v", raw, err)
		}
		der, _ := sd.Bytes()
		sd, err = cms.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sd.Verify(cms.VerifyOptions{Content: content, Roots: s.Roots(), Time: pkitest.Now}); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
}

func TestFinishRefusesWrongSignature(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	other := pkitest.NewKey(t, "ecdsa-p256")
	p, err := cms.Prepare(content, cms.Options{Certificate: s.Cert})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := other.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if _, err := p.Finish(sig); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	if _, err := p.Finish([]byte("garbage")); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
}

func TestOptionsRefused(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	cases := map[string]cms.Options{
		"no certificate": {},
		"sha1":           {Certificate: s.Cert, Hash: crypto.SHA1},
		"pss with ecdsa": {Certificate: s.Cert, PSS: true},
		"repeated attr":  {Certificate: s.Cert, ExtraSignedAttributes: []cms.Attribute{{Type: cms.OIDAttributeMessageDigest, Values: [][]byte{{4, 0}}}}},
	}
	for name, o := range cases {
		if _, err := cms.Prepare(content, o); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
	if _, err := cms.PrepareDigest([]byte{1, 2, 3}, cms.Options{Certificate: s.Cert, Detached: true}); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("short digest: err = %v", err)
	}
	if _, err := cms.PrepareDigest(make([]byte, 32), cms.Options{Certificate: s.Cert}); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("digest without detached: err = %v", err)
	}
}

func TestParseLimitsAndGarbage(t *testing.T) {
	if _, err := cms.Parse(make([]byte, cms.MaxMessageSize+1)); selo.ErrorCode(err) != selo.ETOOLARGE {
		t.Fatalf("err = %v, want ETOOLARGE", err)
	}
	for _, in := range [][]byte{nil, {0x30}, []byte("not cms at all"), {0x30, 0x03, 0x06, 0x01, 0x00}} {
		if _, err := cms.Parse(in); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("Parse(%x) err = %v, want EINVALID", in, err)
		}
	}
}

func TestDetachedNeedsContent(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	sd, _ := cms.Parse(sign(t, s, keyCase{kind: "ecdsa-p256"}, true))
	if _, err := sd.Verify(cms.VerifyOptions{}); err == nil || !strings.Contains(selo.ErrorMessage(err), "detached") {
		t.Fatalf("err = %v", err)
	}
	env, _ := cms.Parse(sign(t, s, keyCase{kind: "ecdsa-p256"}, false))
	if _, err := env.Verify(cms.VerifyOptions{Content: content}); err == nil {
		t.Fatal("content given for an enveloping signature was accepted")
	}
}

// TestOpenSSLVerifies is the peer check: openssl cms -verify accepts our
// detached and enveloping signatures for ECDSA and RSA keys, and refuses
// them when a content byte changes.
func TestOpenSSLVerifies(t *testing.T) {
	openssl := signtest.OpenSSL(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "invoice.txt")
	tampered := filepath.Join(dir, "tampered.txt")
	os.WriteFile(in, content, 0o600)
	bad := bytes.Clone(content)
	bad[0] ^= 1
	os.WriteFile(tampered, bad, 0o600)
	for _, k := range keyCases {
		s := signtest.NewSigner(t, k.kind)
		root := signtest.WritePEM(t, dir, "root.pem", s.Root)
		chain := signtest.WritePEM(t, dir, "chain.pem", s.Chain...)
		for _, detached := range []bool{true, false} {
			name := k.name() + map[bool]string{true: "-detached", false: "-enveloping"}[detached]
			t.Run(name, func(t *testing.T) {
				p7s := filepath.Join(dir, name+".p7s")
				os.WriteFile(p7s, sign(t, s, k, detached), 0o600)
				args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-CAfile", root, "-certfile", chain,
					"-attime", strconv.FormatInt(pkitest.Now.Add(time.Hour).Unix(), 10), "-out", filepath.Join(dir, "out")}
				if detached {
					args = append(args, "-content", in)
				}
				if out, err := signtest.Run(openssl, args...); err != nil || !strings.Contains(out, "Verification successful") {
					t.Fatalf("openssl cms -verify: %v\n%s", err, out)
				}
				if detached {
					args[len(args)-1] = tampered
					if out, err := signtest.Run(openssl, args...); err == nil {
						t.Fatalf("openssl accepted tampered content:\n%s", out)
					}
				} else {
					der, _ := os.ReadFile(p7s)
					i := bytes.Index(der, content)
					der[i] ^= 1
					os.WriteFile(p7s, der, 0o600)
					if out, err := signtest.Run(openssl, args...); err == nil {
						t.Fatalf("openssl accepted tampered enveloped content:\n%s", out)
					}
				}
			})
		}
	}
}

// TestOpenSSLSignaturesVerify reads what openssl cms -sign writes.
func TestOpenSSLSignaturesVerify(t *testing.T) {
	openssl := signtest.OpenSSL(t)
	dir := t.TempDir()
	s := signtest.NewSigner(t, "ecdsa-p256")
	keyDER, err := x509MarshalPKCS8(s.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "key.pem")
	os.WriteFile(keyPath, pemEncode("PRIVATE KEY", keyDER), 0o600)
	cert := signtest.WritePEM(t, dir, "cert.pem", s.Cert)
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, content, 0o600)
	out := filepath.Join(dir, "out.p7s")
	if o, err := signtest.Run(openssl, "cms", "-sign", "-binary", "-cades", "-md", "sha256", "-outform", "DER", "-in", in, "-signer", cert, "-inkey", keyPath, "-out", out); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, o)
	}
	der, _ := os.ReadFile(out)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("parse openssl signature: %v", err)
	}
	if _, err := sd.Verify(cms.VerifyOptions{Content: content, Intermediates: s.Chain, Roots: s.Roots(), Time: pkitest.Now}); err != nil {
		t.Fatalf("verify openssl signature: %v", err)
	}
}
