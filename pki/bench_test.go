package pki_test

import (
	"testing"

	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// BenchmarkIssue measures the whole in-process pipeline of one certificate:
// build, sign with the throwaway key, lint, sign for real, parse. The subject
// key is made once; its generation is not issuance.
func BenchmarkIssue(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	for _, tc := range []struct{ profile, key string }{
		{"qualified-sign", "ecdsa-p256"}, // P-256 leaf under the P-256 issuing CA
		{"qualified-seal", "ecdsa-p256"},
		{"advanced-invoice", "ecdsa-p256"},
		{"advanced-email", "ecdsa-p256"},
		{"tls-server", "rsa-2048"}, // RSA 2048 leaf under the RSA 3072 TLS CA
	} {
		b.Run(tc.profile, func(b *testing.B) {
			p := pki.BuiltinProfiles()[tc.profile]
			req := pkitest.Request(tc.profile, pkitest.NewKey(b, tc.key).Public())
			iss := h.IssuerFor(tc.profile).Issuer
			for b.Loop() {
				serial, err := pki.RandomSerial()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := iss.Issue(p, req, serial, pkitest.Now, h.Linter); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
		})
	}
}

// BenchmarkLint measures zlint alone with the filtered registry of each kind.
func BenchmarkLint(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	for _, tc := range issueProfiles {
		b.Run(tc.profile, func(b *testing.B) {
			der := issue(b, h, tc.profile, tc.keys[0]).DER
			for b.Loop() {
				if _, err := h.Linter.Lint(tc.kind, der); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lints/s")
		})
	}
}

// BenchmarkLintFullRegistry is the reference for BenchmarkLint: the same
// certificates under every registered zlint lint, which is what filtering by
// source saves on every issuance.
func BenchmarkLintFullRegistry(b *testing.B) {
	h := pkitest.NewHierarchy(b)
	for _, profile := range []string{"qualified-sign", "tls-server"} {
		b.Run(profile, func(b *testing.B) {
			der := issue(b, h, profile, "ecdsa-p256").DER
			for b.Loop() {
				if _, err := pki.LintFullRegistry(der); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lints/s")
		})
	}
}
