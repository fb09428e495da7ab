package pki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var (
	oidReasonCode     = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidIssuingDP      = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// crlThisUpdate is an hour after the test hierarchy was built.
var crlThisUpdate = pkitest.Now.Add(time.Hour)

func crlTemplate(number int64) pki.CRLTemplate {
	return pki.CRLTemplate{
		Number:     number,
		ThisUpdate: crlThisUpdate,
		NextUpdate: crlThisUpdate.Add(7 * 24 * time.Hour),
	}
}

// sampleEntries covers every kind of entry: each reason, with and without an
// invalidity date, serials short and long, with the top bit set (a leading
// zero octet in DER), in upper case and with leading zeros.
func sampleEntries(t testing.TB) []pki.CRLEntry {
	t.Helper()
	var out []pki.CRLEntry
	at := pkitest.Now.Add(-30 * 24 * time.Hour)
	for i, r := range []selo.RevocationReason{
		selo.ReasonUnspecified, selo.ReasonKeyCompromise, selo.ReasonCACompromise, selo.ReasonAffiliationChanged,
		selo.ReasonSuperseded, selo.ReasonCessationOfOperation, selo.ReasonCertificateHold, selo.ReasonPrivilegeWithdrawn,
		selo.ReasonAACompromise,
	} {
		e := pki.CRLEntry{Serial: pki.SerialHex(mustSerial(t)), RevokedAt: at.Add(time.Duration(i) * time.Hour), Reason: r}
		if i%2 == 1 {
			e.InvalidityDate = e.RevokedAt.Add(-48 * time.Hour)
		}
		out = append(out, e)
	}
	out = append(out,
		pki.CRLEntry{Serial: "1", RevokedAt: at.Add(123 * time.Millisecond)},
		pki.CRLEntry{Serial: "80", RevokedAt: at, Reason: selo.ReasonSuperseded},
		pki.CRLEntry{Serial: "00ab", RevokedAt: at},
		pki.CRLEntry{Serial: "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", RevokedAt: at}, // 20 octets, the longest allowed
		pki.CRLEntry{Serial: "ffffffffffffffffffffffffffffffffffffff", RevokedAt: at},   // 19 octets, top bit set: 20 in DER
		pki.CRLEntry{Serial: "deadbeef", RevokedAt: time.Date(1999, 6, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))},
	)
	return out
}

func entriesOf(list []pki.CRLEntry) func(func(pki.CRLEntry) error) error {
	return func(yield func(pki.CRLEntry) error) error {
		for _, e := range list {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func writeCRL(t testing.TB, ca *pkitest.CA, tmpl pki.CRLTemplate, list []pki.CRLEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	stats, err := pki.WriteCRL(&buf, ca.Cert, ca.Key, tmpl, entriesOf(list))
	if err != nil {
		t.Fatalf("WriteCRL: %v", err)
	}
	if stats.Entries != int64(len(list)) || stats.Bytes != int64(buf.Len()) {
		t.Fatalf("stats %+v, want %d entries and %d bytes", stats, len(list), buf.Len())
	}
	return buf.Bytes()
}

// referenceCRL makes the same CRL with crypto/x509.CreateRevocationList.
func referenceCRL(t testing.TB, ca *pkitest.CA, tmpl pki.CRLTemplate, list []pki.CRLEntry) []byte {
	t.Helper()
	rl := &x509.RevocationList{Number: big.NewInt(tmpl.Number), ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate}
	for _, e := range list {
		serial, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok {
			t.Fatalf("bad serial %q", e.Serial)
		}
		entry := x509.RevocationListEntry{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: int(e.Reason)}
		if !e.InvalidityDate.IsZero() {
			v, err := asn1.MarshalWithParams(e.InvalidityDate.UTC(), "generalized")
			if err != nil {
				t.Fatal(err)
			}
			entry.ExtraExtensions = []pkix.Extension{{Id: oidInvalidityDate, Value: v}}
		}
		rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries, entry)
	}
	if tmpl.IssuingDistributionPoint != "" || tmpl.OnlyContainsUserCerts || tmpl.OnlyContainsCACerts {
		// Encoded here with encoding/asn1, independently of pki's encoder.
		type distributionPointName struct {
			FullName []asn1.RawValue `asn1:"optional,tag:0"`
		}
		type issuingDistributionPoint struct {
			DistributionPoint distributionPointName `asn1:"optional,tag:0"`
			OnlyUser          bool                  `asn1:"optional,tag:1"`
			OnlyCA            bool                  `asn1:"optional,tag:2"`
		}
		idp := issuingDistributionPoint{OnlyUser: tmpl.OnlyContainsUserCerts, OnlyCA: tmpl.OnlyContainsCACerts}
		if tmpl.IssuingDistributionPoint != "" {
			idp.DistributionPoint.FullName = []asn1.RawValue{{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(tmpl.IssuingDistributionPoint)}}
		}
		v, err := asn1.Marshal(idp)
		if err != nil {
			t.Fatal(err)
		}
		rl.ExtraExtensions = []pkix.Extension{{Id: oidIssuingDP, Critical: true, Value: v}}
	}
	der, err := x509.CreateRevocationList(rand.Reader, rl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatalf("CreateRevocationList: %v", err)
	}
	return der
}

// TestWriteCRL parses the CRL of each CA of the hierarchy (P-384, P-256, RSA
// 3072) with crypto/x509 and checks every field and the signature.
func TestWriteCRL(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	list := sampleEntries(t)
	for _, tc := range []struct {
		ca   *pkitest.CA
		alg  x509.SignatureAlgorithm
		user bool
	}{
		{h.Root, x509.ECDSAWithSHA384, false},
		{h.Issuing, x509.ECDSAWithSHA256, true},
		{h.TLS, x509.SHA256WithRSA, true},
	} {
		t.Run(tc.ca.ID, func(t *testing.T) {
			tmpl := crlTemplate(42)
			tmpl.IssuingDistributionPoint = tc.ca.URLs.CRL
			tmpl.OnlyContainsUserCerts = tc.user
			tmpl.OnlyContainsCACerts = !tc.user
			der := writeCRL(t, tc.ca, tmpl, list)
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := crl.CheckSignatureFrom(tc.ca.Cert); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if crl.SignatureAlgorithm != tc.alg {
				t.Errorf("signature algorithm %v, want %v", crl.SignatureAlgorithm, tc.alg)
			}
			if !bytes.Equal(crl.RawIssuer, tc.ca.Cert.RawSubject) || !bytes.Equal(crl.AuthorityKeyId, tc.ca.Cert.SubjectKeyId) {
				t.Error("issuer or authority key identifier wrong")
			}
			if crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(tmpl.ThisUpdate) || !crl.NextUpdate.Equal(tmpl.NextUpdate) {
				t.Errorf("number %v thisUpdate %v nextUpdate %v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
			}
			var sawIDP bool
			for _, ext := range crl.Extensions {
				switch {
				case ext.Id.Equal(oidIssuingDP):
					sawIDP = true
					checkIDP(t, ext, tmpl)
				case ext.Id.Equal(oidCRLNumber), ext.Id.Equal(oidAuthorityKeyID):
					if ext.Critical {
						t.Errorf("%v is critical", ext.Id)
					}
				default:
					t.Errorf("unexpected extension %v", ext.Id)
				}
			}
			if !sawIDP {
				t.Error("no issuing distribution point")
			}
			if len(crl.RevokedCertificateEntries) != len(list) {
				t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(list))
			}
			for i, got := range crl.RevokedCertificateEntries {
				want := list[i]
				if pki.SerialHex(got.SerialNumber) != strings.TrimLeft(strings.ToLower(want.Serial), "0") {
					t.Errorf("entry %d: serial %x, want %s", i, got.SerialNumber, want.Serial)
				}
				if !got.RevocationTime.Equal(want.RevokedAt.Truncate(time.Second)) {
					t.Errorf("entry %d: revoked at %v, want %v", i, got.RevocationTime, want.RevokedAt)
				}
				if got.ReasonCode != int(want.Reason) {
					t.Errorf("entry %d: reason %d, want %d", i, got.ReasonCode, want.Reason)
				}
				var invalidity time.Time
				hasReason := false
				for _, ext := range got.Extensions {
					switch {
					case ext.Id.Equal(oidReasonCode):
						hasReason = true
					case ext.Id.Equal(oidInvalidityDate):
						if _, err := asn1.UnmarshalWithParams(ext.Value, &invalidity, "generalized"); err != nil {
							t.Errorf("entry %d: invalidity date: %v", i, err)
						}
					}
				}
				if hasReason != (want.Reason != selo.ReasonUnspecified) {
					t.Errorf("entry %d: reasonCode extension present %v for reason %v", i, hasReason, want.Reason)
				}
				if !invalidity.Equal(want.InvalidityDate) {
					t.Errorf("entry %d: invalidity date %v, want %v", i, invalidity, want.InvalidityDate)
				}
			}
			// The sample has certificateHold and other reasons the CA/B
			// Forum BRs refuse; those lints run in TestWriteCRLLintBR.
			lintCRL(t, der, lint.RFC5280, lint.Community)
		})
	}
}

// TestWriteCRLLintBR lints the TLS CA's CRL with the reasons the CA/B Forum
// BRs (7.2.2) allow under the BR, RFC and community lints.
func TestWriteCRLLintBR(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	var list []pki.CRLEntry
	for i, r := range []selo.RevocationReason{selo.ReasonUnspecified, selo.ReasonKeyCompromise, selo.ReasonAffiliationChanged,
		selo.ReasonSuperseded, selo.ReasonCessationOfOperation, selo.ReasonPrivilegeWithdrawn} {
		list = append(list, pki.CRLEntry{Serial: pki.SerialHex(mustSerial(t)), RevokedAt: pkitest.Now.Add(-time.Duration(i) * time.Hour), Reason: r})
	}
	tmpl := crlTemplate(3)
	tmpl.IssuingDistributionPoint = h.TLS.URLs.CRL
	tmpl.OnlyContainsUserCerts = true
	lintCRL(t, writeCRL(t, h.TLS, tmpl, list), lint.RFC5280, lint.CABFBaselineRequirements, lint.Community)
	lintCRL(t, writeCRL(t, h.TLS, crlTemplate(4), nil), lint.RFC5280, lint.CABFBaselineRequirements, lint.Community)
}

func checkIDP(t *testing.T, ext pkix.Extension, tmpl pki.CRLTemplate) {
	t.Helper()
	if !ext.Critical {
		t.Error("issuing distribution point is not critical")
	}
	in := cryptobyte.String(ext.Value)
	var idp, dpn, fullName, uri cryptobyte.String
	if !in.ReadASN1(&idp, cbasn1.SEQUENCE) || !idp.ReadASN1(&dpn, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!dpn.ReadASN1(&fullName, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!fullName.ReadASN1(&uri, cbasn1.Tag(6).ContextSpecific()) || !fullName.Empty() || !dpn.Empty() {
		t.Fatalf("malformed issuing distribution point %x", ext.Value)
	}
	if string(uri) != tmpl.IssuingDistributionPoint {
		t.Errorf("idp uri %q, want %q", uri, tmpl.IssuingDistributionPoint)
	}
	var flag cryptobyte.String
	tag := cbasn1.Tag(1).ContextSpecific()
	if tmpl.OnlyContainsCACerts {
		tag = cbasn1.Tag(2).ContextSpecific()
	}
	if !idp.ReadASN1(&flag, tag) || !bytes.Equal(flag, []byte{0xff}) || !idp.Empty() {
		t.Errorf("idp flags wrong: %x", ext.Value)
	}
}

// lintCRL runs zlint's CRL lints of the given sources: no error and no
// warning may remain.
func lintCRL(t *testing.T, der []byte, sources ...lint.LintSource) {
	t.Helper()
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("zcrypto parse crl: %v", err)
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: sources})
	if err != nil {
		t.Fatal(err)
	}
	rs := zlint.LintRevocationListEx(crl, reg)
	ran := 0
	for name, r := range rs.Results {
		ran++
		switch r.Status {
		case lint.Warn, lint.Error, lint.Fatal:
			t.Errorf("zlint %s: %s %s", r.Status, name, r.Details)
		}
	}
	if ran < 5 {
		t.Errorf("only %d crl lints ran", ran)
	}
}

// TestWriteCRLMatchesCreateRevocationList checks that the to-be-signed list
// is byte for byte the one crypto/x509 makes from the same input, and that
// the whole CRL has the same structure (only the ECDSA signature differs).
func TestWriteCRLMatchesCreateRevocationList(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	full := crlTemplate(7)
	full.IssuingDistributionPoint = h.Issuing.URLs.CRL
	full.OnlyContainsUserCerts = true
	onlyFlag := crlTemplate(8)
	onlyFlag.OnlyContainsCACerts = true
	for _, tc := range []struct {
		name string
		ca   *pkitest.CA
		tmpl pki.CRLTemplate
		list []pki.CRLEntry
	}{
		{"entries", h.Issuing, crlTemplate(1), sampleEntries(t)},
		{"empty", h.Issuing, crlTemplate(0), nil},
		{"idp", h.Issuing, full, sampleEntries(t)},
		{"idp-flag-only", h.Root, onlyFlag, nil},
		{"rsa", h.TLS, crlTemplate(1 << 40), sampleEntries(t)[:3]},
		{"after-2049", h.Root, pki.CRLTemplate{Number: 9, ThisUpdate: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), NextUpdate: time.Date(2050, 2, 1, 0, 0, 0, 0, time.UTC)},
			[]pki.CRLEntry{{Serial: "1234", RevokedAt: time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)}, {Serial: "5678", RevokedAt: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), Reason: selo.ReasonKeyCompromise}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours := writeCRL(t, tc.ca, tc.tmpl, tc.list)
			ref := referenceCRL(t, tc.ca, tc.tmpl, tc.list)
			a, err := x509.ParseRevocationList(ours)
			if err != nil {
				t.Fatal(err)
			}
			b, err := x509.ParseRevocationList(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.RawTBSRevocationList, b.RawTBSRevocationList) {
				t.Fatalf("tbsCertList differs from crypto/x509's\n ours %x\n x509 %x", a.RawTBSRevocationList, b.RawTBSRevocationList)
			}
			if tc.ca == h.TLS && !bytes.Equal(ours, ref) {
				// RSA PKCS#1 v1.5 signatures are deterministic.
				t.Error("rsa crl differs from crypto/x509's")
			}
			if err := a.CheckSignatureFrom(tc.ca.Cert); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWriteCRLOpenSSL has OpenSSL print and verify a CRL with every kind of entry.
func TestWriteCRLOpenSSL(t *testing.T) {
	bin := openssl(t)
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	for _, ca := range []*pkitest.CA{h.Issuing, h.TLS} {
		tmpl := crlTemplate(4711)
		tmpl.IssuingDistributionPoint = ca.URLs.CRL
		tmpl.OnlyContainsUserCerts = true
		list := sampleEntries(t)
		crlPath := writeFile(t, dir, ca.ID+".crl", writeCRL(t, ca, tmpl, list))
		caPath := writeFile(t, dir, ca.ID+".pem", pki.EncodePEM(ca.Cert))
		out, err := runOpenSSL(t, bin, "crl", "-inform", "DER", "-in", crlPath, "-text", "-noout")
		if err != nil {
			t.Fatalf("openssl crl -text: %v\n%s", err, out)
		}
		for _, want := range []string{
			"Version 2 (0x1)", "X509v3 CRL Number: \n                4711", "X509v3 Issuing Distribution Point: critical",
			"URI:" + ca.URLs.CRL, "Only User Certificates", "Key Compromise", "Certificate Hold", "Privilege Withdrawn",
			"Invalidity Date:", "Serial Number: 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "Serial Number: 80",
			"Last Update: Nov 24 11:00:00 2026 GMT", "Next Update: Dec  1 11:00:00 2026 GMT",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: openssl output lacks %q:\n%s", ca.ID, want, out)
			}
		}
		if n := strings.Count(out, "Serial Number:"); n != len(list) {
			t.Errorf("%s: openssl lists %d entries, want %d", ca.ID, n, len(list))
		}
		out, err = runOpenSSL(t, bin, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", caPath, "-noout")
		if err != nil || !strings.Contains(out, "verify OK") {
			t.Errorf("%s: openssl crl -CAfile: %v\n%s", ca.ID, err, out)
		}
		// A CRL signed by another CA must fail, or the check above proves nothing.
		other := writeFile(t, dir, "other.pem", pki.EncodePEM(h.Root.Cert))
		if out, err := runOpenSSL(t, bin, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", other, "-noout"); err == nil && strings.Contains(out, "verify OK") {
			t.Errorf("%s: openssl verified the crl under the wrong CA:\n%s", ca.ID, out)
		}
	}
}

// TestWriteCRLErrors checks that bad input is EINVALID, that an error from
// the entries function comes back wrapped, and that in every failure w stays
// empty and the spool file is gone.
func TestWriteCRLErrors(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	leaf := issue(t, h, "qualified-seal", "ecdsa-p256").Cert
	good := []pki.CRLEntry{{Serial: "abcd", RevokedAt: pkitest.Now}}
	errBoom := errors.New("database went away")
	with := func(f func(*pki.CRLTemplate)) pki.CRLTemplate {
		tmpl := crlTemplate(1)
		f(&tmpl)
		return tmpl
	}
	entry := func(e pki.CRLEntry) []pki.CRLEntry {
		if e.RevokedAt.IsZero() {
			e.RevokedAt = pkitest.Now
		}
		return []pki.CRLEntry{good[0], e}
	}
	for _, tc := range []struct {
		name    string
		issuer  *x509.Certificate
		tmpl    pki.CRLTemplate
		entries func(func(pki.CRLEntry) error) error
		want    string // EINVALID message part; "" for the wrapped errBoom
	}{
		{"not a crl issuer", leaf, crlTemplate(1), entriesOf(good), "cRLSign"},
		{"wrong key", h.Root.Cert, crlTemplate(1), entriesOf(good), "does not hold the key"},
		{"no thisUpdate", nil, with(func(t *pki.CRLTemplate) { t.ThisUpdate = time.Time{} }), entriesOf(good), "thisUpdate is missing"},
		{"nextUpdate before", nil, with(func(t *pki.CRLTemplate) { t.NextUpdate = t.ThisUpdate.Add(-time.Hour) }), entriesOf(good), "not after thisUpdate"},
		{"no nextUpdate", nil, with(func(t *pki.CRLTemplate) { t.NextUpdate = time.Time{} }), entriesOf(good), "not after thisUpdate"},
		{"negative number", nil, with(func(t *pki.CRLTemplate) { t.Number = -1 }), entriesOf(good), "negative"},
		{"both flags", nil, with(func(t *pki.CRLTemplate) { t.OnlyContainsCACerts, t.OnlyContainsUserCerts = true, true }), entriesOf(good), "only user"},
		{"bad idp", nil, with(func(t *pki.CRLTemplate) { t.IssuingDistributionPoint = "ldap://x/cn=crl" }), entriesOf(good), "not an absolute http"},
		{"year 10000", nil, with(func(t *pki.CRLTemplate) { t.NextUpdate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), entriesOf(good), "nextUpdate"},
		{"empty serial", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{})), "entry 2 (serial ): serial is empty"},
		{"zero serial", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "000"})), "serial is zero"},
		{"negative serial", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "-1"})), "not hex"},
		{"not hex", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "12g4"})), "not hex"},
		{"21 octets", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: strings.Repeat("1", 42)})), "longer than 20 octets"},
		{"20 octets top bit", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "8" + strings.Repeat("0", 39)})), "longer than 20 octets"},
		{"no revocation time", nil, crlTemplate(1), entriesOf([]pki.CRLEntry{{Serial: "1"}}), "revocation time is missing"},
		{"revoked after thisUpdate", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "1", RevokedAt: crlThisUpdate.Add(time.Second)})), "after the crl's thisUpdate"},
		{"removeFromCRL", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "1", Reason: selo.ReasonRemoveFromCRL})), "removeFromCRL"},
		{"reason 7", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "1", Reason: 7})), "reason(7)"},
		{"invalidity year 0", nil, crlTemplate(1), entriesOf(entry(pki.CRLEntry{Serial: "1", InvalidityDate: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)})), "invalidity date"},
		{"entries fails", nil, crlTemplate(1), func(yield func(pki.CRLEntry) error) error {
			if err := yield(good[0]); err != nil {
				return err
			}
			return errBoom
		}, ""},
		{"entries swallows the yield error", nil, crlTemplate(1), func(yield func(pki.CRLEntry) error) error {
			_ = yield(pki.CRLEntry{Serial: "zz", RevokedAt: pkitest.Now})
			_ = yield(good[0])
			return nil
		}, "not hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer
			if issuer == nil {
				issuer = h.Issuing.Cert
			}
			dir := t.TempDir()
			tc.tmpl.TempDir = dir
			var w bytes.Buffer
			_, err := pki.WriteCRL(&w, issuer, h.Issuing.Key, tc.tmpl, tc.entries)
			if tc.want == "" {
				if !errors.Is(err, errBoom) {
					t.Errorf("got %v, want the entries error wrapped", err)
				}
			} else if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tc.want)
			}
			if w.Len() != 0 {
				t.Errorf("%d bytes written to w on error", w.Len())
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("spool files left behind: %v", left)
			}
		})
	}
	if _, err := pki.WriteCRL(io.Discard, nil, h.Issuing.Key, crlTemplate(1), entriesOf(good)); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("nil issuer: %v", err)
	}
	if _, err := pki.WriteCRL(io.Discard, h.Issuing.Cert, h.Issuing.Key, crlTemplate(1), nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("nil entries: %v", err)
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteCRLWriterFails(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	dir := t.TempDir()
	tmpl := crlTemplate(1)
	tmpl.TempDir = dir
	for _, n := range []int{0, 10, 200, 5000} {
		_, err := pki.WriteCRL(&failingWriter{n: n}, h.Issuing.Cert, h.Issuing.Key, tmpl, entriesOf(benchEntries(t, 500)))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d bytes: got %v", n, err)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

// TestWriteCRLBoundedMemory writes 10,000 entries, checks the result, and
// checks that what WriteCRL allocates does not grow with the number of
// entries: 10,000 entries cost no more than 1,000 (plus slack for the runtime).
func TestWriteCRLBoundedMemory(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	small, large := benchEntries(t, 1000), benchEntries(t, 10000)
	tmpl := crlTemplate(1)
	tmpl.TempDir = t.TempDir()

	var buf bytes.Buffer
	if _, err := pki.WriteCRL(&buf, h.Issuing.Cert, h.Issuing.Key, tmpl, entriesOf(large)); err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(h.Issuing.Cert); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != len(large) {
		t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(large))
	}
	for _, i := range []int{0, 4321, len(large) - 1} {
		if got := pki.SerialHex(crl.RevokedCertificateEntries[i].SerialNumber); got != large[i].Serial {
			t.Errorf("entry %d: serial %s, want %s", i, got, large[i].Serial)
		}
	}

	allocated := func(list []pki.CRLEntry) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := pki.WriteCRL(io.Discard, h.Issuing.Cert, h.Issuing.Key, tmpl, entriesOf(list)); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	allocated(small) // warm up
	a, b := allocated(small), allocated(large)
	t.Logf("allocated: %d bytes for %d entries, %d bytes for %d entries", a, len(small), b, len(large))
	if b > a+64<<10 {
		t.Errorf("allocation grows with the entries: %d bytes for %d, %d bytes for %d", a, len(small), b, len(large))
	}
}

// benchEntries returns n realistic entries: 128-bit serials (as RandomSerial
// makes them), revocation times spread over a year, a third without reason, a
// third keyCompromise, a third superseded. They are the same on every call.
func benchEntries(t testing.TB, n int) []pki.CRLEntry {
	t.Helper()
	entries, _ := benchInput(n)
	return entries
}

var benchInputs sync.Map // n -> *benchInputData

type benchInputData struct {
	once    sync.Once
	entries []pki.CRLEntry
	x509    []x509.RevocationListEntry
}

// benchInput returns the same n entries in both forms: pki.CRLEntry and
// x509.RevocationListEntry.
func benchInput(n int) ([]pki.CRLEntry, []x509.RevocationListEntry) {
	v, _ := benchInputs.LoadOrStore(n, &benchInputData{})
	d := v.(*benchInputData)
	d.once.Do(func() {
		rng := mrand.New(mrand.NewPCG(1, uint64(n)))
		reasons := []selo.RevocationReason{selo.ReasonUnspecified, selo.ReasonKeyCompromise, selo.ReasonSuperseded}
		d.entries = make([]pki.CRLEntry, n)
		d.x509 = make([]x509.RevocationListEntry, n)
		start := pkitest.Now.Add(-365 * 24 * time.Hour)
		for i := range n {
			var b [16]byte
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			b[0] = b[0]&0x7f | 0x01
			serial := new(big.Int).SetBytes(b[:])
			at := start.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
			r := reasons[i%3]
			d.entries[i] = pki.CRLEntry{Serial: pki.SerialHex(serial), RevokedAt: at, Reason: r}
			d.x509[i] = x509.RevocationListEntry{SerialNumber: serial, RevocationTime: at, ReasonCode: int(r)}
		}
	})
	return d.entries, d.x509
}

const benchCRLSize = 1_000_000

// peakHeap samples the live heap while f runs and returns the highest value
// above the heap before f, after a GC: the extra memory f held at once.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	peak = max(peak, read())
	return peak - base
}

// BenchmarkWriteCRL1M writes a CRL of a million entries with the P-256
// issuing CA, to io.Discard and to a bytes.Buffer (which then holds the whole
// CRL, as x509.CreateRevocationList's result does). The entries are made
// before the timer starts; peak-heap-MB is the most heap held at once.
func BenchmarkWriteCRL1M(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	entries, _ := benchInput(benchCRLSize)
	tmpl := crlTemplate(1)
	for _, tc := range []struct {
		name string
		w    func() io.Writer
	}{
		{"discard", func() io.Writer { return io.Discard }},
		{"buffer", func() io.Writer { return new(bytes.Buffer) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					if _, err := pki.WriteCRL(tc.w(), h.Issuing.Cert, h.Issuing.Key, tmpl, entriesOf(entries)); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkCRLCreateRevocationList1M is the reference for BenchmarkWriteCRL1M:
// crypto/x509 with the same million entries, the template either made
// before the timer ("prebuilt", its encoding cost alone) or in the loop
// ("building", as a caller streaming from a database would have to).
func BenchmarkCRLCreateRevocationList1M(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	entries, x509Entries := benchInput(benchCRLSize)
	for _, tc := range []struct {
		name     string
		template func() *x509.RevocationList
	}{
		{"prebuilt", func() *x509.RevocationList {
			return &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: crlThisUpdate, NextUpdate: crlThisUpdate.Add(7 * 24 * time.Hour), RevokedCertificateEntries: x509Entries}
		}},
		{"building", func() *x509.RevocationList {
			list := make([]x509.RevocationListEntry, 0, len(entries))
			for _, e := range entries {
				serial, _ := new(big.Int).SetString(e.Serial, 16)
				list = append(list, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: int(e.Reason)})
			}
			return &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: crlThisUpdate, NextUpdate: crlThisUpdate.Add(7 * 24 * time.Hour), RevokedCertificateEntries: list}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					if _, err := x509.CreateRevocationList(rand.Reader, tc.template(), h.Issuing.Cert, h.Issuing.Key); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
