package sqlite

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
)

// lockName is what a lock's name may be: it becomes part of a file name.
var lockName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`) })

// TryLock takes an exclusive lock on the file PATH-NAME.lock beside the
// database (selo.db-status-worker.lock), held on a file descriptor of its
// own until unlock is called. Processes over one database file call it to
// elect the one that runs background work, as the PostgreSQL store's
// advisory lock does for replicas: exactly one gets ok=true, and when its
// process dies the operating system releases the lock and another process's
// next TryLock takes it. Two stores opened in one process elect one of them
// too.
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	if !lockName().MatchString(name) {
		return nil, false, fmt.Errorf("lock name %q: lower-case letters, digits and dashes only", name)
	}
	path := db.path + "-" + name + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lock %q: %w", name, err)
	}
	ok, err = lockFile(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock %q: %w", name, err)
		}
		return nil, false, nil
	}
	// Closing the descriptor releases the lock; the file stays for the next
	// holder (removing it would let a process that opened it just before
	// lock an unlinked file while a third locks a new one).
	return func() { unlockFile(f); f.Close() }, true, nil
}
