package main

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/selo-qtsp/selo"
)

// auditVerify is what `selo audit verify --json` prints.
type auditVerify struct {
	EntriesVerified int64  `json:"entries_verified"`
	Intact          bool   `json:"intact"`
	FirstBadEntry   int64  `json:"first_bad_entry"`
	Reason          string `json:"reason"`

	AuditKey        bool      `json:"audit_key"`
	Checkpoints     int       `json:"checkpoints"`
	AnchoredThrough int64     `json:"anchored_through"`
	AnchoredAt      time.Time `json:"anchored_at"`
	UnprovenFrom    int64     `json:"unproven_from"`
	BeforeKey       int64     `json:"written_before_audit_key"`
	Unchecked       int       `json:"unchecked_checkpoints"`
}

// tamper runs SQL statements on the data directory's database as an intruder
// with file access would, past the store.
func tamper(t *testing.T, data string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "selo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// rewriteEntry changes an entry's details and recomputes its own hash, as an
// intruder who knows the hash function would: only the next entry's link
// shows it.
func rewriteEntry(t *testing.T, data string, seq int64) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "selo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e selo.AuditEntry
	var micros int64
	if err := db.QueryRow(`SELECT seq, time, actor, action, object, outcome, details, prev_hash FROM audit_log WHERE seq = ?`, seq).
		Scan(&e.Seq, &micros, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.Details, &e.PrevHash); err != nil {
		t.Fatal(err)
	}
	e.Time = time.UnixMicro(micros).UTC()
	e.Details = `{"note":"nothing happened here"}`
	if _, err := db.Exec(`UPDATE audit_log SET details = ?, hash = ? WHERE seq = ?`, e.Details, e.ComputeHash(), seq); err != nil {
		t.Fatal(err)
	}
}

func auditCount(t *testing.T, data string) int64 {
	t.Helper()
	var v auditVerify
	decodeJSON(t, mustRunSelo(t, "audit", "verify", "--json", "--data", data), &v)
	return v.EntriesVerified
}

func TestAuditVerifyIntact(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	r := mustRunSelo(t, "audit", "verify", "--data", data)
	m := regexp.MustCompile(`^Audit log intact: (\d+) entries verified\.\nAnchored: entries 1-(\d+), by 1 signed checkpoint`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("audit verify on a fresh data directory:\n%s", r)
	}
	// init: a key.generate and a ca.create for each of the 3 CAs, and the API key.
	if n, _ := strconv.Atoi(m[1]); n < 7 {
		t.Errorf("a fresh data directory has %d audit entries, want at least 7", n)
	}
	// init signs a checkpoint over its whole log; nothing is unproven.
	if m[2] != m[1] || strings.Contains(r.stdout, "Unproven") || strings.Contains(r.stdout, "before the audit key") {
		t.Errorf("audit verify on a fresh data directory does not anchor every entry:\n%s", r)
	}
	var v auditVerify
	decodeJSON(t, mustRunSelo(t, "audit", "verify", "--json", "--data", data), &v)
	if !v.Intact || strconv.FormatInt(v.EntriesVerified, 10) != m[1] || v.FirstBadEntry != 0 {
		t.Errorf("audit verify --json: %+v", v)
	}
	// Every operation adds to the log, and it stays intact.
	issueSeal(t, data, "Audit Lda")
	wantExit(t, runSelo(t, "ca", "retire", "no-such-ca", "--data", data), 1) // a refusal is logged too
	if n := auditCount(t, data); n != v.EntriesVerified+2 {
		t.Errorf("after an issuance and a refusal the log has %d entries, want %d", n, v.EntriesVerified+2)
	}
	var entries []*selo.AuditEntry
	decodeJSON(t, mustRunSelo(t, "audit", "list", "--json", "--after", strconv.FormatInt(v.EntriesVerified, 10), "--data", data), &entries)
	if len(entries) != 2 || entries[0].Action != "certificate.issue" || entries[1].Action != "ca.retire" || entries[1].Outcome != selo.OutcomeFailure ||
		!strings.HasPrefix(entries[0].Actor, "cli:") {
		t.Errorf("audit list of the last entries: %+v", entries)
	}
}

func TestAuditVerifyTampered(t *testing.T) {
	t.Parallel()
	template, _ := templateDataDir(t)
	total := auditCount(t, template)
	if total < 7 {
		t.Fatalf("template log has %d entries", total)
	}
	last := strconv.FormatInt(total, 10)

	tests := []struct {
		name   string
		change func(t *testing.T, data string)
		seq    int64
		reason string
	}{
		{"details changed", func(t *testing.T, d string) {
			tamper(t, d, `UPDATE audit_log SET details = '{"algorithm":"rsa-2048"}' WHERE seq = 4`)
		}, 4, "hash mismatch"},
		{"actor changed", func(t *testing.T, d string) {
			tamper(t, d, `UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 4`)
		}, 4, "hash mismatch"},
		{"time changed", func(t *testing.T, d string) {
			tamper(t, d, `UPDATE audit_log SET time = time - 3600000000 WHERE seq = 4`)
		}, 4, "hash mismatch"},
		{"outcome changed", func(t *testing.T, d string) { tamper(t, d, `UPDATE audit_log SET outcome = 'failure' WHERE seq = 4`) }, 4, "hash mismatch"},
		{"hash recomputed", func(t *testing.T, d string) { rewriteEntry(t, d, 4) }, 5, "chain broken"},
		{"entry deleted from the middle", func(t *testing.T, d string) { tamper(t, d, `DELETE FROM audit_log WHERE seq = 4`) }, 4, "entry missing"},
		{"first entry deleted", func(t *testing.T, d string) { tamper(t, d, `DELETE FROM audit_log WHERE seq = 1`) }, 1, "entry missing"},
		{"two entries swapped", func(t *testing.T, d string) {
			tamper(t, d, `UPDATE audit_log SET seq = 1000000 WHERE seq = 4`, `UPDATE audit_log SET seq = 4 WHERE seq = 5`, `UPDATE audit_log SET seq = 5 WHERE seq = 1000000`)
		}, 4, "hash mismatch"},
		{"last entry deleted", func(t *testing.T, d string) { tamper(t, d, `DELETE FROM audit_log WHERE seq = `+last) }, total, "missing"},
		{"last entries deleted", func(t *testing.T, d string) { tamper(t, d, `DELETE FROM audit_log WHERE seq > 3`) }, 4, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := dataDir(t)
			tc.change(t, data)

			r := runSelo(t, "audit", "verify", "--data", data)
			wantExit(t, r, 1, "audit log broken at entry "+strconv.FormatInt(tc.seq, 10)+":", tc.reason,
				"("+strconv.FormatInt(tc.seq-1, 10)+" entries before it are intact)")
			if r.stdout != "" {
				t.Errorf("a broken log printed on standard output:\n%s", r)
			}
			r = runSelo(t, "audit", "verify", "--json", "--data", data)
			wantExit(t, r, 1, "entry "+strconv.FormatInt(tc.seq, 10))
			var v auditVerify
			decodeJSON(t, r, &v)
			if v.Intact || v.FirstBadEntry != tc.seq || v.EntriesVerified != tc.seq-1 || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("audit verify --json: %+v, want entry %d (%s) with %d entries before it", v, tc.seq, tc.reason, tc.seq-1)
			}
		})
	}
}

// TestAuditVerifyLongerThanHead checks that entries appended after the
// head was read are no false alarm: the log is only ever longer than the head.
func TestAuditVerifyLongerThanHead(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	total := auditCount(t, data)
	// The head lags the log, as when an entry lands between reading the head
	// and walking the log.
	tamper(t, data, `UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM audit_log WHERE seq = `+strconv.FormatInt(total-1, 10)+`)`)
	mustRunSelo(t, "audit", "verify", "--data", data)
	// A head that names another entry's hash is a rewritten log.
	tamper(t, data, `UPDATE audit_head SET hash = (SELECT hash FROM audit_log WHERE seq = 1)`)
	wantExit(t, runSelo(t, "audit", "verify", "--data", data), 1, "recorded head")
}
