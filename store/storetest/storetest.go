// Package storetest is the one conformance suite every selo.Store must pass.
// store/sqlite and store/postgres call Run from their tests with a function
// that opens a fresh, empty database, so both are held to the same contract:
// CRUD, error codes, filters and keyset pagination, atomic writes with their
// audit entries, an audit chain that survives concurrent writers and reveals
// tampering, persistence across a reopen, and revocation: one revocation per
// certificate however many callers race for it, hold release, streamed
// consistent walks, CRL numbers that are never handed out twice, the latest
// CRL, OCSP responses that no revocation leaves stale, and OCSP signers;
// orders: compare-and-set transitions of which exactly one of racing
// callers wins, order numbers and payment webhook events that are never
// stored twice, identity checks decided once, and one-time codes whose
// attempts are counted before they are compared.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// Backend is one store under test, opened on a fresh, empty database.
type Backend struct {
	// Store is the store under test. The suite closes it when it reopens;
	// OpenFunc must also close it at the end of the test (Close is safe twice).
	Store selo.Store
	// Exec runs raw SQL on the store's database, bypassing the store, as an
	// attacker with database access would. Queries use $1, $2, ... placeholders,
	// which both SQLite and PostgreSQL accept. It fails the test on error.
	Exec func(tb testing.TB, query string, args ...any)
	// Reopen opens another store on the same database, as a restarted process
	// would, and closes it at the end of the test.
	Reopen func(tb testing.TB) selo.Store
	// LoadRevocations inserts n revoked certificates of the CA caID (which
	// must exist) and their revocations straight into the database, in one
	// transaction and without audit entries: revocation i, for i in [0, n),
	// is BulkRevocation(caID, i). It is the fast way to a table of a million
	// revocations for BenchmarkForEachRevocation; what needs it skips when it
	// is nil.
	LoadRevocations func(tb testing.TB, caID string, n int)
}

// OpenFunc opens a store on a fresh, empty database that no other test
// shares. The store must take the times it fills in from clock. Everything it
// opens is released at the end of the test (tb.Cleanup).
type OpenFunc func(tb testing.TB, clock selo.Clock) *Backend

// Run runs the whole suite against the stores open makes. Subtests run in
// parallel, each on its own database.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"CA", testCA},
		{"Certificate", testCertificate},
		{"ListCertificates", testListCertificates},
		{"SupersedeCertificate", testSupersedeCertificate},
		{"SupersedeMovesCredentials", testSupersedeMovesCredentials},
		{"APIKey", testAPIKey},
		{"Audit", testAudit},
		{"AuditCheckpoint", testAuditCheckpoint},
		{"FailedWriteLeavesNothing", testFailedWriteLeavesNothing},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ConcurrentSameSerial", testConcurrentSameSerial},
		{"Tamper", testTamper},
		{"TailTruncation", testTailTruncation},
		{"Reopen", testReopen},
		{"Revocation", testRevocation},
		{"ReleaseHold", testReleaseHold},
		{"RevokeSuperseded", testRevokeSuperseded},
		{"ForEachRevocation", testForEachRevocation},
		{"ForEachRevocationBulk", testForEachRevocationBulk},
		{"ConcurrentRevocation", testConcurrentRevocation},
		{"ConcurrentRevokeAndSupersede", testConcurrentRevokeAndSupersede},
		{"CRLNumber", testCRLNumber},
		{"ConcurrentCRLNumber", testConcurrentCRLNumber},
		{"CRL", testCRL},
		{"OCSPResponse", testOCSPResponse},
		{"CertificatesNeedingOCSP", testCertificatesNeedingOCSP},
		{"OCSPSigner", testOCSPSigner},
		{"FailedRevocationWriteLeavesNothing", testFailedRevocationWriteLeavesNothing},
		{"ReopenRevocations", testReopenRevocations},
		{"Account", testAccount},
		{"ConcurrentLoginFailures", testConcurrentLoginFailures},
		{"Credential", testCredential},
		{"ConcurrentApprovalFailures", testConcurrentApprovalFailures},
		{"Authenticator", testAuthenticator},
		{"Wallet", testWallet},
		{"Authorizer", testAuthorizer},
		{"Approval", testApproval},
		{"SignatureActivation", testSignatureActivation},
		{"AccountDisable", testAccountDisable},
		{"CredentialDisableEndsSADs", testCredentialDisableEndsSADs},
		{"AuthorizerDisableEndsSADs", testAuthorizerDisableEndsSADs},
		{"AuthenticatorFailures", testAuthenticatorFailures},
		{"StatusChanges", testStatusChanges},
	}
	tests = append(tests, orderTests...)
	tests = append(tests, rateTests...)
	tests = append(tests, keyRevocationTests...)
	tests = append(tests, operatorTests...)
	tests = append(tests, webSessionTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// Clock is a fake selo.Clock that moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a fake clock set to now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// start is where every suite clock starts: nanoseconds and a zone other than
// UTC, so a store that keeps either shows up.
var start = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

// micro is what start and times like it must come back as.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// newCA returns a CA fixture.
func newCA(id, parent string) *selo.CA {
	return &selo.CA{ID: id, Name: "CA " + id, ParentID: parent, KeyID: "ca/" + id,
		KeyAlgorithm: selo.KeyECDSAP256, CertDER: []byte("der of " + id), Status: selo.CAActive}
}

// newCertificate returns a certificate fixture with a DER of about 1 KB.
func newCertificate(serial, caID string) *selo.Certificate {
	der := make([]byte, 1024)
	rand.Read(der)
	return &selo.Certificate{
		Serial: serial, CAID: caID, Profile: "tls-server", Subject: "CN=" + serial + ".example.eu",
		NotBefore: time.Date(2026, 3, 1, 0, 0, 0, 999, time.UTC), NotAfter: time.Date(2027, 3, 1, 0, 0, 0, 0, time.FixedZone("X", -7200)),
		DER: der, Status: selo.CertValid, LintResults: []byte(`{"findings":[]}`),
	}
}

// entry returns an audit entry fixture with Time left for the store to fill.
func entry(action, object string) *selo.AuditEntry {
	return &selo.AuditEntry{Actor: "storetest", Action: action, Object: object, Outcome: selo.OutcomeSuccess, Details: `{"k":"v"}`}
}

// wantCode fails the test unless err carries the application error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := selo.ErrorCode(err); got != code {
		tb.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

// must fails the test on a non-nil error.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// allAudit reads the whole audit log in small pages, as a verifier would.
func allAudit(tb testing.TB, st selo.Store) []*selo.AuditEntry {
	tb.Helper()
	var all []*selo.AuditEntry
	after := int64(0)
	for {
		page, err := st.ListAudit(context.Background(), after, 7)
		must(tb, err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// verifyAudit checks the whole log page by page and returns the first problem.
func verifyAudit(tb testing.TB, st selo.Store) *selo.AuditProblem {
	tb.Helper()
	var prev *selo.AuditEntry
	for {
		after := int64(0)
		if prev != nil {
			after = prev.Seq
		}
		page, err := st.ListAudit(context.Background(), after, 5)
		must(tb, err)
		if len(page) == 0 {
			return nil
		}
		if p := selo.VerifyAuditChain(prev, page); p != nil {
			return p
		}
		prev = page[len(page)-1]
	}
}

// wantIntactAudit fails unless the log holds exactly n entries, numbered 1..n
// without gaps, and its chain verifies.
func wantIntactAudit(tb testing.TB, st selo.Store, n int) []*selo.AuditEntry {
	tb.Helper()
	if p := verifyAudit(tb, st); p != nil {
		tb.Fatalf("audit chain broken at %d: %s", p.Seq, p.Reason)
	}
	all := allAudit(tb, st)
	if len(all) != n {
		tb.Fatalf("audit log holds %d entries, want %d", len(all), n)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			tb.Fatalf("audit entry %d has seq %d: the sequence has a gap", i+1, e.Seq)
		}
	}
	return all
}

// diffCA describes how two CAs differ, "" when they are equal (times compared
// as instants).
func diffCA(got, want *selo.CA) string {
	if !got.CreatedAt.Equal(want.CreatedAt) {
		return fmt.Sprintf("CreatedAt %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if got.CreatedAt.Location() != time.UTC {
		return fmt.Sprintf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
	}
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %+v, want %+v", g, w)
	}
	return ""
}

// diffCertificate describes how two certificates differ, "" when they are
// equal (times compared as instants, nil and empty byte slices alike).
func diffCertificate(got, want *selo.Certificate) string {
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"NotBefore", got.NotBefore, want.NotBefore}, {"NotAfter", got.NotAfter, want.NotAfter}, {"CreatedAt", got.CreatedAt, want.CreatedAt}} {
		if !f.got.Equal(f.want) {
			return fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want)
		}
		if f.got.Location() != time.UTC {
			return fmt.Sprintf("%s in %v, want UTC", f.name, f.got.Location())
		}
	}
	if !bytes.Equal(got.DER, want.DER) {
		return "DER differs"
	}
	if !bytes.Equal(got.LintResults, want.LintResults) {
		return fmt.Sprintf("LintResults %q, want %q", got.LintResults, want.LintResults)
	}
	g, w := *got, *want
	g.NotBefore, g.NotAfter, g.CreatedAt, g.DER, g.LintResults = time.Time{}, time.Time{}, time.Time{}, nil, nil
	w.NotBefore, w.NotAfter, w.CreatedAt, w.DER, w.LintResults = time.Time{}, time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %+v, want %+v", g, w)
	}
	return ""
}
