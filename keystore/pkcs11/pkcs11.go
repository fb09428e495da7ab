//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/internal/keyid"
)

// Store is a key store on a PKCS#11 token. It is safe for concurrent use.
// Signers are looked up on the token once and then kept, so signing costs one
// PKCS#11 call.
type Store struct {
	p11   *crypto11.Context
	token string

	mu      sync.RWMutex
	keys    map[string]crypto.Signer
	pending map[string]bool // IDs being generated right now
	closed  bool
}

var _ selo.KeyStore = (*Store)(nil)

// Open loads the module, finds the token and logs in. A wrong PIN is
// EUNAUTHORIZED. The returned Store holds PKCS#11 sessions until Close.
// PKCS#11 login belongs to the whole process: while one Store is open on a
// token, a second Open on it succeeds whatever PIN it is given.
func Open(cfg Config) (*Store, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" {
		return nil, selo.Errorf(selo.EINVALID, "the PKCS#11 key store needs a module path and a token label")
	}
	// dlopen's own message for a missing library is cryptic; say it plainly.
	if _, err := os.Stat(cfg.Module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w", cfg.Module, err)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:        cfg.Module,
		TokenLabel:  cfg.TokenLabel,
		Pin:         cfg.PIN,
		MaxSessions: cfg.MaxSessions,
	})
	if err != nil {
		if errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)) || errors.Is(err, p11.Error(p11.CKR_PIN_INVALID)) {
			return nil, selo.Errorf(selo.EUNAUTHORIZED, "wrong PIN for PKCS#11 token %q", cfg.TokenLabel)
		}
		if errors.Is(err, p11.Error(p11.CKR_PIN_LOCKED)) {
			return nil, selo.Errorf(selo.EFORBIDDEN, "the PIN of PKCS#11 token %q is locked", cfg.TokenLabel)
		}
		return nil, fmt.Errorf("open PKCS#11 token %q with %s: %w", cfg.TokenLabel, cfg.Module, err)
	}
	return &Store{p11: ctx, token: cfg.TokenLabel, keys: map[string]crypto.Signer{}, pending: map[string]bool{}}, nil
}

// GenerateKey makes a key pair on the token under id: sensitive,
// non-extractable, for signing only. opts.Exportable is accepted but has no
// effect, since nothing leaves the HSM; ExportKey refuses every key. It fails
// with ECONFLICT when the token already holds a key labelled id.
//
// Within one process, concurrent calls for one ID have exactly one winner.
// PKCS#11 has no atomic create-if-absent, so across processes sharing a
// token the store checks again after generating and deletes its own key if
// another appeared: two racing replicas never both succeed (both may fail).
func (s *Store) GenerateKey(ctx context.Context, id string, alg selo.KeyAlgorithm, opts selo.KeyOptions) (crypto.Signer, error) {
	if err := keyid.Check(id); err != nil {
		return nil, err
	}
	if !alg.Valid() {
		return nil, selo.Errorf(selo.EINVALID, "unknown key algorithm %q (want one of %v)", alg, selo.KeyAlgorithms)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.claim(id); err != nil {
		return nil, err
	}
	defer s.release(id)

	label := []byte(id)
	if n, err := s.countPrivateKeys(label); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, conflict(id)
	}
	ckaID := make([]byte, 16)
	if _, err := rand.Read(ckaID); err != nil {
		return nil, fmt.Errorf("generate CKA_ID: %w", err)
	}
	key, err := s.generate(alg, ckaID, label)
	if err != nil {
		return nil, fmt.Errorf("generate %s key %q on PKCS#11 token %q: %w", alg, id, s.token, err)
	}
	if n, err := s.countPrivateKeys(label); err != nil || n > 1 {
		// Another process made the same ID meanwhile, or we cannot tell:
		// either way this key must not be left behind.
		if delErr := key.Delete(); delErr != nil {
			return nil, fmt.Errorf("delete key %q after a lost race: %w", id, delErr)
		}
		if err != nil {
			return nil, err
		}
		return nil, conflict(id)
	}
	signer := wrap(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.keys[id] = signer
	return signer, nil
}

// claim marks id as being generated, or fails with ECONFLICT when it is
// cached or another goroutine is generating it.
func (s *Store) claim(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if s.pending[id] || s.keys[id] != nil {
		return conflict(id)
	}
	s.pending[id] = true
	return nil
}

func (s *Store) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
}

func (s *Store) generate(alg selo.KeyAlgorithm, ckaID, label []byte) (crypto11.Signer, error) {
	public, err := crypto11.NewAttributeSetWithIDAndLabel(ckaID, label)
	if err != nil {
		return nil, err
	}
	private := public.Copy()
	// crypto11 already makes private keys sensitive and non-extractable;
	// saying so here keeps that guarantee if its defaults ever change. The
	// rest makes a signing key only: tokens differ in their defaults (SoftHSM2
	// lets an EC key decrypt and unwrap), and a CA key must do nothing else.
	for typ, val := range map[crypto11.AttributeType]bool{
		crypto11.CkaPrivate:     true,
		crypto11.CkaSensitive:   true,
		crypto11.CkaExtractable: false,
		crypto11.CkaSign:        true,
		crypto11.CkaDecrypt:     false,
		crypto11.CkaUnwrap:      false,
		crypto11.CkaDerive:      false,
	} {
		if err := private.Set(typ, val); err != nil {
			return nil, err
		}
	}
	for typ, val := range map[crypto11.AttributeType]bool{
		crypto11.CkaVerify:  true,
		crypto11.CkaEncrypt: false,
		crypto11.CkaWrap:    false,
		crypto11.CkaDerive:  false,
	} {
		if err := public.Set(typ, val); err != nil {
			return nil, err
		}
	}
	switch alg {
	case selo.KeyECDSAP256:
		return s.p11.GenerateECDSAKeyPairWithAttributes(public, private, elliptic.P256())
	case selo.KeyECDSAP384:
		return s.p11.GenerateECDSAKeyPairWithAttributes(public, private, elliptic.P384())
	}
	bits := map[selo.KeyAlgorithm]int{selo.KeyRSA2048: 2048, selo.KeyRSA3072: 3072, selo.KeyRSA4096: 4096}[alg]
	return s.p11.GenerateRSAKeyPairWithAttributes(public, private, bits)
}

func (s *Store) countPrivateKeys(label []byte) (int, error) {
	keys, err := s.p11.FindPrivateKeys(nil, label)
	if err != nil {
		return 0, fmt.Errorf("find key %q on PKCS#11 token %q: %w", label, s.token, err)
	}
	return len(keys), nil
}

// Signer returns the signer of key id, or ENOTFOUND.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := keyid.Check(id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	signer, closed := s.keys[id], s.closed
	s.mu.RUnlock()
	if closed {
		return nil, errClosed
	}
	if signer != nil {
		return signer, nil
	}
	key, err := s.find(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if cached := s.keys[id]; cached != nil {
		return cached, nil
	}
	signer = wrap(key)
	s.keys[id] = signer
	return signer, nil
}

// find looks up the key pair labelled id on the token.
func (s *Store) find(id string) (crypto11.Signer, error) {
	pairs, err := s.p11.FindKeyPairs(nil, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("find key %q on PKCS#11 token %q: %w", id, s.token, err)
	}
	switch len(pairs) {
	case 0:
		return nil, selo.Errorf(selo.ENOTFOUND, "key %q not found", id)
	case 1:
	default:
		// Guessing could sign with the wrong key; an operator must resolve it.
		return nil, fmt.Errorf("PKCS#11 token %q holds %d key pairs labelled %q", s.token, len(pairs), id)
	}
	switch pairs[0].Public().(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return pairs[0], nil
	}
	return nil, fmt.Errorf("key %q on PKCS#11 token %q is a %T, not ECDSA or RSA", id, s.token, pairs[0].Public())
}

// ExportKey always fails: EFORBIDDEN for a key on the token (HSM keys never
// leave it), ENOTFOUND when there is none.
func (s *Store) ExportKey(ctx context.Context, id string) (crypto.PrivateKey, error) {
	if _, err := s.Signer(ctx, id); err != nil {
		return nil, err
	}
	return nil, selo.Errorf(selo.EFORBIDDEN, "key %q is in an HSM and cannot be exported", id)
}

// DeleteKey destroys both halves of key id on the token, or fails with
// ENOTFOUND.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := keyid.Check(id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	delete(s.keys, id)
	key, err := s.find(id)
	if err != nil {
		return err
	}
	if err := key.Delete(); err != nil {
		return fmt.Errorf("delete key %q on PKCS#11 token %q: %w", id, s.token, err)
	}
	return nil
}

// Close logs out and closes the store's sessions. Signers it handed out stop
// working. Later calls fail; Close itself may be called again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.keys = nil
	if err := s.p11.Close(); err != nil {
		return fmt.Errorf("close PKCS#11 token %q: %w", s.token, err)
	}
	return nil
}

var errClosed = errors.New("key store is closed")

func conflict(id string) error {
	return selo.Errorf(selo.ECONFLICT, "key %q already exists", id)
}

// wrap hides crypto11's Delete and Decrypt behind crypto.Signer, so that a
// caller holding a signer cannot destroy the key or decrypt with it.
func wrap(key crypto11.Signer) crypto.Signer { return signer{key} }

type signer struct{ key crypto11.Signer }

func (s signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign signs digest on the token. PKCS#11 cannot pick the salt length itself,
// so rsa.PSSSaltLengthAuto becomes a salt as long as the hash: what
// x509.CreateCertificate uses and what any Auto verifier accepts.
func (s signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}
	}
	return s.key.Sign(rand, digest, opts)
}
