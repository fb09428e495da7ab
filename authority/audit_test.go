package authority_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/store/storetest"
)

// wantProblem fails the test unless VerifyAudit names entry seq for reason.
func wantProblem(t testing.TB, s *stack, seq int64, reason string) {
	t.Helper()
	n, problem, err := s.A.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if problem == nil || problem.Seq != seq || !strings.Contains(problem.Reason, reason) {
		t.Fatalf("VerifyAudit = %d, %+v; want entry %d: %q", n, problem, seq, reason)
	}
	if n >= seq {
		t.Fatalf("VerifyAudit counts %d good entries before bad entry %d", n, seq)
	}
}

// TestVerifyAudit tampers with the log through raw SQL and checks that
// VerifyAudit names the entry where the chain breaks.
func TestVerifyAudit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		s.issue(t, "qualified-sign", "ecdsa-p256")
		s.issue(t, "tls-server", "ecdsa-p256")
		_, _ = s.A.Issue(context.Background(), "tester", authority.IssueRequest{Profile: "nope"})
		entries := s.audit(t)
		if n := s.verifyAudit(t); n != int64(len(entries)) || n < 8 {
			t.Fatalf("VerifyAudit read %d entries of %d", n, len(entries))
		}
		mid := entries[len(entries)/2]

		// A changed field.
		for _, column := range []string{"details", "actor", "action", "object", "outcome"} {
			s.exec(t, fmt.Sprintf(`UPDATE audit_log SET %s = %s || 'x' WHERE seq = $1`, column, column), mid.Seq)
			wantProblem(t, s, mid.Seq, "hash mismatch")
			s.exec(t, fmt.Sprintf(`UPDATE audit_log SET %s = substr(%s, 1, length(%s) - 1) WHERE seq = $1`, column, column, column), mid.Seq)
			s.verifyAudit(t)
		}

		// A changed entry whose hash was recomputed: the next one's link breaks.
		forged := *mid
		forged.Details = `{"forged":true}`
		forged.Hash = forged.ComputeHash()
		s.exec(t, `UPDATE audit_log SET details = $1, hash = $2 WHERE seq = $3`, forged.Details, forged.Hash, mid.Seq)
		wantProblem(t, s, mid.Seq+1, "chain broken")
		s.exec(t, `UPDATE audit_log SET details = $1, hash = $2 WHERE seq = $3`, mid.Details, mid.Hash, mid.Seq)
		s.verifyAudit(t)

		// The first entry, which has no predecessor.
		s.exec(t, `UPDATE audit_log SET prev_hash = $1 WHERE seq = 1`, entries[0].Hash)
		wantProblem(t, s, 1, "")
		s.exec(t, `UPDATE audit_log SET prev_hash = '' WHERE seq = 1`)
		s.verifyAudit(t)

		// A removed entry.
		s.exec(t, `DELETE FROM audit_log WHERE seq = $1`, mid.Seq)
		wantProblem(t, s, mid.Seq, "missing")
	})
}

// TestVerifyAuditPages checks a log longer than one page: the chain is
// followed across the page boundary, and a break on the second page is found.
func TestVerifyAuditPages(t *testing.T) {
	t.Parallel()
	s := sqliteStack(t, testenv.Options{})
	ctx := context.Background()
	for i := 0; i < 1100; i++ {
		if err := s.Store.AppendAudit(ctx, &selo.AuditEntry{Actor: "tester", Action: "test.fill", Object: fmt.Sprintf("n/%d", i), Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	entries := s.audit(t)
	if n := s.verifyAudit(t); n != int64(len(entries)) || n <= 1000 {
		t.Fatalf("VerifyAudit read %d of %d entries", n, len(entries))
	}

	// The last entry of the first page, re-hashed: only the first entry of
	// the second page, read in another call, can tell.
	last := *entries[999]
	if last.Seq != 1000 {
		t.Fatalf("entry 1000 has seq %d", last.Seq)
	}
	forged := last
	forged.Object = "n/forged"
	forged.Hash = forged.ComputeHash()
	s.exec(t, `UPDATE audit_log SET object = $1, hash = $2 WHERE seq = 1000`, forged.Object, forged.Hash)
	wantProblem(t, s, 1001, "chain broken")
	s.exec(t, `UPDATE audit_log SET object = $1, hash = $2 WHERE seq = 1000`, last.Object, last.Hash)
	s.verifyAudit(t)

	s.exec(t, `UPDATE audit_log SET details = '{"x":1}' WHERE seq = 1050`)
	wantProblem(t, s, 1050, "hash mismatch")
	s.exec(t, `UPDATE audit_log SET details = '{}' WHERE seq = 1050`)

	s.exec(t, `DELETE FROM audit_log WHERE seq = 1001`)
	wantProblem(t, s, 1001, "missing")
}

// TestVerifyAuditEmpty checks an empty log.
func TestVerifyAuditEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, ks := bare(t)
	a, err := authority.New(authority.Config{Store: st, Keys: ks, Profiles: pki.BuiltinProfiles(), Linter: testenv.Linter(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n, problem, err := a.VerifyAudit(ctx); n != 0 || problem != nil || err != nil {
		t.Fatalf("VerifyAudit of an empty log = %d, %+v, %v", n, problem, err)
	}
}

// TestCheckpointPolicy checks when CheckpointAuditIfDue signs: at once when
// there is no checkpoint, then after policy.Entries entries or policy.Interval
// with new entries, never for an unchanged head; and that it refuses to sign
// over a log rewritten under an earlier checkpoint.
func TestCheckpointPolicy(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
			var s *stack
			if backend == "sqlite" {
				s = sqliteStack(t, testenv.Options{Clock: clock})
			} else {
				s = postgresStack(t, clock)
			}
			ctx := context.Background()
			policy := authority.CheckpointPolicy{Entries: 3, Interval: time.Hour}
			due := func(want bool) {
				t.Helper()
				cp, err := s.A.CheckpointAuditIfDue(ctx, "test", policy)
				if err != nil || (cp != nil) != want {
					t.Fatalf("CheckpointAuditIfDue = %+v, %v; want signed %v", cp, err, want)
				}
			}
			appendN := func(n int) {
				for i := 0; i < n; i++ {
					if err := s.Store.AppendAudit(ctx, &selo.AuditEntry{Actor: "test", Action: "test.event", Object: "x", Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			due(true)  // the first checkpoint (and the key) at once
			due(false) // nothing new
			appendN(2)
			due(false) // 2 < 3 entries, no hour passed
			appendN(1)
			due(true) // 3 entries
			appendN(1)
			clock.Add(59 * time.Minute)
			due(false)
			clock.Add(time.Minute)
			due(true) // an hour with a new entry
			clock.Add(2 * time.Hour)
			due(false) // an hour, but nothing new

			report, err := s.A.VerifyAuditLog(ctx, nil)
			if err != nil || report.Problem != nil || report.Checkpoints != 3 || report.AnchoredThrough != report.Entries || report.KeyCreatedAt == 0 {
				t.Fatalf("VerifyAuditLog = %+v, %v", report, err)
			}
			// Change an entry after the checkpoint and recompute its hash:
			// no new checkpoint is signed over the broken chain.
			appendN(3)
			entries := s.audit(t)
			e := entries[len(entries)-2]
			e.Details = `{"changed":true}`
			s.exec(t, `UPDATE audit_log SET details = $1, hash = $2 WHERE seq = $3`, e.Details, e.ComputeHash(), e.Seq)
			if _, err := s.A.CheckpointAuditIfDue(ctx, "test", policy); selo.ErrorCode(err) != selo.ECONFLICT {
				t.Fatalf("CheckpointAuditIfDue over a rewritten log = %v; want ECONFLICT", err)
			}
		})
	}
}
