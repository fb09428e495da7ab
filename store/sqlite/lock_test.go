package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/sqlite"
)

// TestTryLock checks that one store at a time over a database file holds a
// named lock, that the lock passes on when released, that a lock of another
// name or another database is independent, and that a name that is no file
// name is refused.
func TestTryLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(path string) *sqlite.DB {
		db, err := sqlite.Open(ctx, path, selo.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	path := filepath.Join(dir, "selo.db")
	a, b := open(path), open(path) // two processes' stores over one file
	unlockA, ok, err := a.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v; want the lock", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "status-worker"); err != nil || ok {
		t.Fatalf("second store's TryLock while held = %v, %v; want not ok", ok, err)
	}
	if _, ok, err := a.TryLock(ctx, "status-worker"); err != nil || ok {
		t.Fatalf("TryLock again on the holder's store = %v, %v; want not ok", ok, err)
	}
	unlockOther, ok, err := b.TryLock(ctx, "other-work")
	if err != nil || !ok {
		t.Fatalf("TryLock of another name = %v, %v; want the lock", ok, err)
	}
	unlockOther()
	unlockA()
	unlockB, ok, err := b.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock after release = %v, %v; want the lock", ok, err)
	}
	unlockB()

	other := open(filepath.Join(dir, "other.db")) // another installation
	unlockC, ok, err := other.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock over another database = %v, %v; want the lock", ok, err)
	}
	unlockC()
	for _, name := range []string{"", "../x", "a/b", "A", "x.lock"} {
		if _, ok, err := a.TryLock(ctx, name); err == nil || ok {
			t.Errorf("TryLock(%q) = %v, %v; want an error", name, ok, err)
		}
	}
}

// TestTryLockReleasedWhenHolderDies: the lock of a process killed without
// warning passes to the next store that tries it.
func TestTryLockReleasedWhenHolderDies(t *testing.T) {
	if path := os.Getenv("SELO_TEST_LOCK_HOLDER"); path != "" {
		db, err := sqlite.Open(context.Background(), path, selo.SystemClock{})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		if _, ok, err := db.TryLock(context.Background(), "status-worker"); err != nil || !ok {
			fmt.Println("lock:", ok, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		select {} // hold it until killed
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "selo.db")
	db, err := sqlite.Open(ctx, path, selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder := exec.Command(os.Args[0], "-test.run=^TestTryLockReleasedWhenHolderDies$")
	holder.Env = append(os.Environ(), "SELO_TEST_LOCK_HOLDER="+path)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("the holder process said %q", line)
	}
	if _, ok, err := db.TryLock(ctx, "status-worker"); err != nil || ok {
		t.Fatalf("TryLock while another process holds it = %v, %v; want not ok", ok, err)
	}
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	unlock, ok, err := db.TryLock(ctx, "status-worker")
	if err != nil || !ok {
		t.Fatalf("TryLock after the holder died = %v, %v; want the lock", ok, err)
	}
	unlock()
}
