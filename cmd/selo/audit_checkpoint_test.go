package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/selo-qtsp/selo"
)

// auditDB is the database of a data directory as an intruder with write
// access sees it, past the store.
type auditDB struct {
	db       *sql.DB
	postgres bool
}

func openAuditDB(t *testing.T, data, dsn string) *auditDB {
	t.Helper()
	driver, src := "sqlite", filepath.Join(data, "selo.db")
	if dsn != "" {
		driver, src = "pgx", dsn
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &auditDB{db: db, postgres: dsn != ""}
}

func (a *auditDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if a.postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	if _, err := a.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rechain is the attack of issue 13 item 8: change entry seq, recompute the
// hash of it and of every later entry, and move audit_head to the new last
// hash. The chain and the head then verify; only a signed checkpoint can
// tell.
func (a *auditDB) rechain(t *testing.T, seq int64) {
	t.Helper()
	rows, err := a.db.Query(`SELECT seq, time, actor, action, object, outcome, details, prev_hash FROM audit_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var entries []*selo.AuditEntry
	for rows.Next() {
		var e selo.AuditEntry
		var tm any
		if err := rows.Scan(&e.Seq, &tm, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.Details, &e.PrevHash); err != nil {
			t.Fatal(err)
		}
		switch v := tm.(type) {
		case int64:
			e.Time = time.UnixMicro(v).UTC()
		case time.Time:
			e.Time = v.UTC()
		default:
			t.Fatalf("audit time of type %T", tm)
		}
		entries = append(entries, &e)
	}
	rows.Close()
	prev := ""
	for _, e := range entries {
		if e.Seq == seq {
			e.Actor, e.Details = "cli:nobody", `{"note":"nothing happened here"}`
		}
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		prev = e.Hash
		if e.Seq >= seq {
			a.exec(t, `UPDATE audit_log SET actor = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?`, e.Actor, e.Details, e.PrevHash, e.Hash, e.Seq)
		}
	}
	last := entries[len(entries)-1]
	a.exec(t, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, last.Seq, last.Hash)
}

func verifyAuditJSON(t *testing.T, args ...string) (auditVerify, result) {
	t.Helper()
	r := runSelo(t, append([]string{"audit", "verify", "--json"}, args...)...)
	var v auditVerify
	decodeJSON(t, r, &v)
	return v, r
}

// TestAuditRechainAttack rewrites an audit entry and recomputes every later
// hash and the head, as anyone with write access to the database can. Before
// signed checkpoints `selo audit verify` called that log intact; now the
// checkpoint signed with the audit key (in the key store, not the database)
// no longer matches. Deleting the checkpoints from the database does not hide
// it from a verifier that has the exported copy.
func TestAuditRechainAttack(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			data, dsn := dataDir(t), ""
			args := []string{"--data", data}
			if backend == "postgres" {
				dsn = postgresTestDSN(t)
				data = filepath.Join(t.TempDir(), "data")
				args = []string{"--data", data, "--database", dsn}
				mustRunSelo(t, append([]string{"init"}, args...)...)
			}
			issueSealArgs(t, args, "Checkpoint Lda")
			mustRunSelo(t, append([]string{"audit", "checkpoint"}, args...)...)
			issueSealArgs(t, args, "After Checkpoint Lda") // unanchored tail
			v, r := verifyAuditJSON(t, args...)
			if r.code != 0 || !v.Intact || !v.AuditKey || v.Checkpoints != 2 || v.AnchoredThrough != v.EntriesVerified-1 || v.UnprovenFrom != v.EntriesVerified {
				t.Fatalf("audit verify before the attack: %+v\n%s", v, r)
			}
			export := filepath.Join(t.TempDir(), "audit.json")
			mustRunSelo(t, append([]string{"audit", "export", "--out", export}, args...)...)

			db := openAuditDB(t, data, dsn)
			db.rechain(t, 4)
			v, r = verifyAuditJSON(t, args...)
			wantExit(t, r, 1, "audit log broken at entry 1:", "log rewritten", "an entry from 1 to ")
			if v.Intact || v.FirstBadEntry != 1 || v.EntriesVerified != 0 {
				t.Fatalf("audit verify after the re-chain attack: %+v\n%s", v, r)
			}
			// The same log refuses a new checkpoint: the server must not
			// vouch for a rewritten log.
			wantExit(t, runSelo(t, append([]string{"audit", "checkpoint"}, args...)...), 1, "does not match its checkpoint")

			// The intruder also deletes the checkpoints: the database alone
			// then proves nothing (and says so), the exported copy still does.
			db.exec(t, `DELETE FROM audit_checkpoints`)
			r = mustRunSelo(t, append([]string{"audit", "verify"}, args...)...)
			if !strings.Contains(r.stdout, "Unproven: entries 1-") {
				t.Fatalf("audit verify without checkpoints does not say the log is unproven:\n%s", r)
			}
			wantExit(t, runSelo(t, append([]string{"audit", "verify", "--checkpoints", export}, args...)...), 1, "log rewritten")

			// A checkpoint forged in the database without the audit key does
			// not verify.
			db.exec(t, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) SELECT seq, hash, time, 'audit/checkpoint', ? FROM audit_log WHERE seq = 3`, []byte{0x30, 0x00})
			wantExit(t, runSelo(t, append([]string{"audit", "verify"}, args...)...), 1, "does not verify with the audit key")
		})
	}
}

// TestAuditCheckpointOldDataDirectory starts selo serve on a data directory
// from before checkpoints (no audit key): serve makes the key, signs a
// checkpoint at once and one when it stops, and verify says which entries
// were written before the key existed.
func TestAuditCheckpointOldDataDirectory(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	// What a data directory from before checkpoints looks like: no audit key,
	// no checkpoints.
	keyFile := filepath.Join(data, "keys", hex.EncodeToString([]byte(selo.AuditKeyID))+".key")
	if err := os.Remove(keyFile); err != nil {
		t.Fatalf("the template data directory has no audit key: %v", err)
	}
	// Checkpoints without their key are not taken as proof, and verify says why.
	if r := mustRunSelo(t, "audit", "verify", "--data", data); !strings.Contains(r.stdout, "holds 1 signed checkpoint(s) but the key store has no audit key") {
		t.Fatalf("audit verify with checkpoints and no key:\n%s", r)
	}
	openAuditDB(t, data, "").exec(t, `DELETE FROM audit_checkpoints`)
	r := mustRunSelo(t, "audit", "verify", "--data", data)
	if !strings.Contains(r.stdout, "Audit log intact") || !strings.Contains(r.stdout, "there is no audit key yet") {
		t.Fatalf("audit verify without an audit key:\n%s", r)
	}
	before := auditCount(t, data)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	serveErr := &syncBuilder{}
	addr := freePort(t)
	go func() {
		done <- Run(ctx, []string{"serve", "--data", data, "--listen", addr, "--roles", "api,ocsp,worker"}, strings.NewReader(""), &strings.Builder{}, serveErr)
	}()
	waitHealthy(t, "http://"+addr, serveErr)
	issueSeal(t, data, "During Serve Lda") // an entry the shutdown checkpoint must cover
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("selo serve exited %d:\n%s", code, serveErr.String())
	}
	if !strings.Contains(serveErr.String(), "made the audit key") {
		t.Errorf("selo serve did not say it made the audit key:\n%s", serveErr.String())
	}
	v, r := verifyAuditJSON(t, "--data", data)
	if r.code != 0 || !v.Intact || !v.AuditKey || v.Checkpoints < 2 || v.AnchoredThrough != v.EntriesVerified || v.UnprovenFrom != 0 ||
		v.BeforeKey != before || v.EntriesVerified < before+2 {
		t.Fatalf("audit verify after serve made the key (%d entries before): %+v\n%s", before, v, r)
	}
	r = mustRunSelo(t, "audit", "verify", "--data", data)
	if !strings.Contains(r.stdout, "Anchored: entries 1-"+strconv.FormatInt(v.EntriesVerified, 10)) ||
		!strings.Contains(r.stdout, "entries 1-"+strconv.FormatInt(before, 10)+" were written before the audit key existed") {
		t.Fatalf("audit verify text:\n%s", r)
	}
}

// TestAuditExportTimestamp exports the checkpoints with an RFC 3161
// timestamp from Selo's own TSA.
func TestAuditExportTimestamp(t *testing.T) {
	data := dataDir(t)
	mustRunSelo(t, "tsa", "init", "--ca", issuingCA(t), "--data", data)
	base, _ := serveInProcess(t, data)
	out := filepath.Join(t.TempDir(), "audit.json")
	r := mustRunSelo(t, "audit", "export", "--out", out, "--tsa", base+"/tsa", "--data", data)
	if !strings.Contains(r.stdout, "Wrote 1 signed checkpoint(s)") || !strings.Contains(r.stdout, out+".tst") {
		t.Fatalf("audit export:\n%s", r)
	}
	// A peer checks that the token covers exactly the exported file.
	issuing, root := chainFiles(t, data, issuingCA(t))
	if out, err := openssl(t, "ts", "-verify", "-token_in", "-data", out, "-in", out+".tst", "-CAfile", root, "-untrusted", issuing); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("openssl ts -verify of the export's timestamp: %v\n%s", err, out)
	}
	mustRunSelo(t, "audit", "verify", "--checkpoints", out, "--data", data)
	wantExit(t, runSelo(t, "audit", "verify", "--checkpoints", out+".tst", "--data", data), 1, "not a file written by 'selo audit export'")
}

// issueSealArgs is issueSeal with the data directory (and database) flags given.
func issueSealArgs(t *testing.T, args []string, org string) {
	t.Helper()
	mustRunSelo(t, append([]string{"cert", "issue", "--profile", "qualified-seal", "--generate-key", "ecdsa-p256",
		"--cn", org, "--org", org, "--org-id", "VATPT-500000000", "--country", "PT"}, args...)...)
}

// waitHealthy waits until the server at base answers /healthz.
func waitHealthy(t *testing.T, base string, log *syncBuilder) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("selo serve did not come up: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
