package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// BulkSerial is the serial of the i-th certificate Backend.LoadRevocations
// stores: lower-case hex of 2^36+i, ten digits for any i below 2^36 - 2^32,
// so the serials sort as the numbers do.
func BulkSerial(i int) string { return fmt.Sprintf("%x", int64(1)<<36+int64(i)) }

// BulkRevocation is the i-th revocation Backend.LoadRevocations stores for
// the CA: serial BulkSerial(i); reason keyCompromise for odd i and
// cessationOfOperation for even i; revoked at Unix second 1,700,000,000+i;
// invalidity date Unix second 1,600,000,000+i for odd i and none (NULL) for
// even i; actor "bulk". Its certificate has profile "bulk", subject
// "CN=bulk", DER 0x30 0x00, status revoked and every time at the Unix epoch.
func BulkRevocation(caID string, i int) selo.Revocation {
	rev := selo.Revocation{
		Serial: BulkSerial(i), CAID: caID, Reason: selo.ReasonCessationOfOperation,
		RevokedAt: time.Unix(1_700_000_000+int64(i), 0).UTC(), Actor: "bulk",
	}
	if i%2 == 1 {
		rev.Reason = selo.ReasonKeyCompromise
		rev.InvalidityDate = time.Unix(1_600_000_000+int64(i), 0).UTC()
	}
	return rev
}

// diffRevocation describes how two revocations differ, "" when they are
// equal (times compared as instants, and in UTC).
func diffRevocation(got, want *selo.Revocation) string {
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"RevokedAt", got.RevokedAt, want.RevokedAt}, {"InvalidityDate", got.InvalidityDate, want.InvalidityDate}} {
		if !f.got.Equal(f.want) {
			return fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want)
		}
		if !f.got.IsZero() && f.got.Location() != time.UTC {
			return fmt.Sprintf("%s in %v, want UTC", f.name, f.got.Location())
		}
	}
	g, w := *got, *want
	g.RevokedAt, g.InvalidityDate, w.RevokedAt, w.InvalidityDate = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %+v, want %+v", g, w)
	}
	return ""
}

// issue stores certificates of caID with the given serials.
func issue(tb testing.TB, st selo.Store, caID string, serials ...string) {
	tb.Helper()
	for _, serial := range serials {
		must(tb, st.CreateCertificate(context.Background(), newCertificate(serial, caID), entry("certificate.issue", "certificate/"+serial)))
	}
}

// revoke revokes serial for reason and fails unless it created the revocation.
func revoke(tb testing.TB, st selo.Store, serial string, reason selo.RevocationReason) *selo.Revocation {
	tb.Helper()
	rev, created, err := st.RevokeCertificate(context.Background(), &selo.Revocation{Serial: serial, Reason: reason},
		entry("certificate.revoke", "certificate/"+serial))
	must(tb, err)
	if !created {
		tb.Fatalf("RevokeCertificate(%s) found a revocation already there", serial)
	}
	return rev
}

// wantStatus fails unless the certificate has the status and SupersededBy.
func wantStatus(tb testing.TB, st selo.Store, serial string, status selo.CertificateStatus, supersededBy string) {
	tb.Helper()
	c, err := st.FindCertificate(context.Background(), serial)
	must(tb, err)
	if c.Status != status || c.SupersededBy != supersededBy {
		tb.Fatalf("certificate %s is %s, superseded by %q; want %s, %q", serial, c.Status, c.SupersededBy, status, supersededBy)
	}
}

// wantNoRevocation fails unless the certificate has no revocation.
func wantNoRevocation(tb testing.TB, st selo.Store, serial string) {
	tb.Helper()
	_, err := st.FindRevocation(context.Background(), serial)
	wantCode(tb, err, selo.ENOTFOUND)
}

func testRevocation(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupCAs(t, st, "ca1", "ca2")
	issue(t, st, "ca1", "a1", "a2")
	issue(t, st, "ca2", "b1")
	audited := 5
	saveResponse(t, st, "a1", "good", start)

	// Filled in: CAID from the certificate, Actor from the audit entry,
	// RevokedAt from the clock; the invalidity date is kept, truncated, in UTC.
	rev := &selo.Revocation{Serial: "a1", Reason: selo.ReasonKeyCompromise, InvalidityDate: start.Add(-48 * time.Hour)}
	got, created, err := st.RevokeCertificate(ctx, rev, entry("certificate.revoke", "certificate/a1"))
	must(t, err)
	audited++
	want := &selo.Revocation{Serial: "a1", CAID: "ca1", Reason: selo.ReasonKeyCompromise, RevokedAt: micro(start),
		InvalidityDate: micro(start.Add(-48 * time.Hour)), Actor: "storetest"}
	if !created {
		t.Fatal("the first revocation was not created")
	}
	if d := diffRevocation(got, want); d != "" {
		t.Fatalf("RevokeCertificate returned %s", d)
	}
	if d := diffRevocation(rev, want); d != "" {
		t.Fatalf("RevokeCertificate left rev %s", d)
	}
	if found, err := st.FindRevocation(ctx, "a1"); err != nil {
		t.Fatal(err)
	} else if d := diffRevocation(found, want); d != "" {
		t.Fatalf("FindRevocation: %s", d)
	}
	wantStatus(t, st, "a1", selo.CertRevoked, "")
	_, err = st.FindOCSPResponse(ctx, "a1")
	wantCode(t, err, selo.ENOTFOUND)

	// A second revocation gets the first back and changes nothing.
	clock.Add(time.Hour)
	again, created, err := st.RevokeCertificate(ctx, &selo.Revocation{Serial: "a1", Reason: selo.ReasonCACompromise, Actor: "someone else"},
		entry("certificate.revoke", "certificate/a1"))
	must(t, err)
	if created {
		t.Fatal("a second revocation of a1 was created")
	}
	if d := diffRevocation(again, want); d != "" {
		t.Fatalf("the second revocation returned %s, want the first", d)
	}

	// Given times and actor are kept; no invalidity date reads back as zero.
	rev2 := &selo.Revocation{Serial: "a2", CAID: "ca1", Reason: selo.ReasonCertificateHold, RevokedAt: start.Add(-time.Minute), Actor: "officer:ana"}
	if _, created, err := st.RevokeCertificate(ctx, rev2, entry("certificate.hold", "certificate/a2")); err != nil || !created {
		t.Fatalf("RevokeCertificate(a2) = %v, %v", created, err)
	}
	audited++
	want2 := &selo.Revocation{Serial: "a2", CAID: "ca1", Reason: selo.ReasonCertificateHold, RevokedAt: micro(start.Add(-time.Minute)), Actor: "officer:ana"}
	if found, err := st.FindRevocation(ctx, "a2"); err != nil {
		t.Fatal(err)
	} else if d := diffRevocation(found, want2); d != "" {
		t.Fatalf("FindRevocation(a2): %s", d)
	}

	// A certificate stored as revoked but without a revocation gets one.
	legacy := newCertificate("c1", "ca2")
	legacy.Status = selo.CertRevoked
	must(t, st.CreateCertificate(ctx, legacy, entry("certificate.issue", "certificate/c1")))
	audited++
	revoke(t, st, "c1", selo.ReasonUnspecified)
	audited++

	for _, tc := range []struct {
		name string
		rev  *selo.Revocation
		nilA bool
		code string
	}{
		{"no revocation", nil, false, selo.EINVALID},
		{"no audit entry", &selo.Revocation{Serial: "b1"}, true, selo.EINVALID},
		{"upper-case serial", &selo.Revocation{Serial: "B1"}, false, selo.EINVALID},
		{"empty serial", &selo.Revocation{}, false, selo.EINVALID},
		{"removeFromCRL", &selo.Revocation{Serial: "b1", Reason: selo.ReasonRemoveFromCRL}, false, selo.EINVALID},
		{"reason 7", &selo.Revocation{Serial: "b1", Reason: 7}, false, selo.EINVALID},
		{"reason 11", &selo.Revocation{Serial: "b1", Reason: 11}, false, selo.EINVALID},
		{"negative reason", &selo.Revocation{Serial: "b1", Reason: -1}, false, selo.EINVALID},
		{"another CA", &selo.Revocation{Serial: "b1", CAID: "ca1"}, false, selo.EINVALID},
		{"unknown certificate", &selo.Revocation{Serial: "ffff"}, false, selo.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("certificate.revoke", "certificate/x")
			if tc.nilA {
				e = nil
			}
			got, created, err := st.RevokeCertificate(ctx, tc.rev, e)
			wantCode(t, err, tc.code)
			if got != nil || created {
				t.Fatalf("a refused revocation returned %+v, %v", got, created)
			}
		})
	}
	wantNoRevocation(t, st, "b1")
	wantNoRevocation(t, st, "ffff")
	wantStatus(t, st, "b1", selo.CertValid, "")

	entries := wantIntactAudit(t, st, audited)
	if e := entries[5]; e.Action != "certificate.revoke" || e.Object != "certificate/a1" {
		t.Fatalf("audit entry %+v, want the revocation of a1", e)
	}
}

func testReleaseHold(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	issue(t, st, "ca1", "d1", "d2", "c1")
	must(t, st.SupersedeCertificate(ctx, "d2", newCertificate("e2", "ca1"), entry("certificate.reissue", "certificate/e2")))
	audited := 5

	// A held certificate comes back valid, without revocation or response.
	revoke(t, st, "d1", selo.ReasonCertificateHold)
	saveResponse(t, st, "d1", "revoked", start)
	must(t, st.ReleaseHold(ctx, "d1", entry("certificate.release", "certificate/h1")))
	audited += 2
	wantStatus(t, st, "d1", selo.CertValid, "")
	wantNoRevocation(t, st, "d1")
	_, err := st.FindOCSPResponse(ctx, "d1")
	wantCode(t, err, selo.ENOTFOUND)
	// Released, it can be revoked again, for good.
	revoke(t, st, "d1", selo.ReasonKeyCompromise)
	audited++
	wantStatus(t, st, "d1", selo.CertRevoked, "")

	// A held superseded certificate comes back superseded.
	revoke(t, st, "d2", selo.ReasonCertificateHold)
	wantStatus(t, st, "d2", selo.CertRevoked, "e2")
	must(t, st.ReleaseHold(ctx, "d2", entry("certificate.release", "certificate/h2")))
	audited += 2
	wantStatus(t, st, "d2", selo.CertSuperseded, "e2")
	wantStatus(t, st, "e2", selo.CertValid, "")

	revoke(t, st, "c1", selo.ReasonKeyCompromise)
	audited++
	for _, tc := range []struct {
		name, serial string
		nilA         bool
		code         string
	}{
		{"final reason", "c1", false, selo.EFORBIDDEN},
		{"final reason after a hold", "d1", false, selo.EFORBIDDEN},
		{"not revoked", "d2", false, selo.ENOTFOUND},
		{"unknown certificate", "ffff", false, selo.ENOTFOUND},
		{"no audit entry", "c1", true, selo.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("certificate.release", "certificate/"+tc.serial)
			if tc.nilA {
				e = nil
			}
			wantCode(t, st.ReleaseHold(ctx, tc.serial, e), tc.code)
		})
	}
	wantStatus(t, st, "c1", selo.CertRevoked, "")
	if rev, err := st.FindRevocation(ctx, "c1"); err != nil || rev.Reason != selo.ReasonKeyCompromise {
		t.Fatalf("a refused release changed k1's revocation: %+v, %v", rev, err)
	}
	wantIntactAudit(t, st, audited)
}

// testRevokeSuperseded checks that supersession never un-revokes and that a
// superseded certificate can still be revoked.
func testRevokeSuperseded(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "old-ca", "new-ca")
	issue(t, st, "old-ca", "a1", "a2")
	audited := 4

	revoke(t, st, "a1", selo.ReasonKeyCompromise)
	audited++
	wantCode(t, st.SupersedeCertificate(ctx, "a1", newCertificate("b1", "new-ca"), entry("certificate.reissue", "certificate/b1")), selo.ECONFLICT)
	wantStatus(t, st, "a1", selo.CertRevoked, "")
	if _, err := st.FindRevocation(ctx, "a1"); err != nil {
		t.Fatalf("the revocation of a1 after a refused supersession: %v", err)
	}
	_, err := st.FindCertificate(ctx, "b1")
	wantCode(t, err, selo.ENOTFOUND)

	must(t, st.SupersedeCertificate(ctx, "a2", newCertificate("b2", "new-ca"), entry("certificate.reissue", "certificate/b2")))
	audited++
	rev := revoke(t, st, "a2", selo.ReasonSuperseded)
	audited++
	if rev.CAID != "old-ca" {
		t.Fatalf("revocation of a2 has CA %q, want old-ca", rev.CAID)
	}
	wantStatus(t, st, "a2", selo.CertRevoked, "b2")
	wantStatus(t, st, "b2", selo.CertValid, "")
	wantIntactAudit(t, st, audited)
}

func testForEachRevocation(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupCAs(t, st, "ca1", "ca2", "ca3")
	reasons := []selo.RevocationReason{selo.ReasonUnspecified, selo.ReasonKeyCompromise, selo.ReasonCACompromise,
		selo.ReasonAffiliationChanged, selo.ReasonSuperseded, selo.ReasonCessationOfOperation,
		selo.ReasonCertificateHold, selo.ReasonPrivilegeWithdrawn, selo.ReasonAACompromise}
	want := map[string][]selo.Revocation{}
	for i := 0; i < 40; i++ {
		caID := []string{"ca1", "ca1", "ca2"}[i%3]
		serial := fmt.Sprintf("%x", 1+i*i*i*977) // lengths differ: the order is by bytes
		issue(t, st, caID, serial)
		if i%5 == 4 {
			continue // not revoked
		}
		rev := &selo.Revocation{Serial: serial, Reason: reasons[i%len(reasons)], Actor: fmt.Sprintf("officer:%d", i)}
		if i%2 == 1 {
			// Every other one has an invalidity date, so a reused
			// Revocation that keeps the last row's date shows.
			rev.InvalidityDate = start.Add(-time.Duration(i) * time.Hour)
		}
		_, _, err := st.RevokeCertificate(ctx, rev, entry("certificate.revoke", "certificate/"+serial))
		must(t, err)
		want[caID] = append(want[caID], *rev)
		clock.Add(time.Second + time.Nanosecond)
	}
	for _, revs := range want {
		sortRevocations(revs)
	}

	walk := func(t *testing.T, caID string) []selo.Revocation {
		t.Helper()
		var got []selo.Revocation
		must(t, st.ForEachRevocation(ctx, caID, func(rev *selo.Revocation) error {
			got = append(got, *rev)
			return nil
		}))
		return got
	}
	for _, caID := range []string{"ca1", "ca2", "ca3", "no-such-ca"} {
		t.Run(caID, func(t *testing.T) {
			got := walk(t, caID)
			if len(got) != len(want[caID]) {
				t.Fatalf("%d revocations, want %d", len(got), len(want[caID]))
			}
			for i := range got {
				if d := diffRevocation(&got[i], &want[caID][i]); d != "" {
					t.Fatalf("revocation %d: %s", i, d)
				}
			}
		})
	}

	t.Run("fn error stops the walk", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := st.ForEachRevocation(ctx, "ca1", func(*selo.Revocation) error {
			calls++
			if calls == 3 {
				return fmt.Errorf("third: %w", stop)
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Fatalf("ForEachRevocation returned %v after %d calls, want fn's error after 3", err, calls)
		}
		// The store is still usable after a walk abandoned half way.
		if got := walk(t, "ca1"); len(got) != len(want["ca1"]) {
			t.Fatalf("a walk after an abandoned one saw %d revocations, want %d", len(got), len(want["ca1"]))
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.ForEachRevocation(cctx, "ca1", func(*selo.Revocation) error { return nil }); err == nil {
			t.Fatal("ForEachRevocation with a cancelled context succeeded")
		}
	})

	// Changes committed during the walk do not show in it: it reads one
	// snapshot, taken before fn first runs.
	t.Run("consistent read", func(t *testing.T) {
		issue(t, st, "ca1", "ffffff01")
		held := ""
		for _, rev := range want["ca1"] {
			if rev.Reason == selo.ReasonCertificateHold {
				held = rev.Serial
			}
		}
		var got []string
		err := st.ForEachRevocation(ctx, "ca1", func(rev *selo.Revocation) error {
			if len(got) == 0 {
				revoke(t, st, "ffffff01", selo.ReasonCertificateHold)
				must(t, st.ReleaseHold(ctx, held, entry("certificate.release", "certificate/"+held)))
				revoke(t, st, held, selo.ReasonKeyCompromise)
			}
			got = append(got, rev.Serial+"/"+rev.Reason.String())
			return nil
		})
		must(t, err)
		var wantSeen []string
		for _, rev := range want["ca1"] {
			wantSeen = append(wantSeen, rev.Serial+"/"+rev.Reason.String())
		}
		if !reflect.DeepEqual(got, wantSeen) {
			t.Fatalf("the walk saw %v, want the revocations as they were when it began: %v", got, wantSeen)
		}
		after := walk(t, "ca1")
		if n := len(after); n != len(want["ca1"])+1 || after[n-1].Serial != "ffffff01" {
			t.Fatalf("a walk after the changes saw %+v, want one revocation more, ffffff01 last", after)
		}
		for _, rev := range after {
			if rev.Serial == held && rev.Reason != selo.ReasonKeyCompromise {
				t.Fatalf("a walk after the changes saw %s revoked for %s, want keyCompromise", held, rev.Reason)
			}
		}
	})
}

// testForEachRevocationBulk walks revocations loaded by the backend, checking
// every field of every row: a walk that reuses its Revocation must not leak
// one row's fields into the next.
func testForEachRevocationBulk(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	if b.LoadRevocations == nil {
		t.Skip("the backend has no LoadRevocations")
	}
	setupCAs(t, b.Store, "bulk", "other")
	const n = 2500
	b.LoadRevocations(t, "bulk", n)
	b.LoadRevocations(t, "other", 0)
	issue(t, b.Store, "other", "1")
	revoke(t, b.Store, "1", selo.ReasonKeyCompromise)
	i := 0
	must(t, b.Store.ForEachRevocation(ctx, "bulk", func(rev *selo.Revocation) error {
		want := BulkRevocation("bulk", i)
		if d := diffRevocation(rev, &want); d != "" {
			return fmt.Errorf("revocation %d: %s", i, d)
		}
		i++
		return nil
	}))
	if i != n {
		t.Fatalf("walked %d revocations, want %d", i, n)
	}
	want := BulkRevocation("bulk", 7)
	if got, err := b.Store.FindRevocation(ctx, BulkSerial(7)); err != nil {
		t.Fatal(err)
	} else if d := diffRevocation(got, &want); d != "" {
		t.Fatalf("FindRevocation of a loaded revocation: %s", d)
	}
	wantStatus(t, b.Store, BulkSerial(n-1), selo.CertRevoked, "")
	wantIntactAudit(t, b.Store, 4)
}

// sortRevocations sorts revs by serial, bytewise.
func sortRevocations(revs []selo.Revocation) {
	sort.Slice(revs, func(i, j int) bool { return revs[i].Serial < revs[j].Serial })
}

// testFailedRevocationWriteLeavesNothing makes each audited revocation write
// fail after its rows are written (an audit entry the store refuses) and
// checks that nothing of it stays.
func testFailedRevocationWriteLeavesNothing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	issue(t, st, "ca1", "a1", "a2")
	bad := func() *selo.AuditEntry { return &selo.AuditEntry{Actor: "storetest", Object: "x"} } // no action

	r1 := saveResponse(t, st, "a1", "good", start)
	_, created, err := st.RevokeCertificate(ctx, &selo.Revocation{Serial: "a1", Reason: selo.ReasonKeyCompromise}, bad())
	wantCode(t, err, selo.EINVALID)
	if created {
		t.Fatal("a failed revocation says it created one")
	}
	wantNoRevocation(t, st, "a1")
	wantStatus(t, st, "a1", selo.CertValid, "")
	wantResponse(t, st, r1)

	revoke(t, st, "a2", selo.ReasonCertificateHold)
	r2 := saveResponse(t, st, "a2", "revoked", start)
	wantCode(t, st.ReleaseHold(ctx, "a2", bad()), selo.EINVALID)
	if rev, err := st.FindRevocation(ctx, "a2"); err != nil || rev.Reason != selo.ReasonCertificateHold {
		t.Fatalf("a failed release left %+v, %v", rev, err)
	}
	wantStatus(t, st, "a2", selo.CertRevoked, "")
	wantResponse(t, st, r2)

	wantCode(t, st.SaveOCSPSigner(ctx, &selo.OCSPSigner{CAID: "ca1", KeyID: "k1", CertDER: []byte("1"), NotAfter: start}, bad()), selo.EINVALID)
	_, err = st.FindOCSPSigner(ctx, "ca1")
	wantCode(t, err, selo.ENOTFOUND)
	must(t, st.SaveOCSPSigner(ctx, &selo.OCSPSigner{CAID: "ca1", KeyID: "k2", CertDER: []byte("2"), NotAfter: start}, entry("ocsp.signer", "ca/ca1")))
	wantCode(t, st.SaveOCSPSigner(ctx, &selo.OCSPSigner{CAID: "ca1", KeyID: "k3", CertDER: []byte("3"), NotAfter: start}, bad()), selo.EINVALID)
	if s, err := st.FindOCSPSigner(ctx, "ca1"); err != nil || s.KeyID != "k2" {
		t.Fatalf("a failed replacement left signer %+v, %v; want k2", s, err)
	}
	wantIntactAudit(t, st, 5)
}

// testReopenRevocations closes the store and opens the database again:
// revocations, CRLs, OCSP responses and signers are still there, and CRL
// numbers go on where they stopped.
func testReopenRevocations(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	st := b.Store
	setupCAs(t, st, "ca1")
	issue(t, st, "ca1", "a1", "a2")
	rev := revoke(t, st, "a1", selo.ReasonKeyCompromise)
	resp := saveResponse(t, st, "a2", "good", start)
	for i := 0; i < 3; i++ {
		_, err := st.NextCRLNumber(ctx, "ca1")
		must(t, err)
	}
	crl := newCRL("ca1", 3)
	must(t, st.SaveCRL(ctx, crl))
	signer := &selo.OCSPSigner{CAID: "ca1", KeyID: "ocsp/ca1", CertDER: []byte("signer"), NotAfter: start.Add(time.Hour)}
	must(t, st.SaveOCSPSigner(ctx, signer, entry("ocsp.signer", "ca/ca1")))
	must(t, st.Close())

	st = b.Reopen(t)
	if got, err := st.FindRevocation(ctx, "a1"); err != nil {
		t.Fatal(err)
	} else if d := diffRevocation(got, rev); d != "" {
		t.Fatalf("revocation after reopen: %s", d)
	}
	wantStatus(t, st, "a1", selo.CertRevoked, "")
	wantResponse(t, st, resp)
	if got, err := st.LatestCRL(ctx, "ca1"); err != nil {
		t.Fatal(err)
	} else if d := diffCRL(got, crl); d != "" {
		t.Fatalf("CRL after reopen: %s", d)
	}
	if got, err := st.FindOCSPSigner(ctx, "ca1"); err != nil || got.KeyID != signer.KeyID || !got.NotAfter.Equal(signer.NotAfter) {
		t.Fatalf("OCSP signer after reopen: %+v, %v", got, err)
	}
	if n, err := st.NextCRLNumber(ctx, "ca1"); err != nil || n != 4 {
		t.Fatalf("NextCRLNumber after reopen = %d, %v; want 4", n, err)
	}
	wantIntactAudit(t, st, 5)
}
