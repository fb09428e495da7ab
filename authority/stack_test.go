package authority_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, for raw access to the store's file

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/sqlite"
)

// stack is an authority over one store backend with the CA hierarchy that
// testenv builds (same IDs, key types and base URL), so one scenario can run
// against SQLite and PostgreSQL alike.
type stack struct {
	A        *authority.Authority
	Store    selo.Store
	Keys     selo.KeyStore
	Profiles map[string]*pki.Profile
	Linter   *pki.Linter
	Clock    selo.Clock
	// KeyDir is the soft key store's directory.
	KeyDir string
	// DBFile is the SQLite database file ("" over PostgreSQL).
	DBFile string

	Root, Qualified, TLS *selo.CA

	// exec runs raw SQL on the store's database behind the store's back, as
	// an attacker with database access would. $1, $2, ... placeholders work
	// on both backends.
	exec func(t testing.TB, query string, args ...any)
}

// sqliteStack is testenv's environment, plus raw SQL access to its file.
func sqliteStack(t testing.TB, opts testenv.Options) *stack {
	t.Helper()
	env := testenv.NewWithOptions(t, opts)
	dbFile := filepath.Join(env.Dir, "selo.db")
	db, err := sql.Open("sqlite", dbFile+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatalf("open sqlite file: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &stack{
		A: env.Authority, Store: env.Store, Keys: env.Keys, Profiles: env.Profiles, Linter: env.Linter,
		Clock: env.Clock, KeyDir: filepath.Join(env.Dir, "keys"), DBFile: dbFile,
		Root: env.Root, Qualified: env.Qualified, TLS: env.TLS,
		exec: func(t testing.TB, query string, args ...any) {
			t.Helper()
			if _, err := db.Exec(query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		},
	}
}

// postgresDSN returns a DSN whose search_path is a fresh schema, dropped at
// the end of the test. It skips without SELO_TEST_POSTGRES, except in CI.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SELO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SELO_TEST_POSTGRES is not set in CI: the authority must be tested over PostgreSQL there")
		}
		t.Skip("SELO_TEST_POSTGRES is not set: skipping the authority tests over PostgreSQL (set it to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "selo_authority_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to SELO_TEST_POSTGRES: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("SELO_TEST_POSTGRES must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// postgresStack builds the testenv hierarchy over PostgreSQL and a soft key store.
func postgresStack(t testing.TB, clock selo.Clock) *stack {
	t.Helper()
	dsn := postgresDSN(t)
	ctx := context.Background()
	if clock == nil {
		clock = selo.SystemClock{}
	}
	st, err := postgres.Open(ctx, dsn, clock)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	raw, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	var rawMu sync.Mutex
	s := buildStack(t, st, clock)
	s.exec = func(t testing.TB, query string, args ...any) {
		t.Helper()
		rawMu.Lock()
		defer rawMu.Unlock()
		if _, err := raw.Exec(context.Background(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	return s
}

// buildStack wires an authority over st and a fresh soft key store and makes
// the testenv hierarchy with it.
func buildStack(t testing.TB, st selo.Store, clock selo.Clock) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	master := make([]byte, soft.MasterKeySize)
	_, _ = rand.Read(master)
	ks, err := soft.Open(filepath.Join(dir, "keys"), master)
	if err != nil {
		t.Fatalf("open soft key store: %v", err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	s := &stack{Store: st, Keys: ks, Profiles: pki.BuiltinProfiles(), Linter: testenv.Linter(t), Clock: clock, KeyDir: filepath.Join(dir, "keys")}
	s.A, err = authority.New(authority.Config{
		Store: st, Keys: ks, Profiles: s.Profiles, Linter: s.Linter, Clock: clock,
		BaseURL: testenv.BaseURL, ProfileCA: testenv.ProfileCA, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []struct {
		opts authority.CreateCAOptions
		ca   **selo.CA
	}{
		{authority.CreateCAOptions{ID: testenv.RootID, Name: "Selo Test Root CA ECC T1", KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 9000}, &s.Root},
		{authority.CreateCAOptions{ID: testenv.QualifiedID, Name: "Selo Test Qualified CA ECC T1", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650}, &s.Qualified},
		{authority.CreateCAOptions{ID: testenv.TLSID, Name: "Selo Test TLS CA RSA T1", ParentID: testenv.RootID, KeyAlgorithm: selo.KeyRSA3072, ValidityDays: 3650, Policies: []string{"2.23.140.1.2.1"}}, &s.TLS},
	} {
		spec.opts.Organization, spec.opts.Country = "Selo Test Trust Services", "PT"
		if *spec.ca, err = s.A.CreateCA(ctx, testenv.Actor, spec.opts); err != nil {
			t.Fatalf("create CA %s: %v", spec.opts.ID, err)
		}
	}
	return s
}

// bare opens an empty SQLite store and an empty soft key store, for tests
// that need no CA hierarchy.
func bare(t testing.TB) (selo.Store, selo.KeyStore) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "selo.db"), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, soft.MasterKeySize)
	_, _ = rand.Read(master)
	ks, err := soft.Open(filepath.Join(dir, "keys"), master)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	return st, ks
}

// backends runs fn against SQLite, and against PostgreSQL when
// SELO_TEST_POSTGRES is set.
func backends(t *testing.T, fn func(t *testing.T, s *stack)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteStack(t, testenv.Options{})) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresStack(t, nil)) })
}

// with returns another authority over the stack's key store and profiles,
// over st (the stack's store, or a wrapper of it), with a fresh issuer cache.
func (s *stack) with(t testing.TB, st selo.Store, change func(*authority.Config)) *authority.Authority {
	t.Helper()
	cfg := authority.Config{
		Store: st, Keys: s.Keys, Profiles: s.Profiles, Linter: s.Linter, Clock: s.Clock,
		BaseURL: testenv.BaseURL, ProfileCA: testenv.ProfileCA, Logger: slog.New(slog.DiscardHandler),
	}
	if change != nil {
		change(&cfg)
	}
	a, err := authority.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// issue issues a certificate for profile from a fresh testenv CSR under the
// profile's CA and fails the test on error.
func (s *stack) issue(t testing.TB, profile, keyKind string) *selo.Certificate {
	t.Helper()
	csr, _ := testenv.CSR(t, profile, keyKind)
	c, err := s.A.Issue(context.Background(), "tester", authority.IssueRequest{Profile: profile, CSR: csr})
	if err != nil {
		t.Fatalf("issue %s: %v", profile, err)
	}
	return c
}

// holderKeys lists the IDs of holder keys in the soft key store's directory.
func (s *stack) holderKeys(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(s.KeyDir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		h, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok {
			continue
		}
		id, err := hex.DecodeString(h)
		if err == nil && strings.HasPrefix(string(id), "holder/") {
			ids = append(ids, string(id))
		}
	}
	return ids
}

// certificates returns every stored certificate that matches f.
func (s *stack) certificates(t testing.TB, f selo.CertificateFilter) []*selo.Certificate {
	t.Helper()
	cs, err := s.Store.ListCertificates(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// audit returns the whole audit log.
func (s *stack) audit(t testing.TB) []*selo.AuditEntry {
	t.Helper()
	entries, err := s.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// lastAudit returns the last audit entry.
func (s *stack) lastAudit(t testing.TB) *selo.AuditEntry {
	t.Helper()
	entries := s.audit(t)
	if len(entries) == 0 {
		t.Fatal("the audit log is empty")
	}
	return entries[len(entries)-1]
}

// findAudit returns the audit entries with this action and object.
func (s *stack) findAudit(t testing.TB, action, object string) []*selo.AuditEntry {
	t.Helper()
	var out []*selo.AuditEntry
	for _, e := range s.audit(t) {
		if e.Action == action && e.Object == object {
			out = append(out, e)
		}
	}
	return out
}

// verifyAudit fails the test unless the whole log verifies.
func (s *stack) verifyAudit(t testing.TB) int64 {
	t.Helper()
	n, problem, err := s.A.VerifyAudit(context.Background())
	if err != nil || problem != nil {
		t.Fatalf("VerifyAudit = %d, %+v, %v; want an intact log", n, problem, err)
	}
	return n
}

// details decodes an audit entry's details.
func details(t testing.TB, e *selo.AuditEntry) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e.Details), &m); err != nil {
		t.Fatalf("audit entry %d details %q: %v", e.Seq, e.Details, err)
	}
	return m
}

// wantFailureAudit checks that entry records a refused action with code.
func wantFailureAudit(t testing.TB, e *selo.AuditEntry, action, object, code string) {
	t.Helper()
	if e.Action != action || e.Object != object || e.Outcome != selo.OutcomeFailure {
		t.Fatalf("last audit entry = %s %s %s, want %s %s %s", e.Action, e.Object, e.Outcome, action, object, selo.OutcomeFailure)
	}
	if got := details(t, e)["code"]; got != code {
		t.Fatalf("audit entry %d records code %v, want %q (details %s)", e.Seq, got, code, e.Details)
	}
}

// wantCode fails the test unless err carries the application error code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := selo.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
	if code != selo.EINTERNAL && selo.ErrorMessage(err) == "" {
		t.Fatalf("error %v has no message", err)
	}
}

// caCert parses a CA's certificate.
func caCert(t testing.TB, ca *selo.CA) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		t.Fatalf("certificate of CA %s: %v", ca.ID, err)
	}
	return c
}

// leafOf parses a stored certificate.
func leafOf(t testing.TB, c *selo.Certificate) *x509.Certificate {
	t.Helper()
	x, err := authority.ParsedCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// verifyChain checks leaf with crypto/x509 against chain (issuing CA first,
// root last) at time now.
func verifyChain(t testing.TB, leaf *x509.Certificate, chain []*x509.Certificate, now time.Time) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, c := range chain[:len(chain)-1] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("certificate %s does not verify: %v", leaf.Subject, err)
	}
	if got := chains[0]; len(got) != len(chain)+1 || !got[len(got)-1].Equal(chain[len(chain)-1]) {
		t.Fatalf("certificate %s verifies through %d certificates, want %d ending at the root", leaf.Subject, len(got), len(chain)+1)
	}
}

// samePublicKey reports whether two public keys are equal.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// hookStore wraps a store so a test can change what some calls do. A nil
// hook passes the call through.
type hookStore struct {
	selo.Store
	appendAudit          func(ctx context.Context, next selo.Store, e *selo.AuditEntry) error
	createCertificate    func(ctx context.Context, next selo.Store, c *selo.Certificate, e *selo.AuditEntry) error
	supersedeCertificate func(ctx context.Context, next selo.Store, old string, c *selo.Certificate, e *selo.AuditEntry) error
	findCertificate      func(ctx context.Context, next selo.Store, serial string) (*selo.Certificate, error)
}

func (h *hookStore) AppendAudit(ctx context.Context, e *selo.AuditEntry) error {
	if h.appendAudit != nil {
		return h.appendAudit(ctx, h.Store, e)
	}
	return h.Store.AppendAudit(ctx, e)
}

func (h *hookStore) CreateCertificate(ctx context.Context, c *selo.Certificate, e *selo.AuditEntry) error {
	if h.createCertificate != nil {
		return h.createCertificate(ctx, h.Store, c, e)
	}
	return h.Store.CreateCertificate(ctx, c, e)
}

func (h *hookStore) SupersedeCertificate(ctx context.Context, old string, c *selo.Certificate, e *selo.AuditEntry) error {
	if h.supersedeCertificate != nil {
		return h.supersedeCertificate(ctx, h.Store, old, c, e)
	}
	return h.Store.SupersedeCertificate(ctx, old, c, e)
}

func (h *hookStore) FindCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	if h.findCertificate != nil {
		return h.findCertificate(ctx, h.Store, serial)
	}
	return h.Store.FindCertificate(ctx, serial)
}

// requireOpenSSL returns the openssl binary. It skips loudly when there is
// none, and fails when CI is set, since CI installs it.
func requireOpenSSL(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but openssl is not installed: %v", err)
		}
		t.Skip("SKIPPING OPENSSL INTEROP CHECK: openssl is not installed")
	}
	return path
}

// writePEM writes certificates as one PEM file in dir and returns its path.
func writePEM(t testing.TB, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// opensslVerify checks leaf with `openssl verify` against chain (issuing CA
// first, root last).
func opensslVerify(t testing.TB, leaf *x509.Certificate, chain []*x509.Certificate) {
	t.Helper()
	bin := requireOpenSSL(t)
	dir := t.TempDir()
	rootFile := writePEM(t, dir, "root.pem", chain[len(chain)-1])
	args := []string{"verify", "-CAfile", rootFile}
	if len(chain) > 1 {
		args = append(args, "-untrusted", writePEM(t, dir, "issuing.pem", chain[:len(chain)-1]...))
	}
	leafFile := writePEM(t, dir, "leaf.pem", leaf)
	args = append(args, leafFile)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), leafFile+": OK") {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// hasPolicy reports whether c carries the dotted policy OID.
func hasPolicy(t testing.TB, c *x509.Certificate, dotted string) bool {
	t.Helper()
	oid, err := x509.ParseOID(dotted)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(c.Policies, oid.Equal)
}

// plainPolicy is the policy a certificate has instead of a -qscd one when
// its key is not in a QSCD (QCP-n-qscd → QCP-n, QCP-l-qscd → QCP-l).
func plainPolicy(p string) string {
	switch p {
	case "0.4.0.194112.1.2":
		return "0.4.0.194112.1.0"
	case "0.4.0.194112.1.3":
		return "0.4.0.194112.1.1"
	}
	return p
}
