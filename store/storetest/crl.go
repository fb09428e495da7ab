package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// newCRL returns a CRL fixture whose DER names its CA and number.
func newCRL(caID string, number int64) *selo.CRL {
	return &selo.CRL{CAID: caID, Number: number, ThisUpdate: start, NextUpdate: start.Add(24 * time.Hour),
		Entries: number * 10, DER: []byte(fmt.Sprintf("crl %d of %s", number, caID))}
}

// diffCRL describes how two CRLs differ, "" when they are equal (times
// compared as instants, and in UTC).
func diffCRL(got, want *selo.CRL) string {
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"ThisUpdate", got.ThisUpdate, want.ThisUpdate}, {"NextUpdate", got.NextUpdate, want.NextUpdate}, {"CreatedAt", got.CreatedAt, want.CreatedAt}} {
		if !f.got.Equal(f.want) {
			return fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want)
		}
		if f.got.Location() != time.UTC {
			return fmt.Sprintf("%s in %v, want UTC", f.name, f.got.Location())
		}
	}
	if got.CAID != want.CAID || got.Number != want.Number || got.Entries != want.Entries || !bytes.Equal(got.DER, want.DER) {
		return fmt.Sprintf("got %s %d with %d entries and DER %q, want %s %d with %d entries and DER %q",
			got.CAID, got.Number, got.Entries, got.DER, want.CAID, want.Number, want.Entries, want.DER)
	}
	return ""
}

func testCRLNumber(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")
	for want := int64(1); want <= 3; want++ {
		if n, err := st.NextCRLNumber(ctx, "ca1"); err != nil || n != want {
			t.Fatalf("NextCRLNumber(ca1) = %d, %v; want %d", n, err, want)
		}
	}
	if n, err := st.NextCRLNumber(ctx, "ca2"); err != nil || n != 1 {
		t.Fatalf("NextCRLNumber(ca2) = %d, %v; want 1: each CA counts on its own", n, err)
	}
	_, err := st.NextCRLNumber(ctx, "no-such-ca")
	wantCode(t, err, selo.ENOTFOUND)
	if n, err := st.NextCRLNumber(ctx, "ca1"); err != nil || n != 4 {
		t.Fatalf("NextCRLNumber(ca1) = %d, %v; want 4", n, err)
	}
	wantIntactAudit(t, st, 2)
}

func testCRL(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	setupCAs(t, st, "ca1", "ca2")
	for _, f := range []func(context.Context, string) (*selo.CRL, error){st.LatestCRL, st.CRLInfo} {
		_, err := f(ctx, "ca1")
		wantCode(t, err, selo.ENOTFOUND)
	}

	wantLatest := func(t *testing.T, want *selo.CRL) {
		t.Helper()
		got, err := st.LatestCRL(ctx, want.CAID)
		must(t, err)
		if d := diffCRL(got, want); d != "" {
			t.Fatalf("LatestCRL: %s", d)
		}
		info, err := st.CRLInfo(ctx, want.CAID)
		must(t, err)
		if info.DER != nil {
			t.Fatalf("CRLInfo returned %d bytes of DER, want none", len(info.DER))
		}
		noDER := *want
		noDER.DER = nil
		if d := diffCRL(info, &noDER); d != "" {
			t.Fatalf("CRLInfo: %s", d)
		}
	}

	// The first CRL: CreatedAt from the clock, times truncated, in UTC.
	c2 := newCRL("ca1", 2)
	must(t, st.SaveCRL(ctx, c2))
	if !c2.CreatedAt.Equal(micro(start)) || c2.ThisUpdate != micro(start) {
		t.Fatalf("SaveCRL left CreatedAt %v, ThisUpdate %v; want both %v", c2.CreatedAt, c2.ThisUpdate, micro(start))
	}
	wantLatest(t, c2)

	// Older and equal numbers are ignored.
	clock.Add(time.Minute)
	must(t, st.SaveCRL(ctx, newCRL("ca1", 1)))
	same := newCRL("ca1", 2)
	same.DER = []byte("another CRL numbered 2")
	must(t, st.SaveCRL(ctx, same))
	wantLatest(t, c2)

	// A higher number replaces it; a given CreatedAt is kept.
	c5 := newCRL("ca1", 5)
	c5.CreatedAt = start.Add(time.Hour)
	must(t, st.SaveCRL(ctx, c5))
	wantLatest(t, c5)

	// Each CA has its own.
	o1 := newCRL("ca2", 1)
	must(t, st.SaveCRL(ctx, o1))
	wantLatest(t, o1)
	wantLatest(t, c5)

	for _, tc := range []struct {
		name string
		crl  *selo.CRL
		code string
	}{
		{"no CRL", nil, selo.EINVALID},
		{"no CA", newCRL("", 9), selo.EINVALID},
		{"number 0", newCRL("ca1", 0), selo.EINVALID},
		{"negative number", newCRL("ca1", -9), selo.EINVALID},
		{"negative entries", func() *selo.CRL { c := newCRL("ca1", 9); c.Entries = -1; return c }(), selo.EINVALID},
		{"no thisUpdate", func() *selo.CRL { c := newCRL("ca1", 9); c.ThisUpdate = time.Time{}; return c }(), selo.EINVALID},
		{"nextUpdate not after thisUpdate", func() *selo.CRL { c := newCRL("ca1", 9); c.NextUpdate = c.ThisUpdate; return c }(), selo.EINVALID},
		{"no DER", func() *selo.CRL { c := newCRL("ca1", 9); c.DER = nil; return c }(), selo.EINVALID},
		{"unknown CA", newCRL("no-such-ca", 9), selo.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, st.SaveCRL(ctx, tc.crl), tc.code)
		})
	}
	wantLatest(t, c5)
	for _, f := range []func(context.Context, string) (*selo.CRL, error){st.LatestCRL, st.CRLInfo} {
		_, err := f(ctx, "no-such-ca")
		wantCode(t, err, selo.ENOTFOUND)
	}
}
