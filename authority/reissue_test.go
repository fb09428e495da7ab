package authority_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/store/storetest"
)

// IDs of the CAs that replace testenv's in these tests.
const (
	newQualifiedID = "qualified-ecc-t2"
	newTLSID       = "tls-ecc-t2"
)

// newHierarchy adds the CAs that replace the qualified and TLS CAs.
func (s *stack) newHierarchy(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []authority.CreateCAOptions{
		{ID: newQualifiedID, Name: "Selo Test Qualified CA ECC T2", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 3650},
		{ID: newTLSID, Name: "Selo Test TLS CA ECC T2", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 3650, Policies: []string{"2.23.140.1.2.1"}},
	} {
		o.Organization, o.Country = "Selo Test Trust Services", "PT"
		if _, err := s.A.CreateCA(ctx, "operator", o); err != nil {
			t.Fatalf("create CA %s: %v", o.ID, err)
		}
	}
}

// TestReissue re-issues certificates under a new CA and checks the
// "certificate update" contract: same key, subject, SANs and notAfter, the
// old certificate superseded (not revoked), and a second re-issue refused.
func TestReissue(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		s.newHierarchy(t)
		email := pkitest.Request("advanced-email", nil)
		generated, err := s.A.Issue(ctx, "tester", authority.IssueRequest{Profile: "advanced-email", GenerateKey: selo.KeyECDSAP256, Subject: email.Subject, EmailAddresses: email.EmailAddresses})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			old   *selo.Certificate
			newCA string
		}{
			{"qualified-sign", s.issue(t, "qualified-sign", "ecdsa-p256"), newQualifiedID},
			{"qualified-seal", s.issue(t, "qualified-seal", "rsa-3072"), newQualifiedID},
			{"advanced-email with a key Selo holds", generated, newQualifiedID},
			{"tls-server", s.issue(t, "tls-server", "rsa-2048"), newTLSID},
		} {
			t.Run(tt.name, func(t *testing.T) {
				old := tt.old
				oldLeaf := leafOf(t, old)
				// A serial as a person types it.
				cert, err := s.A.Reissue(ctx, "operator", strings.ToUpper(old.Serial), tt.newCA)
				if err != nil {
					t.Fatalf("Reissue: %v", err)
				}
				leaf := leafOf(t, cert)
				if cert.CAID != tt.newCA || cert.ReissuedFrom != old.Serial || cert.Serial == old.Serial || cert.Profile != old.Profile ||
					cert.KeyID != old.KeyID || cert.Status != selo.CertValid || cert.SupersededBy != "" {
					t.Fatalf("re-issued record %+v", cert)
				}
				if !samePublicKey(leaf.PublicKey, oldLeaf.PublicKey) {
					t.Fatal("the re-issued certificate has another public key")
				}
				if !bytes.Equal(leaf.RawSubject, oldLeaf.RawSubject) || cert.Subject != old.Subject {
					t.Fatalf("subject changed: %s -> %s", oldLeaf.Subject, leaf.Subject)
				}
				if !leaf.NotAfter.Equal(oldLeaf.NotAfter) || !cert.NotAfter.Equal(old.NotAfter) {
					t.Fatalf("notAfter changed: %v -> %v", oldLeaf.NotAfter, leaf.NotAfter)
				}
				if !slices.Equal(leaf.DNSNames, oldLeaf.DNSNames) || !slices.Equal(leaf.EmailAddresses, oldLeaf.EmailAddresses) {
					t.Fatalf("SANs changed: %v %v -> %v %v", oldLeaf.DNSNames, oldLeaf.EmailAddresses, leaf.DNSNames, leaf.EmailAddresses)
				}
				if leaf.NotBefore.Before(oldLeaf.NotBefore) || leaf.NotBefore.After(time.Now()) {
					t.Fatalf("notBefore %v of the re-issue is not the time of re-issue", leaf.NotBefore)
				}
				if leaf.SerialNumber.BitLen() < 64 {
					t.Fatalf("serial of %d bits", leaf.SerialNumber.BitLen())
				}
				if !slices.Equal(leaf.CRLDistributionPoints, []string{testenv.BaseURL + "/crl/" + tt.newCA + ".crl"}) ||
					!slices.Equal(leaf.IssuingCertificateURL, []string{testenv.BaseURL + "/ca/" + tt.newCA + ".crt"}) {
					t.Fatalf("the re-issue points to the old CA: %v %v", leaf.CRLDistributionPoints, leaf.IssuingCertificateURL)
				}
				if pki.HasQcSSCD(leaf) != pki.HasQcSSCD(oldLeaf) {
					t.Fatalf("QcSSCD %v after the re-issue, %v before: the key has not moved", pki.HasQcSSCD(leaf), pki.HasQcSSCD(oldLeaf))
				}
				for _, p := range s.Profiles[old.Profile].Policies {
					if !pki.HasQcSSCD(oldLeaf) {
						p = plainPolicy(p)
					}
					if !hasPolicy(t, leaf, p) {
						t.Fatalf("re-issue lacks policy %s", p)
					}
				}
				chain, err := s.A.Chain(ctx, tt.newCA)
				if err != nil {
					t.Fatal(err)
				}
				verifyChain(t, leaf, chain, time.Now())
				opensslVerify(t, leaf, chain)

				stored, err := s.Store.FindCertificate(ctx, old.Serial)
				if err != nil {
					t.Fatal(err)
				}
				if stored.Status != selo.CertSuperseded || stored.SupersededBy != cert.Serial || !bytes.Equal(stored.DER, old.DER) {
					t.Fatalf("old certificate is %s, superseded by %q; want superseded by %s, DER kept", stored.Status, stored.SupersededBy, cert.Serial)
				}
				if stored, err := s.Store.FindCertificate(ctx, cert.Serial); err != nil || !bytes.Equal(stored.DER, cert.DER) || stored.ReissuedFrom != old.Serial {
					t.Fatalf("the re-issue is not stored: %v", err)
				}
				entries := s.findAudit(t, "certificate.reissue", "certificate/"+cert.Serial)
				if len(entries) != 1 || entries[0].Outcome != selo.OutcomeSuccess || entries[0].Actor != "operator" {
					t.Fatalf("%d audit entries for the re-issue", len(entries))
				}
				if d := details(t, entries[0]); d["old_serial"] != old.Serial || d["old_ca"] != old.CAID || d["ca"] != tt.newCA {
					t.Fatalf("re-issue audit details %s", entries[0].Details)
				}

				// Twice is refused: the old certificate is no longer valid.
				certs := len(s.certificates(t, selo.CertificateFilter{}))
				_, err = s.A.Reissue(ctx, "operator", old.Serial, tt.newCA)
				wantCode(t, err, selo.ECONFLICT)
				wantFailureAudit(t, s.lastAudit(t), "certificate.reissue", "certificate/"+old.Serial, selo.ECONFLICT)
				// The re-issue itself is already under the new CA.
				_, err = s.A.Reissue(ctx, "operator", cert.Serial, tt.newCA)
				wantCode(t, err, selo.EINVALID)
				if n := len(s.certificates(t, selo.CertificateFilter{})); n != certs {
					t.Fatalf("a refused re-issue stored a certificate: %d, want %d", n, certs)
				}
			})
		}
		s.verifyAudit(t)
	})
}

// TestReissueRefusals checks requests that must not re-issue: each leaves
// the certificate valid and is audited.
func TestReissueRefusals(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	s.newHierarchy(t)
	if _, err := s.A.CreateCA(ctx, "operator", authority.CreateCAOptions{ID: "retired-t2", Name: "Retired", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.A.RetireCA(ctx, "operator", "retired-t2"); err != nil {
		t.Fatal(err)
	}
	old := s.issue(t, "qualified-sign", "ecdsa-p256")
	for _, tt := range []struct {
		name, serial, newCA, code string
	}{
		{"unknown serial", "0badc0ffee", newQualifiedID, selo.ENOTFOUND},
		{"serial that is not hex", "not-a-serial", newQualifiedID, selo.EINVALID},
		{"same CA", old.Serial, testenv.QualifiedID, selo.EINVALID},
		// No CA named: the profile's CA, which is the one that issued it.
		{"no CA named", old.Serial, "", selo.EINVALID},
		{"root CA", old.Serial, testenv.RootID, selo.EINVALID},
		{"unknown CA", old.Serial, "no-such-ca", selo.ENOTFOUND},
		{"retired CA", old.Serial, "retired-t2", selo.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certs := len(s.certificates(t, selo.CertificateFilter{}))
			cert, err := s.A.Reissue(ctx, "operator", tt.serial, tt.newCA)
			if cert != nil {
				t.Fatalf("Reissue returned certificate %s under %s", cert.Serial, cert.CAID)
			}
			wantCode(t, err, tt.code)
			wantFailureAudit(t, s.lastAudit(t), "certificate.reissue", "certificate/"+tt.serial, tt.code)
			if n := len(s.certificates(t, selo.CertificateFilter{})); n != certs {
				t.Fatalf("%d certificates after a refused re-issue, want %d", n, certs)
			}
			if c, err := s.Store.FindCertificate(ctx, old.Serial); err != nil || c.Status != selo.CertValid || c.SupersededBy != "" {
				t.Fatalf("the certificate changed after a refused re-issue: %+v, %v", c, err)
			}
		})
	}
}

// TestReissueExpired checks that an expired certificate is not re-issued.
func TestReissueExpired(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	s := sqliteStack(t, testenv.Options{Clock: clock})
	ctx := context.Background()
	old := s.issue(t, "tls-server", "ecdsa-p256")
	clock.Add(200 * 24 * time.Hour) // tls-server certificates last 199 days
	s.newHierarchy(t)
	_, err := s.A.Reissue(ctx, "operator", old.Serial, newTLSID)
	wantCode(t, err, selo.EINVALID)
	if !strings.Contains(selo.ErrorMessage(err), "expired") {
		t.Fatalf("message %q does not say the certificate expired", selo.ErrorMessage(err))
	}
	if c, _ := s.Store.FindCertificate(ctx, old.Serial); c.Status != selo.CertValid {
		t.Fatalf("expired certificate is %s after a refused re-issue", c.Status)
	}
}

// TestReissueLostRace re-issues a certificate that a concurrent re-issue has
// just superseded (the read saw it still valid): the store refuses, and the
// authority must not take that for a serial collision and sign again.
func TestReissueLostRace(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	s.newHierarchy(t)
	if _, err := s.A.CreateCA(ctx, "operator", authority.CreateCAOptions{ID: "qualified-ecc-t3", Name: "Selo Test Qualified CA ECC T3", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}); err != nil {
		t.Fatal(err)
	}
	old := s.issue(t, "qualified-sign", "ecdsa-p256")
	if _, err := s.A.Reissue(ctx, "operator", old.Serial, newQualifiedID); err != nil {
		t.Fatal(err)
	}
	var supersedes int
	a := s.with(t, &hookStore{
		Store: s.Store,
		findCertificate: func(ctx context.Context, next selo.Store, serial string) (*selo.Certificate, error) {
			c, err := next.FindCertificate(ctx, serial)
			if err == nil && serial == old.Serial {
				c.Status, c.SupersededBy = selo.CertValid, "" // read before the winner committed
			}
			return c, err
		},
		supersedeCertificate: func(ctx context.Context, next selo.Store, oldSerial string, c *selo.Certificate, e *selo.AuditEntry) error {
			supersedes++
			return next.SupersedeCertificate(ctx, oldSerial, c, e)
		},
	}, nil)
	certs := len(s.certificates(t, selo.CertificateFilter{}))
	_, err := a.Reissue(ctx, "operator", old.Serial, "qualified-ecc-t3")
	wantCode(t, err, selo.ECONFLICT)
	if supersedes != 1 {
		t.Fatalf("the authority signed %d re-issues of a certificate already superseded, want 1", supersedes)
	}
	if n := len(s.certificates(t, selo.CertificateFilter{})); n != certs {
		t.Fatalf("%d certificates, want %d", n, certs)
	}
}

// TestReissueAll moves every certificate of a CA to a new CA, is stopped
// twice (between two re-issues, and in the middle of one) and resumed, and
// checks that each certificate was re-issued exactly once.
func TestReissueAll(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		var originals []*selo.Certificate
		profiles := []string{"qualified-sign", "advanced-email", "advanced-invoice", "qualified-seal"}
		for i := 0; i < 10; i++ {
			originals = append(originals, s.issue(t, profiles[i%len(profiles)], "ecdsa-p256"))
		}
		other := s.issue(t, "tls-server", "ecdsa-p256")
		s.newHierarchy(t)

		// Run 1: stopped by the caller after four certificates.
		ctx1, cancel1 := context.WithCancel(ctx)
		var reports []authority.ReissueProgress
		done, failed, err := s.A.ReissueAll(ctx1, "operator", testenv.QualifiedID, newQualifiedID, func(p authority.ReissueProgress) {
			reports = append(reports, p)
			if len(reports) == 4 {
				cancel1()
			}
		})
		cancel1()
		if !errors.Is(err, context.Canceled) || done != 4 || failed != 0 {
			t.Fatalf("first run = %d done, %d failed, %v; want 4, 0, canceled", done, failed, err)
		}
		for i, p := range reports {
			if p.Done != i+1 || p.Total != len(originals) || p.Err != nil || p.Serial == "" {
				t.Fatalf("progress report %d = %+v", i, p)
			}
		}
		if n := len(s.certificates(t, selo.CertificateFilter{CAID: newQualifiedID})); n != 4 {
			t.Fatalf("%d certificates under the new CA after the first run, want 4", n)
		}

		// Run 2: stopped while the store writes the second re-issue.
		ctx2, cancel2 := context.WithCancel(ctx)
		calls := 0
		interrupted := s.with(t, &hookStore{Store: s.Store, supersedeCertificate: func(ctx context.Context, next selo.Store, old string, c *selo.Certificate, e *selo.AuditEntry) error {
			calls++
			if calls == 2 {
				cancel2()
			}
			return next.SupersedeCertificate(ctx, old, c, e)
		}}, nil)
		reports = nil
		done, _, err = interrupted.ReissueAll(ctx2, "operator", testenv.QualifiedID, newQualifiedID, func(p authority.ReissueProgress) {
			reports = append(reports, p)
		})
		cancel2()
		if !errors.Is(err, context.Canceled) || done < 1 || done > 2 {
			t.Fatalf("second run = %d done, %v; want 1 or 2 done and canceled", done, err)
		}
		if reports[0].Total != len(originals)-4 {
			t.Fatalf("second run counts %d certificates to do, want %d", reports[0].Total, len(originals)-4)
		}

		// Run 3 finishes; run 4 finds nothing left.
		reports = nil
		left := len(s.certificates(t, selo.CertificateFilter{CAID: testenv.QualifiedID, Status: selo.CertValid}))
		done, failed, err = s.A.ReissueAll(ctx, "operator", testenv.QualifiedID, newQualifiedID, func(p authority.ReissueProgress) {
			reports = append(reports, p)
		})
		if err != nil || done != left || failed != 0 || left == 0 {
			t.Fatalf("third run = %d done, %d failed, %v; want %d, 0, nil", done, failed, err, left)
		}
		if last := reports[len(reports)-1]; last.Done != last.Total || last.Total != left {
			t.Fatalf("last progress report %+v", last)
		}
		if done, failed, err := s.A.ReissueAll(ctx, "operator", testenv.QualifiedID, newQualifiedID, nil); done != 0 || failed != 0 || err != nil {
			t.Fatalf("fourth run = %d done, %d failed, %v; want nothing to do", done, failed, err)
		}

		// Each original was re-issued exactly once, under the new CA.
		reissued := s.certificates(t, selo.CertificateFilter{CAID: newQualifiedID})
		if len(reissued) != len(originals) {
			t.Fatalf("%d certificates under the new CA, want %d", len(reissued), len(originals))
		}
		from := map[string]string{}
		for _, c := range reissued {
			if c.Status != selo.CertValid || c.ReissuedFrom == "" {
				t.Fatalf("certificate %s under the new CA: %s, re-issued from %q", c.Serial, c.Status, c.ReissuedFrom)
			}
			if prev, dup := from[c.ReissuedFrom]; dup {
				t.Fatalf("%s was re-issued twice: %s and %s", c.ReissuedFrom, prev, c.Serial)
			}
			from[c.ReissuedFrom] = c.Serial
		}
		for _, o := range originals {
			c, err := s.Store.FindCertificate(ctx, o.Serial)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != selo.CertSuperseded || c.SupersededBy == "" || from[o.Serial] != c.SupersededBy {
				t.Fatalf("original %s: %s, superseded by %q; re-issued as %q", o.Serial, c.Status, c.SupersededBy, from[o.Serial])
			}
			if got := s.findAudit(t, "certificate.reissue", "certificate/"+c.SupersededBy); len(got) != 1 || got[0].Outcome != selo.OutcomeSuccess {
				t.Fatalf("%d audit entries for the re-issue of %s", len(got), o.Serial)
			}
		}
		if c, _ := s.Store.FindCertificate(ctx, other.Serial); c.Status != selo.CertValid || c.SupersededBy != "" {
			t.Fatalf("a certificate of another CA was touched: %+v", c)
		}
		s.verifyAudit(t)

		// Refusals before any work.
		for _, tt := range []struct{ oldCA, newCA, code string }{
			{"no-such-ca", newQualifiedID, selo.ENOTFOUND},
			{testenv.QualifiedID, "no-such-ca", selo.ENOTFOUND},
			{testenv.QualifiedID, testenv.RootID, selo.EINVALID},
			{testenv.QualifiedID, "", selo.EINVALID},
		} {
			_, _, err := s.A.ReissueAll(ctx, "operator", tt.oldCA, tt.newCA, nil)
			wantCode(t, err, tt.code)
		}
	})
}

// TestReissueAllSkipsExpired lets the clock run past the end of some
// certificates: ReissueAll re-issues the rest and leaves the expired ones
// alone without counting them as failures (an expired certificate is not
// re-issued, so it must not make every later run "fail"), and a second run
// finds nothing left.
func TestReissueAllSkipsExpired(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	s := sqliteStack(t, testenv.Options{Clock: clock})
	ctx := context.Background()
	longLived := []*selo.Certificate{s.issue(t, "qualified-sign", "ecdsa-p256"), s.issue(t, "qualified-seal", "ecdsa-p256")} // 1095 days
	expired := []*selo.Certificate{s.issue(t, "advanced-email", "ecdsa-p256"), s.issue(t, "advanced-invoice", "ecdsa-p256")} // 730 days
	clock.Add(800 * 24 * time.Hour)
	s.newHierarchy(t)

	done, failed, err := s.A.ReissueAll(ctx, "operator", testenv.QualifiedID, newQualifiedID, func(p authority.ReissueProgress) {
		if p.Err != nil {
			t.Errorf("certificate %s failed: %v", p.Serial, p.Err)
		}
		if slices.ContainsFunc(expired, func(c *selo.Certificate) bool { return c.Serial == p.Serial }) {
			t.Errorf("expired certificate %s was tried", p.Serial)
		}
	})
	if err != nil || done != 2 || failed != 0 {
		t.Fatalf("ReissueAll = %d done, %d failed, %v; want 2, 0, nil", done, failed, err)
	}
	for _, c := range longLived {
		if got, _ := s.Store.FindCertificate(ctx, c.Serial); got.Status != selo.CertSuperseded {
			t.Fatalf("%s is %s, want superseded", c.Serial, got.Status)
		}
	}
	for _, c := range expired {
		if got, _ := s.Store.FindCertificate(ctx, c.Serial); got.Status != selo.CertValid {
			t.Fatalf("expired %s is %s, want left valid", c.Serial, got.Status)
		}
		if got := s.findAudit(t, "certificate.reissue", "certificate/"+c.Serial); len(got) != 0 {
			t.Fatalf("%d audit entries for the expired %s", len(got), c.Serial)
		}
	}
	if n, err := s.A.CountReissuable(ctx, testenv.QualifiedID); err != nil || n != 0 {
		t.Fatalf("CountReissuable after the run = %d, %v; want 0", n, err)
	}
	done, failed, err = s.A.ReissueAll(ctx, "operator", testenv.QualifiedID, newQualifiedID, nil)
	if err != nil || done != 0 || failed != 0 {
		t.Fatalf("second run = %d done, %d failed, %v; want 0, 0, nil", done, failed, err)
	}
}

// TestReissueAllConcurrently runs two bulk re-issues of the same CA at once,
// as two operators might: together they re-issue every certificate once.
func TestReissueAllConcurrently(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	const n = 8
	for i := 0; i < n; i++ {
		s.issue(t, "advanced-email", "ecdsa-p256")
	}
	s.newHierarchy(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, _, err := s.A.ReissueAll(ctx, "operator", testenv.QualifiedID, newQualifiedID, nil)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += done
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != n {
		t.Fatalf("the two runs re-issued %d certificates, want %d", total, n)
	}
	if got := len(s.certificates(t, selo.CertificateFilter{CAID: newQualifiedID})); got != n {
		t.Fatalf("%d certificates under the new CA, want %d", got, n)
	}
	if got := len(s.certificates(t, selo.CertificateFilter{CAID: testenv.QualifiedID, Status: selo.CertValid})); got != 0 {
		t.Fatalf("%d certificates left valid under the old CA", got)
	}
	s.verifyAudit(t)
}
