package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// testIdentityEvidence stores the photos of a check with the check, reads
// them back in kind order, lists and deletes the expired ones with their
// audit entries, and refuses photos without their check or of an unknown
// kind or type.
func testIdentityEvidence(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	must(t, st.CreateOrder(ctx, newOrder("o1", "SO-1"), entry("order.create", "order/o1")))
	check := func(id string, expires time.Time, kinds ...selo.EvidenceKind) {
		t.Helper()
		o := mustFindOrder(t, st, "o1")
		c := &selo.IdentityCheck{ID: id, OrderID: "o1", DocumentType: "passport", Country: "PRT", DocumentNumber: "X1",
			MRZ: "P<PRT", Status: selo.IdentityPending}
		o.IdentityStatus, o.IdentityAttempts = selo.IdentityPending, o.IdentityAttempts+1
		u := &selo.OrderUpdate{Order: o, CreateCheck: c, Audit: entry("identity.submit", "order/o1")}
		for _, k := range kinds {
			u.Evidence = append(u.Evidence, &selo.IdentityEvidence{CheckID: id, Kind: k, ContentType: "image/png",
				Size: 3, Sealed: []byte("sealed " + string(k)), ExpiresAt: expires})
		}
		must(t, st.UpdateOrder(ctx, u))
	}
	// Written in reverse: read back front, back, selfie.
	check("c1", start.Add(time.Hour), selo.EvidenceSelfie, selo.EvidenceDocumentBack, selo.EvidenceDocumentFront)
	got, err := st.ListIdentityEvidence(ctx, "c1")
	must(t, err)
	if len(got) != 3 || got[0].Kind != selo.EvidenceDocumentFront || got[1].Kind != selo.EvidenceDocumentBack || got[2].Kind != selo.EvidenceSelfie {
		t.Fatalf("evidence %+v", got)
	}
	if !bytes.Equal(got[2].Sealed, []byte("sealed selfie")) || got[2].Size != 3 || got[2].ContentType != "image/png" ||
		!got[2].ExpiresAt.Equal(micro(start.Add(time.Hour))) || !got[2].CreatedAt.Equal(micro(start)) {
		t.Fatalf("selfie %+v", got[2])
	}
	one, err := st.FindIdentityEvidence(ctx, "c1", selo.EvidenceDocumentBack)
	must(t, err)
	if string(one.Sealed) != "sealed document-back" {
		t.Fatalf("back %q", one.Sealed)
	}
	_, err = st.FindIdentityEvidence(ctx, "c1", "passport-scan")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.FindIdentityEvidence(ctx, "nope", selo.EvidenceSelfie)
	wantCode(t, err, selo.ENOTFOUND)

	// Refused: a photo of another check, an unknown kind, a GIF. Nothing
	// of the update is stored.
	o := mustFindOrder(t, st, "o1")
	bad := []*selo.IdentityEvidence{
		{CheckID: "other", Kind: selo.EvidenceSelfie, ContentType: "image/png", Size: 1, Sealed: []byte{1}, ExpiresAt: start},
		{CheckID: "c9", Kind: "x-ray", ContentType: "image/png", Size: 1, Sealed: []byte{1}, ExpiresAt: start},
		{CheckID: "c9", Kind: selo.EvidenceSelfie, ContentType: "image/gif", Size: 1, Sealed: []byte{1}, ExpiresAt: start},
	}
	for _, e := range bad {
		c := &selo.IdentityCheck{ID: "c9", OrderID: "o1", DocumentType: "passport", Status: selo.IdentityPending}
		wantCode(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, CreateCheck: c, Evidence: []*selo.IdentityEvidence{e},
			Audit: entry("identity.submit", "order/o1")}), selo.EINVALID)
	}
	_, err = st.FindIdentityCheck(ctx, "c9")
	wantCode(t, err, selo.ENOTFOUND)

	check("c2", start.Add(2*time.Hour), selo.EvidenceDocumentFront, selo.EvidenceSelfie)
	check("c3", start.Add(30*time.Minute), selo.EvidenceSelfie)
	expired, err := st.ExpiredIdentityEvidence(ctx, start.Add(time.Hour), 10)
	must(t, err)
	if len(expired) != 2 || expired[0] != "c3" || expired[1] != "c1" {
		t.Fatalf("expired at +1h: %v", expired)
	}
	if page, err := st.ExpiredIdentityEvidence(ctx, start.Add(time.Hour), 1); err != nil || len(page) != 1 || page[0] != "c3" {
		t.Fatalf("first expired: %v %v", page, err)
	}
	_, err = st.ExpiredIdentityEvidence(ctx, start, 0)
	wantCode(t, err, selo.EINVALID)
	n, err := st.DeleteIdentityEvidence(ctx, "c1", entry("identity.evidence.delete", "identity_check/c1"))
	must(t, err)
	if n != 3 {
		t.Fatalf("deleted %d photos of c1", n)
	}
	if left, err := st.ListIdentityEvidence(ctx, "c1"); err != nil || len(left) != 0 {
		t.Fatalf("left after delete: %v %v", left, err)
	}
	// Nothing to delete: no error and no audit entry.
	if n, err := st.DeleteIdentityEvidence(ctx, "c1", entry("identity.evidence.delete", "identity_check/c1")); err != nil || n != 0 {
		t.Fatalf("second delete: %d %v", n, err)
	}
	_, err = st.DeleteIdentityEvidence(ctx, "c2", nil)
	wantCode(t, err, selo.EINVALID)
	// The check itself stays.
	if _, err := st.FindIdentityCheck(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	// order.create, 3 submissions, one delete.
	wantIntactAudit(t, st, 5)
}
