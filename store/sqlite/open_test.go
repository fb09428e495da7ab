package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/sqlite"
)

func TestOpenSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "selo.db")
	db, err := sqlite.Open(context.Background(), path, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal: it is a property of the file", mode, err)
	}
	var versions []int
	rows, err := raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 || versions[0] != 1 {
		t.Fatalf("schema_migrations holds %v, want it to start at 1", versions)
	}
}

func TestOpenRejectsDriverOptions(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "x.db?_pragma=foreign_keys(0)")} {
		if _, err := sqlite.Open(context.Background(), path, nil); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("Open(%q): %v, want invalid", path, err)
		}
	}
}

// TestOpenConcurrently opens one new file from many goroutines at once, as
// the CLI and a server starting together would: the migration must run once.
func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "selo.db")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlite.Open(context.Background(), path, selo.SystemClock{})
			if err == nil {
				err = db.AppendAudit(context.Background(), &selo.AuditEntry{Actor: "t", Action: "test.open"})
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	db, err := sqlite.Open(context.Background(), path, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 8 || selo.VerifyAuditChain(nil, entries) != nil {
		t.Fatalf("%d audit entries after 8 concurrent opens and appends, or a broken chain", len(entries))
	}
	if seq, hash, err := db.AuditHead(context.Background()); err != nil || seq != 8 || hash != entries[7].Hash {
		t.Fatalf("AuditHead = %d, %q, %v; want the last entry", seq, hash, err)
	}
}

// TestOpenFilesOwnerOnly opens a database outside any data directory under
// the usual umask and checks the real files: the database, its -wal and its
// -shm are 0600, and an existing world-readable file is tightened.
func TestOpenFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "selo.db")
	db, err := sqlite.Open(context.Background(), path, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(context.Background(), &selo.AuditEntry{Actor: "t", Action: "test.perm"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v (the database is open, it must exist)", p, err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s is %o, want 600", filepath.Base(p), perm)
		}
	}
	db.Close()

	// A file left 0644 by an older version is tightened on open.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(context.Background(), path, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("reopened file: %v %v, want 600", info.Mode(), err)
	}
}
