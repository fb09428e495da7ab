package pki_test

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var (
	oidSHA1        = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidMD5         = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidOCSPNonce   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidOCSPPrefSig = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 8}
)

// testCertID is one CertID of a hand-built request.
type testCertID struct {
	alg               []byte // DER AlgorithmIdentifier
	nameHash, keyHash []byte
	serial            *big.Int
}

type testExtension struct {
	oid      asn1.ObjectIdentifier
	critical bool
	value    []byte
}

// testRequest builds OCSP requests with any of RFC 6960's optional parts.
type testRequest struct {
	version       *int64
	requestorName bool
	ids           []testCertID
	singleExt     bool
	extensions    []testExtension
	rawExtensions []byte // replaces extensions when set
	signed        bool
	afterTBS      []byte
}

func algID(oid asn1.ObjectIdentifier, nullParams bool) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
	return b.BytesOrPanic()
}

func certIDFor(t testing.TB, issuer *x509.Certificate, serial *big.Int, h crypto.Hash) testCertID {
	t.Helper()
	id, err := pki.NewOCSPCertID(issuer, serial, h)
	if err != nil {
		t.Fatal(err)
	}
	oid := oidSHA1
	if h == crypto.SHA256 {
		oid = oidSHA256
	}
	return testCertID{alg: algID(oid, true), nameHash: id.IssuerNameHash, keyHash: id.IssuerKeyHash, serial: serial}
}

func nonceExtension(nonce []byte) testExtension {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1OctetString(nonce)
	return testExtension{oid: oidOCSPNonce, value: b.BytesOrPanic()}
}

func (r testRequest) der() []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if r.version != nil {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(*r.version) })
			}
			if r.requestorName {
				// [1] EXPLICIT GeneralName: rfc822Name [1] IA5String.
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte("client@example.pt")) })
				})
			}
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, id := range r.ids {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(id.alg)
							b.AddASN1OctetString(id.nameHash)
							b.AddASN1OctetString(id.keyHash)
							b.AddASN1BigInt(id.serial)
						})
						if r.singleExt {
							b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
										b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 7})
										b.AddASN1OctetString([]byte{0x30, 0x00})
									})
								})
							})
						}
					})
				}
			})
			if r.rawExtensions != nil {
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(r.rawExtensions) })
			} else if len(r.extensions) > 0 {
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, e := range r.extensions {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1ObjectIdentifier(e.oid)
								if e.critical {
									b.AddASN1Boolean(true)
								}
								b.AddASN1OctetString(e.value)
							})
						}
					})
				})
			}
		})
		if r.signed {
			// [0] EXPLICIT Signature: algorithm, a signature nobody checks, certs.
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(algID(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, false))
					b.AddASN1BitString([]byte{1, 2, 3, 4})
				})
			})
		}
		b.AddBytes(r.afterTBS)
	})
	return b.BytesOrPanic()
}

// TestParseOCSPRequestXCrypto parses what golang.org/x/crypto/ocsp makes with
// each hash it supports.
func TestParseOCSPRequestXCrypto(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	leaf := issue(t, h, "qualified-seal", "ecdsa-p256").Cert
	for _, hash := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		der, err := ocsp.CreateRequest(leaf, h.Issuing.Cert, &ocsp.RequestOptions{Hash: hash})
		if err != nil {
			t.Fatal(err)
		}
		req, err := pki.ParseOCSPRequest(der)
		if err != nil {
			t.Fatalf("%v: %v", hash, err)
		}
		if len(req.CertIDs) != 1 || req.Nonce != nil {
			t.Fatalf("%v: %+v", hash, req)
		}
		id := req.CertIDs[0]
		if id.HashAlgorithm != hash || id.Serial.Cmp(leaf.SerialNumber) != 0 {
			t.Errorf("%v: cert id %+v", hash, id)
		}
		if !id.MatchesIssuer(h.Issuing.Cert) || id.MatchesIssuer(h.Root.Cert) || id.MatchesIssuer(h.TLS.Cert) {
			t.Errorf("%v: MatchesIssuer wrong", hash)
		}
		want, err := pki.NewOCSPCertID(h.Issuing.Cert, leaf.SerialNumber, hash)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want.IssuerNameHash, id.IssuerNameHash) || !bytes.Equal(want.IssuerKeyHash, id.IssuerKeyHash) {
			t.Errorf("%v: NewOCSPCertID disagrees with the parsed request", hash)
		}
	}
}

// TestParseOCSPRequestOpenSSLFixtures parses requests OpenSSL 3.0 wrote, kept
// in testdata/ocsp. They were made once against a throwaway CA
// (openssl-ca.pem) and two leaves of it:
//
//	openssl ocsp -issuer ca.pem -cert leaf.pem -reqout openssl-nonce-sha1.der
//	openssl ocsp -issuer ca.pem -sha256 -cert leaf.pem -reqout openssl-nonce-sha256.der
//	openssl ocsp -issuer ca.pem -cert leaf.pem -no_nonce -reqout openssl-no-nonce.der
//	openssl ocsp -issuer ca.pem -cert leaf.pem -cert leaf2.pem -reqout openssl-two-certs.der
//	openssl ocsp -issuer ca.pem -cert leaf.pem -signer leaf2.pem -signkey l2.key -reqout openssl-signed.der
//	openssl ocsp -issuer ca.pem -sha384 -cert leaf.pem -sha512 -cert leaf2.pem -no_nonce -reqout openssl-sha384-sha512.der
func TestParseOCSPRequestOpenSSLFixtures(t *testing.T) {
	block, _ := pem.Decode(fixture(t, "ocsp/openssl-ca.pem"))
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	const leaf1, leaf2 = "6deeda633c0b5046d2b81a0589202c8fd2c91262", "40d2d3f0518610801b1ee6c5e8cdf2d98b939876"
	for _, tc := range []struct {
		file    string
		hashes  []crypto.Hash
		serials []string
		nonce   bool
	}{
		{"openssl-nonce-sha1.der", []crypto.Hash{crypto.SHA1}, []string{leaf1}, true},
		{"openssl-nonce-sha256.der", []crypto.Hash{crypto.SHA256}, []string{leaf1}, true},
		{"openssl-no-nonce.der", []crypto.Hash{crypto.SHA1}, []string{leaf1}, false},
		{"openssl-two-certs.der", []crypto.Hash{crypto.SHA1, crypto.SHA1}, []string{leaf1, leaf2}, true},
		{"openssl-signed.der", []crypto.Hash{crypto.SHA1}, []string{leaf1}, true},
		{"openssl-sha384-sha512.der", []crypto.Hash{crypto.SHA384, crypto.SHA512}, []string{leaf1, leaf2}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			req, err := pki.ParseOCSPRequest(fixture(t, "ocsp/"+tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(req.CertIDs) != len(tc.serials) {
				t.Fatalf("%d cert ids, want %d", len(req.CertIDs), len(tc.serials))
			}
			for i, id := range req.CertIDs {
				if id.HashAlgorithm != tc.hashes[i] || pki.SerialHex(id.Serial) != tc.serials[i] || !id.MatchesIssuer(ca) {
					t.Errorf("cert id %d: %v %x, issuer match %v", i, id.HashAlgorithm, id.Serial, id.MatchesIssuer(ca))
				}
			}
			// OpenSSL sends a 16-byte nonce wrapped in an OCTET STRING.
			if tc.nonce != (req.Nonce != nil) || (tc.nonce && (len(req.Nonce) != 18 || req.Nonce[0] != 0x04 || req.Nonce[1] != 16)) {
				t.Errorf("nonce %x", req.Nonce)
			}
		})
	}
}

func TestParseOCSPRequest(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	a := certIDFor(t, h.Issuing.Cert, big.NewInt(0x1234), crypto.SHA1)
	b := certIDFor(t, h.TLS.Cert, mustSerial(t), crypto.SHA256)
	absent := a
	absent.alg = algID(oidSHA1, false)
	zero := int64(0)
	nonce32 := bytes.Repeat([]byte{0xab}, 32)
	req := testRequest{
		version: &zero, requestorName: true, ids: []testCertID{a, b, absent}, singleExt: true, signed: true,
		extensions: []testExtension{{oid: oidOCSPPrefSig, value: []byte{0x30, 0x00}}, nonceExtension(nonce32)},
	}
	got, err := pki.ParseOCSPRequest(req.der())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.CertIDs) != 3 {
		t.Fatalf("%d cert ids", len(got.CertIDs))
	}
	if !got.CertIDs[0].MatchesIssuer(h.Issuing.Cert) || got.CertIDs[0].Serial.Int64() != 0x1234 || got.CertIDs[0].HashAlgorithm != crypto.SHA1 {
		t.Errorf("first cert id %+v", got.CertIDs[0])
	}
	if !got.CertIDs[1].MatchesIssuer(h.TLS.Cert) || got.CertIDs[1].Serial.Cmp(b.serial) != 0 || got.CertIDs[1].HashAlgorithm != crypto.SHA256 {
		t.Errorf("second cert id %+v", got.CertIDs[1])
	}
	if !got.CertIDs[2].MatchesIssuer(h.Issuing.Cert) {
		t.Error("cert id without hash parameters does not match")
	}
	if want := nonceExtension(nonce32).value; !bytes.Equal(got.Nonce, want) {
		t.Errorf("nonce %x, want %x", got.Nonce, want)
	}

	// Nonces of 1 and 128 octets, and the raw form of clients before RFC 8954.
	for _, ext := range []testExtension{nonceExtension([]byte{1}), nonceExtension(bytes.Repeat([]byte{1}, 128)), {oid: oidOCSPNonce, value: bytes.Repeat([]byte{7}, 16)}} {
		der := testRequest{ids: []testCertID{a}, extensions: []testExtension{ext}}.der()
		got, err := pki.ParseOCSPRequest(der)
		if err != nil || !bytes.Equal(got.Nonce, ext.value) {
			t.Errorf("nonce %x: %v, got %x", ext.value, err, got)
		}
	}
	// The result does not alias the request buffer.
	der := testRequest{ids: []testCertID{a}, extensions: []testExtension{nonceExtension(nonce32)}}.der()
	got, err = pki.ParseOCSPRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	clear(der)
	if !bytes.Equal(got.CertIDs[0].IssuerKeyHash, a.keyHash) || got.Nonce[2] != 0xab {
		t.Error("parsed request aliases the input")
	}
}

func TestParseOCSPRequestErrors(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	good := certIDFor(t, h.Issuing.Cert, big.NewInt(99), crypto.SHA1)
	valid := testRequest{ids: []testCertID{good}}.der()
	one := int64(1)
	with := func(f func(*testCertID)) testCertID {
		id := good
		f(&id)
		return id
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"too large", append(valid, make([]byte, pki.MaxOCSPRequestSize)...), "larger than 10240 bytes"},
		{"not der", []byte("GET / HTTP/1.1\r\n"), "not a der sequence"},
		{"truncated", valid[:len(valid)-1], "not a der sequence"},
		{"trailing data", append(bytes.Clone(valid), 0), "trailing data"},
		{"indefinite length", append([]byte{0x30, 0x80}, append(valid[2:], 0, 0)...), "not a der sequence"},
		{"no certificates", testRequest{}.der(), "asks about no certificate"},
		{"version 2", testRequest{version: &one, ids: []testCertID{good}}.der(), "version 2 is not supported"},
		{"md5", testRequest{ids: []testCertID{with(func(id *testCertID) { id.alg = algID(oidMD5, true) })}}.der(), "hash algorithm 1.2.840.113549.2.5 is not supported"},
		{"bad parameters", testRequest{ids: []testCertID{with(func(id *testCertID) {
			id.alg = []byte{0x30, 0x0a, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x02, 0x01, 0x05}
		})}}.der(), "unexpected parameters"},
		{"short hash", testRequest{ids: []testCertID{with(func(id *testCertID) { id.keyHash = id.keyHash[:19] })}}.der(), "not 20-byte"},
		{"sha-256 with sha-1 digests", testRequest{ids: []testCertID{with(func(id *testCertID) { id.alg = algID(oidSHA256, true) })}}.der(), "not 32-byte"},
		{"second bad", testRequest{ids: []testCertID{good, with(func(id *testCertID) { id.nameHash = nil })}}.der(), "ocsp request 2:"},
		{"empty nonce", testRequest{ids: []testCertID{good}, extensions: []testExtension{nonceExtension(nil)}}.der(), "nonce of 0 octets"},
		{"long nonce", testRequest{ids: []testCertID{good}, extensions: []testExtension{nonceExtension(make([]byte, 129))}}.der(), "nonce of 129 octets"},
		{"long raw nonce", testRequest{ids: []testCertID{good}, extensions: []testExtension{{oid: oidOCSPNonce, value: make([]byte, 129)}}}.der(), "nonce of 129 octets"},
		{"two nonces", testRequest{ids: []testCertID{good}, extensions: []testExtension{nonceExtension([]byte{1}), nonceExtension([]byte{2})}}.der(), "two nonces"},
		{"unknown critical extension", testRequest{ids: []testCertID{good}, extensions: []testExtension{{oid: oidOCSPPrefSig, critical: true, value: []byte{0x30, 0}}}}.der(), "unknown critical extension 1.3.6.1.5.5.7.48.1.8"},
		{"extensions not a sequence", testRequest{ids: []testCertID{good}, rawExtensions: []byte{0x04, 0x00}}.der(), "requestExtensions"},
		{"data after signature", testRequest{ids: []testCertID{good}, signed: true, afterTBS: []byte{0x05, 0x00}}.der(), "after tbsRequest"},
		{"data after tbs", testRequest{ids: []testCertID{good}, afterTBS: []byte{0x05, 0x00}}.der(), "after tbsRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.ParseOCSPRequest(tc.der)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

// FuzzParseOCSPRequest feeds untrusted bytes to the OCSP request parser: it
// must never panic, refusals are EINVALID, an accepted request has sound
// CertIDs, and where golang.org/x/crypto/ocsp also accepts the bytes, both
// read the same first CertID.
func FuzzParseOCSPRequest(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "ocsp", "*.der"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed requests in testdata/ocsp: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Requests for a certificate of the pkitest hierarchy (SHA-1 to SHA-512
	// CertIDs, and a signed one with two CertIDs, a nonce and extensions)
	// are files in testdata/fuzz/FuzzParseOCSPRequest: building that
	// hierarchy here (the zlint registry, CA keys) took 3 s of CI's 10 s in
	// every fuzz process.
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := pki.ParseOCSPRequest(data)
		if err != nil {
			if selo.ErrorCode(err) != selo.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			if strings.Contains(selo.ErrorMessage(err), "\n") {
				t.Fatalf("multi-line message %q", selo.ErrorMessage(err))
			}
			return
		}
		if len(req.CertIDs) == 0 {
			t.Fatal("accepted a request without cert ids")
		}
		for _, id := range req.CertIDs {
			if id.Serial == nil || len(id.IssuerNameHash) != id.HashAlgorithm.Size() || len(id.IssuerKeyHash) != id.HashAlgorithm.Size() {
				t.Fatalf("accepted an unsound cert id %+v", id)
			}
		}
		if req.Nonce != nil && (len(req.Nonce) == 0 || len(req.Nonce) > 130) {
			t.Fatalf("accepted a nonce of %d bytes", len(req.Nonce))
		}
		if theirs, err := ocsp.ParseRequest(data); err == nil {
			ours := req.CertIDs[0]
			if ours.Serial.Cmp(theirs.SerialNumber) != 0 || ours.HashAlgorithm != theirs.HashAlgorithm ||
				!bytes.Equal(ours.IssuerNameHash, theirs.IssuerNameHash) || !bytes.Equal(ours.IssuerKeyHash, theirs.IssuerKeyHash) {
				t.Fatalf("x/crypto/ocsp reads the first cert id differently: ours %+v, theirs %+v", ours, theirs)
			}
		}
	})
}

// responseNonce returns the extnValue of the nonce in an OCSP response's
// responseExtensions, or nil.
func responseNonce(t *testing.T, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var resp, wrapped, rb, basicOctets, basic, data cryptobyte.String
	var status int
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !resp.ReadASN1Enum(&status) || !resp.ReadASN1(&wrapped, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!wrapped.ReadASN1(&rb, cbasn1.SEQUENCE) || !rb.SkipASN1(cbasn1.OBJECT_IDENTIFIER) || !rb.ReadASN1(&basicOctets, cbasn1.OCTET_STRING) ||
		!basicOctets.ReadASN1(&basic, cbasn1.SEQUENCE) || !basic.ReadASN1(&data, cbasn1.SEQUENCE) {
		t.Fatal("malformed ocsp response")
	}
	var tag cbasn1.Tag
	var exts cryptobyte.String
	// version [0] (absent), responderID, producedAt, responses, then [1] extensions.
	if !data.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !data.ReadAnyASN1(&exts, &tag) || tag != cbasn1.Tag(2).Constructed().ContextSpecific() ||
		!data.SkipASN1(cbasn1.GeneralizedTime) || !data.SkipASN1(cbasn1.SEQUENCE) {
		t.Fatal("malformed ocsp response data (or responder not by key)")
	}
	var present bool
	var wrappedExts, list cryptobyte.String
	if !data.ReadOptionalASN1(&wrappedExts, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) || !data.Empty() {
		t.Fatal("malformed response extensions")
	}
	if !present {
		return nil
	}
	if !wrappedExts.ReadASN1(&list, cbasn1.SEQUENCE) {
		t.Fatal("malformed response extensions")
	}
	var nonce []byte
	for !list.Empty() {
		var ext cryptobyte.String
		var oid asn1.ObjectIdentifier
		var value []byte
		if !list.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) || !ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			t.Fatal("malformed response extension")
		}
		if !oid.Equal(oidOCSPNonce) || nonce != nil {
			t.Fatalf("unexpected response extension %v", oid)
		}
		nonce = value
	}
	return nonce
}

func certID(t testing.TB, issuer, cert *x509.Certificate) pki.OCSPCertID {
	t.Helper()
	id, err := pki.NewOCSPCertID(issuer, cert.SerialNumber, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCreateOCSPResponse signs one response for four certificates (good,
// revoked with a reason, revoked without, unknown) with a delegated responder
// of each issuing CA, and reads it back with golang.org/x/crypto/ocsp.
func TestCreateOCSPResponse(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range []struct {
		ca      *pkitest.CA
		profile string
		keyKind string
		alg     x509.SignatureAlgorithm
	}{
		{h.Issuing, "qualified-seal", "ecdsa-p256", x509.ECDSAWithSHA256},
		{h.TLS, "tls-server", "rsa-2048", x509.SHA256WithRSA},
	} {
		t.Run(tc.ca.ID, func(t *testing.T) {
			responderCert, responder := ocspSigner(t, h, tc.ca, tc.keyKind, pki.OCSPSignerOptions{})
			var leaves []*x509.Certificate
			for range 3 {
				leaves = append(leaves, issue(t, h, tc.profile, "ecdsa-p256").Cert)
			}
			unknownSerial := mustSerial(t)
			now := pkitest.Now.Add(2 * time.Hour)
			revokedAt := pkitest.Now.Add(time.Hour)
			unknownID, err := pki.NewOCSPCertID(tc.ca.Cert, unknownSerial, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			nonce := nonceExtension(bytes.Repeat([]byte{0x5e}, 32)).value
			der, err := pki.CreateOCSPResponse(responderCert, responder.Key, pki.OCSPResponseTemplate{
				ProducedAt: now,
				Nonce:      nonce,
				Responses: []pki.OCSPSingleResponse{
					{CertID: certID(t, tc.ca.Cert, leaves[0]), Status: pki.OCSPGood, ThisUpdate: now, NextUpdate: now.Add(4 * 24 * time.Hour)},
					{CertID: certID(t, tc.ca.Cert, leaves[1]), Status: pki.OCSPRevoked, RevokedAt: revokedAt, Reason: selo.ReasonKeyCompromise, ThisUpdate: now, NextUpdate: now.Add(4 * 24 * time.Hour)},
					{CertID: certID(t, tc.ca.Cert, leaves[2]), Status: pki.OCSPRevoked, RevokedAt: revokedAt, ThisUpdate: now},
					{CertID: unknownID, Status: pki.OCSPUnknown, ThisUpdate: now},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []struct {
				status int
				reason int
				next   bool
			}{{ocsp.Good, 0, true}, {ocsp.Revoked, ocsp.KeyCompromise, true}, {ocsp.Revoked, ocsp.Unspecified, false}} {
				resp, err := ocsp.ParseResponseForCert(der, leaves[i], tc.ca.Cert)
				if err != nil {
					t.Fatalf("leaf %d: %v", i, err)
				}
				if resp.Status != want.status || resp.RevocationReason != want.reason || resp.SerialNumber.Cmp(leaves[i].SerialNumber) != 0 {
					t.Errorf("leaf %d: status %d reason %d serial %x", i, resp.Status, resp.RevocationReason, resp.SerialNumber)
				}
				if !resp.ProducedAt.Equal(now) || !resp.ThisUpdate.Equal(now) || resp.NextUpdate.IsZero() == want.next {
					t.Errorf("leaf %d: producedAt %v thisUpdate %v nextUpdate %v", i, resp.ProducedAt, resp.ThisUpdate, resp.NextUpdate)
				}
				if want.status == ocsp.Revoked && !resp.RevokedAt.Equal(revokedAt) {
					t.Errorf("leaf %d: revoked at %v", i, resp.RevokedAt)
				}
				if resp.Certificate == nil || !resp.Certificate.Equal(responderCert) || resp.SignatureAlgorithm != tc.alg {
					t.Errorf("leaf %d: responder certificate %v, algorithm %v", i, resp.Certificate, resp.SignatureAlgorithm)
				}
				spki, _ := x509.MarshalPKIXPublicKey(responder.Key.Public())
				var info struct {
					Algorithm asn1.RawValue
					Key       asn1.BitString
				}
				if _, err := asn1.Unmarshal(spki, &info); err != nil {
					t.Fatal(err)
				}
				if keyHash := sha1.Sum(info.Key.Bytes); !bytes.Equal(resp.ResponderKeyHash, keyHash[:]) || resp.RawResponderName != nil {
					t.Errorf("leaf %d: responder id by key %x, name %x", i, resp.ResponderKeyHash, resp.RawResponderName)
				}
			}
			unknownLeaf := &x509.Certificate{SerialNumber: unknownSerial}
			if resp, err := ocsp.ParseResponseForCert(der, unknownLeaf, tc.ca.Cert); err != nil || resp.Status != ocsp.Unknown {
				t.Errorf("unknown: %v %+v", err, resp)
			}
			if got := responseNonce(t, der); !bytes.Equal(got, nonce) {
				t.Errorf("nonce %x, want %x", got, nonce)
			}
		})
	}
}

// TestCreateOCSPResponseEchoesCertID answers a request whose hash algorithm
// has no NULL parameters: the response must name the certificate with the
// same bytes, which OpenSSL compares.
func TestCreateOCSPResponseEchoesCertID(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	responderCert, responder := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{})
	id := certIDFor(t, h.Issuing.Cert, big.NewInt(77), crypto.SHA1)
	id.alg = algID(oidSHA1, false)
	req, err := pki.ParseOCSPRequest(testRequest{ids: []testCertID{id}}.der())
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.CreateOCSPResponse(responderCert, responder.Key, pki.OCSPResponseTemplate{
		ProducedAt: pkitest.Now, Responses: []pki.OCSPSingleResponse{{CertID: req.CertIDs[0], Status: pki.OCSPUnknown, ThisUpdate: pkitest.Now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(der, id.alg) || bytes.Contains(der, algID(oidSHA1, true)) {
		t.Error("response does not echo the request's hash algorithm identifier")
	}
	if responseNonce(t, der) != nil {
		t.Error("nonce in a response to a request without one")
	}
	// A parsed CertID switched to another hash is encoded afresh.
	switched, err := pki.NewOCSPCertID(h.Issuing.Cert, big.NewInt(77), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	changed := req.CertIDs[0]
	changed.HashAlgorithm, changed.IssuerNameHash, changed.IssuerKeyHash = crypto.SHA256, switched.IssuerNameHash, switched.IssuerKeyHash
	der, err = pki.CreateOCSPResponse(responderCert, responder.Key, pki.OCSPResponseTemplate{
		ProducedAt: pkitest.Now, Responses: []pki.OCSPSingleResponse{{CertID: changed, Status: pki.OCSPUnknown, ThisUpdate: pkitest.Now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(der, algID(oidSHA256, true)) || bytes.Contains(der, id.alg) {
		t.Error("a changed hash algorithm kept the request's identifier")
	}
}

// subCASigningOCSP makes a subordinate CA allowed to sign its own OCSP responses.
func subCASigningOCSP(t testing.TB, h *pkitest.Hierarchy) *pkitest.CA {
	t.Helper()
	key := pkitest.NewKey(t, "ecdsa-p384")
	der, err := pki.NewSubordinateCertificate(h.Root.Issuer, key.Public(), pki.CAOptions{
		Subject: h.Issuing.Cert.Subject, ValidityDays: 365, PathLen: 0, SignsOCSP: true,
	}, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	urls := pkitest.URLs("self-ocsp")
	iss, err := pki.NewIssuer(cert, key, urls)
	if err != nil {
		t.Fatal(err)
	}
	return &pkitest.CA{ID: "self-ocsp", Cert: cert, Key: key, URLs: urls, Issuer: iss}
}

// TestCreateOCSPResponseByCA signs with the CA's own key: no certificate is
// embedded and x/crypto verifies the signature with the issuer itself.
func TestCreateOCSPResponseByCA(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	ca := subCASigningOCSP(t, h)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(4242)}
	der, err := pki.CreateOCSPResponse(ca.Cert, ca.Key, pki.OCSPResponseTemplate{
		ProducedAt: pkitest.Now,
		Responses:  []pki.OCSPSingleResponse{{CertID: certID(t, ca.Cert, leaf), Status: pki.OCSPRevoked, RevokedAt: pkitest.Now, Reason: selo.ReasonCertificateHold, ThisUpdate: pkitest.Now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Certificate != nil || resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.CertificateHold || resp.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("response %+v", resp)
	}
}

func TestCreateOCSPResponseRefusals(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	responderCert, responder := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{})
	leafIssued := issue(t, h, "qualified-seal", "ecdsa-p256")
	id := certID(t, h.Issuing.Cert, leafIssued.Cert)
	good := pki.OCSPSingleResponse{CertID: id, Status: pki.OCSPGood, ThisUpdate: pkitest.Now, NextUpdate: pkitest.Now.Add(time.Hour)}
	single := func(f func(*pki.OCSPSingleResponse)) pki.OCSPResponseTemplate {
		r := good
		f(&r)
		return pki.OCSPResponseTemplate{ProducedAt: pkitest.Now, Responses: []pki.OCSPSingleResponse{good, r}}
	}
	for _, tc := range []struct {
		name      string
		responder *x509.Certificate
		key       crypto.Signer
		tmpl      pki.OCSPResponseTemplate
		want      string
	}{
		{"no responses", responderCert, responder.Key, pki.OCSPResponseTemplate{ProducedAt: pkitest.Now}, "no certificate status"},
		{"wrong key", responderCert, h.Issuing.Key, single(func(*pki.OCSPSingleResponse) {}), "does not hold the key"},
		{"ca without digitalSignature", h.Issuing.Cert, h.Issuing.Key, single(func(*pki.OCSPSingleResponse) {}), "no digitalSignature"},
		{"not authorized", h.Root.Cert, h.Root.Key, single(func(*pki.OCSPSingleResponse) {}), "no digitalSignature"},
		{"no producedAt", responderCert, responder.Key, pki.OCSPResponseTemplate{Responses: []pki.OCSPSingleResponse{good}}, "producedAt is missing"},
		{"empty nonce", responderCert, responder.Key, pki.OCSPResponseTemplate{ProducedAt: pkitest.Now, Responses: []pki.OCSPSingleResponse{good}, Nonce: []byte{}}, "nonce of 0 octets"},
		{"no thisUpdate", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.ThisUpdate = time.Time{} }), "response 2: thisUpdate is missing"},
		{"nextUpdate before", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.NextUpdate = r.ThisUpdate }), "not after thisUpdate"},
		{"revoked without time", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.Status = pki.OCSPRevoked }), "revocation time is missing"},
		{"revoked bad reason", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) {
			r.Status, r.RevokedAt, r.Reason = pki.OCSPRevoked, pkitest.Now, 7
		}), "reason(7) is not valid"},
		{"good with reason", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.Reason = selo.ReasonKeyCompromise }), "good certificate has a revocation"},
		{"bad status", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.Status = 3 }), "status(3)"},
		{"no serial", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.CertID.Serial = nil }), "no serial"},
		{"bad hash", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.CertID.HashAlgorithm = crypto.MD5 }), "not one of SHA-1"},
		{"short hash", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.CertID.IssuerKeyHash = r.CertID.IssuerKeyHash[:5] }), "not 20-byte"},
		{"another ca's certificate", responderCert, responder.Key, single(func(r *pki.OCSPSingleResponse) { r.CertID = certID(t, h.TLS.Cert, leafIssued.Cert) }),
			"response 2: delegated responder \"Selo Test Qualified CA E1 OCSP Responder\" was not issued by the certificate's issuer"},
		{"responder not yet valid", responderCert, responder.Key, pki.OCSPResponseTemplate{ProducedAt: responderCert.NotBefore.Add(-time.Second), Responses: []pki.OCSPSingleResponse{good}}, "is not valid at"},
		{"responder expired", responderCert, responder.Key, pki.OCSPResponseTemplate{ProducedAt: responderCert.NotAfter.Add(time.Second), Responses: []pki.OCSPSingleResponse{good}}, "is not valid at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.CreateOCSPResponse(tc.responder, tc.key, tc.tmpl)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
	// A CA that may sign OCSP answers only for its own certificates.
	ca := subCASigningOCSP(t, h)
	_, err := pki.CreateOCSPResponse(ca.Cert, ca.Key, pki.OCSPResponseTemplate{ProducedAt: pkitest.Now, Responses: []pki.OCSPSingleResponse{good}})
	if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "neither the certificate's issuer nor a delegated") {
		t.Errorf("foreign certificate: got %v", err)
	}
	if _, err := pki.NewOCSPCertID(h.Issuing.Cert, big.NewInt(1), crypto.MD5); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("NewOCSPCertID with MD5: %v", err)
	}
}

func TestOCSPErrorResponse(t *testing.T) {
	for _, tc := range []struct {
		status pki.OCSPResponseStatus
		want   []byte
	}{
		{pki.OCSPMalformedRequest, ocsp.MalformedRequestErrorResponse},
		{pki.OCSPInternalError, ocsp.InternalErrorErrorResponse},
		{pki.OCSPTryLater, ocsp.TryLaterErrorResponse},
		{pki.OCSPSigRequired, ocsp.SigRequredErrorResponse},
		{pki.OCSPUnauthorized, ocsp.UnauthorizedErrorResponse},
		{pki.OCSPSuccessful, ocsp.InternalErrorErrorResponse},
		{4, ocsp.InternalErrorErrorResponse},
	} {
		got := pki.OCSPErrorResponse(tc.status)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("status %d: %x, want %x", tc.status, got, tc.want)
		}
		_, err := ocsp.ParseResponse(got, nil)
		if re, ok := err.(ocsp.ResponseError); !ok || re.Status != ocsp.ResponseStatus(tc.want[4]) {
			t.Errorf("status %d: x/crypto reads %v", tc.status, err)
		}
	}
	// Each call returns its own slice.
	pki.OCSPErrorResponse(pki.OCSPTryLater)[4] = 9
	if pki.OCSPErrorResponse(pki.OCSPTryLater)[4] != 3 {
		t.Error("error responses share memory")
	}
}

// testResponder is the OCSP responder of the OpenSSL round trip: it parses
// with ParseOCSPRequest and answers with CreateOCSPResponse, as Selo's server
// will, using the real clock since OpenSSL checks the times against it.
type testResponder struct {
	t         *testing.T
	issuer    *x509.Certificate
	responder *pkitest.CA

	mu      sync.Mutex
	revoked map[string]selo.RevocationReason // serial hex -> reason
	known   map[string]bool
	nonces  int
}

func (s *testResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// OpenSSL 3 refuses any answer, error responses included, without it.
	w.Header().Set("Content-Type", "application/ocsp-response")
	body, err := io.ReadAll(io.LimitReader(r.Body, pki.MaxOCSPRequestSize+1))
	if err != nil || r.Method != http.MethodPost {
		w.Write(pki.OCSPErrorResponse(pki.OCSPMalformedRequest))
		return
	}
	req, err := pki.ParseOCSPRequest(body)
	if err != nil {
		s.t.Logf("request refused: %v", err)
		w.Write(pki.OCSPErrorResponse(pki.OCSPMalformedRequest))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Nonce != nil {
		s.nonces++
	}
	now := time.Now()
	tmpl := pki.OCSPResponseTemplate{ProducedAt: now, Nonce: req.Nonce}
	for _, id := range req.CertIDs {
		if !id.MatchesIssuer(s.issuer) {
			w.Write(pki.OCSPErrorResponse(pki.OCSPUnauthorized))
			return
		}
		single := pki.OCSPSingleResponse{CertID: id, Status: pki.OCSPUnknown, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
		serial := pki.SerialHex(id.Serial)
		if s.known[serial] {
			single.Status = pki.OCSPGood
			if reason, ok := s.revoked[serial]; ok {
				single.Status, single.RevokedAt, single.Reason = pki.OCSPRevoked, now.Add(-30*time.Second), reason
			}
		}
		tmpl.Responses = append(tmpl.Responses, single)
	}
	der, err := pki.CreateOCSPResponse(s.responder.Cert, s.responder.Key, tmpl)
	if err != nil {
		s.t.Errorf("CreateOCSPResponse: %v", err)
		w.Write(pki.OCSPErrorResponse(pki.OCSPInternalError))
		return
	}
	w.Write(der)
}

// TestOCSPResponderOpenSSL asks OpenSSL's client about certificates through
// an HTTP responder built on ParseOCSPRequest and CreateOCSPResponse: good,
// then revoked with its reason, several certificates in one request, and
// the nonce OpenSSL sends and checks.
func TestOCSPResponderOpenSSL(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	responderCert, responder := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{})
	leaf := issue(t, h, "qualified-seal", "ecdsa-p256").Cert
	other := issue(t, h, "advanced-invoice", "ecdsa-p256").Cert
	srv := &testResponder{t: t, issuer: h.Issuing.Cert, responder: &pkitest.CA{Cert: responderCert, Key: responder.Key},
		revoked: map[string]selo.RevocationReason{}, known: map[string]bool{pki.SerialHex(leaf.SerialNumber): true, pki.SerialHex(other.SerialNumber): true}}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	issuerPath := writeFile(t, dir, "ca.pem", pki.EncodePEM(h.Issuing.Cert))
	rootPath := writeFile(t, dir, "root.pem", pki.EncodePEM(h.Root.Cert))
	leafPath := writeFile(t, dir, "leaf.pem", pki.EncodePEM(leaf))
	otherPath := writeFile(t, dir, "other.pem", pki.EncodePEM(other))
	// The responder certificate is checked at the hierarchy's time; the
	// response times are checked by OpenSSL against the real clock.
	attime := strconv.FormatInt(pkitest.Now.Add(time.Hour).Unix(), 10)
	query := func(certs ...string) string {
		t.Helper()
		args := []string{"ocsp", "-issuer", issuerPath, "-url", ts.URL, "-CAfile", rootPath, "-attime", attime}
		for _, c := range certs {
			args = append(args, "-cert", c)
		}
		out, err := runOpenSSL(t, bin, args...)
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(out, "Response verify OK") || strings.Contains(out, "WARNING") || strings.Contains(out, "rror") {
			t.Fatalf("openssl did not verify the response cleanly:\n%s", out)
		}
		return out
	}

	out := query(leafPath)
	if !strings.Contains(out, leafPath+": good") {
		t.Errorf("want good:\n%s", out)
	}
	srv.mu.Lock()
	srv.revoked[pki.SerialHex(leaf.SerialNumber)] = selo.ReasonKeyCompromise
	srv.mu.Unlock()
	out = query(leafPath)
	if !strings.Contains(out, leafPath+": revoked") || !strings.Contains(out, "Reason: keyCompromise") || !strings.Contains(out, "Revocation Time:") {
		t.Errorf("want revoked with reason keyCompromise:\n%s", out)
	}
	out = query(leafPath, otherPath)
	if !strings.Contains(out, leafPath+": revoked") || !strings.Contains(out, otherPath+": good") {
		t.Errorf("want one revoked and one good:\n%s", out)
	}
	srv.mu.Lock()
	nonces := srv.nonces
	srv.mu.Unlock()
	if nonces != 3 {
		t.Errorf("%d of 3 requests carried a nonce", nonces)
	}
	// A certificate of another CA gets the unsigned unauthorized answer.
	foreign := writeFile(t, dir, "foreign.pem", pki.EncodePEM(issue(t, h, "tls-server", "ecdsa-p256").Cert))
	out, _ = runOpenSSL(t, bin, "ocsp", "-issuer", writeFile(t, dir, "tls-ca.pem", pki.EncodePEM(h.TLS.Cert)), "-cert", foreign, "-url", ts.URL, "-CAfile", rootPath)
	if !strings.Contains(out, "Responder Error: unauthorized (6)") {
		t.Errorf("want unauthorized:\n%s", out)
	}
}

// TestOCSPRespinOpenSSL has OpenSSL read pre-signed responses (no nonce) from
// a file: one by a delegated responder, one by a CA signing for itself.
func TestOCSPRespinOpenSSL(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	rootPath := writeFile(t, dir, "root.pem", pki.EncodePEM(h.Root.Cert))
	attime := strconv.FormatInt(pkitest.Now.Add(time.Hour).Unix(), 10)
	now := time.Now()

	delegatedCert, delegated := ocspSigner(t, h, h.Issuing, "ecdsa-p256", pki.OCSPSignerOptions{})
	selfCA := subCASigningOCSP(t, h)
	for _, tc := range []struct {
		name      string
		ca        *pkitest.CA
		responder *x509.Certificate
		key       crypto.Signer
	}{
		{"delegated", h.Issuing, delegatedCert, delegated.Key},
		{"ca-signed", selfCA, selfCA.Cert, selfCA.Key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := &x509.Certificate{SerialNumber: mustSerial(t)}
			der, err := pki.CreateOCSPResponse(tc.responder, tc.key, pki.OCSPResponseTemplate{
				ProducedAt: now,
				Responses: []pki.OCSPSingleResponse{{CertID: certID(t, tc.ca.Cert, leaf), Status: pki.OCSPRevoked,
					RevokedAt: now.Add(-time.Hour), Reason: selo.ReasonSuperseded, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(24 * time.Hour)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			respPath := writeFile(t, dir, tc.name+".der", der)
			issuerPath := writeFile(t, dir, tc.name+"-ca.pem", pki.EncodePEM(tc.ca.Cert))
			out, err := runOpenSSL(t, bin, "ocsp", "-respin", respPath, "-issuer", issuerPath, "-serial", "0x"+pki.SerialHex(leaf.SerialNumber),
				"-no_nonce", "-CAfile", rootPath, "-attime", attime, "-resp_text")
			if err != nil {
				t.Fatalf("openssl ocsp -respin: %v\n%s", err, out)
			}
			if strings.Contains(out, "WARNING") {
				t.Errorf("openssl warns:\n%s", out)
			}
			for _, want := range []string{"Response verify OK", "OCSP Response Status: successful (0x0)", "Responder Id: ", "Cert Status: revoked", "Revocation Reason: superseded (0x4)", ": revoked"} {
				if !strings.Contains(out, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, out)
				}
			}
			if tc.name == "delegated" && !strings.Contains(out, "OCSP No Check") {
				t.Errorf("the embedded responder certificate is not printed:\n%s", out)
			}
		})
	}
}
