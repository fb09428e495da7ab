package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

func testAudit(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store

	var appended []*selo.AuditEntry
	for i := 0; i < 5; i++ {
		e := entry("key.generate", "key/k")
		must(t, st.AppendAudit(ctx, e))
		if e.Seq != int64(i+1) || !e.Time.Equal(micro(clock.Now())) || e.Hash == "" {
			t.Fatalf("AppendAudit sealed entry %+v; want seq %d, time %v", e, i+1, micro(clock.Now()))
		}
		appended = append(appended, e)
		clock.Add(1500 * time.Nanosecond)
	}
	// A time set by the caller is kept, truncated.
	e := entry("key.export", "key/k")
	e.Time = start.Add(time.Hour)
	must(t, st.AppendAudit(ctx, e))
	appended = append(appended, e)

	all := wantIntactAudit(t, st, 6)
	for i, got := range all {
		want := appended[i]
		if *got != *want || got.Time.Location() != time.UTC {
			t.Fatalf("ListAudit entry %d = %+v, want %+v in UTC", i+1, got, want)
		}
	}
	if all[5].Time != micro(start.Add(time.Hour)) || all[0].PrevHash != "" || all[1].PrevHash != all[0].Hash {
		t.Fatalf("entries not sealed as expected: %+v", all)
	}

	for _, tc := range []struct {
		after      int64
		limit      int
		first, num int64
	}{{0, 0, 1, 6}, {2, 2, 3, 2}, {4, 10, 5, 2}, {6, 1, 0, 0}, {100, 0, 0, 0}} {
		page, err := st.ListAudit(ctx, tc.after, tc.limit)
		must(t, err)
		if int64(len(page)) != tc.num || (tc.num > 0 && page[0].Seq != tc.first) {
			t.Fatalf("ListAudit(%d, %d) returned %d entries; want %d from %d", tc.after, tc.limit, len(page), tc.num, tc.first)
		}
	}
	_, err := st.ListAudit(ctx, 0, -1)
	wantCode(t, err, selo.EINVALID)
	wantCode(t, st.AppendAudit(ctx, nil), selo.EINVALID)
	wantIntactAudit(t, st, 6)
}

// AuditHeader is implemented by stores that record the last entry appended
// apart from the log, so that a verifier can tell when the log's tail was
// removed: the one change the chain cannot show by itself.
type AuditHeader interface {
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
}

// testTailTruncation removes the last entries of the log. The chain that is
// left verifies; only the head recorded apart from it shows the loss.
func testTailTruncation(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	h, ok := b.Store.(AuditHeader)
	if !ok {
		t.Skip("the store does not implement AuditHeader")
	}
	if seq, hash, err := h.AuditHead(ctx); err != nil || seq != 0 || hash != "" {
		t.Fatalf("AuditHead of an empty log = %d, %q, %v; want 0, \"\"", seq, hash, err)
	}
	for i := 0; i < 6; i++ {
		must(t, b.Store.AppendAudit(ctx, entry("key.generate", "key/k")))
	}
	entries := wantIntactAudit(t, b.Store, 6)
	if seq, hash, err := h.AuditHead(ctx); err != nil || seq != 6 || hash != entries[5].Hash {
		t.Fatalf("AuditHead = %d, %q, %v; want the last entry", seq, hash, err)
	}
	b.Exec(t, `DELETE FROM audit_log WHERE seq > 4`)
	if p := verifyAudit(t, b.Store); p != nil {
		t.Fatalf("the shortened chain does not verify: %+v", p)
	}
	if seq, _, err := h.AuditHead(ctx); err != nil || seq != 6 {
		t.Fatalf("AuditHead after truncation = %d, %v; want it still at 6", seq, err)
	}
	// The next append chains to the head, so the gap shows in the chain too.
	must(t, b.Store.AppendAudit(ctx, entry("key.generate", "key/k")))
	if p := verifyAudit(t, b.Store); p == nil || p.Seq != 5 {
		t.Fatalf("after an append the problem is %+v, want entry 5 missing", p)
	}
}

// testTamper changes the audit log behind the store's back, as someone with
// access to the database would, and checks the chain names the entry.
func testTamper(t *testing.T, open OpenFunc) {
	for _, tc := range []struct {
		name    string
		tamper  func(tb testing.TB, b *Backend, entries []*selo.AuditEntry)
		seq     int64
		because string
	}{
		{"changed", func(tb testing.TB, b *Backend, _ []*selo.AuditEntry) {
			b.Exec(tb, `UPDATE audit_log SET actor = 'x' WHERE seq = 3`)
		}, 3, "hash mismatch"},
		{"changed details", func(tb testing.TB, b *Backend, _ []*selo.AuditEntry) {
			b.Exec(tb, `UPDATE audit_log SET details = $1 WHERE seq = $2`, `{"k":"w"}`, 3)
		}, 3, "hash mismatch"},
		{"deleted", func(tb testing.TB, b *Backend, _ []*selo.AuditEntry) {
			b.Exec(tb, `DELETE FROM audit_log WHERE seq = 3`)
		}, 3, "missing"},
		{"swapped", func(tb testing.TB, b *Backend, _ []*selo.AuditEntry) {
			b.Exec(tb, `UPDATE audit_log SET seq = 1000 WHERE seq = 3`)
			b.Exec(tb, `UPDATE audit_log SET seq = 3 WHERE seq = 4`)
			b.Exec(tb, `UPDATE audit_log SET seq = 4 WHERE seq = 1000`)
		}, 3, "hash mismatch"},
		{"changed and rehashed", func(tb testing.TB, b *Backend, entries []*selo.AuditEntry) {
			// Whoever recomputes the changed entry's hash breaks the link to
			// the next one, which still names the old hash.
			e := *entries[2]
			e.Actor = "x"
			b.Exec(tb, `UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = $3`, e.Actor, e.ComputeHash(), e.Seq)
		}, 4, "chain broken"},
		{"renumbered after deletion", func(tb testing.TB, b *Backend, _ []*selo.AuditEntry) {
			b.Exec(tb, `DELETE FROM audit_log WHERE seq = 3`)
			b.Exec(tb, `UPDATE audit_log SET seq = seq - 1 WHERE seq = 4`)
		}, 3, "hash mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := open(t, NewClock(start))
			for i := 0; i < 6; i++ {
				must(t, b.Store.AppendAudit(ctx, entry("key.generate", "key/k")))
			}
			entries := wantIntactAudit(t, b.Store, 6)
			tc.tamper(t, b, entries)
			p := verifyAudit(t, b.Store)
			if p == nil {
				t.Fatal("the chain verifies after tampering")
			}
			if p.Seq != tc.seq || !strings.Contains(p.Reason, tc.because) {
				t.Fatalf("problem at %d (%s), want at %d (%s)", p.Seq, p.Reason, tc.seq, tc.because)
			}
			// Appending goes on after the damage, and the damage stays visible.
			must(t, b.Store.AppendAudit(ctx, entry("key.generate", "key/k")))
			if p2 := verifyAudit(t, b.Store); p2 == nil || p2.Seq != p.Seq {
				t.Fatalf("after another append the problem is %+v, want it still at %d", p2, p.Seq)
			}
		})
	}
}

// testAuditCheckpoint stores checkpoints and reads them back in Seq order,
// as stored: the store keeps them; the verifier judges them.
func testAuditCheckpoint(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	if cps, err := st.ListAuditCheckpoints(ctx); err != nil || len(cps) != 0 {
		t.Fatalf("ListAuditCheckpoints of a new store = %v, %v; want none", cps, err)
	}
	second := &selo.AuditCheckpoint{Seq: 7, Hash: "bb", Time: start.Add(time.Hour + 1500*time.Nanosecond), KeyID: selo.AuditKeyID, Signature: []byte{4, 5}}
	first := &selo.AuditCheckpoint{Seq: 3, Hash: "aa", Time: start, KeyID: selo.AuditKeyID, Signature: []byte{1, 2, 3}}
	must(t, st.AppendAuditCheckpoint(ctx, second))
	must(t, st.AppendAuditCheckpoint(ctx, first))
	if !second.Time.Equal(micro(start.Add(time.Hour+1500*time.Nanosecond))) || second.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("AppendAuditCheckpoint kept time %v; want it truncated to microseconds", second.Time)
	}
	cps, err := st.ListAuditCheckpoints(ctx)
	must(t, err)
	if len(cps) != 2 || cps[0].Seq != 3 || cps[1].Seq != 7 || cps[1].Hash != "bb" || !cps[1].Time.Equal(second.Time) ||
		cps[1].Time.Location() != time.UTC || string(cps[0].Signature) != string(first.Signature) || cps[0].KeyID != selo.AuditKeyID {
		t.Fatalf("ListAuditCheckpoints = %+v; want seq 3 then 7 as stored", cps)
	}
	for _, bad := range []*selo.AuditCheckpoint{
		nil,
		{Seq: 0, Hash: "aa", Time: start, KeyID: "k", Signature: []byte{1}},
		{Seq: 1, Hash: "aa", Time: start, KeyID: "k"},
		{Seq: 1, Hash: "", Time: start, KeyID: "k", Signature: []byte{1}},
	} {
		wantCode(t, st.AppendAuditCheckpoint(ctx, bad), selo.EINVALID)
	}
}
