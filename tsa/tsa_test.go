package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/pki/timestamp"
	"github.com/selo-qtsp/selo/tsa"
)

var data = []byte("contrato de prestação de serviços\n")

func newResponder(t testing.TB, mod func(*tsa.Config)) (*tsa.Responder, *signtest.Signer) {
	t.Helper()
	s := signtest.NewTSACertificate(t)
	cfg := tsa.Config{Certificate: s.Cert, Chain: s.Chain, Signer: s.Key, Clock: signtest.FixedClock(pkitest.Now.Add(time.Hour))}
	if mod != nil {
		mod(&cfg)
	}
	r, err := tsa.NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func request(t testing.TB, r *timestamp.Request) []byte {
	t.Helper()
	der, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func digest(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func TestGranted(t *testing.T) {
	r, s := newResponder(t, nil)
	for _, certReq := range []bool{true, false} {
		nonce := big.NewInt(0x1234567890)
		resp, status := r.Respond(context.Background(), request(t, &timestamp.Request{Hash: crypto.SHA256, HashedMessage: digest(data), Nonce: nonce, CertReq: certReq}))
		if status != timestamp.StatusGranted {
			t.Fatalf("status = %v", status)
		}
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil || parsed.Status != timestamp.StatusGranted || parsed.Token == nil {
			t.Fatalf("parse response: %v %+v", err, parsed)
		}
		tok, err := timestamp.ParseToken(parsed.Token)
		if err != nil {
			t.Fatal(err)
		}
		in := tok.Info
		if in.Nonce.Cmp(nonce) != 0 || in.Accuracy != time.Second || !in.Policy.Equal(tsa.DefaultPolicy) || !in.GenTime.Equal(pkitest.Now.Add(time.Hour)) {
			t.Fatalf("info = %+v", in)
		}
		if got := len(tok.SignedData.Certificates); (got > 0) != certReq {
			t.Fatalf("certReq=%v but the token carries %d certificates", certReq, got)
		}
		opts := timestamp.VerifyOptions{Roots: s.Roots()}
		if !certReq {
			opts.Certificates = append([]*x509.Certificate{s.Cert}, s.Chain...)
		}
		if _, err := tok.Verify(crypto.SHA256, digest(data), opts); err != nil {
			t.Fatalf("verify token: %v", err)
		}
		if _, err := tok.Verify(crypto.SHA256, digest([]byte("other")), opts); err == nil {
			t.Fatal("token verified over other data")
		}
	}
}

func TestSerialsUnique(t *testing.T) {
	r, _ := newResponder(t, nil)
	seen := map[string]bool{}
	req := request(t, &timestamp.Request{Hash: crypto.SHA256, HashedMessage: digest(data)})
	for i := 0; i < 200; i++ {
		resp, _ := r.Respond(context.Background(), req)
		p, _ := timestamp.ParseResponse(resp)
		tok, err := timestamp.ParseToken(p.Token)
		if err != nil {
			t.Fatal(err)
		}
		s := tok.Info.SerialNumber
		if seen[s.String()] || s.BitLen() < 120 {
			t.Fatalf("serial %x repeated or short", s)
		}
		seen[s.String()] = true
	}
}

func TestRejections(t *testing.T) {
	r, _ := newResponder(t, func(c *tsa.Config) { c.Policy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1} })
	// A SHA-1 imprint (1.3.14.3.2.26) with a 20-byte digest.
	type algorithm struct {
		OID  asn1.ObjectIdentifier
		Null asn1.RawValue
	}
	type imprint struct {
		Alg    algorithm
		Digest []byte
	}
	sha1Req, _ := asn1.Marshal(struct {
		Version int
		Imprint imprint
	}{1, imprint{algorithm{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, asn1.NullRawValue}, make([]byte, 20)}})
	short := request(t, &timestamp.Request{Hash: crypto.SHA256, HashedMessage: []byte{1, 2, 3}})
	otherPolicy := request(t, &timestamp.Request{Hash: crypto.SHA256, HashedMessage: digest(data), Policy: asn1.ObjectIdentifier{1, 2, 3}})
	cases := []struct {
		name string
		der  []byte
		want timestamp.FailureInfo
	}{
		{"sha1", sha1Req, timestamp.FailBadAlg},
		{"short digest", short, timestamp.FailBadDataFormat},
		{"garbage", []byte("GET / HTTP/1.1"), timestamp.FailBadDataFormat},
		{"empty", nil, timestamp.FailBadDataFormat},
		{"too large", bytes.Repeat([]byte{0x30}, timestamp.MaxRequestSize+1), timestamp.FailBadDataFormat},
		{"other policy", otherPolicy, timestamp.FailUnacceptedPolicy},
	}
	for _, tc := range cases {
		resp, status := r.Respond(context.Background(), tc.der)
		p, err := timestamp.ParseResponse(resp)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if status != timestamp.StatusRejection || p.Status != timestamp.StatusRejection || p.Fail != tc.want || p.Token != nil {
			t.Errorf("%s: status %v fail %v token %v, want rejection %v", tc.name, p.Status, p.Fail, p.Token != nil, tc.want)
		}
	}
}

func TestCertificateOutsideValidity(t *testing.T) {
	r, _ := newResponder(t, func(c *tsa.Config) { c.Clock = signtest.FixedClock(pkitest.Now.AddDate(10, 0, 0)) })
	resp, status := r.Respond(context.Background(), request(t, &timestamp.Request{Hash: crypto.SHA256, HashedMessage: digest(data)}))
	p, _ := timestamp.ParseResponse(resp)
	if status != timestamp.StatusRejection || p.Fail != timestamp.FailSystemFailure {
		t.Fatalf("status %v fail %v", status, p.Fail)
	}
}

func TestNewResponderRefusesNonTSACertificate(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	if _, err := tsa.NewResponder(tsa.Config{Certificate: s.Cert, Signer: s.Key}); err == nil {
		t.Fatal("a certificate without timeStamping EKU was accepted")
	}
	ts := signtest.NewTSACertificate(t)
	if _, err := tsa.NewResponder(tsa.Config{Certificate: ts.Cert, Signer: s.Key}); err == nil {
		t.Fatal("a key that does not match the certificate was accepted")
	}
	var critical bool
	for _, e := range ts.Cert.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Fatal("the TSA certificate's EKU is not critical")
	}
}

// TestOpenSSL is the peer check: openssl ts -query makes the request, the
// responder answers, and openssl ts -verify accepts the reply over the data.
func TestOpenSSL(t *testing.T) {
	openssl := signtest.OpenSSL(t)
	r, s := newResponder(t, func(c *tsa.Config) { c.Clock = nil }) // real time: openssl checks the chain now
	dir := t.TempDir()
	file := filepath.Join(dir, "data.txt")
	os.WriteFile(file, data, 0o600)
	root := signtest.WritePEM(t, dir, "root.pem", s.Root)
	chain := signtest.WritePEM(t, dir, "tsa-chain.pem", append([]*x509.Certificate{s.Cert}, s.Chain...)...)
	for _, alg := range []string{"sha256", "sha384", "sha512"} {
		for _, cert := range []bool{true, false} {
			query := filepath.Join(dir, alg+".tsq")
			args := []string{"ts", "-query", "-data", file, "-" + alg, "-out", query}
			if cert {
				args = append(args, "-cert")
			}
			if out, err := signtest.Run(openssl, args...); err != nil {
				t.Fatalf("openssl ts -query: %v\n%s", err, out)
			}
			q, _ := os.ReadFile(query)
			resp, status := r.Respond(context.Background(), q)
			if status != timestamp.StatusGranted {
				t.Fatalf("%s: status %v", alg, status)
			}
			tsr := filepath.Join(dir, alg+".tsr")
			os.WriteFile(tsr, resp, 0o600)
			out, err := signtest.Run(openssl, "ts", "-verify", "-data", file, "-in", tsr, "-CAfile", root, "-untrusted", chain)
			if err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("openssl ts -verify (%s, cert=%v): %v\n%s", alg, cert, err, out)
			}
			// The query's nonce is checked too (-queryfile).
			out, err = signtest.Run(openssl, "ts", "-verify", "-queryfile", query, "-in", tsr, "-CAfile", root, "-untrusted", chain)
			if err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("openssl ts -verify -queryfile: %v\n%s", err, out)
			}
			other := filepath.Join(dir, "other.txt")
			os.WriteFile(other, []byte("other data"), 0o600)
			if out, err := signtest.Run(openssl, "ts", "-verify", "-data", other, "-in", tsr, "-CAfile", root, "-untrusted", chain); err == nil {
				t.Fatalf("openssl verified the token over other data:\n%s", out)
			}
		}
	}
}
