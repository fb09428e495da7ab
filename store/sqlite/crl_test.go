package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/selo-qtsp/selo"
)

// TestNextCRLNumberRestoresSynchronous checks that the writer goes back to
// synchronous=NORMAL after the one transaction that commits with FULL, also
// when that transaction fails.
func TestNextCRLNumberRestoresSynchronous(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "selo.db"), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateCA(ctx, &selo.CA{ID: "ca1", KeyID: "k", CertDER: []byte("x")}, &selo.AuditEntry{Action: "ca.create"}); err != nil {
		t.Fatal(err)
	}
	for _, caID := range []string{"ca1", "no-such-ca"} {
		_, err := db.NextCRLNumber(ctx, caID)
		if caID == "ca1" && err != nil {
			t.Fatal(err)
		}
		var mode int
		if err := db.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != 1 {
			t.Fatalf("after NextCRLNumber(%s) the writer runs with synchronous=%d, want 1 (NORMAL)", caID, mode)
		}
	}
}
