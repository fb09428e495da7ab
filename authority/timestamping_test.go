package authority_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// TestIssueTimestamping: the TSA certificate comes from the authority like
// every other one, under the timestamping profile, with a key that never
// leaves the key store and its issuance in the audit log.
func TestIssueTimestamping(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	rec, err := env.Authority.IssueTimestamping(ctx, "cli:test", authority.TimestampingRequest{CAID: testenv.QualifiedID})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	cert, _ := x509.ParseCertificate(rec.DER)
	if err := timestamp.CheckCertificate(cert); err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Selo Test Trust Services TSA" || rec.Profile != pki.TimestampingProfileName || rec.CAID != testenv.QualifiedID {
		t.Fatalf("subject %q profile %q CA %q", cert.Subject, rec.Profile, rec.CAID)
	}
	// The key is in the key store and never exportable.
	if _, err := env.Keys.ExportKey(ctx, rec.KeyID); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Fatalf("export TSA key: %v", err)
	}
	// The issuance is in the audit log.
	entries, err := env.Store.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range entries {
		if e.Action == "tsa-certificate.issue" && e.Outcome == selo.OutcomeSuccess && strings.Contains(e.Object, rec.Serial) {
			found = true
			if strings.Contains(e.Details, "PRIVATE") {
				t.Fatal("audit details hold key material")
			}
		}
	}
	if !found {
		t.Fatal("no audit entry for the TSA certificate")
	}
}

func TestIssueTimestampingRefusals(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	for name, req := range map[string]authority.TimestampingRequest{
		"root":    {CAID: testenv.RootID},
		"unknown": {CAID: "nope"},
		"long cn": {CAID: testenv.QualifiedID, CommonName: strings.Repeat("x", 65)},
	} {
		if _, err := env.Authority.IssueTimestamping(ctx, "cli:test", req); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
	entries, _ := env.Store.ListAudit(ctx, 0, 1000)
	failures := 0
	for _, e := range entries {
		if e.Action == "tsa-certificate.issue" && e.Outcome == selo.OutcomeFailure {
			failures++
		}
	}
	if failures != 3 {
		t.Fatalf("%d failure entries, want 3", failures)
	}
}
