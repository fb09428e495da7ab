package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

func testCA(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	audited := 0

	root := newCA("root-ecc-v1", "")
	root.CreatedAt = start.Add(-time.Hour) // set by the caller: kept, to the microsecond, in UTC
	must(t, st.CreateCA(ctx, root, entry("ca.create", "ca/root-ecc-v1")))
	audited++
	if !root.CreatedAt.Equal(micro(start.Add(-time.Hour))) {
		t.Fatalf("CreateCA left CreatedAt %v, want it truncated to %v", root.CreatedAt, micro(start.Add(-time.Hour)))
	}
	got, err := st.FindCA(ctx, root.ID)
	must(t, err)
	if d := diffCA(got, root); d != "" {
		t.Fatalf("FindCA after CreateCA: %s", d)
	}

	// A zero CreatedAt and Status are filled in: the store's clock and active.
	child := newCA("qualified-ecc-v1", root.ID)
	child.Status = ""
	must(t, st.CreateCA(ctx, child, entry("ca.create", "ca/qualified-ecc-v1")))
	audited++
	if !child.CreatedAt.Equal(micro(start)) || child.Status != selo.CAActive {
		t.Fatalf("CreateCA filled in CreatedAt %v, Status %q; want %v, active", child.CreatedAt, child.Status, micro(start))
	}
	if got, err := st.FindCA(ctx, child.ID); err != nil {
		t.Fatal(err)
	} else if d := diffCA(got, child); d != "" {
		t.Fatalf("FindCA of child: %s", d)
	}
	// Same creation time as child: ListCAs orders it by ID, before child.
	sibling := newCA("a-sibling", root.ID)
	must(t, st.CreateCA(ctx, sibling, entry("ca.create", "ca/a-sibling")))
	audited++

	t.Run("errors", func(t *testing.T) {
		wantCode(t, st.CreateCA(ctx, newCA(root.ID, ""), entry("ca.create", "ca/dup")), selo.ECONFLICT)
		wantCode(t, st.CreateCA(ctx, newCA("orphan", "no-such-parent"), entry("ca.create", "ca/orphan")), selo.ENOTFOUND)
		wantCode(t, st.CreateCA(ctx, newCA("unaudited", ""), nil), selo.EINVALID)
		wantCode(t, st.CreateCA(ctx, &selo.CA{}, entry("ca.create", "ca/")), selo.EINVALID)
		bad := newCA("bad-status", "")
		bad.Status = "sleeping"
		wantCode(t, st.CreateCA(ctx, bad, entry("ca.create", "ca/bad-status")), selo.EINVALID)
		for _, id := range []string{"orphan", "unaudited", "bad-status", "no-such-ca"} {
			_, err := st.FindCA(ctx, id)
			wantCode(t, err, selo.ENOTFOUND)
		}
		wantCode(t, st.SetCAStatus(ctx, "no-such-ca", selo.CARetired, entry("ca.retire", "ca/no-such-ca")), selo.ENOTFOUND)
		wantCode(t, st.SetCAStatus(ctx, root.ID, "sleeping", entry("ca.retire", "ca/root")), selo.EINVALID)
		wantCode(t, st.SetCAStatus(ctx, root.ID, selo.CARetired, nil), selo.EINVALID)
		if got, err := st.FindCA(ctx, root.ID); err != nil || got.Status != selo.CAActive {
			t.Fatalf("a refused SetCAStatus changed the CA: %v %v", got, err)
		}
	})

	list, err := st.ListCAs(ctx)
	must(t, err)
	want := []*selo.CA{root, sibling, child}
	if len(list) != len(want) {
		t.Fatalf("ListCAs returned %d CAs, want %d", len(list), len(want))
	}
	for i := range want {
		if d := diffCA(list[i], want[i]); d != "" {
			t.Fatalf("ListCAs[%d]: %s", i, d)
		}
	}

	must(t, st.SetCAStatus(ctx, root.ID, selo.CARetired, entry("ca.retire", "ca/root-ecc-v1")))
	audited++
	if got, err := st.FindCA(ctx, root.ID); err != nil || got.Status != selo.CARetired {
		t.Fatalf("after SetCAStatus: %+v, %v; want retired", got, err)
	}

	entries := wantIntactAudit(t, st, audited)
	if last := entries[len(entries)-1]; last.Action != "ca.retire" || last.Object != "ca/root-ecc-v1" {
		t.Fatalf("last audit entry %+v, want the retirement", last)
	}
}
