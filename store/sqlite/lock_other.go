//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import (
	"os"
	"sync"
)

// held are the lock files locked by this process, on systems without
// flock(2): there the lock elects one store among those of this process
// only, which is what one machine over an SQLite file runs.
var held sync.Map

func lockFile(f *os.File) (bool, error) {
	_, taken := held.LoadOrStore(f.Name(), true)
	return !taken, nil
}

func unlockFile(f *os.File) { held.Delete(f.Name()) }
