package soft

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/selo-qtsp/selo"
)

// MasterKeySize is the length of a master key in bytes (AES-256).
const MasterKeySize = 32

// SaltFile is the name, inside the key directory, of the file that keeps the
// argon2id salt and parameters when the master key comes from a passphrase.
const SaltFile = "keystore.salt"

// Argon2Params are the argon2id costs used to turn a passphrase into a master
// key. They are written beside the salt, so raising the defaults later does
// not lock anyone out of an existing key store.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2Params are the costs new key stores get: the second
// recommendation of RFC 9106 (t=3, 64 MiB, 4 lanes), about a tenth of a second
// on a server core, paid once per process start.
var DefaultArgon2Params = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// Limits on parameters read from a salt file, so that a tampered file cannot
// make Selo allocate without bound or spin for hours.
const (
	maxArgon2Time      = 64
	maxArgon2MemoryKiB = 4 * 1024 * 1024
	saltSize           = 16
)

// MasterKeyFromPassphrase derives a master key from passphrase and salt with
// argon2id and DefaultArgon2Params. Keep the salt (at least 16 random bytes)
// and the parameters: MasterKeyFromPassphraseDir does both.
func MasterKeyFromPassphrase(passphrase, salt []byte) []byte {
	return DefaultArgon2Params.derive(passphrase, salt)
}

func (p Argon2Params) derive(passphrase, salt []byte) []byte {
	return argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, MasterKeySize)
}

// MasterKeyFromPassphraseDir derives the master key of the key store in dir
// from passphrase, with the salt and argon2id parameters kept in dir/SaltFile.
// For a new key store it creates dir (0700) and a salt file (0600) with a
// random salt and DefaultArgon2Params.
func MasterKeyFromPassphraseDir(dir string, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "the key store passphrase is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	path := filepath.Join(dir, SaltFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, CheckFile)); err == nil {
			// A fresh salt would derive a different key and lock the store.
			return nil, selo.Errorf(selo.ENOTFOUND, "the key store in %s has no %s: restore it from a backup (the passphrase alone cannot recover the master key)", dir, SaltFile)
		}
		data, err = newSaltFile(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	p, salt, err := parseSaltFile(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return p.derive(passphrase, salt), nil
}

// newSaltFile writes a salt file with a fresh salt and returns its contents,
// or the contents another process wrote first.
func newSaltFile(dir string) ([]byte, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	data := formatSaltFile(DefaultArgon2Params, salt)
	if err := createFile(dir, SaltFile, data); errors.Is(err, errExists) {
		return os.ReadFile(filepath.Join(dir, SaltFile))
	} else if err != nil {
		return nil, err
	}
	return data, nil
}

// formatSaltFile writes one line: "argon2id v=19 t=3 m=65536 p=4 salt=BASE64".
func formatSaltFile(p Argon2Params, salt []byte) []byte {
	return fmt.Appendf(nil, "argon2id v=%d t=%d m=%d p=%d salt=%s\n",
		argon2.Version, p.Time, p.MemoryKiB, p.Threads, base64.RawStdEncoding.EncodeToString(salt))
}

func parseSaltFile(data []byte) (Argon2Params, []byte, error) {
	fields := strings.Fields(string(data))
	if len(fields) != 6 || fields[0] != "argon2id" {
		return Argon2Params{}, nil, errors.New(`not a salt file (want "argon2id v=19 t=... m=... p=... salt=...")`)
	}
	kv := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Argon2Params{}, nil, fmt.Errorf("bad field %q", f)
		}
		kv[k] = v
	}
	num := func(k string, max uint64) (uint64, error) {
		n, err := strconv.ParseUint(kv[k], 10, 32)
		if err != nil || n == 0 || n > max {
			return 0, fmt.Errorf("bad argon2id parameter %s=%q", k, kv[k])
		}
		return n, nil
	}
	if v, err := num("v", 1<<31); err != nil || v != argon2.Version {
		return Argon2Params{}, nil, fmt.Errorf("unsupported argon2 version %q", kv["v"])
	}
	t, err := num("t", maxArgon2Time)
	if err != nil {
		return Argon2Params{}, nil, err
	}
	m, err := num("m", maxArgon2MemoryKiB)
	if err != nil {
		return Argon2Params{}, nil, err
	}
	p, err := num("p", 255)
	if err != nil {
		return Argon2Params{}, nil, err
	}
	salt, err := base64.RawStdEncoding.DecodeString(kv["salt"])
	if err != nil || len(salt) < saltSize {
		return Argon2Params{}, nil, fmt.Errorf("bad salt (want at least %d bytes in unpadded base64)", saltSize)
	}
	return Argon2Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(p)}, salt, nil
}

// MasterKeyFromFile reads a master key from path: 32 raw bytes, 64 hex digits
// or base64 of 32 bytes (surrounding white space ignored). It refuses a file
// that group or others can read, because the master key opens every key.
func MasterKeyFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat master key file: %w", err)
	}
	if err := checkPrivate(path, fi, "600"); err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if fi.Size() > 1024 {
		return nil, fmt.Errorf("master key file %s is too large to hold a master key", path)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	defer clear(data)
	key, err := ParseMasterKey(data)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

// ParseMasterKey decodes a master key given as 32 raw bytes, 64 hex digits or
// base64 (standard or URL alphabet, padded or not) of 32 bytes, for keys that
// arrive from somewhere other than a file, such as a secret manager. The error
// never repeats the input.
func ParseMasterKey(data []byte) ([]byte, error) {
	if len(data) == MasterKeySize {
		return bytes.Clone(data), nil
	}
	text := bytes.TrimSpace(data)
	if len(text) == 2*MasterKeySize {
		if key, err := hex.DecodeString(string(text)); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(string(text)); err == nil && len(key) == MasterKeySize {
			return key, nil
		}
	}
	return nil, selo.Errorf(selo.EINVALID, "a master key must be %d raw bytes, %d hex digits or base64 of %d bytes", MasterKeySize, 2*MasterKeySize, MasterKeySize)
}

// GenerateMasterKeyFile writes a new random master key to path as 64 hex
// digits, mode 0600. It never overwrites: an existing file is ECONFLICT, since
// replacing a master key would lose every key sealed under it.
func GenerateMasterKeyFile(path string) error {
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate master key: %w", err)
	}
	text := make([]byte, 2*MasterKeySize+1)
	hex.Encode(text, key)
	text[len(text)-1] = '\n'
	defer clear(key)
	defer clear(text)
	// Written through createFile so a crash never leaves a truncated key file
	// that a later start would refuse to parse.
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := createFile(dir, name, text); errors.Is(err, errExists) {
		return selo.Errorf(selo.ECONFLICT, "master key file %s already exists: Selo never overwrites a master key", path)
	} else if err != nil {
		return fmt.Errorf("write master key file %s: %w", path, err)
	}
	return nil
}
