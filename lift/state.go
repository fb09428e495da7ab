package lift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/selo-qtsp/selo"
)

// Files in an order's state directory.
const (
	stateFile = "state.json"
	keyFile   = "key.pem" // the holder's key, PKCS#8 encrypted under the .pfx password
	certFile  = "certificate.pem"
)

// maxStateBytes bounds the state file read back: it is a few hundred bytes.
const maxStateBytes = 64 << 10

// state is what the holder's machine remembers of an order between runs.
// Nothing secret is in it: the key is in keyFile, encrypted.
type state struct {
	Version int    `json:"version"`
	Number  string `json:"number"`
	// EmailSentAt is when start last made the server e-mail a code.
	EmailSentAt time.Time `json:"email_sent_at,omitzero"`
	// PublicKeySHA256 is the hash of the key in keyFile (software delivery).
	PublicKeySHA256   string `json:"public_key_sha256,omitempty"`
	CertificateSerial string `json:"certificate_serial,omitempty"`
	// PFXPath is where the .pfx backup was written.
	PFXPath   string `json:"pfx_path,omitempty"`
	Delivered bool   `json:"delivered,omitempty"`
}

// DefaultStateDir is where an order's state lives when Options.StateDir is
// empty: <user config dir>/selo/lift/<number>.
func DefaultStateDir(number string) (string, error) {
	if err := CheckOrderNumber(number); err != nil {
		return "", err
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "no user config directory for the lift state (%v): give a state directory", err)
	}
	return filepath.Join(base, "selo", "lift", number), nil
}

// DefaultOutDir is where the .pfx goes when Options.OutDir is empty: the
// desktop when there is one, else the home folder.
func DefaultOutDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "no home folder (%v): choose the folder for the .pfx", err)
	}
	if fi, err := os.Stat(filepath.Join(home, "Desktop")); err == nil && fi.IsDir() {
		return filepath.Join(home, "Desktop"), nil
	}
	return home, nil
}

// loadState reads dir's state for number; a missing file is a fresh state.
func loadState(dir, number string) (*state, error) {
	b, err := readLimited(filepath.Join(dir, stateFile), maxStateBytes)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: 1, Number: number}, nil
	} else if err != nil {
		return nil, err
	}
	st, err := parseState(b)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the lift state %s is damaged (%v): move it away to start over", filepath.Join(dir, stateFile), err)
	}
	if st.Number != number {
		return nil, selo.Errorf(selo.EINVALID, "the lift state in %s belongs to order %.64q, not %s", dir, st.Number, number)
	}
	return st, nil
}

// parseState decodes a state file strictly: a file another version wrote
// is refused rather than half-read.
func parseState(b []byte) (*state, error) {
	var st state
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("version %d is not 1", st.Version)
	}
	if err := CheckOrderNumber(st.Number); err != nil {
		return nil, errors.New("no valid order number")
	}
	return &st, nil
}

func (st *state) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'), 0o600)
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, selo.Errorf(selo.EINVALID, "%s is larger than %d bytes", path, limit)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// writeFileAtomic writes data to path so that a crash leaves either the old
// file or the new one, complete: a temporary file in the same directory,
// fsynced, renamed over path, and the directory fsynced so the rename lasts.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// writeFileExclusive writes data to path (mode 0600) as writeFileAtomic
// does, but fails with os.ErrExist when path exists: two runs that make a
// key at once cannot replace each other's.
func writeFileExclusive(path string, data []byte) error {
	tmp, err := writeTemp(path, data, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new temporary file beside path, fsynced, and
// returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}

// removeDurably removes path and fsyncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
