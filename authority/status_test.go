package authority_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
	_ "modernc.org/sqlite" // the "sqlite" driver, to bulk-load revocations into the store's file

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/storetest"
)

// This file tests certificate status: revocation (by officers and by key
// holders), CRL publication and caching, the OCSP responder and the status
// worker.

// statusAuthority returns another authority over env's key store and
// profiles, over st (env's store when nil), as a second replica would be,
// with change applied to its configuration. It is closed when the test ends.
func statusAuthority(t testing.TB, env *testenv.Env, st selo.Store, change func(*authority.Config)) *authority.Authority {
	t.Helper()
	if st == nil {
		st = env.Store
	}
	cfg := authority.Config{
		Store: st, Keys: env.Keys, Profiles: env.Profiles, Linter: env.Linter, Clock: env.Clock,
		BaseURL: testenv.BaseURL, ProfileCA: testenv.ProfileCA, Logger: slog.New(slog.DiscardHandler),
	}
	if change != nil {
		change(&cfg)
	}
	a, err := authority.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// fakeClockEnv is testenv's environment on a fake clock set to now.
func fakeClockEnv(t testing.TB) (*testenv.Env, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	return testenv.NewWithOptions(t, testenv.Options{Clock: clock}), clock
}

// issueHeld issues a certificate for profile and returns it parsed and with
// the private key of its holder.
func issueHeld(t testing.TB, env *testenv.Env, profile, keyKind string) (*selo.Certificate, *x509.Certificate, crypto.Signer) {
	t.Helper()
	csr, key := testenv.CSR(t, profile, keyKind)
	c, err := env.Authority.Issue(context.Background(), testenv.Actor, authority.IssueRequest{Profile: profile, CSR: csr})
	if err != nil {
		t.Fatalf("issue %s: %v", profile, err)
	}
	x, err := authority.ParsedCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, x, key
}

// parseCA parses a CA's certificate.
func parseCA(t testing.TB, ca *selo.CA) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		t.Fatalf("certificate of CA %s: %v", ca.ID, err)
	}
	return c
}

// requireCode fails the test unless err carries the application error code.
func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := selo.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

// auditEntries returns the audit entries with this action and object, and
// with this outcome unless outcome is "".
func auditEntries(t testing.TB, st selo.Store, action, object, outcome string) []*selo.AuditEntry {
	t.Helper()
	all, err := st.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*selo.AuditEntry
	for _, e := range all {
		if e.Action == action && e.Object == object && (outcome == "" || e.Outcome == outcome) {
			out = append(out, e)
		}
	}
	return out
}

// requireLastAuditFailure checks that the newest audit entry records a
// refusal of action on object by actor with code.
func requireLastAuditFailure(t testing.TB, st selo.Store, actor, action, object, code string) {
	t.Helper()
	all, err := st.ListAudit(context.Background(), 0, 0)
	if err != nil || len(all) == 0 {
		t.Fatalf("audit log: %d entries, %v", len(all), err)
	}
	// The CRL published in the background after a revocation may land
	// after the entry under test: skip the system's own entries.
	e := all[len(all)-1]
	for i := len(all) - 1; i > 0 && e.Actor == "system" && e.Action == "crl.publish"; i-- {
		e = all[i-1]
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
		t.Fatalf("audit details %q: %v", e.Details, err)
	}
	if e.Actor != actor || e.Action != action || e.Object != object || e.Outcome != selo.OutcomeFailure || d["code"] != code {
		t.Fatalf("last audit entry = %s %s %s %s %s, want %s %s %s failure with code %s",
			e.Actor, e.Action, e.Object, e.Outcome, e.Details, actor, action, object, code)
	}
}

// requireStatus checks the stored status of a certificate.
func requireStatus(t testing.TB, env *testenv.Env, serial string, want selo.CertificateStatus) {
	t.Helper()
	c, err := env.Store.FindCertificate(context.Background(), serial)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != want {
		t.Fatalf("certificate %s is %s, want %s", serial, c.Status, want)
	}
}

// colonSerial writes a serial as people type it: upper case, colon-separated octets.
func colonSerial(n *big.Int) string {
	b := n.Bytes()
	parts := make([]string, len(b))
	for i, o := range b {
		parts[i] = fmt.Sprintf("%02X", o)
	}
	return strings.Join(parts, ":")
}

// ocspRequestFor is the DER OCSP request golang.org/x/crypto/ocsp makes for
// the certificate with serial under issuer, with CertID hash h.
func ocspRequestFor(t testing.TB, issuer *x509.Certificate, serial *big.Int, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The ASN.1 of an OCSP request (RFC 6960 4.1.1), for requests that
// golang.org/x/crypto/ocsp cannot make: several certificates, a nonce.
type (
	asn1OCSPRequest struct {
		TBSRequest asn1TBSRequest
	}
	asn1TBSRequest struct {
		RequestList []asn1SingleRequest
		Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	asn1SingleRequest struct {
		CertID asn1CertID
	}
	asn1CertID struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		NameHash      []byte
		IssuerKeyHash []byte
		SerialNumber  *big.Int
	}
)

// certRef names a certificate to ask about: its serial under issuer.
type certRef struct {
	issuer *x509.Certificate
	serial *big.Int
}

// ocspRequestMany builds a request for several certificates (SHA-1 CertIDs),
// with a nonce extension holding nonce as an OCTET STRING unless nonce is nil.
func ocspRequestMany(t testing.TB, refs []certRef, nonce []byte) []byte {
	t.Helper()
	var tbs asn1TBSRequest
	for _, r := range refs {
		one, err := ocsp.ParseRequest(ocspRequestFor(t, r.issuer, r.serial, crypto.SHA1))
		if err != nil {
			t.Fatal(err)
		}
		tbs.RequestList = append(tbs.RequestList, asn1SingleRequest{CertID: asn1CertID{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, Parameters: asn1.NullRawValue},
			NameHash:      one.IssuerNameHash, IssuerKeyHash: one.IssuerKeyHash, SerialNumber: r.serial,
		}})
	}
	if nonce != nil {
		value, err := asn1.Marshal(nonce)
		if err != nil {
			t.Fatal(err)
		}
		tbs.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}, Value: value}}
	}
	der, err := asn1.Marshal(asn1OCSPRequest{TBSRequest: tbs})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// requireOCSPStatus parses a successful answer for the certificate with
// serial under issuer, checks that it is signed by a delegated responder of
// the issuer, and returns it.
func requireOCSPStatus(t testing.TB, ans authority.OCSPAnswer, issuer *x509.Certificate, serial *big.Int, status int) *ocsp.Response {
	t.Helper()
	if ans.Status != pki.OCSPSuccessful {
		t.Fatalf("ocsp answer status %d, want successful", ans.Status)
	}
	// ParseResponseForCert checks the signature, and that the embedded
	// responder certificate is signed by issuer and has id-kp-OCSPSigning.
	resp, err := ocsp.ParseResponseForCert(ans.DER, &x509.Certificate{SerialNumber: serial}, issuer)
	if err != nil {
		t.Fatalf("parse ocsp response for %x: %v", serial, err)
	}
	if resp.Certificate == nil || bytes.Equal(resp.Certificate.Raw, issuer.Raw) {
		t.Fatal("the response is not signed by a delegated responder")
	}
	if resp.SerialNumber.Cmp(serial) != 0 {
		t.Fatalf("response for serial %x, want %x", resp.SerialNumber, serial)
	}
	if resp.Status != status {
		t.Fatalf("ocsp status of %x = %d, want %d", serial, resp.Status, status)
	}
	return resp
}

// requireOCSPError checks an unsigned error answer.
func requireOCSPError(t testing.TB, ans authority.OCSPAnswer, status pki.OCSPResponseStatus) {
	t.Helper()
	if ans.Status != status || ans.Cacheable {
		t.Fatalf("answer status %d (cacheable %v), want %d", ans.Status, ans.Cacheable, status)
	}
	if want := pki.OCSPErrorResponse(status); !bytes.Equal(ans.DER, want) {
		t.Fatalf("answer DER %x, want %x", ans.DER, want)
	}
}

// parseCRLOf parses a CRL and checks its signature by the CA.
func parseCRLOf(t testing.TB, der []byte, ca *x509.Certificate) *x509.RevocationList {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse crl: %v", err)
	}
	if err := rl.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("crl signature: %v", err)
	}
	return rl
}

// crlSerials indexes a CRL's entries by serial as Selo writes it.
func crlSerials(rl *x509.RevocationList) map[string]x509.RevocationListEntry {
	m := map[string]x509.RevocationListEntry{}
	for _, e := range rl.RevokedCertificateEntries {
		m[pki.SerialHex(e.SerialNumber)] = e
	}
	return m
}

// crlExtension returns the CRL (or entry) extension with the OID, or nil.
func crlExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range exts {
		if exts[i].Id.Equal(oid) {
			return &exts[i]
		}
	}
	return nil
}

var (
	oidInvalidityDate           = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidReasonCode               = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// statusOpenSSL returns the openssl binary: skipped without one on a
// laptop, a failure in CI (env CI set), which installs it.
func statusOpenSSL(t testing.TB) string {
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

// bulkCertificates stores n valid certificates of caID straight through the
// store (DER 0x30 0x00: revocation, CRLs and OCSP never parse it), with
// serials 2^40+i, and returns their serials.
func bulkCertificates(t testing.TB, env *testenv.Env, caID string, n int) []string {
	t.Helper()
	ctx := context.Background()
	now := env.Clock.Now()
	serials := make([]string, n)
	for i := range n {
		serials[i] = fmt.Sprintf("%x", int64(1)<<40+int64(i))
		c := &selo.Certificate{
			Serial: serials[i], CAID: caID, Profile: "qualified-sign", Subject: fmt.Sprintf("CN=bulk %d", i),
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), DER: []byte{0x30, 0x00},
			Status: selo.CertValid, CreatedAt: now,
		}
		e := &selo.AuditEntry{Time: now, Actor: testenv.Actor, Action: "certificate.issue", Object: "certificate/" + serials[i], Outcome: selo.OutcomeSuccess, Details: "{}"}
		if err := env.Store.CreateCertificate(ctx, c, e); err != nil {
			t.Fatal(err)
		}
	}
	return serials
}

// loadRevocations inserts n revoked certificates of caID and their
// revocations straight into the SQLite file of env, as the store suite's
// Backend.LoadRevocations does (storetest.BulkRevocation(caID, i) for i in
// [0, n)): thousands in milliseconds, with no audit entries.
func loadRevocations(t testing.TB, env *testenv.Env, caID string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(env.Dir, "selo.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, query := range []string{`
		WITH RECURSIVE i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i WHERE i + 1 < ?1)
		INSERT INTO certificates (serial, ca_id, profile, subject, not_before, not_after, der, status, created_at)
		SELECT printf('%x', 68719476736 + i), ?2, 'bulk', 'CN=bulk', 0, 0, X'3000', 'revoked', 0 FROM i WHERE ?1 > 0`, `
		WITH RECURSIVE i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i WHERE i + 1 < ?1)
		INSERT INTO revocations (serial, ca_id, reason, revoked_at, invalidity_date, actor)
		SELECT printf('%x', 68719476736 + i), ?2, CASE i % 2 WHEN 1 THEN 1 ELSE 5 END,
			(1700000000 + i) * 1000000, CASE i % 2 WHEN 1 THEN (1600000000 + i) * 1000000 END, 'bulk'
		FROM i WHERE ?1 > 0`,
	} {
		if _, err := tx.Exec(query, n, caID); err != nil {
			t.Fatalf("load %d revocations: %v", n, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// hookedStore wraps a store so that a test can step into some calls; a nil
// hook passes the call through.
type hookedStore struct {
	selo.Store
	findCertificate   func(ctx context.Context, serial string) (*selo.Certificate, error)
	nextCRLNumber     func(ctx context.Context, caID string) (int64, error)
	findOCSPResponse  func(ctx context.Context, serial string) (*selo.OCSPResponse, error)
	forEachRevocation func(ctx context.Context, caID string, fn func(*selo.Revocation) error) error
	statusChanges     func(ctx context.Context, cursor int64, limit int) ([]string, int64, bool, error)
}

func (h *hookedStore) StatusChanges(ctx context.Context, cursor int64, limit int) ([]string, int64, bool, error) {
	if h.statusChanges != nil {
		return h.statusChanges(ctx, cursor, limit)
	}
	return h.Store.StatusChanges(ctx, cursor, limit)
}

func (h *hookedStore) FindCertificate(ctx context.Context, serial string) (*selo.Certificate, error) {
	if h.findCertificate != nil {
		return h.findCertificate(ctx, serial)
	}
	return h.Store.FindCertificate(ctx, serial)
}

func (h *hookedStore) NextCRLNumber(ctx context.Context, caID string) (int64, error) {
	if h.nextCRLNumber != nil {
		return h.nextCRLNumber(ctx, caID)
	}
	return h.Store.NextCRLNumber(ctx, caID)
}

func (h *hookedStore) FindOCSPResponse(ctx context.Context, serial string) (*selo.OCSPResponse, error) {
	if h.findOCSPResponse != nil {
		return h.findOCSPResponse(ctx, serial)
	}
	return h.Store.FindOCSPResponse(ctx, serial)
}

func (h *hookedStore) ForEachRevocation(ctx context.Context, caID string, fn func(*selo.Revocation) error) error {
	if h.forEachRevocation != nil {
		return h.forEachRevocation(ctx, caID, fn)
	}
	return h.Store.ForEachRevocation(ctx, caID, fn)
}

// ---- Revocation by an officer ----

func TestRevoke(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	issuer := parseCA(t, env.Qualified)

	before := env.Clock.Now()
	invalidity := before.Add(-36 * time.Hour).Truncate(time.Second)
	// The serial as a person types it: the authority normalizes it.
	rev, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{
		Serial: colonSerial(leaf.SerialNumber), Reason: selo.ReasonKeyCompromise, InvalidityDate: invalidity,
	})
	if err != nil || !created {
		t.Fatalf("Revoke = %v, created %v; want a new revocation", err, created)
	}
	after := env.Clock.Now()
	if rev.Serial != cert.Serial || rev.CAID != testenv.QualifiedID || rev.Reason != selo.ReasonKeyCompromise ||
		!rev.InvalidityDate.Equal(invalidity) || rev.Actor != "officer:ana" {
		t.Fatalf("revocation %+v", rev)
	}
	if rev.RevokedAt.Before(before.Truncate(time.Microsecond)) || rev.RevokedAt.After(after) {
		t.Fatalf("revoked at %v, not between %v and %v", rev.RevokedAt, before, after)
	}
	requireStatus(t, env, cert.Serial, selo.CertRevoked)

	// Before Revoke returned, the stored OCSP response was signed anew.
	stored, err := env.Store.FindOCSPResponse(ctx, cert.Serial)
	if err != nil || stored.Status != "revoked" {
		t.Fatalf("stored OCSP response after Revoke: %+v, %v; want revoked", stored, err)
	}
	resp, err := ocsp.ParseResponseForCert(stored.DER, leaf, issuer)
	if err != nil || resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.KeyCompromise ||
		!resp.RevokedAt.Equal(rev.RevokedAt.Truncate(time.Second)) {
		t.Fatalf("stored OCSP response: %+v, %v", resp, err)
	}

	// Again, with another reason: the first revocation stands, and nothing
	// new is recorded.
	again, created, err := env.Authority.Revoke(ctx, "officer:rui", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonSuperseded})
	if err != nil || created {
		t.Fatalf("second Revoke = %v, created %v; want the first revocation", err, created)
	}
	if again.Reason != selo.ReasonKeyCompromise || again.Actor != "officer:ana" || !again.RevokedAt.Equal(rev.RevokedAt) || !again.InvalidityDate.Equal(invalidity) {
		t.Fatalf("second Revoke answered %+v, want %+v", again, rev)
	}
	found, err := env.Authority.FindRevocation(ctx, strings.ToUpper(cert.Serial))
	if err != nil || found.Reason != selo.ReasonKeyCompromise || !found.RevokedAt.Equal(rev.RevokedAt) {
		t.Fatalf("FindRevocation = %+v, %v", found, err)
	}

	entries := auditEntries(t, env.Store, "certificate.revoke", "certificate/"+cert.Serial, "")
	if len(entries) != 1 || entries[0].Outcome != selo.OutcomeSuccess || entries[0].Actor != "officer:ana" {
		t.Fatalf("%d certificate.revoke audit entries (%+v), want one success", len(entries), entries)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(entries[0].Details), &d); err != nil {
		t.Fatal(err)
	}
	if d["reason"] != "keyCompromise" || d["ca"] != testenv.QualifiedID || d["previous_status"] != "valid" || d["invalidity_date"] == nil {
		t.Fatalf("audit details %s", entries[0].Details)
	}
}

func TestRevokeHold(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	issuer := parseCA(t, env.Qualified)
	req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)

	if _, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonCertificateHold}); err != nil || !created {
		t.Fatalf("hold = %v, %v", created, err)
	}
	resp := requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
	if resp.RevocationReason != ocsp.CertificateHold {
		t.Fatalf("reason %d, want certificateHold", resp.RevocationReason)
	}
	// A certificate on hold keeps its hold when revoked with another reason.
	rev, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise})
	if err != nil || created || rev.Reason != selo.ReasonCertificateHold {
		t.Fatalf("revoke on hold = %+v, %v, %v; want the hold", rev, created, err)
	}

	if err := env.Authority.ReleaseHold(ctx, "officer:rui", strings.ToUpper(cert.Serial)); err != nil {
		t.Fatalf("ReleaseHold: %v", err)
	}
	requireStatus(t, env, cert.Serial, selo.CertValid)
	if _, err := env.Authority.FindRevocation(ctx, cert.Serial); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("FindRevocation after release = %v, want not found", err)
	}
	// Good again at once, from the stored response too.
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)
	if stored, err := env.Store.FindOCSPResponse(ctx, cert.Serial); err != nil || stored.Status != "good" {
		t.Fatalf("stored response after release: %+v, %v", stored, err)
	}
	if n := len(auditEntries(t, env.Store, "certificate.release-hold", "certificate/"+cert.Serial, selo.OutcomeSuccess)); n != 1 {
		t.Fatalf("%d release-hold audit entries, want 1", n)
	}

	// Nothing to release any more.
	requireCode(t, env.Authority.ReleaseHold(ctx, "officer:rui", cert.Serial), selo.ENOTFOUND)
	requireLastAuditFailure(t, env.Store, "officer:rui", "certificate.release-hold", "certificate/"+cert.Serial, selo.ENOTFOUND)

	// Any other revocation is final.
	if _, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil || !created {
		t.Fatalf("revoke after release = %v, %v", created, err)
	}
	requireCode(t, env.Authority.ReleaseHold(ctx, "officer:rui", cert.Serial), selo.EFORBIDDEN)
	requireLastAuditFailure(t, env.Store, "officer:rui", "certificate.release-hold", "certificate/"+cert.Serial, selo.EFORBIDDEN)
	requireStatus(t, env, cert.Serial, selo.CertRevoked)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)

	// No hold for TLS server certificates (CA/B Forum BR 7.2.2).
	tlsCert := env.Issue(t, "tls-server", "rsa-2048")
	_, _, err = env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: tlsCert.Serial, Reason: selo.ReasonCertificateHold})
	requireCode(t, err, selo.EFORBIDDEN)
	requireLastAuditFailure(t, env.Store, "officer:ana", "certificate.revoke", "certificate/"+tlsCert.Serial, selo.EFORBIDDEN)
	requireStatus(t, env, tlsCert.Serial, selo.CertValid)
}

func TestRevokeSuperseded(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	next, err := env.Authority.CreateCA(ctx, testenv.Actor, authority.CreateCAOptions{
		ID: "qualified-ecc-t2", Name: "Selo Test Qualified CA ECC T2", ParentID: testenv.RootID,
		KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650, Organization: "Selo Test Trust Services", Country: "PT",
	})
	if err != nil {
		t.Fatal(err)
	}
	old, oldLeaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	fresh, err := env.Authority.Reissue(ctx, testenv.Actor, old.Serial, next.ID)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, env, old.Serial, selo.CertSuperseded)

	rev, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: old.Serial, Reason: selo.ReasonCessationOfOperation})
	if err != nil || !created || rev.CAID != testenv.QualifiedID {
		t.Fatalf("revoke superseded = %+v, %v, %v", rev, created, err)
	}
	requireStatus(t, env, old.Serial, selo.CertRevoked)
	requireStatus(t, env, fresh.Serial, selo.CertValid)

	oldIssuer := parseCA(t, env.Qualified)
	resp := requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, oldIssuer, oldLeaf.SerialNumber, crypto.SHA1)), oldIssuer, oldLeaf.SerialNumber, ocsp.Revoked)
	if resp.RevocationReason != ocsp.CessationOfOperation {
		t.Fatalf("reason %d", resp.RevocationReason)
	}
	freshLeaf, err := authority.ParsedCertificate(fresh)
	if err != nil {
		t.Fatal(err)
	}
	newIssuer := parseCA(t, next)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, newIssuer, freshLeaf.SerialNumber, crypto.SHA1)), newIssuer, freshLeaf.SerialNumber, ocsp.Good)
}

func TestRevokeRefusals(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	cert := env.Issue(t, "qualified-sign", "ecdsa-p256")
	for _, tt := range []struct {
		name   string
		serial string
		reason selo.RevocationReason
		inv    time.Time
		code   string
	}{
		{"removeFromCRL", cert.Serial, selo.ReasonRemoveFromCRL, time.Time{}, selo.EINVALID},
		{"reason 7", cert.Serial, selo.RevocationReason(7), time.Time{}, selo.EINVALID},
		{"reason 11", cert.Serial, selo.RevocationReason(11), time.Time{}, selo.EINVALID},
		{"negative reason", cert.Serial, selo.RevocationReason(-1), time.Time{}, selo.EINVALID},
		{"future invalidity date", cert.Serial, selo.ReasonKeyCompromise, env.Clock.Now().Add(time.Hour), selo.EINVALID},
		{"unknown serial", "123456", selo.ReasonKeyCompromise, time.Time{}, selo.ENOTFOUND},
		{"not hex", "xyz", selo.ReasonKeyCompromise, time.Time{}, selo.EINVALID},
		{"empty serial", "", selo.ReasonKeyCompromise, time.Time{}, selo.EINVALID},
		{"zero serial", "00", selo.ReasonKeyCompromise, time.Time{}, selo.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rev, created, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: tt.serial, Reason: tt.reason, InvalidityDate: tt.inv})
			requireCode(t, err, tt.code)
			if rev != nil || created {
				t.Fatalf("refused Revoke returned %+v, %v", rev, created)
			}
			requireLastAuditFailure(t, env.Store, "officer:ana", "certificate.revoke", "certificate/"+tt.serial, tt.code)
			requireStatus(t, env, cert.Serial, selo.CertValid)
		})
	}
}

// ---- Revocation by the key holder ----

func TestHolderRevokeMessage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 11, 0, 0, 500, time.FixedZone("CET", 3600))
	got := authority.HolderRevokeMessage("0a1b", selo.ReasonKeyCompromise, at)
	if want := "selo-revoke-v1\n0a1b\nkeyCompromise\n2026-11-25T10:00:00Z"; got != want {
		t.Fatalf("HolderRevokeMessage = %q, want %q", got, want)
	}
}

// holderSign signs HolderRevokeMessage as a holder would.
func holderSign(t testing.TB, key crypto.Signer, serial string, reason selo.RevocationReason, at time.Time) []byte {
	t.Helper()
	digest := sha256.Sum256([]byte(authority.HolderRevokeMessage(serial, reason, at)))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestRevokeByHolder(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()

	for _, tt := range []struct{ name, profile, keyKind string }{
		{"ecdsa", "qualified-sign", "ecdsa-p256"},
		{"rsa", "tls-server", "rsa-2048"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert, _, key := issueHeld(t, env, tt.profile, tt.keyKind)
			// Signed at the edge of the window, and sent with the serial in
			// upper case: the signed message has it normalized.
			at := clock.Now().Add(-authority.HolderRevokeWindow)
			rev, created, err := env.Authority.RevokeByHolder(ctx, authority.HolderRevokeRequest{
				Serial: strings.ToUpper(cert.Serial), Reason: selo.ReasonKeyCompromise, Time: at,
				Signature: holderSign(t, key, cert.Serial, selo.ReasonKeyCompromise, at),
			})
			if err != nil || !created {
				t.Fatalf("RevokeByHolder = %v, created %v", err, created)
			}
			if rev.Reason != selo.ReasonKeyCompromise || rev.Actor != "holder:"+cert.Serial {
				t.Fatalf("revocation %+v, want keyCompromise by holder:%s", rev, cert.Serial)
			}
			requireStatus(t, env, cert.Serial, selo.CertRevoked)
			entries := auditEntries(t, env.Store, "certificate.revoke", "certificate/"+cert.Serial, "")
			if len(entries) != 1 || entries[0].Outcome != selo.OutcomeSuccess || entries[0].Actor != "holder:"+cert.Serial {
				t.Fatalf("audit entries %+v, want one success by holder:%s", entries, cert.Serial)
			}
			if stored, err := env.Store.FindOCSPResponse(ctx, cert.Serial); err != nil || stored.Status != "revoked" {
				t.Fatalf("stored OCSP response %+v, %v", stored, err)
			}
		})
	}

	t.Run("refusals", func(t *testing.T) {
		cert, _, key := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
		other, _, otherKey := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		kc := selo.ReasonKeyCompromise
		for _, tt := range []struct {
			name   string
			serial string
			reason selo.RevocationReason
			at     time.Time
			sig    []byte
			code   string
		}{
			{"another key", cert.Serial, kc, now, holderSign(t, otherKey, cert.Serial, kc, now), selo.EUNAUTHORIZED},
			{"an RSA key", cert.Serial, kc, now, holderSign(t, rsaKey, cert.Serial, kc, now), selo.EUNAUTHORIZED},
			{"signed for another certificate", cert.Serial, kc, now, holderSign(t, key, other.Serial, kc, now), selo.EUNAUTHORIZED},
			{"signed another reason", cert.Serial, kc, now, holderSign(t, key, cert.Serial, selo.ReasonUnspecified, now), selo.EUNAUTHORIZED},
			{"signed another time", cert.Serial, kc, now, holderSign(t, key, cert.Serial, kc, now.Add(-time.Second)), selo.EUNAUTHORIZED},
			{"no signature", cert.Serial, kc, now, nil, selo.EUNAUTHORIZED},
			{"stale", cert.Serial, kc, now.Add(-authority.HolderRevokeWindow - time.Second), holderSign(t, key, cert.Serial, kc, now.Add(-authority.HolderRevokeWindow-time.Second)), selo.EUNAUTHORIZED},
			{"in the future", cert.Serial, kc, now.Add(authority.HolderRevokeWindow + time.Second), holderSign(t, key, cert.Serial, kc, now.Add(authority.HolderRevokeWindow+time.Second)), selo.EUNAUTHORIZED},
			{"certificateHold", cert.Serial, selo.ReasonCertificateHold, now, holderSign(t, key, cert.Serial, selo.ReasonCertificateHold, now), selo.EFORBIDDEN},
			{"cACompromise", cert.Serial, selo.ReasonCACompromise, now, holderSign(t, key, cert.Serial, selo.ReasonCACompromise, now), selo.EFORBIDDEN},
			{"privilegeWithdrawn", cert.Serial, selo.ReasonPrivilegeWithdrawn, now, holderSign(t, key, cert.Serial, selo.ReasonPrivilegeWithdrawn, now), selo.EFORBIDDEN},
			{"unknown serial", "123456", kc, now, holderSign(t, key, "123456", kc, now), selo.ENOTFOUND},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := env.Authority.RevokeByHolder(ctx, authority.HolderRevokeRequest{Serial: tt.serial, Reason: tt.reason, Time: tt.at, Signature: tt.sig})
				requireCode(t, err, tt.code)
				requireLastAuditFailure(t, env.Store, "holder:"+tt.serial, "certificate.revoke", "certificate/"+tt.serial, tt.code)
			})
		}
		// A serial that is not one is refused before anything is looked up,
		// and the audit entry does not repeat what the caller sent.
		_, _, err = env.Authority.RevokeByHolder(ctx, authority.HolderRevokeRequest{Serial: strings.Repeat("z", 5000), Reason: kc, Time: now})
		requireCode(t, err, selo.EINVALID)
		all, err := env.Store.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if last := all[len(all)-1]; last.Outcome != selo.OutcomeFailure || len(last.Actor)+len(last.Object)+len(last.Details) > 500 {
			t.Fatalf("audit entry for a garbage serial: actor %d bytes, object %d bytes, details %d bytes, outcome %s",
				len(last.Actor), len(last.Object), len(last.Details), last.Outcome)
		}
		requireStatus(t, env, cert.Serial, selo.CertValid)
	})
}

// ---- CRLs ----

func TestPublishCRL(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	now := env.Clock.Now()
	invalidity := now.Add(-48 * time.Hour).Truncate(time.Second)
	var certs []*selo.Certificate
	for range 4 {
		certs = append(certs, env.Issue(t, "qualified-sign", "ecdsa-p256"))
	}
	revs := map[string]*selo.Revocation{}
	for i, r := range []authority.RevokeRequest{
		{Serial: certs[0].Serial, Reason: selo.ReasonKeyCompromise, InvalidityDate: invalidity},
		{Serial: certs[1].Serial, Reason: selo.ReasonUnspecified},
		{Serial: certs[2].Serial, Reason: selo.ReasonCessationOfOperation},
	} {
		rev, _, err := env.Authority.Revoke(ctx, "officer:ana", r)
		if err != nil {
			t.Fatalf("revoke %d: %v", i, err)
		}
		revs[rev.Serial] = rev
	}
	// Publications the revocations scheduled count as well: numbers only go up.
	env.Authority.WaitCRLs()
	published := len(auditEntries(t, env.Store, "crl.publish", "ca/"+testenv.QualifiedID, selo.OutcomeSuccess))

	var crl *selo.CRL
	var last int64
	for i := range 3 {
		var err error
		crl, err = env.Authority.PublishCRL(ctx, "officer:ana", testenv.QualifiedID)
		if err != nil {
			t.Fatal(err)
		}
		if crl.Number <= last {
			t.Fatalf("publication %d has number %d after %d", i, crl.Number, last)
		}
		last = crl.Number
		latest, err := env.Store.LatestCRL(ctx, testenv.QualifiedID)
		if err != nil || latest.Number != crl.Number || !bytes.Equal(latest.DER, crl.DER) {
			t.Fatalf("LatestCRL after publication %d: %v", i, err)
		}
	}
	if n := len(auditEntries(t, env.Store, "crl.publish", "ca/"+testenv.QualifiedID, selo.OutcomeSuccess)); n != published+3 {
		t.Fatalf("%d crl.publish audit entries, want %d", n, published+3)
	}

	rl := parseCRLOf(t, crl.DER, issuer)
	if rl.Number.Int64() != crl.Number || !rl.ThisUpdate.Equal(crl.ThisUpdate) || !rl.NextUpdate.Equal(crl.NextUpdate) ||
		crl.NextUpdate.Sub(crl.ThisUpdate) != authority.DefaultCRLValidity || crl.Entries != 3 {
		t.Fatalf("crl number %v this %v next %v entries %d; record %+v", rl.Number, rl.ThisUpdate, rl.NextUpdate, len(rl.RevokedCertificateEntries), crl)
	}
	if !bytes.Equal(rl.AuthorityKeyId, issuer.SubjectKeyId) {
		t.Fatal("the CRL's authority key identifier is not the CA's subject key identifier")
	}
	idp := crlExtension(rl.Extensions, oidIssuingDistributionPoint)
	if idp == nil || !idp.Critical || !bytes.Contains(idp.Value, []byte(testenv.BaseURL+"/crl/"+testenv.QualifiedID+".crl")) ||
		!bytes.Contains(idp.Value, []byte{0x81, 0x01, 0xff}) {
		t.Fatalf("issuingDistributionPoint %+v: want critical, with the URL and onlyContainsUserCerts", idp)
	}
	listed := crlSerials(rl)
	if len(listed) != 3 {
		t.Fatalf("crl lists %d certificates, want 3", len(listed))
	}
	for serial, rev := range revs {
		e, ok := listed[serial]
		if !ok {
			t.Fatalf("revoked %s is not listed", serial)
		}
		if !e.RevocationTime.Equal(rev.RevokedAt.Truncate(time.Second)) || e.ReasonCode != int(rev.Reason) {
			t.Fatalf("entry of %s: time %v reason %d, want %v %d", serial, e.RevocationTime, e.ReasonCode, rev.RevokedAt, rev.Reason)
		}
		// RFC 5280 5.3.1: no reasonCode for unspecified.
		if hasReason := crlExtension(e.Extensions, oidReasonCode) != nil; hasReason != (rev.Reason != selo.ReasonUnspecified) {
			t.Fatalf("entry of %s (reason %s) has a reasonCode extension: %v", serial, rev.Reason, hasReason)
		}
		ext := crlExtension(e.Extensions, oidInvalidityDate)
		if rev.InvalidityDate.IsZero() {
			if ext != nil {
				t.Fatalf("entry of %s has an invalidity date", serial)
			}
			continue
		}
		var got time.Time
		if ext == nil {
			t.Fatalf("entry of %s has no invalidity date", serial)
		}
		if _, err := asn1.UnmarshalWithParams(ext.Value, &got, "generalized"); err != nil || !got.Equal(invalidity) {
			t.Fatalf("invalidity date of %s = %v, %v; want %v", serial, got, err, invalidity)
		}
	}
	if _, ok := listed[certs[3].Serial]; ok {
		t.Fatal("a valid certificate is listed")
	}

	// What OpenSSL reads in it.
	bin := statusOpenSSL(t)
	file := filepath.Join(t.TempDir(), "qualified.crl")
	if err := os.WriteFile(file, crl.DER, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "crl", "-inform", "DER", "-in", file, "-text", "-noout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		strings.ToUpper(certs[0].Serial), strings.ToUpper(certs[1].Serial), strings.ToUpper(certs[2].Serial),
		"Key Compromise", "Cessation Of Operation", "Invalidity Date", "X509v3 CRL Number", fmt.Sprintf("%d", crl.Number),
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("openssl crl -text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, strings.ToUpper(certs[3].Serial)) {
		t.Fatalf("openssl lists the valid certificate %s", certs[3].Serial)
	}
}

func TestCRLFollowsRevocations(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	revoked := env.Issue(t, "qualified-sign", "ecdsa-p256")
	held := env.Issue(t, "qualified-sign", "ecdsa-p256")

	listed := func() map[string]x509.RevocationListEntry {
		t.Helper()
		env.Authority.WaitCRLs()
		crl, err := env.Authority.CurrentCRL(ctx, testenv.QualifiedID)
		if err != nil {
			t.Fatal(err)
		}
		return crlSerials(parseCRLOf(t, crl.DER, issuer))
	}
	if _, _, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: revoked.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	if e, ok := listed()[revoked.Serial]; !ok || e.ReasonCode != int(selo.ReasonKeyCompromise) {
		t.Fatalf("after a revocation the current CRL lists it: %v (reason %d)", ok, e.ReasonCode)
	}
	if _, _, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: held.Serial, Reason: selo.ReasonCertificateHold}); err != nil {
		t.Fatal(err)
	}
	if e, ok := listed()[held.Serial]; !ok || e.ReasonCode != int(selo.ReasonCertificateHold) {
		t.Fatalf("a hold is listed: %v (reason %d)", ok, e.ReasonCode)
	}
	if err := env.Authority.ReleaseHold(ctx, "officer:ana", held.Serial); err != nil {
		t.Fatal(err)
	}
	m := listed()
	if _, ok := m[held.Serial]; ok {
		t.Fatal("a released hold is still listed")
	}
	if _, ok := m[revoked.Serial]; !ok {
		t.Fatal("the revoked certificate is no longer listed")
	}
}

func TestCRLCoalescing(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	const n = 40
	serials := bulkCertificates(t, env, testenv.QualifiedID, n)

	// The first publication is held at its CRL number until every other
	// revocation is in: all of them must then cost one more CRL, not n.
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hs := &hookedStore{Store: env.Store}
	hs.nextCRLNumber = func(ctx context.Context, caID string) (int64, error) {
		once.Do(func() {
			close(started)
			<-release
		})
		return env.Store.NextCRLNumber(ctx, caID)
	}
	a := statusAuthority(t, env, hs, func(c *authority.Config) { c.CRLDelay = -1 })
	revoke := func(serial string) {
		if _, _, err := a.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: serial, Reason: selo.ReasonKeyCompromise}); err != nil {
			t.Error(err)
		}
	}
	revoke(serials[0])
	<-started
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for s := range work {
				revoke(s)
			}
		})
	}
	for _, s := range serials[1:] {
		work <- s
	}
	close(work)
	wg.Wait()
	close(release)
	a.WaitCRLs()

	if got := len(auditEntries(t, env.Store, "crl.publish", "ca/"+testenv.QualifiedID, selo.OutcomeSuccess)); got != 2 {
		t.Fatalf("%d revocations published %d CRLs, want 2 (the one under way and one for all the others)", n, got)
	}
	crl, err := a.CurrentCRL(ctx, testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	listed := crlSerials(parseCRLOf(t, crl.DER, parseCA(t, env.Qualified)))
	for _, s := range serials {
		if _, ok := listed[s]; !ok {
			t.Fatalf("the last CRL does not list %s", s)
		}
	}
	if len(listed) != n {
		t.Fatalf("the last CRL lists %d, want %d", len(listed), n)
	}
}

// TestCRLPublicationRetried fails the publication a revocation scheduled:
// it is tried again, since nothing else would list the revocation before
// the current CRL is half expired.
func TestCRLPublicationRetried(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	cert := env.Issue(t, "qualified-sign", "ecdsa-p256")
	if _, err := env.Authority.PublishCRL(ctx, "system", testenv.QualifiedID); err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	failures.Store(1)
	hs := &hookedStore{Store: env.Store}
	hs.nextCRLNumber = func(ctx context.Context, caID string) (int64, error) {
		if failures.Add(-1) >= 0 {
			return 0, errors.New("database is on fire")
		}
		return env.Store.NextCRLNumber(ctx, caID)
	}
	a := statusAuthority(t, env, hs, func(c *authority.Config) { c.CRLDelay = -1 })
	if _, _, err := a.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	a.WaitCRLs()
	latest, err := env.Store.LatestCRL(ctx, testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := crlSerials(parseCRLOf(t, latest.DER, parseCA(t, env.Qualified)))[cert.Serial]; !ok {
		t.Fatalf("after a failed publication, CRL %d does not list the revocation", latest.Number)
	}
	if n := len(auditEntries(t, env.Store, "crl.publish", "ca/"+testenv.QualifiedID, selo.OutcomeFailure)); n != 1 {
		t.Fatalf("%d failed publications audited, want 1", n)
	}
}

// TestCRLPublisherClose checks that closing an authority does not wait
// for a publication that keeps failing.
func TestCRLPublisherClose(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	cert := env.Issue(t, "qualified-sign", "ecdsa-p256")
	failed := make(chan struct{}, 16)
	hs := &hookedStore{Store: env.Store}
	hs.nextCRLNumber = func(context.Context, string) (int64, error) {
		failed <- struct{}{}
		return 0, errors.New("database is on fire")
	}
	a := statusAuthority(t, env, hs, func(c *authority.Config) { c.CRLDelay = -1 })
	if _, _, err := a.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	<-failed
	closed := make(chan struct{})
	go func() {
		_ = a.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waits for a publication that keeps failing")
	}
}

func TestCurrentCRL(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()

	for _, ca := range []*selo.CA{env.Root, env.Qualified, env.TLS} {
		crl, err := env.Authority.CurrentCRL(ctx, ca.ID)
		if err != nil {
			t.Fatalf("CurrentCRL(%s): %v", ca.ID, err)
		}
		rl := parseCRLOf(t, crl.DER, parseCA(t, ca))
		if crl.Entries != 0 || len(rl.RevokedCertificateEntries) != 0 || !rl.ThisUpdate.Equal(clock.Now()) {
			t.Fatalf("first CRL of %s: %d entries, thisUpdate %v", ca.ID, len(rl.RevokedCertificateEntries), rl.ThisUpdate)
		}
		// A root's CRL covers only CA certificates, an issuing CA's only end entities.
		flag := []byte{0x81, 0x01, 0xff}
		if ca.IsRoot() {
			flag = []byte{0x82, 0x01, 0xff}
		}
		if idp := crlExtension(rl.Extensions, oidIssuingDistributionPoint); idp == nil || !bytes.Contains(idp.Value, flag) {
			t.Fatalf("issuingDistributionPoint of %s: %+v", ca.ID, idp)
		}
		again, err := env.Authority.CurrentCRL(ctx, ca.ID)
		if err != nil || again.Number != crl.Number {
			t.Fatalf("second CurrentCRL(%s) = %v, %v; want number %d", ca.ID, again, err, crl.Number)
		}
		entries := auditEntries(t, env.Store, "crl.publish", "ca/"+ca.ID, selo.OutcomeSuccess)
		if len(entries) != 1 || entries[0].Actor != "system" {
			t.Fatalf("%d crl.publish entries for %s, want one by system", len(entries), ca.ID)
		}
	}

	// Another replica publishes: this one sees it once its cache is checked.
	first, err := env.Authority.CurrentCRL(ctx, testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	other := statusAuthority(t, env, nil, nil)
	newer, err := other.PublishCRL(ctx, "system", testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(3 * time.Second)
	if got, err := env.Authority.CurrentCRL(ctx, testenv.QualifiedID); err != nil || got.Number != newer.Number || got.Number <= first.Number {
		t.Fatalf("CurrentCRL after another replica published %d: %+v, %v", newer.Number, got, err)
	}

	// An expired CRL is replaced.
	clock.Add(authority.DefaultCRLValidity + time.Second)
	got, err := env.Authority.CurrentCRL(ctx, testenv.QualifiedID)
	if err != nil || got.Number <= newer.Number || !got.ThisUpdate.Equal(clock.Now()) {
		t.Fatalf("CurrentCRL after expiry: %+v, %v", got, err)
	}

	_, err = env.Authority.CurrentCRL(ctx, "no-such-ca")
	requireCode(t, err, selo.ENOTFOUND)
}

// TestCurrentCRLConcurrentFirst checks that relying parties who all fetch
// a CA's first CRL at once cause one publication, not one each.
func TestCurrentCRLConcurrentFirst(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	const n = 8
	numbers := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			crl, err := env.Authority.CurrentCRL(ctx, testenv.QualifiedID)
			if err != nil {
				t.Error(err)
				return
			}
			numbers[i] = crl.Number
		})
	}
	wg.Wait()
	for i, got := range numbers {
		if got != numbers[0] {
			t.Fatalf("caller %d got CRL %d, caller 0 got %d", i, got, numbers[0])
		}
	}
	if got := len(auditEntries(t, env.Store, "crl.publish", "ca/"+testenv.QualifiedID, "")); got != 1 {
		t.Fatalf("%d concurrent first fetches published %d CRLs, want 1", n, got)
	}
}

// TestCRLManyRevocations publishes a CRL of 10,000 revocations and checks
// that the revocations are streamed: the heap does not grow with them while
// they are read.
func TestCRLManyRevocations(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	const n = 10_000
	loadRevocations(t, env, testenv.QualifiedID, n)

	var rows int
	var base, peak uint64
	hs := &hookedStore{Store: env.Store}
	hs.forEachRevocation = func(ctx context.Context, caID string, fn func(*selo.Revocation) error) error {
		return env.Store.ForEachRevocation(ctx, caID, func(rev *selo.Revocation) error {
			rows++
			if rows%3000 == 1000 {
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if rows == 1000 {
					base = ms.HeapAlloc
				}
				peak = max(peak, ms.HeapAlloc)
			}
			return fn(rev)
		})
	}
	a := statusAuthority(t, env, hs, func(c *authority.Config) { c.TempDir = t.TempDir() })
	crl, err := a.PublishCRL(ctx, "officer:ana", testenv.QualifiedID)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || crl.Entries != n {
		t.Fatalf("read %d revocations, CRL has %d entries; want %d", rows, crl.Entries, n)
	}
	// 9,000 revocations kept in memory would take about a megabyte.
	if growth := int64(peak) - int64(base); growth > 512<<10 {
		t.Fatalf("the heap grew by %d bytes while 9,000 revocations were read, want streaming", growth)
	}

	rl := parseCRLOf(t, crl.DER, parseCA(t, env.Qualified))
	if len(rl.RevokedCertificateEntries) != n {
		t.Fatalf("CRL lists %d, want %d", len(rl.RevokedCertificateEntries), n)
	}
	listed := crlSerials(rl)
	for _, i := range []int{0, 1, n / 2, n - 1} {
		want := storetest.BulkRevocation(testenv.QualifiedID, i)
		e, ok := listed[want.Serial]
		if !ok || !e.RevocationTime.Equal(want.RevokedAt) || e.ReasonCode != int(want.Reason) {
			t.Fatalf("entry %d (%s): %v %+v, want %+v", i, want.Serial, ok, e, want)
		}
	}
}

// ---- OCSP ----

// foreignCA is a CA certificate of nobody Selo knows.
func foreignCA(t testing.TB) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Somebody Else's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRespondOCSP(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	qualified, tlsCA := parseCA(t, env.Qualified), parseCA(t, env.TLS)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	_, tlsLeaf, _ := issueHeld(t, env, "tls-server", "rsa-2048")
	_, other, _ := issueHeld(t, env, "qualified-seal", "ecdsa-p384")
	ask := func(der []byte) authority.OCSPAnswer { return env.Authority.RespondOCSP(ctx, der) }

	t.Run("good", func(t *testing.T) {
		req := ocspRequestFor(t, qualified, leaf.SerialNumber, crypto.SHA1)
		ans := ask(req)
		resp := requireOCSPStatus(t, ans, qualified, leaf.SerialNumber, ocsp.Good)
		if !ans.Cacheable || ans.ETag == "" || !ans.NextUpdate.After(ans.ThisUpdate) || ans.NextUpdate.Sub(ans.ThisUpdate) > authority.DefaultOCSPValidity+2*time.Minute {
			t.Fatalf("answer %+v: want cacheable, with an ETag and a day's validity", ans)
		}
		if !resp.NextUpdate.Equal(ans.NextUpdate) || !resp.ThisUpdate.Equal(ans.ThisUpdate) {
			t.Fatalf("answer times %v..%v, response %v..%v", ans.ThisUpdate, ans.NextUpdate, resp.ThisUpdate, resp.NextUpdate)
		}
		if k, ok := resp.Certificate.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Fatalf("the ECDSA CA's responder has a %T key, want P-256", resp.Certificate.PublicKey)
		}
		// Signed once and stored for the next requests.
		stored, err := env.Store.FindOCSPResponse(ctx, cert.Serial)
		if err != nil || stored.Status != "good" || !bytes.Equal(stored.DER, ans.DER) {
			t.Fatalf("stored response %+v, %v", stored, err)
		}
		if again := ask(req); !bytes.Equal(again.DER, ans.DER) || again.ETag != ans.ETag {
			t.Fatal("a repeated request is signed again")
		}
	})

	t.Run("sha256 cert id", func(t *testing.T) {
		requireOCSPStatus(t, ask(ocspRequestFor(t, qualified, leaf.SerialNumber, crypto.SHA256)), qualified, leaf.SerialNumber, ocsp.Good)
	})

	t.Run("rsa ca", func(t *testing.T) {
		resp := requireOCSPStatus(t, ask(ocspRequestFor(t, tlsCA, tlsLeaf.SerialNumber, crypto.SHA1)), tlsCA, tlsLeaf.SerialNumber, ocsp.Good)
		if k, ok := resp.Certificate.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
			t.Fatalf("the RSA CA's responder has a %T key, want RSA 2048", resp.Certificate.PublicKey)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		serial := big.NewInt(0x123456)
		ans := ask(ocspRequestFor(t, qualified, serial, crypto.SHA1))
		requireOCSPStatus(t, ans, qualified, serial, ocsp.Unknown)
		// A certificate of another of our CAs is unknown to this one.
		requireOCSPStatus(t, ask(ocspRequestFor(t, tlsCA, leaf.SerialNumber, crypto.SHA1)), tlsCA, leaf.SerialNumber, ocsp.Unknown)
		if _, err := env.Store.FindOCSPResponse(ctx, pki.SerialHex(serial)); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("an unknown serial got a stored response: %v", err)
		}
	})

	t.Run("not our issuer", func(t *testing.T) {
		ans := ask(ocspRequestFor(t, foreignCA(t), leaf.SerialNumber, crypto.SHA1))
		requireOCSPError(t, ans, pki.OCSPUnauthorized)
		var re ocsp.ResponseError
		if _, err := ocsp.ParseResponse(ans.DER, nil); !errors.As(err, &re) || re.Status != ocsp.Unauthorized {
			t.Fatalf("x/crypto/ocsp reads %v, want unauthorized", err)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		good := ocspRequestFor(t, qualified, leaf.SerialNumber, crypto.SHA1)
		junk := make([]byte, 300)
		_, _ = rand.Read(junk)
		for name, der := range map[string][]byte{
			"empty": nil, "truncated": good[:len(good)-3], "trailing data": append(bytes.Clone(good), 0),
			"random": junk, "too large": append(bytes.Clone(good), make([]byte, pki.MaxOCSPRequestSize)...),
			"no certificate": ocspRequestMany(t, nil, nil),
		} {
			ans := ask(der)
			if ans.Status != pki.OCSPMalformedRequest {
				t.Fatalf("%s request: status %d, want malformedRequest", name, ans.Status)
			}
			requireOCSPError(t, ans, pki.OCSPMalformedRequest)
		}
	})

	t.Run("nonce", func(t *testing.T) {
		nonce := []byte("a nonce of some 32 octets, fresh")
		ans := ask(ocspRequestMany(t, []certRef{{qualified, leaf.SerialNumber}}, nonce))
		requireOCSPStatus(t, ans, qualified, leaf.SerialNumber, ocsp.Good)
		if ans.Cacheable || ans.ETag != "" {
			t.Fatalf("a response with a nonce is cacheable: %+v", ans)
		}
		if !bytes.Contains(ans.DER, append([]byte{0x04, byte(len(nonce))}, nonce...)) {
			t.Fatal("the response does not echo the nonce")
		}
	})

	t.Run("several certificates", func(t *testing.T) {
		ans := ask(ocspRequestMany(t, []certRef{{qualified, leaf.SerialNumber}, {qualified, other.SerialNumber}, {qualified, big.NewInt(0x123456)}}, nil))
		requireOCSPStatus(t, ans, qualified, leaf.SerialNumber, ocsp.Good)
		requireOCSPStatus(t, ans, qualified, other.SerialNumber, ocsp.Good)
		requireOCSPStatus(t, ans, qualified, big.NewInt(0x123456), ocsp.Unknown)
		// One response has one signer: certificates of two CAs are refused.
		requireOCSPError(t, ask(ocspRequestMany(t, []certRef{{qualified, leaf.SerialNumber}, {tlsCA, tlsLeaf.SerialNumber}}, nil)), pki.OCSPUnauthorized)
	})

	t.Run("one responder per CA", func(t *testing.T) {
		for _, ca := range []string{testenv.QualifiedID, testenv.TLSID} {
			if _, err := env.Store.FindOCSPSigner(ctx, ca); err != nil {
				t.Fatalf("responder of %s: %v", ca, err)
			}
			if n := len(auditEntries(t, env.Store, "ocsp-signer.create", "ca/"+ca, selo.OutcomeSuccess)); n != 1 {
				t.Fatalf("%d responders created for %s, want 1", n, ca)
			}
		}
		if _, err := env.Store.FindOCSPSigner(ctx, testenv.RootID); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("a responder for the root, which nobody asked about: %v", err)
		}
	})
}

// TestOCSPFirstRequestsConcurrent checks that a burst of first requests
// creates one delegated responder, not one per request.
func TestOCSPFirstRequestsConcurrent(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	var leaves []*x509.Certificate
	for range 4 {
		_, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
		leaves = append(leaves, leaf)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			leaf := leaves[i%len(leaves)]
			ans := env.Authority.RespondOCSP(ctx, ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1))
			if resp, err := ocsp.ParseResponseForCert(ans.DER, leaf, issuer); err != nil || resp.Status != ocsp.Good {
				t.Errorf("concurrent request %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := len(auditEntries(t, env.Store, "ocsp-signer.create", "ca/"+testenv.QualifiedID, "")); n != 1 {
		t.Fatalf("%d responders created, want 1", n)
	}
}

// TestOCSPShowsRevocationAtOnce checks that a revocation made on a replica
// shows in its answers at once, cached answers notwithstanding, and on
// another replica once that one's cache has expired.
func TestOCSPShowsRevocationAtOnce(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	other := statusAuthority(t, env, nil, nil)
	reqs := [][]byte{ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1), ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA256)}
	for _, a := range []*authority.Authority{env.Authority, other} {
		for _, req := range reqs {
			for range 2 { // the second from memory
				requireOCSPStatus(t, a.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)
			}
		}
	}

	if _, _, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	for _, req := range reqs {
		requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
	}
	// The other replica answers from memory until its cache TTL is over.
	clock.Add(authority.DefaultOCSPCacheTTL)
	for _, req := range reqs {
		requireOCSPStatus(t, other.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
	}
}

// TestOCSPWrongIssuerDoesNotPoisonCache asks about a certificate under the
// wrong one of our CAs first: that "unknown" answer, for another CertID,
// must not be what the right question gets.
func TestOCSPWrongIssuerDoesNotPoisonCache(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	qualified, tlsCA := parseCA(t, env.Qualified), parseCA(t, env.TLS)
	_, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, tlsCA, leaf.SerialNumber, h)), tlsCA, leaf.SerialNumber, ocsp.Unknown)
		requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, qualified, leaf.SerialNumber, h)), qualified, leaf.SerialNumber, ocsp.Good)
		requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, tlsCA, leaf.SerialNumber, h)), tlsCA, leaf.SerialNumber, ocsp.Unknown)
	}
}

// TestOCSPRevocationDuringLookup revokes a certificate while a request for
// it has read the stored "good" response but not yet answered: that answer
// may say good, but it must not stay in the cache after the revocation.
func TestOCSPRevocationDuringLookup(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good) // stores a response

	read, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hs := &hookedStore{Store: env.Store}
	hs.findOCSPResponse = func(ctx context.Context, serial string) (*selo.OCSPResponse, error) {
		resp, err := env.Store.FindOCSPResponse(ctx, serial)
		once.Do(func() {
			close(read)
			<-resume
		})
		return resp, err
	}
	a := statusAuthority(t, env, hs, nil)
	done := make(chan authority.OCSPAnswer)
	go func() { done <- a.RespondOCSP(ctx, req) }()
	<-read
	if _, _, err := a.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	close(resume)
	<-done
	requireOCSPStatus(t, a.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
}

// ---- The status worker ----

func TestRefreshStatus(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()
	type issued struct {
		rec    *selo.Certificate
		leaf   *x509.Certificate
		issuer *x509.Certificate
	}
	var certs []issued
	for _, tt := range []struct{ profile, key string }{{"qualified-sign", "ecdsa-p256"}, {"qualified-seal", "ecdsa-p384"}, {"tls-server", "rsa-2048"}} {
		rec, leaf, _ := issueHeld(t, env, tt.profile, tt.key)
		ca := env.Qualified
		if rec.CAID == testenv.TLSID {
			ca = env.TLS
		}
		certs = append(certs, issued{rec, leaf, parseCA(t, ca)})
	}
	if _, _, err := env.Authority.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: certs[1].rec.Serial, Reason: selo.ReasonAffiliationChanged}); err != nil {
		t.Fatal(err)
	}
	env.Authority.WaitCRLs()
	// The revocation published a CRL of the qualified CA, signed a response
	// and created that CA's responder: the pass does the rest.
	pass := func(want authority.RefreshReport) {
		t.Helper()
		got, err := env.Authority.RefreshStatus(ctx)
		if err != nil || got != want {
			t.Fatalf("RefreshStatus = %+v, %v; want %+v", got, err, want)
		}
	}
	// A CRL made within seconds of a revocation may have read the
	// revocations before it committed: the worker publishes once more (the
	// qualified CA's third CRL), then stops.
	clock.Add(6 * time.Second)
	pass(authority.RefreshReport{CRLs: 3, OCSPSigners: 2, OCSPResponses: 2})
	requireFresh := func() {
		t.Helper()
		now := clock.Now()
		for _, ca := range []*selo.CA{env.Root, env.Qualified, env.TLS} {
			info, err := env.Store.CRLInfo(ctx, ca.ID)
			if err != nil || info.NextUpdate.Sub(now) < authority.DefaultCRLValidity/2 {
				t.Fatalf("CRL of %s: %+v, %v", ca.ID, info, err)
			}
			if s, err := env.Store.FindOCSPSigner(ctx, ca.ID); err != nil || s.NotAfter.Before(now.Add(30*24*time.Hour)) {
				t.Fatalf("responder of %s: %+v, %v", ca.ID, s, err)
			}
		}
		for i, c := range certs {
			stored, err := env.Store.FindOCSPResponse(ctx, c.rec.Serial)
			if err != nil || stored.NextUpdate.Sub(now) < authority.DefaultOCSPValidity/2 {
				t.Fatalf("stored response of certificate %d: %+v, %v", i, stored, err)
			}
			resp, err := ocsp.ParseResponseForCert(stored.DER, c.leaf, c.issuer)
			want := ocsp.Good
			if i == 1 {
				want = ocsp.Revoked
			}
			if err != nil || resp.Status != want {
				t.Fatalf("stored response of certificate %d: %v, status %d, want %d", i, err, resp.Status, want)
			}
		}
	}
	requireFresh()
	pass(authority.RefreshReport{})

	// Past half their validity, CRLs and responses are signed again.
	clock.Add(authority.DefaultOCSPValidity/2 + time.Minute)
	pass(authority.RefreshReport{CRLs: 3, OCSPResponses: 3})
	requireFresh()
	pass(authority.RefreshReport{})

	// Responders are renewed 30 days before they end (they last 90).
	clock.Add(60 * 24 * time.Hour)
	pass(authority.RefreshReport{CRLs: 3, OCSPResponses: 3, OCSPSigners: 3})
	requireFresh()
	pass(authority.RefreshReport{})
}

// TestRefreshStatusSkipsFailures breaks the certificate that comes first:
// the others still get their responses, and the pass reports the failure.
func TestRefreshStatusSkipsFailures(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	var serials []string
	for range 3 {
		serials = append(serials, env.Issue(t, "qualified-sign", "ecdsa-p256").Serial)
	}
	slices.SortFunc(serials, func(a, b string) int {
		x, _ := new(big.Int).SetString(a, 16)
		y, _ := new(big.Int).SetString(b, 16)
		return x.Cmp(y)
	})
	bad := serials[0]
	hs := &hookedStore{Store: env.Store}
	hs.findCertificate = func(ctx context.Context, serial string) (*selo.Certificate, error) {
		if serial == bad {
			return nil, errors.New("row is unreadable")
		}
		return env.Store.FindCertificate(ctx, serial)
	}
	a := statusAuthority(t, env, hs, nil)
	rep, err := a.RefreshStatus(ctx)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("RefreshStatus error %v, want one naming %s", err, bad)
	}
	if rep.OCSPResponses != 2 || rep.CRLs != 3 || rep.OCSPSigners != 3 {
		t.Fatalf("RefreshStatus = %+v, want 3 CRLs, 3 responders and 2 responses", rep)
	}
	for _, s := range serials[1:] {
		if _, err := env.Store.FindOCSPResponse(ctx, s); err != nil {
			t.Fatalf("no response for %s: %v", s, err)
		}
	}
}

// lockerFunc is a Locker made of a function.
type lockerFunc func(ctx context.Context, name string) (func(), bool, error)

func (f lockerFunc) TryLock(ctx context.Context, name string) (func(), bool, error) {
	return f(ctx, name)
}

// logTap is a slog handler that passes each message, after its prefix, to
// a channel (dropping it when the channel is full).
type logTap struct {
	prefix string
	ch     chan string
}

func (l logTap) Enabled(context.Context, slog.Level) bool { return true }
func (l logTap) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.ch <- l.prefix + r.Message:
	default:
	}
	return nil
}
func (l logTap) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logTap) WithGroup(string) slog.Handler      { return l }

// waitMessage reads messages until one that ends with suffix, and returns it.
func waitMessage(t testing.TB, ch chan string, suffix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case got := <-ch:
			if strings.HasSuffix(got, suffix) {
				return got
			}
		case <-timeout:
			t.Fatalf("no log message %q", suffix)
		}
	}
}

func TestRunStatusWorker(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	env.Issue(t, "qualified-sign", "ecdsa-p256")

	t.Run("lock refused", func(t *testing.T) {
		tries := make(chan string, 16)
		refuse := lockerFunc(func(_ context.Context, name string) (func(), bool, error) {
			select {
			case tries <- name:
			default:
			}
			return nil, false, nil
		})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- env.Authority.RunStatusWorker(runCtx, time.Millisecond, refuse) }()
		for range 3 {
			if name := <-tries; name != "status-worker" {
				t.Fatalf("lock %q, want status-worker", name)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunStatusWorker = %v", err)
		}
		for _, ca := range []string{testenv.RootID, testenv.QualifiedID, testenv.TLSID} {
			if _, err := env.Store.CRLInfo(ctx, ca); selo.ErrorCode(err) != selo.ENOTFOUND {
				t.Fatalf("a replica without the lock published a CRL of %s: %v", ca, err)
			}
			if _, err := env.Store.FindOCSPSigner(ctx, ca); selo.ErrorCode(err) != selo.ENOTFOUND {
				t.Fatalf("a replica without the lock created a responder for %s: %v", ca, err)
			}
		}
	})

	t.Run("lock held", func(t *testing.T) {
		logs := make(chan string, 64)
		a := statusAuthority(t, env, nil, func(c *authority.Config) { c.Logger = slog.New(logTap{ch: logs}) })
		unlocked := make(chan struct{})
		grant := lockerFunc(func(context.Context, string) (func(), bool, error) {
			return func() { close(unlocked) }, true, nil
		})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.RunStatusWorker(runCtx, time.Hour, grant) }()
		waitMessage(t, logs, "status worker pass")
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunStatusWorker = %v", err)
		}
		select {
		case <-unlocked:
		default:
			t.Fatal("the worker did not release its lock when it stopped")
		}
		for _, ca := range []string{testenv.RootID, testenv.QualifiedID, testenv.TLSID} {
			if _, err := env.Store.CRLInfo(ctx, ca); err != nil {
				t.Fatalf("no CRL of %s after a pass: %v", ca, err)
			}
		}
	})
}

// TestStatusWorkerOneReplica runs the worker on two authorities over one
// PostgreSQL database, each with the store's advisory lock: one does the work.
func TestStatusWorkerOneReplica(t *testing.T) {
	t.Parallel()
	if os.Getenv("SELO_TEST_POSTGRES") == "" {
		t.Skip("SELO_TEST_POSTGRES is not set: skipping the two-replica status worker test")
	}
	dsn := postgresDSN(t)
	ctx := context.Background()
	open := func() *postgres.DB {
		st, err := postgres.Open(ctx, dsn, selo.SystemClock{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st1, st2 := open(), open()
	s := buildStack(t, st1, selo.SystemClock{})
	t.Cleanup(func() { _ = s.A.Close() })

	logs := make(chan string, 256)
	type replica struct {
		a     *authority.Authority
		tries chan struct{}
		lock  authority.Locker
	}
	var replicas []*replica
	for i, st := range []*postgres.DB{st1, st2} {
		r := &replica{tries: make(chan struct{}, 64)}
		r.a = s.with(t, st, func(c *authority.Config) { c.Logger = slog.New(logTap{prefix: fmt.Sprintf("%d: ", i), ch: logs}) })
		t.Cleanup(func() { _ = r.a.Close() })
		r.lock = lockerFunc(func(ctx context.Context, name string) (func(), bool, error) {
			unlock, ok, err := st.TryLock(ctx, name)
			r.tries <- struct{}{}
			return unlock, ok, err
		})
		replicas = append(replicas, r)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	for _, r := range replicas {
		running.Go(func() {
			if err := r.a.RunStatusWorker(runCtx, time.Hour, r.lock); err != nil {
				t.Error(err)
			}
		})
	}
	// Both have tried the lock; whoever got it finishes its pass.
	for _, r := range replicas {
		<-r.tries
	}
	winner := waitMessage(t, logs, ": status worker pass")
	cancel()
	running.Wait()
	for {
		select {
		case msg := <-logs:
			if strings.HasSuffix(msg, ": status worker pass") {
				t.Fatalf("two replicas ran the worker: %q and %q", winner, msg)
			}
			continue
		default:
		}
		break
	}
	for _, ca := range []string{testenv.RootID, testenv.QualifiedID, testenv.TLSID} {
		if n := len(auditEntries(t, st1, "crl.publish", "ca/"+ca, "")); n != 1 {
			t.Fatalf("%d CRLs of %s published, want 1", n, ca)
		}
	}
}

// TestOCSPOtherReplicaChanges: an answer backed by a stored response stays
// in memory past the cache TTL while the status changes are read (no
// lookup of the stored response), and a hold placed and released by another
// replica (or a CLI on the same database) shows within a second, the poll
// interval, not the 5-second TTL; when the changes cannot be read, the TTL
// applies again.
func TestOCSPOtherReplicaChanges(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	var lookups atomic.Int64
	var broken atomic.Bool
	hs := &hookedStore{Store: env.Store,
		findOCSPResponse: func(ctx context.Context, serial string) (*selo.OCSPResponse, error) {
			lookups.Add(1)
			return env.Store.FindOCSPResponse(ctx, serial)
		},
		statusChanges: func(ctx context.Context, cursor int64, limit int) ([]string, int64, bool, error) {
			if broken.Load() {
				return nil, 0, false, errors.New("database unreachable")
			}
			return env.Store.StatusChanges(ctx, cursor, limit)
		},
	}
	replica := statusAuthority(t, env, hs, nil)
	other := statusAuthority(t, env, nil, nil)
	req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1)
	requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good) // signs and stores the response
	before := lookups.Load()
	for range 3 {
		clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
		requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)
	}
	if n := lookups.Load() - before; n != 0 {
		t.Fatalf("the stored response was looked up %d times past the cache TTL while no status changed", n)
	}

	if _, _, err := other.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonCertificateHold}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
	if err := other.ReleaseHold(ctx, "officer:ana", cert.Serial); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)

	// The changes cannot be read: past the TTL the stored response is read
	// again, so a change made meanwhile shows within the TTL as before.
	broken.Store(true)
	clock.Add(time.Second)
	requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Good)
	if _, _, err := other.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
	requireOCSPStatus(t, replica.RespondOCSP(ctx, req), issuer, leaf.SerialNumber, ocsp.Revoked)
}

// TestOCSPSHA256FirstStoresSHA1: a SHA-256 request for a certificate with
// no stored response (none asked with SHA-1 yet, the worker not yet past it)
// stores the SHA-1 response, and its own answer is served again past the
// cache TTL instead of being signed on every miss.
func TestOCSPSHA256FirstStoresSHA1(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	sha256Req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA256)
	if _, err := env.Store.FindOCSPResponse(ctx, cert.Serial); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("a response is stored before any request (%v): the test needs a certificate without one", err)
	}
	first := env.Authority.RespondOCSP(ctx, sha256Req)
	requireOCSPStatus(t, first, issuer, leaf.SerialNumber, ocsp.Good)
	stored, err := env.Store.FindOCSPResponse(ctx, cert.Serial)
	if err != nil {
		t.Fatalf("no SHA-1 response stored after a SHA-256 request: %v", err)
	}
	requireOCSPStatus(t, authority.OCSPAnswer{DER: stored.DER, Status: pki.OCSPSuccessful}, issuer, leaf.SerialNumber, ocsp.Good)
	for range 2 {
		clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
		if again := env.Authority.RespondOCSP(ctx, sha256Req); !bytes.Equal(again.DER, first.DER) {
			t.Fatal("a SHA-256 request past the cache TTL was signed anew")
		}
	}
	// An unknown serial stores nothing and is still answered.
	unknown := new(big.Int).Add(leaf.SerialNumber, big.NewInt(1))
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, ocspRequestFor(t, issuer, unknown, crypto.SHA256)), issuer, unknown, ocsp.Unknown)
	if _, err := env.Store.FindOCSPResponse(ctx, pki.SerialHex(unknown)); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("a response was stored for an unknown serial (%v)", err)
	}
}

// TestOCSPSHA256AnswerReused asks with a SHA-256 CertID past the memory
// cache's TTL: while the stored (SHA-1) response of the serial is unchanged,
// the answer signed the first time is served again instead of a new
// signature on every cache miss (the mix of bench/ocsp spent 40% of its CPU
// signing those). A revocation on another replica deletes the stored
// response, so the next answer after the TTL says revoked.
func TestOCSPSHA256AnswerReused(t *testing.T) {
	t.Parallel()
	env, clock := fakeClockEnv(t)
	ctx := context.Background()
	issuer := parseCA(t, env.Qualified)
	cert, leaf, _ := issueHeld(t, env, "qualified-sign", "ecdsa-p256")
	sha1Req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA1)
	sha256Req := ocspRequestFor(t, issuer, leaf.SerialNumber, crypto.SHA256)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, sha1Req), issuer, leaf.SerialNumber, ocsp.Good) // stores a response
	first := env.Authority.RespondOCSP(ctx, sha256Req)
	requireOCSPStatus(t, first, issuer, leaf.SerialNumber, ocsp.Good)
	for range 3 {
		clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
		again := env.Authority.RespondOCSP(ctx, sha256Req)
		requireOCSPStatus(t, again, issuer, leaf.SerialNumber, ocsp.Good)
		if !bytes.Equal(again.DER, first.DER) {
			t.Fatal("a SHA-256 request past the cache TTL was signed anew while the stored response did not change")
		}
	}

	other := statusAuthority(t, env, nil, nil) // another replica revokes
	if _, _, err := other.Revoke(ctx, "officer:ana", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, sha256Req), issuer, leaf.SerialNumber, ocsp.Revoked)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, sha1Req), issuer, leaf.SerialNumber, ocsp.Revoked)
	// The worker stores a new (revoked) response; the SHA-256 answer
	// follows it, never the old good one.
	if _, err := env.Authority.RefreshStatus(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(authority.DefaultOCSPCacheTTL + time.Second)
	requireOCSPStatus(t, env.Authority.RespondOCSP(ctx, sha256Req), issuer, leaf.SerialNumber, ocsp.Revoked)
}
