package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// TestCheapLintKey checks that the issuer's cheap throwaway key (P-256 for
// every ECDSA issuer, RSA 2048 for RSA) changes nothing but the cost: for
// every built-in profile under a P-256, a P-384 and an RSA 3072 issuing CA,
// the certificate signed for real has the same TBSCertificate and the same
// lint findings as with a throwaway key of the real key's size (the old
// way), and a lint refusal is the same refusal.
func TestCheapLintKey(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	p384 := newP384Issuer(t, h)
	issuers := map[string]*pki.Issuer{"ecdsa-p256": h.Issuing.Issuer, "ecdsa-p384": p384, "rsa-3072": h.TLS.Issuer}
	tooLong := pki.BuiltinProfiles()["tls-server"]
	tooLong.ValidityDays = 398 // refused by zlint (TestIssueLintRefusal)
	for issuerKey, iss := range issuers {
		twin, err := pki.SameSizeLintTwin(iss)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range issueProfiles {
			if (issuerKey == "rsa-3072") != (tc.kind == pki.KindTLS) {
				continue
			}
			profiles := []*pki.Profile{pki.BuiltinProfiles()[tc.profile]}
			if tc.profile == "tls-server" {
				profiles = append(profiles, tooLong)
			}
			for _, p := range profiles {
				req := pkitest.Request(tc.profile, pkitest.NewKey(t, tc.keys[0]).Public())
				req.KeyInQSCD = true
				serial := mustSerial(t)
				got, err1 := iss.Issue(p, req, serial, pkitest.Now, h.Linter)
				want, err2 := twin.Issue(p, req, serial, pkitest.Now, h.Linter)
				name := tc.profile + " under " + issuerKey
				if (err1 == nil) != (err2 == nil) || (err1 != nil && selo.ErrorMessage(err1) != selo.ErrorMessage(err2)) {
					t.Errorf("%s: cheap lint key says %v, same-size key says %v", name, err1, err2)
					continue
				}
				if err1 != nil {
					if p != tooLong {
						t.Errorf("%s: %v", name, err1)
					}
					continue
				}
				if p == tooLong {
					t.Errorf("%s valid for 398 days was issued: the refusal case tested nothing", name)
				}
				if !bytes.Equal(got.Cert.RawTBSCertificate, want.Cert.RawTBSCertificate) {
					t.Errorf("%s: the TBSCertificate differs from the one a same-size throwaway key gives", name)
				}
				if !reflect.DeepEqual(got.Findings, want.Findings) {
					t.Errorf("%s: findings %v, with a same-size throwaway key %v", name, got.Findings, want.Findings)
				}
				if err := got.Cert.CheckSignatureFrom(iss.Cert); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

// newP384Issuer makes an ECDSA P-384 issuing CA under the test root, as
// 'selo init' makes qualified-ecc-v1.
func newP384Issuer(t testing.TB, h *pkitest.Hierarchy) *pki.Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.NewSubordinateCertificate(h.Root.Issuer, key.Public(), pki.CAOptions{
		Subject:      pkix.Name{Country: []string{"PT"}, Organization: []string{"Selo Test Trust Services"}, CommonName: "Selo Test Qualified CA E2"},
		ValidityDays: 3652, PathLen: 0, ParentURLs: h.Root.URLs,
	}, mustSerial(t), pkitest.Now.AddDate(0, -1, 0), h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := pki.NewIssuer(cert, key, pkitest.URLs("qualified-e2"))
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// BenchmarkIssueLintKey measures the whole pipeline of a qualified-sign
// certificate (P-256 subject key) under a P-384 issuing CA, the CA 'selo
// init' makes, with the cheap throwaway key and with one of the real key's
// size (before lintKey), as sub-benchmarks of one run: with -count N they
// alternate, so both see the same load.
//
//	go test -run '^$' -bench BenchmarkIssueLintKey -count 6 ./pki/
func BenchmarkIssueLintKey(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	cheap := newP384Issuer(b, h)
	sameSize, err := pki.SameSizeLintTwin(cheap)
	if err != nil {
		b.Fatal(err)
	}
	p := pki.BuiltinProfiles()["qualified-sign"]
	req := pkitest.Request("qualified-sign", pkitest.NewKey(b, "ecdsa-p256").Public())
	req.KeyInQSCD = true
	for _, tc := range []struct {
		name string
		iss  *pki.Issuer
	}{{"same-size-p384", sameSize}, {"cheap-p256", cheap}} {
		b.Run(tc.name, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				serial, err := pki.RandomSerial()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tc.iss.Issue(p, req, serial, pkitest.Now, h.Linter); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
			// CPU time per certificate is blind to other processes on a
			// shared machine, which wall-clock rates are not.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/cert")
		})
	}
}

// processCPU is the user + system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
