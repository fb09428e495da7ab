package storetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// keyRevocationTests are the subtests of key-compromise twins, CA
// revocation and CRL freshness, registered in Run.
var keyRevocationTests = []struct {
	name string
	fn   func(*testing.T, OpenFunc)
}{
	{"CertificatesByKey", testCertificatesByKey},
	{"RevokeCertificates", testRevokeCertificates},
	{"RevokeCA", testRevokeCA},
	{"CRLState", testCRLState},
}

// certificateForKey returns a certificate fixture with a real DER for key.
func certificateForKey(tb testing.TB, serial, caID string, key *ecdsa.PrivateKey) *selo.Certificate {
	tb.Helper()
	n, _ := new(big.Int).SetString(serial, 16)
	tmpl := &x509.Certificate{SerialNumber: n, Subject: pkix.Name{CommonName: serial},
		NotBefore: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(tb, err)
	c := newCertificate(serial, caID)
	c.DER = der
	return c
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	return k
}

func testCertificatesByKey(t *testing.T, open OpenFunc) {
	b := open(t, NewClock(start))
	st, ctx := b.Store, context.Background()
	must(t, st.CreateCA(ctx, newCA("ca1", ""), entry("ca.create", "ca/ca1")))
	must(t, st.CreateCA(ctx, newCA("ca2", ""), entry("ca.create", "ca/ca2")))
	k1, k2 := newKey(t), newKey(t)
	old := certificateForKey(t, "a1", "ca1", k1)
	must(t, st.CreateCertificate(ctx, old, entry("certificate.issue", "certificate/a1")))
	must(t, st.CreateCertificate(ctx, certificateForKey(t, "b2", "ca1", k2), entry("certificate.issue", "certificate/b2")))
	twin := certificateForKey(t, "c3", "ca2", k1)
	must(t, st.SupersedeCertificate(ctx, "a1", twin, entry("certificate.reissue", "certificate/c3")))
	// A fixture whose DER does not parse is stored and matches no key.
	issue(t, st, "ca1", "d4")

	h, err := selo.KeyHash(old.DER)
	must(t, err)
	got, err := st.ListCertificatesByKey(ctx, h)
	must(t, err)
	if len(got) != 2 || got[0].Serial != "a1" || got[1].Serial != "c3" || got[0].Status != selo.CertSuperseded {
		t.Fatalf("ListCertificatesByKey = %v, want a1 (superseded) and c3", serials(got))
	}
	if got, err := st.ListCertificatesByKey(ctx, "00"); err != nil || len(got) != 0 {
		t.Fatalf("ListCertificatesByKey(unknown) = %v, %v; want none", serials(got), err)
	}
	// The hash survives a reopen, and rows written without one (as before
	// migration 005) get it when the store opens.
	b.Exec(t, `UPDATE certificates SET spki_sha256 = '' WHERE serial = 'c3'`)
	st2 := b.Reopen(t)
	got, err = st2.ListCertificatesByKey(ctx, h)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("after a reopen, ListCertificatesByKey = %v, want a1 and c3", serials(got))
	}
}

func serials(certs []*selo.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Serial)
	}
	return out
}

func testRevokeCertificates(t *testing.T, open OpenFunc) {
	st, ctx := open(t, NewClock(start)).Store, context.Background()
	must(t, st.CreateCA(ctx, newCA("ca1", ""), entry("ca.create", "ca/ca1")))
	issue(t, st, "ca1", "a1", "b2", "c3")
	revoke(t, st, "b2", selo.ReasonSuperseded)
	n := len(allAudit(t, st))
	revs := []*selo.Revocation{
		{Serial: "a1", Reason: selo.ReasonKeyCompromise},
		{Serial: "b2", Reason: selo.ReasonKeyCompromise},
		{Serial: "c3", Reason: selo.ReasonKeyCompromise},
	}
	audits := []*selo.AuditEntry{entry("certificate.revoke", "certificate/a1"), entry("certificate.revoke", "certificate/b2"), entry("certificate.revoke", "certificate/c3")}
	created, err := st.RevokeCertificates(ctx, revs, audits)
	must(t, err)
	if !created[0] || created[1] || !created[2] {
		t.Fatalf("created = %v, want [true false true]", created)
	}
	wantStatus(t, st, "a1", selo.CertRevoked, "")
	wantStatus(t, st, "c3", selo.CertRevoked, "")
	if rev, err := st.FindRevocation(ctx, "b2"); err != nil || rev.Reason != selo.ReasonSuperseded {
		t.Fatalf("the first revocation of b2 was replaced: %+v, %v", rev, err)
	}
	wantIntactAudit(t, st, n+2)

	// A serial that does not exist stops the whole transaction.
	issue(t, st, "ca1", "e5")
	_, err = st.RevokeCertificates(ctx, []*selo.Revocation{{Serial: "e5", Reason: selo.ReasonKeyCompromise}, {Serial: "ff", Reason: selo.ReasonKeyCompromise}},
		[]*selo.AuditEntry{entry("certificate.revoke", "certificate/e5"), entry("certificate.revoke", "certificate/ff")})
	wantCode(t, err, selo.ENOTFOUND)
	wantStatus(t, st, "e5", selo.CertValid, "")
	wantIntactAudit(t, st, n+3)
}

func testRevokeCA(t *testing.T, open OpenFunc) {
	st, ctx := open(t, NewClock(start)).Store, context.Background()
	must(t, st.CreateCA(ctx, newCA("root", ""), entry("ca.create", "ca/root")))
	must(t, st.CreateCA(ctx, newCA("sub", "root"), entry("ca.create", "ca/sub")))
	must(t, st.CreateCA(ctx, newCA("sub2", "root"), entry("ca.create", "ca/sub2")))
	_, err := st.FindCARevocation(ctx, "sub")
	wantCode(t, err, selo.ENOTFOUND)
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "root", Serial: "1", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/root"))
	wantCode(t, err, selo.EINVALID)
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "nope", Serial: "1", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/nope"))
	wantCode(t, err, selo.ENOTFOUND)
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "sub", ParentID: "sub2", Serial: "1", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/sub"))
	wantCode(t, err, selo.EINVALID)
	n := len(allAudit(t, st))

	rev, created, err := st.RevokeCA(ctx, &selo.CARevocation{CAID: "sub", Serial: "5ab", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/sub"))
	must(t, err)
	if !created || rev.ParentID != "root" || rev.Actor != "storetest" || !rev.RevokedAt.Equal(micro(start)) {
		t.Fatalf("RevokeCA = %+v, %v", rev, created)
	}
	again, created, err := st.RevokeCA(ctx, &selo.CARevocation{CAID: "sub", Serial: "5ab", Reason: selo.ReasonKeyCompromise}, entry("ca.revoke", "ca/sub"))
	must(t, err)
	if created || again.Reason != selo.ReasonCACompromise {
		t.Fatalf("second RevokeCA = %+v, %v; want the first", again, created)
	}
	wantIntactAudit(t, st, n+1)
	ca, err := st.FindCA(ctx, "sub")
	must(t, err)
	if ca.Status != selo.CARevoked {
		t.Fatalf("revoked CA has status %s", ca.Status)
	}
	cas, err := st.ListCAs(ctx)
	must(t, err)
	for _, c := range cas {
		if want := map[bool]selo.CAStatus{true: selo.CARevoked, false: selo.CAActive}[c.ID == "sub"]; c.Status != want {
			t.Fatalf("ListCAs: %s is %s, want %s", c.ID, c.Status, want)
		}
	}
	list, err := st.ListCARevocations(ctx, "root")
	must(t, err)
	if len(list) != 1 || list[0].Serial != "5ab" || list[0].CAID != "sub" {
		t.Fatalf("ListCARevocations(root) = %+v", list)
	}
	if list, err := st.ListCARevocations(ctx, "sub"); err != nil || len(list) != 0 {
		t.Fatalf("ListCARevocations(sub) = %+v, %v", list, err)
	}
}

func testCRLState(t *testing.T, open OpenFunc) {
	clock := NewClock(start)
	st, ctx := open(t, clock).Store, context.Background()
	must(t, st.CreateCA(ctx, newCA("root", ""), entry("ca.create", "ca/root")))
	must(t, st.CreateCA(ctx, newCA("ca1", "root"), entry("ca.create", "ca/ca1")))
	_, err := st.CRLState(ctx, "nope")
	wantCode(t, err, selo.ENOTFOUND)
	s, err := st.CRLState(ctx, "ca1")
	must(t, err)
	if *s != (selo.CRLState{}) {
		t.Fatalf("CRLState of a new CA = %+v, want zero", s)
	}
	issue(t, st, "ca1", "a1", "b2")
	revoke(t, st, "a1", selo.ReasonKeyCompromise)
	clock.Add(time.Minute)
	revoke(t, st, "b2", selo.ReasonKeyCompromise)
	n, err := st.NextCRLNumber(ctx, "ca1")
	must(t, err)
	must(t, st.SaveCRL(ctx, newCRL("ca1", n)))
	_, err = st.NextCRLNumber(ctx, "ca1") // reserved, never published
	must(t, err)
	s, err = st.CRLState(ctx, "ca1")
	must(t, err)
	if s.Published != 1 || s.Reserved != 2 || !s.LatestRevocation.Equal(micro(start.Add(time.Minute))) || s.ThisUpdate.IsZero() || s.NextUpdate.IsZero() {
		t.Fatalf("CRLState = %+v", s)
	}
	// A revoked CA certificate counts for its parent.
	clock.Add(time.Minute)
	_, _, err = st.RevokeCA(ctx, &selo.CARevocation{CAID: "ca1", Serial: "9", Reason: selo.ReasonCACompromise}, entry("ca.revoke", "ca/ca1"))
	must(t, err)
	s, err = st.CRLState(ctx, "root")
	must(t, err)
	if !s.LatestRevocation.Equal(micro(start.Add(2*time.Minute))) || s.Published != 0 {
		t.Fatalf("CRLState of the parent = %+v", s)
	}
}
