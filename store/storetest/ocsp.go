package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// saveResponse stores a response for serial valid from thisUpdate for an
// hour, and returns it as stored.
func saveResponse(tb testing.TB, st selo.Store, serial, status string, thisUpdate time.Time) *selo.OCSPResponse {
	tb.Helper()
	resp := &selo.OCSPResponse{Serial: serial, Status: status, ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(time.Hour),
		DER: []byte(status + " for " + serial + " at " + thisUpdate.String())}
	must(tb, st.SaveOCSPResponse(context.Background(), resp))
	return resp
}

// diffOCSPResponse describes how two responses differ, "" when they are
// equal (times compared as instants, and in UTC).
func diffOCSPResponse(got, want *selo.OCSPResponse) string {
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"ThisUpdate", got.ThisUpdate, want.ThisUpdate}, {"NextUpdate", got.NextUpdate, want.NextUpdate}} {
		if !f.got.Equal(f.want) {
			return fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want)
		}
		if f.got.Location() != time.UTC {
			return fmt.Sprintf("%s in %v, want UTC", f.name, f.got.Location())
		}
	}
	if got.Serial != want.Serial || got.CAID != want.CAID || got.Status != want.Status || !bytes.Equal(got.DER, want.DER) {
		return fmt.Sprintf("got %s of %s %s with DER %q, want %s of %s %s with DER %q",
			got.Serial, got.CAID, got.Status, got.DER, want.Serial, want.CAID, want.Status, want.DER)
	}
	return ""
}

// wantResponse fails unless the stored response for want.Serial is want.
func wantResponse(tb testing.TB, st selo.Store, want *selo.OCSPResponse) {
	tb.Helper()
	got, err := st.FindOCSPResponse(context.Background(), want.Serial)
	must(tb, err)
	if d := diffOCSPResponse(got, want); d != "" {
		tb.Fatalf("FindOCSPResponse(%s): %s", want.Serial, d)
	}
}

func testOCSPResponse(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")
	issue(t, st, "ca1", "a1", "a2", "a3")
	must(t, st.SupersedeCertificate(ctx, "a3", newCertificate("b3", "ca2"), entry("certificate.reissue", "certificate/b3")))
	revoke(t, st, "a2", selo.ReasonKeyCompromise)
	_, err := st.FindOCSPResponse(ctx, "a1")
	wantCode(t, err, selo.ENOTFOUND)

	// CAID filled in, times truncated and in UTC.
	r1 := saveResponse(t, st, "a1", "good", start)
	if r1.CAID != "ca1" || r1.ThisUpdate != micro(start) {
		t.Fatalf("SaveOCSPResponse left CAID %q, ThisUpdate %v; want ca1, %v", r1.CAID, r1.ThisUpdate, micro(start))
	}
	wantResponse(t, st, r1)
	// A newer response replaces it.
	r1b := saveResponse(t, st, "a1", "good", start.Add(30*time.Minute))
	wantResponse(t, st, r1b)
	// A revoked certificate is answered "revoked", a superseded one "good".
	wantResponse(t, st, saveResponse(t, st, "a2", "revoked", start))
	wantResponse(t, st, saveResponse(t, st, "a3", "good", start))

	valid := func() *selo.OCSPResponse {
		return &selo.OCSPResponse{Serial: "b3", Status: "good", ThisUpdate: start, NextUpdate: start.Add(time.Hour), DER: []byte("x")}
	}
	for _, tc := range []struct {
		name string
		edit func(r *selo.OCSPResponse) *selo.OCSPResponse
		code string
	}{
		{"no response", func(*selo.OCSPResponse) *selo.OCSPResponse { return nil }, selo.EINVALID},
		{"upper-case serial", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.Serial = "B3"; return r }, selo.EINVALID},
		{"status unknown", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.Status = "unknown"; return r }, selo.EINVALID},
		{"no thisUpdate", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.ThisUpdate = time.Time{}; return r }, selo.EINVALID},
		{"nextUpdate before thisUpdate", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.NextUpdate = start.Add(-time.Hour); return r }, selo.EINVALID},
		{"no DER", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.DER = nil; return r }, selo.EINVALID},
		{"another CA", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.CAID = "ca1"; return r }, selo.EINVALID},
		{"unknown certificate", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.Serial = "ffff"; return r }, selo.ENOTFOUND},
		{"revoked for a valid certificate", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.Status = "revoked"; return r }, selo.ECONFLICT},
		{"good for a revoked certificate", func(r *selo.OCSPResponse) *selo.OCSPResponse { r.Serial = "a2"; r.CAID = ""; return r }, selo.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, st.SaveOCSPResponse(ctx, tc.edit(valid())), tc.code)
		})
	}
	_, err = st.FindOCSPResponse(ctx, "b3")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.FindOCSPResponse(ctx, "ffff")
	wantCode(t, err, selo.ENOTFOUND)
	if got, err := st.FindOCSPResponse(ctx, "a2"); err != nil || got.Status != "revoked" {
		t.Fatalf("a refused good response replaced a2's: %+v, %v", got, err)
	}
	// Storing responses is not audited: they are refreshed all the time.
	wantIntactAudit(t, st, 7)
}

func testCertificatesNeedingOCSP(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")
	before := start.Add(2 * time.Hour)
	var need []*selo.Certificate
	for i := 0; i < 40; i++ {
		caID := []string{"ca1", "ca1", "ca2"}[i%3]
		c := newCertificate(fmt.Sprintf("%x", 1+i*i*i*977), caID)
		must(t, st.CreateCertificate(ctx, c, entry("certificate.issue", "certificate/"+c.Serial)))
		status := "good"
		if i%7 == 3 { // any status is listed
			revoke(t, st, c.Serial, selo.ReasonKeyCompromise)
			c.Status, status = selo.CertRevoked, "revoked"
		}
		needs := true
		switch i % 4 {
		case 0: // no response
		case 1: // stale: nextUpdate before the time asked about
			saveResponse(t, st, c.Serial, status, before.Add(-time.Hour-time.Microsecond))
		case 2: // nextUpdate exactly then: not before it
			saveResponse(t, st, c.Serial, status, before.Add(-time.Hour))
			needs = false
		case 3: // fresh
			saveResponse(t, st, c.Serial, status, before)
			needs = false
		}
		if caID == "ca1" && needs {
			need = append(need, c)
		}
	}
	sortCertificates(need)

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
	got, err := st.ListCertificatesNeedingOCSP(ctx, "ca1", before, "", 1000)
	must(t, err)
	check(t, got, need)

	// Keyset pages visit each exactly once, in order.
	var paged []*selo.Certificate
	after := ""
	for {
		page, err := st.ListCertificatesNeedingOCSP(ctx, "ca1", before, after, 3)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Serial
	}
	check(t, paged, need)

	// Once answered, they are no longer listed.
	for _, c := range need {
		status := "good"
		if c.Status == selo.CertRevoked {
			status = "revoked"
		}
		saveResponse(t, st, c.Serial, status, before)
	}
	got, err = st.ListCertificatesNeedingOCSP(ctx, "ca1", before, "", 1000)
	must(t, err)
	check(t, got, nil)

	got, err = st.ListCertificatesNeedingOCSP(ctx, "no-such-ca", before, "", 10)
	must(t, err)
	check(t, got, nil)
	for _, limit := range []int{0, -1} {
		_, err := st.ListCertificatesNeedingOCSP(ctx, "ca1", before, "", limit)
		wantCode(t, err, selo.EINVALID)
	}
}

// sortCertificates sorts certs by serial, bytewise.
func sortCertificates(certs []*selo.Certificate) {
	sort.Slice(certs, func(i, j int) bool { return certs[i].Serial < certs[j].Serial })
}

func testOCSPSigner(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupCAs(t, st, "ca1", "ca2")
	audited := 2
	_, err := st.FindOCSPSigner(ctx, "ca1")
	wantCode(t, err, selo.ENOTFOUND)

	wantSigner := func(t *testing.T, want *selo.OCSPSigner) {
		t.Helper()
		got, err := st.FindOCSPSigner(ctx, want.CAID)
		must(t, err)
		if got.CAID != want.CAID || got.KeyID != want.KeyID || !bytes.Equal(got.CertDER, want.CertDER) ||
			!got.NotAfter.Equal(want.NotAfter) || !got.CreatedAt.Equal(want.CreatedAt) ||
			got.NotAfter.Location() != time.UTC || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("FindOCSPSigner = %+v, want %+v in UTC", got, want)
		}
	}
	s1 := &selo.OCSPSigner{CAID: "ca1", KeyID: "ocsp/ca1/1", CertDER: []byte("signer 1"), NotAfter: start.Add(90 * 24 * time.Hour)}
	must(t, st.SaveOCSPSigner(ctx, s1, entry("ocsp.signer", "ca/ca1")))
	audited++
	if !s1.CreatedAt.Equal(micro(start)) || s1.NotAfter != micro(start.Add(90*24*time.Hour)) {
		t.Fatalf("SaveOCSPSigner left CreatedAt %v, NotAfter %v", s1.CreatedAt, s1.NotAfter)
	}
	wantSigner(t, s1)

	// The next one replaces it.
	clock.Add(time.Hour)
	s2 := &selo.OCSPSigner{CAID: "ca1", KeyID: "ocsp/ca1/2", CertDER: []byte("signer 2"), NotAfter: start.Add(180 * 24 * time.Hour)}
	must(t, st.SaveOCSPSigner(ctx, s2, entry("ocsp.signer", "ca/ca1")))
	audited++
	wantSigner(t, s2)
	_, err = st.FindOCSPSigner(ctx, "ca2")
	wantCode(t, err, selo.ENOTFOUND)

	valid := func() *selo.OCSPSigner {
		return &selo.OCSPSigner{CAID: "ca1", KeyID: "k", CertDER: []byte("x"), NotAfter: start}
	}
	for _, tc := range []struct {
		name   string
		signer *selo.OCSPSigner
		nilA   bool
		code   string
	}{
		{"no signer", nil, false, selo.EINVALID},
		{"no CA", func() *selo.OCSPSigner { s := valid(); s.CAID = ""; return s }(), false, selo.EINVALID},
		{"no key", func() *selo.OCSPSigner { s := valid(); s.KeyID = ""; return s }(), false, selo.EINVALID},
		{"no certificate", func() *selo.OCSPSigner { s := valid(); s.CertDER = nil; return s }(), false, selo.EINVALID},
		{"no notAfter", func() *selo.OCSPSigner { s := valid(); s.NotAfter = time.Time{}; return s }(), false, selo.EINVALID},
		{"no audit entry", valid(), true, selo.EINVALID},
		{"unknown CA", func() *selo.OCSPSigner { s := valid(); s.CAID = "no-such-ca"; return s }(), false, selo.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry("ocsp.signer", "ca/x")
			if tc.nilA {
				e = nil
			}
			wantCode(t, st.SaveOCSPSigner(ctx, tc.signer, e), tc.code)
		})
	}
	wantSigner(t, s2)
	entries := wantIntactAudit(t, st, audited)
	if e := entries[len(entries)-1]; e.Action != "ocsp.signer" || e.Object != "ca/ca1" {
		t.Fatalf("last audit entry %+v, want the second signer", e)
	}
}
