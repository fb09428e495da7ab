package pki_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// TestIssueKeyLocation is issue 12 item 4: QcSSCD and the -qscd policies
// only for a key in a QSCD; a software key gets QCP-n / QCP-l without
// QcSSCD. Every variant is zlint clean, and a re-issue keeps the location.
func TestIssueKeyLocation(t *testing.T) {
	h := pkitest.NewHierarchy(t)
	for _, tc := range []struct {
		profile, kind string
		inQSCD        bool
		policy        string
	}{
		{"qualified-sign", pki.KindQualifiedNatural, true, "0.4.0.194112.1.2"},
		{"qualified-sign", pki.KindQualifiedNatural, false, "0.4.0.194112.1.0"},
		{"qualified-seal", pki.KindQualifiedLegal, true, "0.4.0.194112.1.3"},
		{"qualified-seal", pki.KindQualifiedLegal, false, "0.4.0.194112.1.1"},
		{"advanced-invoice", pki.KindAdvanced, true, "0.4.0.2042.1.1"},
		{"advanced-invoice", pki.KindAdvanced, false, "0.4.0.2042.1.1"},
	} {
		name := tc.profile + "/software"
		if tc.inQSCD {
			name = tc.profile + "/qscd"
		}
		t.Run(name, func(t *testing.T) {
			p := pki.BuiltinProfiles()[tc.profile]
			req := pkitest.Request(tc.profile, pkitest.NewKey(t, "ecdsa-p256").Public())
			req.KeyInQSCD = tc.inQSCD
			iss := h.IssuerFor(tc.profile).Issuer
			issued, err := iss.Issue(p, req, mustSerial(t), pkitest.Now, h.Linter)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*pki.Issued{issued, reissued(t, h, tc.profile, issued)} {
				wantSSCD := tc.inQSCD && strings.HasPrefix(tc.profile, "qualified")
				if got := pki.HasQcSSCD(c.Cert); got != wantSSCD {
					t.Errorf("QcSSCD %v, want %v", got, wantSSCD)
				}
				var policies []string
				for _, oid := range c.Cert.Policies {
					policies = append(policies, oid.String())
				}
				if !slices.Equal(policies, []string{tc.policy}) {
					t.Errorf("policies %v, want %s", policies, tc.policy)
				}
				findings, err := h.Linter.Lint(tc.kind, c.DER)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range findings {
					if f.Status == "warn" || f.Status == "error" || f.Status == "fatal" {
						t.Errorf("zlint %s: %s %s", f.Status, f.Lint, f.Details)
					}
				}
			}
		})
	}
}

// reissued makes c anew under the same issuer, as a CA change does.
func reissued(t *testing.T, h *pkitest.Hierarchy, profile string, c *pki.Issued) *pki.Issued {
	t.Helper()
	out, err := h.IssuerFor(profile).Issuer.Reissue(pki.BuiltinProfiles()[profile], c.Cert, mustSerial(t), pkitest.Now, h.Linter)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProfileQSCDConsistency: a profile cannot state QcSSCD without a QSCD
// policy, nor a QSCD policy without QcSSCD.
func TestProfileQSCDConsistency(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*pki.Profile)
	}{
		{"sscd without a qscd policy", func(p *pki.Profile) { p.Policies = []string{"0.4.0.194112.1.0"} }},
		{"qscd policy without sscd", func(p *pki.Profile) { qc := *p.QC; qc.SSCD = false; p.QC = &qc }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := *pki.BuiltinProfiles()["qualified-sign"]
			tc.edit(&p)
			h := pkitest.NewHierarchy(t)
			req := pkitest.Request("qualified-sign", pkitest.NewKey(t, "ecdsa-p256").Public())
			req.KeyInQSCD = true
			_, err := h.IssuerFor("qualified-sign").Issuer.Issue(&p, req, mustSerial(t), pkitest.Now, h.Linter)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "QSCD") {
				t.Fatalf("issue with an inconsistent profile: %v, want EINVALID naming the QSCD", err)
			}
		})
	}
}
