package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

// TestPlans checks that the queries that walk a CA's certificates or
// revocations search an index in serial order, so their cost follows the
// rows they return, not the size of the tables, and they never sort; and
// that the walk a CRL is built from reads its covering index alone.
func TestPlans(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "selo.db"), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, q := range map[string]struct {
		query string
		args  []any
		want  string // a step the plan must have
	}{
		"ListCertificatesNeedingOCSP": {listCertificatesNeedingOCSPSQL, []any{"ca1", "", int64(0), 10}, "SEARCH c USING INDEX certificates_ca_id_serial"},
		"ListAuditByActor":            {listAuditByActorSQL, []any{"holder:a", "signature.sign", int64(1 << 62), 20}, "SEARCH audit_log USING INDEX audit_log_actor_action"},
		"ForEachRevocation":           {forEachRevocationSQL, []any{"ca1"}, "SEARCH revocations USING COVERING INDEX revocations_ca_id_serial"},
	} {
		rows, err := db.read.Query(`EXPLAIN QUERY PLAN `+q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows.Close()
		found := false
		for _, step := range plan {
			if !strings.HasPrefix(step, "SEARCH ") || !strings.Contains(step, " USING ") {
				t.Errorf("%s plan has a step without an index: %q (plan: %q)", name, step, plan)
			}
			found = found || strings.HasPrefix(step, q.want)
		}
		if !found {
			t.Errorf("%s plan %q has no step %q", name, plan, q.want)
		}
	}
}
