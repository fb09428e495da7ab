package soft

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// errExists reports that createFile found its target already there.
var errExists = errors.New("file exists")

// createFile writes data to dir/name, failing with errExists when the name is
// taken. See stagedFile for how it stays atomic and exclusive.
func createFile(dir, name string, data []byte) error {
	f, err := stageFile(dir, data)
	if err != nil {
		return err
	}
	defer f.discard()
	if err := f.link(name); err != nil {
		return err
	}
	return syncDir(dir)
}

// stagedFile is data written and synced to a temporary file, waiting to be
// hard linked to its real name. The link is atomic and fails when the name
// exists, so a crash never leaves half a file under a real name and two
// writers racing for one name cannot both win. The slow part (write and sync)
// happens before the link, so a caller can hold a lock around the link alone.
// Temporary files left by a crash hold only sealed data and may be deleted.
type stagedFile struct{ dir, tmp string }

func stageFile(dir string, data []byte) (*stagedFile, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	staged := &stagedFile{dir: dir, tmp: f.Name()}
	fail := func(what string, err error) (*stagedFile, error) {
		_ = f.Close()
		staged.discard()
		return nil, fmt.Errorf("%s temporary file: %w", what, err)
	}
	// CreateTemp already uses 0600; Chmod keeps that true whatever it does
	// in the future.
	if err := f.Chmod(0o600); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		staged.discard()
		return nil, fmt.Errorf("close temporary file: %w", err)
	}
	return staged, nil
}

// link gives the staged file its name, or fails with errExists. The caller
// still has to syncDir to make the name durable, and discard the temporary.
func (f *stagedFile) link(name string) error {
	if err := os.Link(f.tmp, filepath.Join(f.dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errExists
		}
		return fmt.Errorf("link %s (the key directory must support hard links): %w", name, err)
	}
	return nil
}

// discard removes the temporary name; after a link the file lives on under
// its real name.
func (f *stagedFile) discard() { _ = os.Remove(f.tmp) }

// syncDir makes a link, rename or removal in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there; NTFS journals metadata
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// checkPrivate refuses a file or directory that group or others may access.
// Windows has no such bits, so it is not checked there.
func checkPrivate(path string, fi fs.FileInfo, want string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is accessible by group or others (mode %04o): run chmod %s %s", path, perm, want, path)
	}
	return nil
}
