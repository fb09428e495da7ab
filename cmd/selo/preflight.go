package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/selo-qtsp/selo"
)

// Checks the sign commands run before they ask for (or use up) an approval:
// a one-time code, an SMS or a wallet push is spent by the service as soon
// as it is checked, so whatever can fail here must fail first.

// checkWritableFile makes sure path can be written the way writeFileAtomic
// writes it (a temporary file in the same folder, renamed): the folder
// exists and takes a new file, and path is not a folder.
func checkWritableFile(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return selo.Errorf(selo.EINVALID, "cannot write %s: it is a folder; nothing was signed and no approval was used", path)
	}
	return checkWritableDir(filepath.Dir(path))
}

// checkWritableDir makes sure a new file can be made in dir.
func checkWritableDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return selo.Errorf(selo.EINVALID, "cannot write into %s: no such folder; nothing was signed and no approval was used", dir)
	} else if err != nil {
		return selo.Errorf(selo.EINVALID, "cannot write into %s: %v; nothing was signed and no approval was used", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return selo.Errorf(selo.EINVALID, "cannot write into %s: not a folder; nothing was signed and no approval was used", dir)
	}
	f, err := os.CreateTemp(dir, ".selo-write-check-*")
	if err != nil {
		return selo.Errorf(selo.EINVALID, "cannot write into %s: %v; nothing was signed and no approval was used", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
