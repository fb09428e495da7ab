// Package testenv wires a real Selo stack for tests of any package: SQLite
// in a temporary directory, the software key store, the built-in profiles
// with the shared zlint linter, and an authority with a CA hierarchy made
// through authority.CreateCA (an ECDSA P-384 root, an ECDSA P-256 issuing CA
// for the qualified, advanced and S/MIME profiles, an RSA 3072 issuing CA
// for TLS) and an operator API key. Nothing is faked, so a test that passes
// here exercises what production runs.
package testenv

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/store/sqlite"
)

// IDs of the CAs every Env has.
const (
	RootID      = "root-ecc-t1"
	QualifiedID = "qualified-ecc-t1"
	TLSID       = "tls-rsa-t1"
)

// Actor is the audit actor testenv uses for what it sets up.
const Actor = "testenv"

// APIKeyName is the name of the operator API key every Env has, so API calls
// are audited as "api:" + APIKeyName.
const APIKeyName = "test-operator"

// BaseURL is the public base URL the test CAs put in certificates.
const BaseURL = "http://pki.selo-test.eu"

// ProfileCA is the CA that issues each built-in profile.
var ProfileCA = map[string]string{
	"qualified-sign":   QualifiedID,
	"qualified-seal":   QualifiedID,
	"advanced-invoice": QualifiedID,
	"advanced-email":   QualifiedID,
	"tls-server":       TLSID,
	"tls-server-ov":    TLSID,
}

// Options change what New builds. The zero value is the usual environment.
type Options struct {
	// Clock is given to the store and the authority (system clock when nil).
	Clock selo.Clock
	// Metrics is given to the authority (none when nil).
	Metrics metrics.Sink
	// Logger receives the authority's logs (discarded when nil).
	Logger *slog.Logger
	// Store replaces the SQLite store, e.g. with PostgreSQL; the caller closes it.
	Store selo.Store
}

// Env is a wired Selo stack. Everything in it is closed when the test ends.
type Env struct {
	Dir       string // the temporary data directory
	Store     selo.Store
	Keys      selo.KeyStore
	Profiles  map[string]*pki.Profile
	Linter    *pki.Linter
	Authority *authority.Authority
	Clock     selo.Clock

	Root, Qualified, TLS *selo.CA

	// APIKey is the secret of an enabled operator API key named APIKeyName.
	APIKey string
}

var (
	linterOnce sync.Once
	linter     *pki.Linter
	linterErr  error
)

// Linter returns a zlint linter shared by the whole test binary: building
// one filters every zlint registry, which is too slow to repeat per test.
func Linter(t testing.TB) *pki.Linter {
	t.Helper()
	linterOnce.Do(func() { linter, linterErr = pki.NewLinter() })
	if linterErr != nil {
		t.Fatalf("testenv: build linter: %v", linterErr)
	}
	return linter
}

// New builds an Env with default options.
func New(t testing.TB) *Env {
	t.Helper()
	return NewWithOptions(t, Options{})
}

// NewWithOptions builds an Env. It fails the test on any error.
func NewWithOptions(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	env := &Env{Dir: t.TempDir(), Clock: opts.Clock, Profiles: pki.BuiltinProfiles(), Linter: Linter(t)}
	if env.Clock == nil {
		env.Clock = selo.SystemClock{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	if opts.Store != nil {
		env.Store = opts.Store
	} else {
		st, err := sqlite.Open(ctx, filepath.Join(env.Dir, "selo.db"), env.Clock)
		if err != nil {
			t.Fatalf("testenv: open sqlite: %v", err)
		}
		env.Store = st
		t.Cleanup(func() { _ = st.Close() })
	}

	// The master key goes through the same file functions as `selo init`,
	// so the environment also covers the key store's master key handling.
	masterKeyFile := filepath.Join(env.Dir, "master.key")
	if err := soft.GenerateMasterKeyFile(masterKeyFile); err != nil {
		t.Fatalf("testenv: generate master key: %v", err)
	}
	masterKey, err := soft.MasterKeyFromFile(masterKeyFile)
	if err != nil {
		t.Fatalf("testenv: read master key: %v", err)
	}
	ks, err := soft.Open(filepath.Join(env.Dir, "keys"), masterKey)
	if err != nil {
		t.Fatalf("testenv: open soft key store: %v", err)
	}
	env.Keys = ks
	t.Cleanup(func() { _ = ks.Close() })

	env.Authority, err = authority.New(authority.Config{
		Store: env.Store, Keys: env.Keys, Profiles: env.Profiles, Linter: env.Linter,
		Clock: env.Clock, BaseURL: BaseURL, ProfileCA: ProfileCA, Logger: logger,
		Metrics: opts.Metrics,
	})
	if err != nil {
		t.Fatalf("testenv: new authority: %v", err)
	}
	// Registered after the stores' cleanups, so it runs before them: the CRL
	// publications that revocations scheduled finish while the store is open.
	t.Cleanup(func() { _ = env.Authority.Close() })

	org := func(o authority.CreateCAOptions) authority.CreateCAOptions {
		o.Organization, o.Country = "Selo Test Trust Services", "PT"
		return o
	}
	for _, spec := range []struct {
		opts authority.CreateCAOptions
		ca   **selo.CA
	}{
		{org(authority.CreateCAOptions{ID: RootID, Name: "Selo Test Root CA ECC T1", KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 9000}), &env.Root},
		{org(authority.CreateCAOptions{ID: QualifiedID, Name: "Selo Test Qualified CA ECC T1", ParentID: RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}), &env.Qualified},
		// The TLS CA carries the CA/B DV policy, as the TLS Baseline
		// Requirements want of a CA that issues to the tls-server profile.
		{org(authority.CreateCAOptions{ID: TLSID, Name: "Selo Test TLS CA RSA T1", ParentID: RootID, KeyAlgorithm: selo.KeyRSA3072, ValidityDays: 3650, Policies: []string{"2.23.140.1.2.1"}}), &env.TLS},
	} {
		ca, err := env.Authority.CreateCA(ctx, Actor, spec.opts)
		if err != nil {
			t.Fatalf("testenv: create CA %s: %v", spec.opts.ID, err)
		}
		*spec.ca = ca
	}

	if env.APIKey, _, err = env.Authority.CreateAPIKey(ctx, Actor, APIKeyName); err != nil {
		t.Fatalf("testenv: create API key: %v", err)
	}
	return env
}

// CSR returns a PEM CSR that the built-in profile accepts (a realistic
// subject from pkitest.Request) and the key that signed it. keyKind is one
// of pkitest.NewKey's: "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072".
func CSR(t testing.TB, profile, keyKind string) ([]byte, crypto.Signer) {
	t.Helper()
	key := pkitest.NewKey(t, keyKind)
	der := pkitest.NewCSR(t, key, pkitest.Request(profile, key.Public()))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

// Issue issues a certificate for profile from a fresh CSR and fails the
// test on error: for tests that need certificates to exist.
func (e *Env) Issue(t testing.TB, profile, keyKind string) *selo.Certificate {
	t.Helper()
	csr, _ := CSR(t, profile, keyKind)
	cert, err := e.Authority.Issue(context.Background(), Actor, authority.IssueRequest{Profile: profile, CSR: csr})
	if err != nil {
		t.Fatalf("testenv: issue %s: %v", profile, err)
	}
	return cert
}

// OrderCredential makes what a cloud order makes for a holder — a key in the
// key store, certified under profile (pkitest's subject) — and returns it
// for signing.Service.AttachOrderCredential: the only way a qualified
// credential comes to be. The credential is to go to the account of email.
func (e *Env) OrderCredential(t testing.TB, email, profile string, approval selo.ApprovalType, alg selo.KeyAlgorithm) selo.OrderCredential {
	t.Helper()
	ctx := context.Background()
	var b [14]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	keyID := "order/" + id
	signer, err := e.Keys.GenerateKey(ctx, keyID, alg, selo.KeyOptions{})
	if err != nil {
		t.Fatalf("testenv: order key: %v", err)
	}
	req := pkitest.Request(profile, signer.Public())
	cert, err := e.Authority.Issue(ctx, Actor, authority.IssueRequest{Profile: profile, PublicKey: signer.Public(), KeyID: keyID,
		Subject: req.Subject, DNSNames: req.DNSNames, EmailAddresses: req.EmailAddresses})
	if err != nil {
		t.Fatalf("testenv: issue the order's %s certificate: %v", profile, err)
	}
	return selo.OrderCredential{ID: id, OrderNumber: "SO-TEST-" + id[:8], Email: email, KeyID: keyID, KeyAlgorithm: alg,
		CertificateSerial: cert.Serial, Profile: profile, Approval: approval}
}
