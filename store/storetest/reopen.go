package storetest

import (
	"context"
	"testing"

	"github.com/selo-qtsp/selo"
)

// testReopen closes the store and opens the database again, as a restarted
// process does: everything is still there and the chain goes on.
func testReopen(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	st := b.Store
	ca := newCA("ca1", "")
	must(t, st.CreateCA(ctx, ca, entry("ca.create", "ca/ca1")))
	cert := newCertificate("abc", "ca1")
	must(t, st.CreateCertificate(ctx, cert, entry("certificate.issue", "certificate/abc")))
	key := &selo.APIKey{ID: "k1", Name: "admin", Hash: "aa11", Roles: []selo.Role{selo.RoleAdmin}}
	must(t, st.CreateAPIKey(ctx, key, entry("apikey.create", "apikey/k1")))
	before := wantIntactAudit(t, st, 3)
	must(t, st.Close())

	st = b.Reopen(t)
	if got, err := st.FindCA(ctx, "ca1"); err != nil {
		t.Fatal(err)
	} else if d := diffCA(got, ca); d != "" {
		t.Fatalf("CA after reopen: %s", d)
	}
	if got, err := st.FindCertificate(ctx, "abc"); err != nil {
		t.Fatal(err)
	} else if d := diffCertificate(got, cert); d != "" {
		t.Fatalf("certificate after reopen: %s", d)
	}
	if _, err := st.FindAPIKeyByHash(ctx, "aa11"); err != nil {
		t.Fatalf("API key after reopen: %v", err)
	}
	must(t, st.AppendAudit(ctx, entry("key.generate", "key/k")))
	after := wantIntactAudit(t, st, 4)
	for i := range before {
		if *after[i] != *before[i] {
			t.Fatalf("audit entry %d changed across reopen: %+v, was %+v", i+1, after[i], before[i])
		}
	}
	if after[3].PrevHash != before[2].Hash {
		t.Fatal("the entry appended after reopen does not chain to the last one before")
	}
}
