// Package soft is Selo's software key store: each private key is sealed with
// AES-256-GCM under a master key and kept in its own file in one directory.
// It is the embedded default; an HSM (package pkcs11) replaces it where keys
// must live in certified hardware.
//
// The directory holds:
//
//	keystore.check   a known value sealed under the master key, so Open
//	                 refuses a wrong master key at once
//	keystore.salt    argon2id salt and costs, when the master key comes from
//	                 a passphrase (see MasterKeyFromPassphraseDir)
//	<hex(ID)>.key    one sealed key per ID (see seal.go for the format)
//
// Back up the whole directory together with the master key or passphrase;
// neither is any use without the other.
package soft

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/internal/keyid"
)

// CheckFile is the name, inside the key directory, of the sealed check value.
const CheckFile = "keystore.check"

const keySuffix = ".key"

// Store is a software key store. It is safe for concurrent use. Keys are
// unsealed once, on first use, and kept in memory until DeleteKey or Close,
// so signing never pays for decryption or parsing.
//
// Several processes may share a directory (say, selo serve and an operator's
// selo command): creation is exclusive across them, but a key one process
// deletes stays usable in another that has it cached until that one restarts.
type Store struct {
	dir  string
	aead cipher.AEAD

	mu     sync.RWMutex
	keys   map[string]*entry
	closed bool
}

// entry is an unsealed key.
type entry struct {
	key        crypto.Signer // *ecdsa.PrivateKey or *rsa.PrivateKey
	signer     crypto.Signer // what callers get: the key behind a wrapper
	exportable bool
}

var _ selo.KeyStore = (*Store)(nil)

// Open opens the key store in dir with a 32-byte master key, creating dir
// (0700) and its check file when they do not exist. A wrong master key fails
// here with EUNAUTHORIZED, before any key is touched. The store keeps no copy
// of masterKey; the caller may clear it after Open returns.
func Open(dir string, masterKey []byte) (*Store, error) {
	if len(masterKey) != MasterKeySize {
		return nil, selo.Errorf(selo.EINVALID, "the key store master key must be %d bytes, not %d", MasterKeySize, len(masterKey))
	}
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	if err := checkPrivate(dir, fi, "700"); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	s := &Store{dir: dir, aead: aead, keys: map[string]*entry{}}
	if err := s.verifyMasterKey(); err != nil {
		return nil, err
	}
	return s, nil
}

// verifyMasterKey checks the master key against the check file. When the
// check file is missing (a new store, or lost from a backup) it checks against
// a key file instead, and then writes a new check file.
func (s *Store) verifyMasterKey() error {
	wrong := selo.Errorf(selo.EUNAUTHORIZED, "wrong master key or passphrase for the key store in %s", s.dir)
	path := filepath.Join(s.dir, CheckFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if !openCheck(s.aead, data) {
			return wrong
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	id, data, err := s.anyKeyFile()
	if err != nil {
		return err
	}
	if data != nil {
		der, _, err := openKey(s.aead, id, data)
		if err != nil {
			return wrong
		}
		clear(der)
	}
	check, err := sealCheck(s.aead)
	if err != nil {
		return err
	}
	if err := createFile(s.dir, CheckFile, check); errors.Is(err, errExists) {
		return s.verifyMasterKey() // another process made it first; check against theirs
	} else if err != nil {
		return fmt.Errorf("write %s: %w", CheckFile, err)
	}
	return nil
}

// anyKeyFile returns the ID and contents of some key file in the directory,
// or nil data when there is none.
func (s *Store) anyKeyFile() (string, []byte, error) {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return "", nil, fmt.Errorf("read key directory: %w", err)
	}
	for _, n := range names {
		id, ok := idFromFileName(n.Name())
		if !ok || !n.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, n.Name()))
		if err != nil {
			return "", nil, fmt.Errorf("read key file: %w", err)
		}
		return id, data, nil
	}
	return "", nil, nil
}

// fileName maps a key ID to its file name. Hex keeps any ID (slashes, case,
// dots) a single flat, portable name that can never escape the directory, and
// still reads back to the ID with xxd -r -p.
func fileName(id string) string {
	return hex.EncodeToString([]byte(id)) + keySuffix
}

func idFromFileName(name string) (string, bool) {
	h, ok := strings.CutSuffix(name, keySuffix)
	if !ok {
		return "", false
	}
	b, err := hex.DecodeString(h)
	if err != nil || keyid.Check(string(b)) != nil || fileName(string(b)) != name {
		return "", false
	}
	return string(b), true
}

// GenerateKey makes a new key of algorithm alg under id, seals it to disk and
// returns its signer. It fails with ECONFLICT when id exists, also when
// another goroutine or process creates id at the same moment.
func (s *Store) GenerateKey(ctx context.Context, id string, alg selo.KeyAlgorithm, opts selo.KeyOptions) (crypto.Signer, error) {
	if err := keyid.Check(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.refuseExisting(id); err != nil {
		return nil, err
	}
	key, err := generate(alg)
	if err != nil {
		return nil, err
	}
	return s.store(id, key, opts)
}

// ImportKey seals an existing private key under id, for key ceremonies and
// migrations. The key must be one Selo could have generated: ECDSA P-256 or
// P-384, or RSA of 2048, 3072 or 4096 bits (else EINVALID). The store keeps
// its own copy; the caller should discard key.
func (s *Store) ImportKey(ctx context.Context, id string, key crypto.PrivateKey, opts selo.KeyOptions) (crypto.Signer, error) {
	if err := keyid.Check(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := algorithmOf(key); err != nil {
		return nil, err
	}
	// Round-trip through PKCS#8 so the store never shares a pointer with the
	// caller and the cached key is exactly what a later Open will read.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "cannot import this private key: %v", err)
	}
	defer clear(der)
	own, err := parseKey(der)
	if err != nil {
		return nil, err
	}
	if err := s.refuseExisting(id); err != nil {
		return nil, err
	}
	return s.store(id, own, opts)
}

// refuseExisting fails early with ECONFLICT so that a doomed GenerateKey does
// not spend seconds making an RSA key. createFile still decides the race.
func (s *Store) refuseExisting(id string) error {
	s.mu.RLock()
	closed := s.closed
	_, cached := s.keys[id]
	s.mu.RUnlock()
	if closed {
		return errClosed
	}
	if cached {
		return conflict(id)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, fileName(id))); err == nil {
		return conflict(id)
	}
	return nil
}

func conflict(id string) error {
	return selo.Errorf(selo.ECONFLICT, "key %q already exists", id)
}

// store seals key to its file and caches it.
func (s *Store) store(id string, key crypto.Signer, opts selo.KeyOptions) (crypto.Signer, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key %q: %w", id, err)
	}
	data, err := sealKey(s.aead, id, opts.Exportable, der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("seal key %q: %w", id, err)
	}
	staged, err := stageFile(s.dir, data)
	if err != nil {
		return nil, fmt.Errorf("write key %q: %w", id, err)
	}
	defer staged.discard()
	// The link and the cache entry happen under one lock, so that a DeleteKey
	// of the same ID cannot slip in between and leave a cached key with no
	// file. The slow syncs stay outside it: signing never waits on a disk.
	e := newEntry(key, opts.Exportable)
	if err := s.linkAndCache(id, staged, e); err != nil {
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		return nil, fmt.Errorf("write key %q: %w", id, err)
	}
	return e.signer, nil
}

func (s *Store) linkAndCache(id string, staged *stagedFile, e *entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if err := staged.link(fileName(id)); errors.Is(err, errExists) {
		return conflict(id)
	} else if err != nil {
		return fmt.Errorf("write key %q: %w", id, err)
	}
	s.keys[id] = e
	return nil
}

// Signer returns the signer of key id, or ENOTFOUND. After the first call for
// an ID it is a map lookup.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	e, err := s.entry(id)
	if err != nil {
		return nil, err
	}
	return e.signer, nil
}

// ExportKey returns a copy of the private key of a key generated or imported
// with Exportable set, EFORBIDDEN for any other, ENOTFOUND when there is none.
func (s *Store) ExportKey(ctx context.Context, id string) (crypto.PrivateKey, error) {
	e, err := s.entry(id)
	if err != nil {
		return nil, err
	}
	if !e.exportable {
		return nil, selo.Errorf(selo.EFORBIDDEN, "key %q is not exportable", id)
	}
	// A copy, so a caller that wipes or changes the exported key after use
	// does not break the cached signer.
	der, err := x509.MarshalPKCS8PrivateKey(e.key)
	if err != nil {
		return nil, fmt.Errorf("export key %q: %w", id, err)
	}
	defer clear(der)
	return parseKey(der)
}

// entry returns the cached key id, unsealing it on first use.
func (s *Store) entry(id string) (*entry, error) {
	if err := keyid.Check(id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	e, ok := s.keys[id]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, errClosed
	}
	if ok {
		return e, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if e, ok := s.keys[id]; ok {
		return e, nil
	}
	data, err := os.ReadFile(filepath.Join(s.dir, fileName(id)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, selo.Errorf(selo.ENOTFOUND, "key %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("read key %q: %w", id, err)
	}
	der, exportable, err := openKey(s.aead, id, data)
	if err != nil {
		return nil, fmt.Errorf("unseal key %q: %w", id, err)
	}
	defer clear(der)
	key, err := parseKey(der)
	if err != nil {
		return nil, fmt.Errorf("unseal key %q: %w", id, err)
	}
	e = newEntry(key, exportable)
	s.keys[id] = e
	return e, nil
}

// DeleteKey removes key id from disk and memory, or fails with ENOTFOUND.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := keyid.Check(id); err != nil {
		return err
	}
	if err := s.removeAndForget(id); err != nil {
		return err
	}
	return syncDir(s.dir) // outside the lock, like GenerateKey's syncs
}

func (s *Store) removeAndForget(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	delete(s.keys, id)
	if err := os.Remove(filepath.Join(s.dir, fileName(id))); errors.Is(err, fs.ErrNotExist) {
		return selo.Errorf(selo.ENOTFOUND, "key %q not found", id)
	} else if err != nil {
		return fmt.Errorf("delete key %q: %w", id, err)
	}
	return nil
}

// Close forgets every cached key. Later calls fail; Close itself may be called
// again. Go cannot promise the key bytes are wiped from memory, but dropping
// the references lets the collector reclaim them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.keys = nil
	return nil
}

var errClosed = errors.New("key store is closed")

// generate makes a fresh key of algorithm alg.
func generate(alg selo.KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case selo.KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case selo.KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case selo.KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case selo.KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case selo.KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, selo.Errorf(selo.EINVALID, "unknown key algorithm %q (want one of %v)", alg, selo.KeyAlgorithms)
}

// algorithmOf names the algorithm of key, or fails with EINVALID for a key
// Selo would not generate.
func algorithmOf(key crypto.PrivateKey) (selo.KeyAlgorithm, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return selo.KeyECDSAP256, nil
		case elliptic.P384():
			return selo.KeyECDSAP384, nil
		}
		return "", selo.Errorf(selo.EINVALID, "ECDSA curve %s is not supported (want P-256 or P-384)", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		switch k.N.BitLen() {
		case 2048:
			return selo.KeyRSA2048, nil
		case 3072:
			return selo.KeyRSA3072, nil
		case 4096:
			return selo.KeyRSA4096, nil
		}
		return "", selo.Errorf(selo.EINVALID, "RSA-%d is not supported (want 2048, 3072 or 4096 bits)", k.N.BitLen())
	}
	return "", selo.Errorf(selo.EINVALID, "private key type %T is not supported (want ECDSA or RSA)", key)
}

// parseKey parses PKCS#8 DER into a key Selo supports. Its errors never
// include the DER.
func parseKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("sealed data is not a PKCS#8 private key")
	}
	if _, err := algorithmOf(k); err != nil {
		return nil, err
	}
	return k.(crypto.Signer), nil
}

func newEntry(key crypto.Signer, exportable bool) *entry {
	return &entry{key: key, signer: signer{key}, exportable: exportable}
}

// signer hides the private key behind crypto.Signer: a caller holding a
// non-exportable key's signer cannot type-assert its way to the key itself.
type signer struct{ key crypto.Signer }

func (s signer) Public() crypto.PublicKey { return s.key.Public() }

func (s signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}
