package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

var webSessionTests = []struct {
	name string
	fn   func(*testing.T, OpenFunc)
}{
	{"WebSession", testWebSession},
	{"AuditByActor", testAuditByActor},
	{"OrdersByHolderEmail", testOrdersByHolderEmail},
	{"SetCredentialApproval", testSetCredentialApproval},
}

// testSetCredentialApproval changes the approval type with its audit entry,
// refuses unknown types and absent credentials, and writes nothing without
// an audit entry.
func testSetCredentialApproval(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	createAccounts(t, st, "a1")
	must(t, st.CreateCredential(ctx, newCredential("c1", "a1", "qualified-sign", selo.ApprovalSMS), entry("credential.create", "credential/c1")))
	must(t, st.SetCredentialApproval(ctx, "c1", selo.ApprovalWallet, entry("credential.approval", "credential/c1")))
	got, err := st.FindCredential(ctx, "c1")
	must(t, err)
	if got.ApprovalType != selo.ApprovalWallet {
		t.Fatalf("approval %s, want wallet", got.ApprovalType)
	}
	wantCode(t, st.SetCredentialApproval(ctx, "c1", "fax", entry("credential.approval", "credential/c1")), selo.EINVALID)
	wantCode(t, st.SetCredentialApproval(ctx, "nope", selo.ApprovalSMS, entry("credential.approval", "credential/nope")), selo.ENOTFOUND)
	if err := st.SetCredentialApproval(ctx, "c1", selo.ApprovalSMS, nil); err == nil {
		t.Fatal("changed without an audit entry")
	}
	if got, _ := st.FindCredential(ctx, "c1"); got.ApprovalType != selo.ApprovalWallet {
		t.Fatalf("a refused change wrote %s", got.ApprovalType)
	}
}

// testOrdersByHolderEmail finds a holder's orders by e-mail, any case,
// newest first, and no one else's.
func testOrdersByHolderEmail(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	c := NewClock(start)
	st := open(t, c).Store
	for i, email := range []string{"ana@example.pt", "rui@example.pt", "Ana@Example.PT"} {
		o := newOrder(fmt.Sprintf("o%d", i), fmt.Sprintf("SO-2026-000%d", i))
		o.Holder.Email = email
		must(t, st.CreateOrder(ctx, o, entry("order.create", "order/"+o.ID)))
		c.Add(time.Minute)
	}
	got, err := st.ListOrdersByHolderEmail(ctx, "ANA@example.pt", 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != "o2" || got[1].ID != "o0" {
		t.Fatalf("orders of ana: %+v", got)
	}
	if got, _ := st.ListOrdersByHolderEmail(ctx, "ana@example.pt", 1); len(got) != 1 {
		t.Fatalf("limit 1: %d", len(got))
	}
	if got, _ := st.ListOrdersByHolderEmail(ctx, "nobody@example.pt", 10); len(got) != 0 {
		t.Fatalf("orders of nobody: %d", len(got))
	}
}

// testWebSession: a session is found by its hash only, updates keep it,
// deleting one subject's sessions spares the one named and other subjects,
// and expiry removes both the idle and the old.
func testWebSession(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	mk := func(hash, kind, subject string, seen, expires time.Time) *selo.WebSession {
		s := &selo.WebSession{TokenHash: hash, Kind: kind, Subject: subject, Stage: selo.WebStagePassword,
			CreatedAt: micro(start), SeenAt: micro(seen), ExpiresAt: micro(expires)}
		must(t, st.CreateWebSession(ctx, s))
		return s
	}
	a := mk("h1", selo.WebSessionHolder, "acct1", start, start.Add(time.Hour))
	mk("h2", selo.WebSessionHolder, "acct1", start, start.Add(time.Hour))
	mk("h3", selo.WebSessionHolder, "acct2", start, start.Add(time.Hour))
	mk("h4", selo.WebSessionOfficer, "acct1", start, start.Add(time.Hour))
	mk("old", selo.WebSessionHolder, "acct3", start, start.Add(time.Minute))
	mk("idle", selo.WebSessionHolder, "acct3", start.Add(-time.Hour), start.Add(time.Hour))
	wantCode(t, st.CreateWebSession(ctx, &selo.WebSession{TokenHash: "h1", Kind: "holder"}), selo.ECONFLICT)

	got, err := st.FindWebSession(ctx, "h1")
	must(t, err)
	if *got != *a {
		t.Fatalf("found %+v, want %+v", got, a)
	}
	a.Subject, a.Stage, a.Data, a.Failures, a.SeenAt = "acct9", selo.WebStageSignedIn, "x", 2, micro(start.Add(time.Minute))
	must(t, st.UpdateWebSession(ctx, a))
	if got, _ := st.FindWebSession(ctx, "h1"); *got != *a {
		t.Fatalf("after update %+v, want %+v", got, a)
	}
	wantCode(t, st.UpdateWebSession(ctx, &selo.WebSession{TokenHash: "nope"}), selo.ENOTFOUND)
	_, err = st.FindWebSession(ctx, "nope")
	wantCode(t, err, selo.ENOTFOUND)

	n, err := st.DeleteWebSessions(ctx, selo.WebSessionHolder, "acct1", "h1")
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d sessions of acct1, want 1 (h2)", n)
	}
	for _, h := range []string{"h1", "h3", "h4"} {
		if _, err := st.FindWebSession(ctx, h); err != nil {
			t.Fatalf("session %s gone: %v", h, err)
		}
	}
	n, err = st.DeleteExpiredWebSessions(ctx, start.Add(2*time.Minute), start.Add(-time.Minute))
	must(t, err)
	if n != 2 {
		t.Fatalf("expired %d, want 2 (old, idle)", n)
	}
	must(t, st.DeleteWebSession(ctx, "h1"))
	must(t, st.DeleteWebSession(ctx, "h1"))
	_, err = st.FindWebSession(ctx, "h1")
	wantCode(t, err, selo.ENOTFOUND)
}

// testAuditByActor pages one actor's entries of one action, newest first.
func testAuditByActor(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	for i := 0; i < 7; i++ {
		for _, actor := range []string{"holder:a", "holder:b"} {
			e := entry("signature.sign", "credential/c")
			e.Actor = actor
			must(t, st.AppendAudit(ctx, e))
			other := entry("signature.authorize", "credential/c")
			other.Actor = actor
			must(t, st.AppendAudit(ctx, other))
		}
	}
	var seen []int64
	before := int64(0)
	for {
		page, err := st.ListAuditByActor(ctx, "holder:a", "signature.sign", before, 3)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Actor != "holder:a" || e.Action != "signature.sign" {
				t.Fatalf("entry %d of %s %s", e.Seq, e.Actor, e.Action)
			}
			if len(seen) > 0 && e.Seq >= seen[len(seen)-1] {
				t.Fatalf("not newest first: %v then %d", seen, e.Seq)
			}
			seen = append(seen, e.Seq)
		}
		before = page[len(page)-1].Seq
	}
	if len(seen) != 7 {
		t.Fatalf("paged %d entries, want 7", len(seen))
	}
	_, err := st.ListAuditByActor(ctx, "holder:a", "signature.sign", 0, 0)
	wantCode(t, err, selo.EINVALID)
}
