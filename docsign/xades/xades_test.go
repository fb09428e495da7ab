package xades_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// at is when the tests sign: the pkitest hierarchy is valid then.
var at = pkitest.Now.Add(2 * time.Hour)

func invoice(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/invoice.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(t testing.TB, s *signtest.Signer, doc []byte, hash crypto.Hash, ts cades.Timestamper) []byte {
	t.Helper()
	out, err := xades.Sign(context.Background(), s.Key, doc, xades.Options{Certificate: s.Cert, Chain: s.Chain, Hash: hash, SigningTime: at}, ts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out
}

func TestBaselineLevels(t *testing.T) {
	r := signtest.TSAResponder(t, at)
	doc := invoice(t)
	for _, tc := range []struct {
		kind     string
		hash     crypto.Hash
		wantHash string
	}{
		{"ecdsa-p256", 0, "SHA-256"},
		{"ecdsa-p384", 0, "SHA-384"},
		{"rsa-2048", 0, "SHA-256"},
		{"rsa-2048", crypto.SHA512, "SHA-512"},
	} {
		s := signtest.NewSigner(t, tc.kind)
		for _, ts := range []cades.Timestamper{nil, r} {
			signed := sign(t, s, doc, tc.hash, ts)
			rep, err := xades.Verify(signed, xades.VerifyOptions{Roots: s.Roots(), Now: at})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures reported", len(rep.Signatures))
			}
			sig := rep.Signatures[0]
			wantLevel := xades.LevelBB
			if ts != nil {
				wantLevel = xades.LevelBT
			}
			if !rep.Valid() || rep.Format != "XAdES" || sig.Level != wantLevel || sig.Hash != tc.wantHash || !strings.Contains(sig.Signer, "Exemplo Faturas") ||
				sig.ClaimedTime == nil || !sig.ClaimedTime.Equal(at) || !sig.DigestOK || !sig.SignatureOK || !sig.CertificateBound || !sig.ChainOK {
				t.Fatalf("%s %v ts=%v: report %+v", tc.kind, tc.hash, ts != nil, sig)
			}
			if ts != nil && (sig.Timestamp == nil || !sig.Timestamp.Equal(at) || !strings.Contains(sig.TSA, "Selo Test TSA") || !sig.TimestampOK) {
				t.Fatalf("timestamp not reported: %+v", sig)
			}
			// Without trusted roots the same signature is intact but not trusted.
			rep, err = xades.Verify(signed, xades.VerifyOptions{Now: at})
			if err != nil || rep.Signatures[0].Status != cades.StatusIndeterminate {
				t.Fatalf("no roots: %v %+v", err, rep)
			}
		}
	}
}

// The document keeps every byte; the signature goes before the root's end tag.
func TestDocumentKeptByteForByte(t *testing.T) {
	doc := invoice(t)
	signed := sign(t, signtest.NewSigner(t, "ecdsa-p256"), doc, 0, nil)
	start := bytes.Index(signed, []byte("<ds:Signature "))
	end := bytes.Index(signed, []byte("</ds:Signature>"))
	if start < 0 || end < 0 {
		t.Fatalf("no signature in\n%s", signed)
	}
	rest := append(bytes.Clone(signed[:start]), signed[end+len("</ds:Signature>"):]...)
	if !bytes.Equal(rest, doc) {
		t.Fatalf("the document changed around the signature:\n%s", rest)
	}
	if !bytes.HasPrefix(signed[end+len("</ds:Signature>"):], []byte("</Invoice>")) {
		t.Fatalf("the signature is not the root's last child")
	}
	for _, want := range []string{
		`<ds:Reference Id="`, `URI=""`, `Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"`,
		`Type="http://uri.etsi.org/01903#SignedProperties"`, `<xades:SigningTime>2026-11-24T12:00:00Z</xades:SigningTime>`,
		`<xades:SigningCertificateV2><xades:Cert><xades:CertDigest>`, `<xades:IssuerSerialV2>`, `<ds:X509Certificate>`,
		`<xades:MimeType>text/xml</xades:MimeType>`,
	} {
		if !bytes.Contains(signed, []byte(want)) {
			t.Errorf("signed document lacks %s", want)
		}
	}
	if n := bytes.Count(signed, []byte("<ds:X509Certificate>")); n != 2 {
		t.Errorf("KeyInfo holds %d certificates, want the signer's and the issuing CA's", n)
	}
}

func TestTamperedIsInvalid(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	signed := sign(t, s, invoice(t), 0, signtest.TSAResponder(t, at))
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"amount", "1230.00", "9230.00", "document was CHANGED"},
		{"attribute", `currencyID="EUR"`, `currencyID="USD"`, "document was CHANGED"},
		{"added element", "<Empty/>", "<Empty/><Extra/>", "document was CHANGED"},
		{"signing time", "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z", "signed properties were changed"},
		{"reference digest", `<ds:DigestValue>`, `<ds:DigestValue>AAAA`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(signed, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, signed) {
				t.Fatalf("%q not found", tc.old)
			}
			rep, err := xades.Verify(bad, xades.VerifyOptions{Roots: s.Roots(), Now: at})
			if err != nil {
				t.Fatal(err)
			}
			sig := rep.Signatures[0]
			if rep.Valid() || sig.Status != cades.StatusInvalid || !strings.Contains(strings.Join(sig.Problems, "; "), tc.want) {
				t.Fatalf("tampered copy: %+v", sig)
			}
		})
	}
	// A changed signature value: the signature no longer verifies.
	i := bytes.Index(signed, []byte("<ds:SignatureValue"))
	j := bytes.IndexByte(signed[i:], '>') + i + 1
	bad := bytes.Clone(signed)
	if bad[j] == 'A' {
		bad[j] = 'B'
	} else {
		bad[j] = 'A'
	}
	rep, err := xades.Verify(bad, xades.VerifyOptions{Roots: s.Roots(), Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if sig := rep.Signatures[0]; sig.Status != cades.StatusInvalid || sig.SignatureOK {
		t.Fatalf("changed signature value: %+v", sig)
	}
}

// A remote signer returns a digest signature in its own format; Finish
// takes ECDSA as DER or r||s and refuses a signature by another key.
func TestTwoStep(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	p, err := xades.Prepare(invoice(t), xades.Options{Certificate: s.Cert, Chain: s.Chain, SigningTime: at})
	if err != nil {
		t.Fatal(err)
	}
	der, err := s.Key.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	rs.R.FillBytes(raw[:32])
	rs.S.FillBytes(raw[32:])
	for name, sig := range map[string][]byte{"der": der, "raw": raw} {
		out, err := p.Finish(context.Background(), sig, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rep, err := xades.Verify(out, xades.VerifyOptions{Roots: s.Roots(), Now: at})
		if err != nil || !rep.Valid() {
			t.Fatalf("%s: %v %+v", name, err, rep.Signatures[0])
		}
	}
	other, _ := ecdsa.GenerateKey(s.Cert.PublicKey.(*ecdsa.PublicKey).Curve, rand.Reader)
	wrong, _ := other.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if _, err := p.Finish(context.Background(), wrong, nil); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("signature by another key: %v", err)
	}
}

func TestRefusedInputs(t *testing.T) {
	s := signtest.QuickSigner(t)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`
	xxe := `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"billion laughs", laughs, "DTD"},
		{"external entity", xxe, "DTD"},
		{"undeclared entity", `<a>&nope;</a>`, "not well-formed"},
		{"not xml", "%PDF-1.7", "not well-formed"},
		{"empty", "  \n", "empty"},
		{"truncated", "<a><b></b>", "not well-formed"},
		{"two roots", "<a>x</a><b>y</b>", "more than one root"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><a>x</a>`, "only UTF-8"},
		{"empty root", "<a/>", "empty"},
		{"deep", strings.Repeat("<a>", 1000) + strings.Repeat("</a>", 1000), "deeper than"},
		{"too large", "<a>" + strings.Repeat("x", xades.MaxInputSize) + "</a>", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := xades.Prepare([]byte(tc.doc), xades.Options{Certificate: s.Cert})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Prepare: %v, want %q", err, tc.want)
			}
			if selo.ErrorCode(err) == selo.EINTERNAL {
				t.Fatalf("Prepare: internal error for bad input: %v", err)
			}
			if _, err := xades.Verify([]byte(tc.doc), xades.VerifyOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v, want %q", err, tc.want)
			}
		})
	}
	signed, err := xades.Sign(context.Background(), s.Key, invoice(t), xades.Options{Certificate: s.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xades.Prepare(signed, xades.Options{Certificate: s.Cert}); err == nil || selo.ErrorCode(err) != selo.ECONFLICT || !strings.Contains(err.Error(), "already signed") {
		t.Fatalf("signing a signed document: %v", err)
	}
	if _, err := xades.Verify(invoice(t), xades.VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "no XML signature") {
		t.Fatalf("unsigned document: %v", err)
	}
}

// xmlsec1 (libxmlsec1, the reference XML-DSig implementation) must accept
// the signatures with the chain as trusted certificates, and refuse a
// tampered copy.
func TestXmlsec1Accepts(t *testing.T) {
	bin := signtest.Tool(t, "xmlsec1", "")
	r := signtest.TSAResponder(t, at)
	for _, kind := range []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048"} {
		for _, ts := range []cades.Timestamper{nil, r} {
			s := signtest.NewSigner(t, kind)
			dir := t.TempDir()
			signed := filepath.Join(dir, "signed.xml")
			if err := os.WriteFile(signed, sign(t, s, invoice(t), 0, ts), 0o600); err != nil {
				t.Fatal(err)
			}
			root := signtest.WritePEM(t, dir, "root.pem", s.Root)
			issuing := signtest.WritePEM(t, dir, "issuing.pem", s.Chain...)
			xmlsec := func(file string) (string, error) {
				return signtest.Run(bin, "--verify", "--trusted-pem", root, "--untrusted-pem", issuing,
					"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
					"--verification-time", at.Format(time.DateTime), file)
			}
			if out, err := xmlsec(signed); err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("%s ts=%v: xmlsec1 refused the signature: %v\n%s", kind, ts != nil, err, out)
			}
			// A changed document, and changed signed properties (xmlsec1
			// checks the SignedProperties reference too).
			data, _ := os.ReadFile(signed)
			for _, change := range [][2]string{{"1230.00", "1231.00"}, {"T12:00:00Z", "T12:00:01Z"}} {
				tampered := filepath.Join(dir, "tampered.xml")
				os.WriteFile(tampered, bytes.Replace(data, []byte(change[0]), []byte(change[1]), 1), 0o600)
				if out, err := xmlsec(tampered); err == nil {
					t.Fatalf("%s: xmlsec1 accepted a copy with %s changed:\n%s", kind, change[0], out)
				}
			}
		}
	}
}

// BenchmarkSign signs a small e-invoice and a 4 MiB XML document with a
// P-256 key (B-B): canonicalization, digests, the signature and the
// read-back check.
func BenchmarkSign(b *testing.B) {
	s := signtest.QuickSigner(b)
	var big bytes.Buffer
	big.WriteString("<Invoices>")
	for big.Len() < 4<<20 {
		big.WriteString(`<Line n="1"><Item>Parafuso M8 &amp; porca</Item><Amount currencyID="EUR">12.30</Amount></Line>`)
	}
	big.WriteString("</Invoices>")
	for _, tc := range []struct {
		name string
		doc  []byte
	}{{"invoice", invoice(b)}, {"4MiB", big.Bytes()}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.doc)))
			for b.Loop() {
				if _, err := xades.Sign(context.Background(), s.Key, tc.doc, xades.Options{Certificate: s.Cert, SigningTime: at}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifiesXmlsec1Signature: xmlsec1 computes the digests and the
// signature value of a Selo signature template over the test invoice
// (namespaces, processing instructions, comments, CDATA, attribute
// normalization), and Verify agrees with every byte of it.
func TestVerifiesXmlsec1Signature(t *testing.T) {
	bin := signtest.Tool(t, "xmlsec1", "")
	for _, kind := range []string{"ecdsa-p256", "rsa-2048"} {
		s := signtest.NewSigner(t, kind)
		signed := sign(t, s, invoice(t), 0, nil)
		// Blank what xmlsec1 must fill in.
		blank := regexp.MustCompile(`(<ds:(DigestValue|SignatureValue)[^>]*>)[^<]*(</ds:)`)
		template := blank.ReplaceAll(signed, []byte("$1$3"))
		// Keep the certificate digest: it is a signed property, not a reference.
		certDigest := regexp.MustCompile(`<xades:CertDigest>.*?</xades:CertDigest>`)
		template = certDigest.ReplaceAll(template, certDigest.Find(signed))
		dir := t.TempDir()
		keyDER, err := x509.MarshalPKCS8PrivateKey(s.Key)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(dir, "key.pem")
		os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
		in, out := filepath.Join(dir, "template.xml"), filepath.Join(dir, "out.xml")
		os.WriteFile(in, template, 0o600)
		if res, err := signtest.Run(bin, "--sign", "--privkey-pem", key, "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", "--output", out, in); err != nil {
			t.Fatalf("xmlsec1 --sign: %v\n%s", err, res)
		}
		theirs, _ := os.ReadFile(out)
		rep, err := xades.Verify(theirs, xades.VerifyOptions{Roots: s.Roots(), Now: at})
		if err != nil {
			t.Fatal(err)
		}
		if sig := rep.Signatures[0]; !rep.Valid() {
			t.Fatalf("%s: Selo does not accept what xmlsec1 signed: %+v\n%s", kind, sig, theirs)
		}
	}
}
