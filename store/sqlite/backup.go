package sqlite

import (
	"context"
	"fmt"
	"os"
)

// VacuumInto writes a consistent copy of the database to path, a file that
// must not exist yet, while the database stays in use: SQLite's VACUUM INTO
// reads one snapshot in a read transaction, so writers in this and other
// processes go on (WAL mode) and the copy holds every transaction committed
// before it began and none after. The copy is compacted and has no -wal
// file; it is created readable by its owner only.
func (db *DB) VacuumInto(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup: %s exists", path)
	}
	// Created first with mode 0600: VACUUM INTO would use the umask.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	// On the writer connection: the readers are query_only, which refuses
	// VACUUM INTO. It reads in a read transaction all the same.
	if _, err := db.write.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup: vacuum into %s: %w", path, err)
	}
	return nil
}
