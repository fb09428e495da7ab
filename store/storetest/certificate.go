package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/selo-qtsp/selo"
)

// setupCAs creates the CAs the certificate tests issue under.
func setupCAs(tb testing.TB, st selo.Store, ids ...string) {
	tb.Helper()
	for _, id := range ids {
		must(tb, st.CreateCA(context.Background(), newCA(id, ""), entry("ca.create", "ca/"+id)))
	}
}

func testCertificate(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	audited := 1

	c := newCertificate("7f3a9c", "ca1")
	c.KeyID = "holder/abc"
	c.CreatedAt = start // kept, truncated, in UTC
	must(t, st.CreateCertificate(ctx, c, entry("certificate.issue", "certificate/7f3a9c")))
	audited++
	if !c.CreatedAt.Equal(micro(start)) || !c.NotBefore.Equal(micro(newCertificate("0", "").NotBefore)) {
		t.Fatalf("CreateCertificate left times %v, %v; want them truncated to microseconds", c.CreatedAt, c.NotBefore)
	}
	got, err := st.FindCertificate(ctx, c.Serial)
	must(t, err)
	if d := diffCertificate(got, c); d != "" {
		t.Fatalf("FindCertificate after CreateCertificate: %s", d)
	}

	// Zero CreatedAt and Status are filled in; nil lint results stay empty.
	d := newCertificate("1", "ca1")
	d.Status, d.LintResults = "", nil
	must(t, st.CreateCertificate(ctx, d, entry("certificate.issue", "certificate/1")))
	audited++
	if d.Status != selo.CertValid || !d.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CreateCertificate filled in Status %q, CreatedAt %v; want valid, %v", d.Status, d.CreatedAt, micro(start))
	}
	if got, err := st.FindCertificate(ctx, "1"); err != nil {
		t.Fatal(err)
	} else if diff := diffCertificate(got, d); diff != "" {
		t.Fatalf("FindCertificate: %s", diff)
	}

	for _, tc := range []struct {
		name string
		cert *selo.Certificate
		nilA bool
		code string
	}{
		{"duplicate serial", newCertificate("7f3a9c", "ca1"), false, selo.ECONFLICT},
		{"unknown CA", newCertificate("abcd", "no-such-ca"), false, selo.ENOTFOUND},
		{"no audit entry", newCertificate("abce", "ca1"), true, selo.EINVALID},
		{"upper-case serial", newCertificate("7F3A9C", "ca1"), false, selo.EINVALID},
		{"empty serial", newCertificate("", "ca1"), false, selo.EINVALID},
		{"unknown status", func() *selo.Certificate { c := newCertificate("abcf", "ca1"); c.Status = "lost"; return c }(), false, selo.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("certificate.issue", "certificate/"+tc.cert.Serial)
			if tc.nilA {
				e = nil
			}
			wantCode(t, st.CreateCertificate(ctx, tc.cert, e), tc.code)
		})
	}
	for _, serial := range []string{"abcd", "abce", "abcf", "ffff"} {
		_, err := st.FindCertificate(ctx, serial)
		wantCode(t, err, selo.ENOTFOUND)
	}
	if got, err := st.FindCertificate(ctx, c.Serial); err != nil {
		t.Fatal(err)
	} else if d := diffCertificate(got, c); d != "" {
		t.Fatalf("a refused duplicate changed the stored certificate: %s", d)
	}
	entries := wantIntactAudit(t, st, audited)
	if e := entries[1]; e.Action != "certificate.issue" || e.Object != "certificate/7f3a9c" || e.Actor != "storetest" ||
		e.Details != `{"k":"v"}` || e.Outcome != selo.OutcomeSuccess || !e.Time.Equal(micro(start)) {
		t.Fatalf("audit entry %+v does not hold what was appended", e)
	}
}

func testListCertificates(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")

	var all []*selo.Certificate
	for i := 0; i < 40; i++ {
		// Serials of different lengths, so their order is by bytes, not by number.
		c := newCertificate(fmt.Sprintf("%x", 1+i*i*i*977), []string{"ca1", "ca2"}[i%2])
		if i%3 == 0 {
			c.Status = selo.CertRevoked
		}
		must(t, st.CreateCertificate(ctx, c, entry("certificate.issue", "certificate/"+c.Serial)))
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Serial < all[j].Serial })
	match := func(f selo.CertificateFilter) []*selo.Certificate {
		var out []*selo.Certificate
		for _, c := range all {
			if (f.CAID == "" || c.CAID == f.CAID) && (f.Status == "" || c.Status == f.Status) && c.Serial > f.AfterSerial {
				out = append(out, c)
			}
		}
		if f.Limit > 0 && len(out) > f.Limit {
			out = out[:f.Limit]
		}
		return out
	}
	check := func(t *testing.T, got, want []*selo.Certificate) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d certificates, want %d", len(got), len(want))
		}
		for i := range want {
			if d := diffCertificate(got[i], want[i]); d != "" {
				t.Fatalf("certificate %d: %s", i, d)
			}
		}
	}

	mid := all[len(all)/2].Serial
	for _, f := range []selo.CertificateFilter{
		{},
		{CAID: "ca1"},
		{CAID: "ca2", Status: selo.CertRevoked},
		{Status: selo.CertValid},
		{Status: selo.CertSuperseded},
		{CAID: "no-such-ca"},
		{AfterSerial: mid},
		{AfterSerial: mid, Limit: 3},
		{AfterSerial: mid, CAID: "ca1", Status: selo.CertValid, Limit: 2},
		{AfterSerial: all[len(all)-1].Serial},
		{Limit: 1},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			got, err := st.ListCertificates(ctx, f)
			must(t, err)
			check(t, got, match(f))
		})
	}

	// Keyset pagination visits each certificate exactly once, in order.
	for _, f := range []selo.CertificateFilter{{}, {CAID: "ca2"}, {Status: selo.CertRevoked}, {CAID: "ca1", Status: selo.CertValid}} {
		t.Run(fmt.Sprintf("pages %+v", f), func(t *testing.T) {
			var got []*selo.Certificate
			page := f
			page.Limit = 4
			for {
				p, err := st.ListCertificates(ctx, page)
				must(t, err)
				if len(p) > page.Limit {
					t.Fatalf("page of %d, limit %d", len(p), page.Limit)
				}
				if len(p) == 0 {
					break
				}
				got = append(got, p...)
				page.AfterSerial = p[len(p)-1].Serial
			}
			check(t, got, match(f))
		})
	}
	_, err := st.ListCertificates(ctx, selo.CertificateFilter{Limit: -1})
	wantCode(t, err, selo.EINVALID)
}

func testSupersedeCertificate(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "old-ca", "new-ca")
	audited := 2

	old := newCertificate("a1", "old-ca")
	revoked := newCertificate("a2", "old-ca")
	revoked.Status = selo.CertRevoked
	for _, c := range []*selo.Certificate{old, revoked} {
		must(t, st.CreateCertificate(ctx, c, entry("certificate.issue", "certificate/"+c.Serial)))
		audited++
	}

	repl := newCertificate("b1", "new-ca")
	repl.NotAfter = old.NotAfter
	must(t, st.SupersedeCertificate(ctx, old.Serial, repl, entry("certificate.reissue", "certificate/b1")))
	audited++
	if repl.ReissuedFrom != old.Serial {
		t.Fatalf("replacement ReissuedFrom %q, want it set to %q", repl.ReissuedFrom, old.Serial)
	}
	gotOld, err := st.FindCertificate(ctx, old.Serial)
	must(t, err)
	if gotOld.Status != selo.CertSuperseded || gotOld.SupersededBy != repl.Serial {
		t.Fatalf("old certificate is %s, superseded by %q; want superseded by %s", gotOld.Status, gotOld.SupersededBy, repl.Serial)
	}
	gotNew, err := st.FindCertificate(ctx, repl.Serial)
	must(t, err)
	if d := diffCertificate(gotNew, repl); d != "" {
		t.Fatalf("replacement as stored: %s", d)
	}

	// Each refusal must leave everything as it was: no replacement stored,
	// the old certificate unchanged, no audit entry.
	valid := newCertificate("a3", "old-ca")
	must(t, st.CreateCertificate(ctx, valid, entry("certificate.issue", "certificate/a3")))
	audited++
	for _, tc := range []struct {
		name, old string
		repl      *selo.Certificate
		nilAudit  bool
		code      string
	}{
		{"already superseded", old.Serial, newCertificate("b2", "new-ca"), false, selo.ECONFLICT},
		{"revoked", revoked.Serial, newCertificate("b3", "new-ca"), false, selo.ECONFLICT},
		{"unknown old", "ffff", newCertificate("b4", "new-ca"), false, selo.ENOTFOUND},
		{"replacement serial taken", valid.Serial, newCertificate("b1", "new-ca"), false, selo.ECONFLICT},
		{"replacement under unknown CA", valid.Serial, newCertificate("b5", "no-such-ca"), false, selo.ENOTFOUND},
		{"replacement re-issues another", valid.Serial, func() *selo.Certificate {
			c := newCertificate("b6", "new-ca")
			c.ReissuedFrom = "a2"
			return c
		}(), false, selo.EINVALID},
		{"no audit entry", valid.Serial, newCertificate("b7", "new-ca"), true, selo.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("certificate.reissue", "certificate/"+tc.repl.Serial)
			if tc.nilAudit {
				e = nil
			}
			wantCode(t, st.SupersedeCertificate(ctx, tc.old, tc.repl, e), tc.code)
			if tc.repl.Serial != "b1" {
				_, err := st.FindCertificate(ctx, tc.repl.Serial)
				wantCode(t, err, selo.ENOTFOUND)
			}
		})
	}
	if got, err := st.FindCertificate(ctx, valid.Serial); err != nil {
		t.Fatal(err)
	} else if d := diffCertificate(got, valid); d != "" {
		t.Fatalf("refused supersessions changed %s: %s", valid.Serial, d)
	}
	if got, err := st.FindCertificate(ctx, "b1"); err != nil {
		t.Fatal(err)
	} else if d := diffCertificate(got, gotNew); d != "" {
		t.Fatalf("refused supersession changed b1: %s", d)
	}
	wantIntactAudit(t, st, audited)
}

// testFailedWriteLeavesNothing makes each write fail after its row is
// inserted (an audit entry the store refuses) and checks the row is gone.
func testFailedWriteLeavesNothing(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	must(t, st.CreateCertificate(ctx, newCertificate("a1", "ca1"), entry("certificate.issue", "certificate/a1")))
	bad := func() *selo.AuditEntry { return &selo.AuditEntry{Actor: "storetest", Object: "x"} } // no action

	wantCode(t, st.CreateCA(ctx, newCA("ca2", ""), bad()), selo.EINVALID)
	_, err := st.FindCA(ctx, "ca2")
	wantCode(t, err, selo.ENOTFOUND)

	wantCode(t, st.SetCAStatus(ctx, "ca1", selo.CARetired, bad()), selo.EINVALID)
	if ca, err := st.FindCA(ctx, "ca1"); err != nil || ca.Status != selo.CAActive {
		t.Fatalf("failed SetCAStatus left %+v, %v", ca, err)
	}

	wantCode(t, st.CreateCertificate(ctx, newCertificate("b1", "ca1"), bad()), selo.EINVALID)
	_, err = st.FindCertificate(ctx, "b1")
	wantCode(t, err, selo.ENOTFOUND)

	wantCode(t, st.SupersedeCertificate(ctx, "a1", newCertificate("b2", "ca1"), bad()), selo.EINVALID)
	_, err = st.FindCertificate(ctx, "b2")
	wantCode(t, err, selo.ENOTFOUND)
	if c, err := st.FindCertificate(ctx, "a1"); err != nil || c.Status != selo.CertValid || c.SupersededBy != "" {
		t.Fatalf("failed SupersedeCertificate left %+v, %v", c, err)
	}

	wantCode(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k", Name: "k", Hash: "h", Roles: []selo.Role{selo.RoleOfficer}}, bad()), selo.EINVALID)
	_, err = st.FindAPIKeyByHash(ctx, "h")
	wantCode(t, err, selo.ENOTFOUND)

	wantCode(t, st.AppendAudit(ctx, bad()), selo.EINVALID)
	wantIntactAudit(t, st, 2)
}
