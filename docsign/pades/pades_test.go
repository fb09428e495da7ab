package pades_test

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/tsa"
)

// at is when the tests sign: the pkitest hierarchy is valid then.
var at = pkitest.Now.Add(2 * time.Hour)

// MinimalPDF returns a one-page PDF 1.4 with a classic xref table, written
// by hand so the offsets are the test's own.
func minimalPDF() []byte { return pdfWithPageEntries("") }

// pdfWithPageEntries is minimalPDF with extra entries (such as "/Rotate 90")
// in its page dictionary.
func pdfWithPageEntries(extra string) []byte {
	content := "BT /F1 24 Tf 72 720 Td (Selo) Tj ET"
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>" + extra + ">>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(content), content),
		"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
	}
	return signtest.PDF("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", objs...)
}

// pdfsig runs poppler's pdfsig on pdf with an NSS database that trusts
// roots, offline, and returns its output.
func pdfsig(t *testing.T, pdf []byte, roots ...string) string {
	t.Helper()
	signtest.Tool(t, "pdfsig", "poppler-utils")
	dir := t.TempDir()
	nss := filepath.Join(dir, "nss")
	os.Mkdir(nss, 0o700)
	if out, err := signtest.Run("certutil", "-N", "-d", "sql:"+nss, "--empty-password"); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	for i, root := range roots {
		if out, err := signtest.Run("certutil", "-A", "-d", "sql:"+nss, "-n", fmt.Sprintf("root%d", i), "-t", "CT,C,C", "-i", root); err != nil {
			t.Fatalf("certutil -A: %v\n%s", err, out)
		}
	}
	path := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := signtest.Run("pdfsig", "-nssdir", "sql:"+nss, "-no-ocsp", path)
	return out
}

func sign(t *testing.T, s *signtest.Signer, in []byte, ts *tsa.Responder) []byte {
	t.Helper()
	opts := pades.Options{CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}, SigningTime: at, Reason: "Aprovação", Location: "Lisboa"}
	var out []byte
	var err error
	if ts != nil {
		out, err = pades.Sign(context.Background(), s.Key, in, opts, ts)
	} else {
		out, err = pades.Sign(context.Background(), s.Key, in, opts, nil)
	}
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if !bytes.HasPrefix(out, in) {
		t.Fatal("the signed PDF does not start with the original bytes")
	}
	return out
}

func TestSignPDFValidWithPdfsig(t *testing.T) {
	r := signtest.TSAResponder(t, at)
	for _, kind := range []string{"ecdsa-p256", "rsa-2048"} {
		t.Run(kind, func(t *testing.T) {
			s := signtest.NewSigner(t, kind)
			root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
			signed := sign(t, s, minimalPDF(), r)
			out := pdfsig(t, signed, root)
			if strings.Count(out, "Signature is Valid") != 1 ||
				!strings.Contains(out, "Common Name: "+s.Cert.Subject.CommonName) || !strings.Contains(out, "ETSI.CAdES.detached") ||
				!strings.Contains(out, "Signature Type: ETSI.CAdES.detached") || !strings.Contains(out, "Total document signed") {
				t.Fatalf("pdfsig:\n%s", out)
			}
			// PAdES keeps the signing time out of the CMS: it is /M.
			if !bytes.Contains(signed, []byte("/M(D:20261124120000Z)")) {
				t.Fatalf("no /M with the signing time")
			}
		})
	}
}

func TestSignPDFTwiceBothValid(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	once := sign(t, s, minimalPDF(), nil)
	twice := sign(t, s, once, nil)
	out := pdfsig(t, twice, root)
	if strings.Count(out, "Signature is Valid") != 2 || !strings.Contains(out, "Signature #2") || !strings.Contains(out, "Total document signed") {
		t.Fatalf("pdfsig:\n%s", out)
	}
	if !bytes.Contains(twice, []byte("(Signature2)")) {
		t.Fatal("the second field did not get a fresh name")
	}
}

func TestSignPDFTamperedIsInvalid(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	root := signtest.WritePEM(t, t.TempDir(), "root.pem", s.Root)
	signed := sign(t, s, minimalPDF(), nil)
	i := bytes.Index(signed, []byte("(Selo)"))
	bad := bytes.Clone(signed)
	bad[i+1] = 'X' // inside the first byte range
	out := pdfsig(t, bad, root)
	if strings.Contains(out, "Signature is Valid") || !strings.Contains(out, "Digest Mismatch") {
		t.Fatalf("pdfsig on a tampered PDF:\n%s", out)
	}
}

func TestPrepareThenFinish(t *testing.T) {
	s := signtest.NewSigner(t, "ecdsa-p256")
	in := minimalPDF()
	p, err := pades.Prepare(in, pades.Options{CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}, SignatureSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Digest()) != 32 || len(p.DocumentDigest()) != 32 {
		t.Fatal("digests are not SHA-256")
	}
	// A signature by another key is refused and Prepared stays usable.
	other := signtest.QuickSigner(t)
	bad, _ := other.Key.Sign(nil, p.Digest(), p.SignerOpts())
	if _, err := p.Finish(context.Background(), bad, nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("wrong key: %v", err)
	}
	sig, _ := s.Key.Sign(nil, p.Digest(), p.SignerOpts())
	out, err := p.Finish(context.Background(), sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The CMS holds no signing-time attribute (PAdES baseline forbids it).
	sd := extractCMS(t, out)
	parsed, err := cms.Parse(sd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parsed.Signers[0].Attribute(cms.OIDAttributeSigningTime); ok {
		t.Fatal("signing-time in a PAdES CMS")
	}
}

// extractCMS returns the DER in the last /Contents of pdf, without the
// zero padding (the outer ASN.1 length says where it ends).
func extractCMS(t *testing.T, pdf []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("/Contents<")) + len("/Contents<")
	j := bytes.IndexByte(pdf[i:], '>')
	all, err := hex.DecodeString(string(pdf[i : i+j]))
	if err != nil {
		t.Fatal(err)
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(all, &rv); err != nil {
		t.Fatal(err)
	}
	return rv.FullBytes
}

func TestSignatureTooLargeForPlaceholder(t *testing.T) {
	s := signtest.NewSigner(t, "rsa-2048")
	p, err := pades.Prepare(minimalPDF(), pades.Options{CMS: cms.Options{Certificate: s.Cert, Chain: s.Chain}, SignatureSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := s.Key.Sign(nil, p.Digest(), p.SignerOpts())
	if _, err := p.Finish(context.Background(), sig, nil); err == nil || !strings.Contains(err.Error(), "larger signature size") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInputRefused(t *testing.T) {
	s := signtest.QuickSigner(t)
	good := minimalPDF()
	encrypted := encrypt(t, good)
	cases := []struct {
		name string
		in   []byte
		opts pades.Options
		code string
		msg  string
	}{
		{"garbage", []byte("this is not a pdf at all"), pades.Options{}, selo.EINVALID, "not a PDF"},
		{"truncated", good[:len(good)-40], pades.Options{}, selo.EINVALID, "truncated"},
		{"encrypted", encrypted, pades.Options{}, selo.EINVALID, "encrypted"},
		{"too large", good, pades.Options{MaxInputSize: int64(len(good) - 1)}, selo.ETOOLARGE, "larger than the limit"},
		{"tiny placeholder", good, pades.Options{SignatureSize: 100}, selo.EINVALID, "signature size"},
		{"huge placeholder", good, pades.Options{SignatureSize: pades.MaxSignatureSize + 1}, selo.EINVALID, "signature size"},
		{"broken xref offset", bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n9"), 1), pades.Options{}, selo.EINVALID, "startxref"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.CMS = cms.Options{Certificate: s.Cert}
			_, err := pades.Prepare(c.in, c.opts)
			if selo.ErrorCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// encrypt returns in encrypted by pdfcpu with an empty user password (what
// a reader opens without asking).
func encrypt(t *testing.T, in []byte) []byte {
	t.Helper()
	model.ConfigPath = "disable"
	conf := model.NewAESConfiguration("", "owner", 256)
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(in), &out, conf); err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	return out.Bytes()
}
