package registration_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/registration"
)

// holderOrder creates an order for holder and an account with the same
// e-mail, as the portal's holder has; it returns the order and account IDs.
func holderOrder(t *testing.T, f *fixture, h selo.Holder) (*selo.Order, string) {
	t.Helper()
	ctx := context.Background()
	created, err := f.svc.CreateOrder(ctx, "officer:o", registration.OrderRequest{Holder: h, Profile: "qualified-sign",
		Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
	if err != nil {
		t.Fatal(err)
	}
	acct := &selo.Account{ID: "acct-" + h.Surname, Email: strings.ToUpper(h.Email), Name: h.GivenNames, CreatedAt: f.clock.Now()}
	if err := f.env.Store.CreateAccount(ctx, acct, &selo.AuditEntry{Actor: "test", Action: "account.create", Object: "account/" + acct.ID,
		Outcome: selo.OutcomeSuccess, Details: "{}"}); err != nil {
		t.Fatal(err)
	}
	return created.Order, acct.ID
}

func photos() []registration.Photo {
	return []registration.Photo{
		{Kind: selo.EvidenceDocumentFront, Data: testenv.JPEG(64, 40, 1)},
		{Kind: selo.EvidenceDocumentBack, Data: testenv.PNG(64, 40, 2)},
		{Kind: selo.EvidenceSelfie, Data: testenv.JPEG(48, 64, 3)},
	}
}

// TestHolderIdentityCheckWithPhotos follows the portal's identity check:
// the holder sends the MRZ and three photos; the check waits for an officer
// with the photos sealed in the store (no plaintext), the officer opens them
// (audited), approves, and after the retention the worker's task deletes
// them (audited) while the check's record stays.
func TestHolderIdentityCheckWithPhotos(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	o, acct := holderOrder(t, f, h)
	sub := idCard(h, "PT", "123456789ZZ4", f.clock.Now().AddDate(4, 0, 0))
	ps := photos()
	c, err := f.svc.SubmitHolderIdentityCheck(ctx, acct, o.ID, registration.HolderSubmission{DocumentType: "id-card", MRZ: sub.MRZ, Photos: ps})
	if err != nil || c.Status != selo.IdentityPending {
		t.Fatalf("check %+v, %v", c, err)
	}
	if c.Country != "PRT" || c.DocumentNumber != "123456789ZZ4" {
		t.Fatalf("country and number from the MRZ: %q %q", c.Country, c.DocumentNumber)
	}
	stored, err := f.env.Store.ListIdentityEvidence(ctx, c.ID)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored photos %v, %v", stored, err)
	}
	for i, e := range stored {
		if bytes.Contains(e.Sealed, ps[i].Data[:32]) || e.Size != len(ps[i].Data) {
			t.Fatalf("%s stored in the clear or with the wrong size", e.Kind)
		}
	}
	if stored[1].ContentType != "image/png" || stored[0].ContentType != "image/jpeg" {
		t.Fatalf("sniffed types %s %s", stored[0].ContentType, stored[1].ContentType)
	}
	review, err := f.svc.ReviewIdentityCheck(ctx, c.ID)
	if err != nil || review.Document == nil || !strings.Contains(review.Document.Name, "Portugal") || len(review.Photos) != 3 {
		t.Fatalf("review %+v, %v", review, err)
	}
	p, err := f.svc.OfficerPhoto(ctx, "officer:rita", c.ID, selo.EvidenceSelfie)
	if err != nil || !bytes.Equal(p.Data, ps[2].Data) || p.ContentType != "image/jpeg" {
		t.Fatalf("officer's selfie: %v", err)
	}
	if p, err := f.svc.HolderPhoto(ctx, acct, c.ID, selo.EvidenceDocumentBack); err != nil || !bytes.Equal(p.Data, ps[1].Data) {
		t.Fatalf("holder's own photo: %v", err)
	}
	if _, err := f.svc.DecideIdentityCheck(ctx, "officer:rita", c.ID, true, "photo matches the selfie"); err != nil {
		t.Fatal(err)
	}

	// Retention: nothing is deleted before it, everything after.
	if n, err := f.svc.PurgeExpiredEvidence(ctx); err != nil || n != 0 {
		t.Fatalf("purge before retention: %d %v", n, err)
	}
	f.clock.Add(registration.DefaultEvidenceRetention)
	if _, err := f.svc.OfficerPhoto(ctx, "officer:rita", c.ID, selo.EvidenceSelfie); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("photo past retention: %v", err)
	}
	if err := f.svc.EvidenceTask().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := f.env.Store.ListIdentityEvidence(ctx, c.ID); len(left) != 0 {
		t.Fatalf("%d photos left after retention", len(left))
	}
	if got, err := f.env.Store.FindIdentityCheck(ctx, c.ID); err != nil || got.Status != selo.IdentityApproved {
		t.Fatalf("the check's record after the purge: %+v %v", got, err)
	}
	entries, err := f.env.Store.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var viewed, deleted bool
	for _, e := range entries {
		viewed = viewed || e.Action == "identity.photo.view" && e.Actor == "officer:rita"
		deleted = deleted || e.Action == "identity.photo.delete" && e.Object == "identity_check/"+c.ID
	}
	if !viewed || !deleted {
		t.Fatalf("audit: photo viewed %v, deleted %v", viewed, deleted)
	}
}

// TestHolderIdentityCheckRefusals: another holder's order is not found (and
// the attempt audited), bad photos are refused before anything is recorded,
// and a bad MRZ is a machine refusal with the MRZ's message and no photos
// kept.
func TestHolderIdentityCheckRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ana := selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	rui := selo.Holder{GivenNames: "Rui", Surname: "Costa", Email: "rui@example.pt", Mobile: "+351912345679"}
	o, anaAcct := holderOrder(t, f, ana)
	_, ruiAcct := holderOrder(t, f, rui)
	mrz := idCard(ana, "PT", "123456789ZZ4", f.clock.Now().AddDate(4, 0, 0)).MRZ
	submit := func(acct string, ps []registration.Photo, mrz string) (*selo.IdentityCheck, error) {
		return f.svc.SubmitHolderIdentityCheck(ctx, acct, o.ID, registration.HolderSubmission{DocumentType: "id-card", MRZ: mrz, Photos: ps})
	}
	if _, err := submit(ruiAcct, photos(), mrz); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("another holder's order: %v", err)
	}
	if _, err := f.svc.HolderOrder(ctx, ruiAcct, "no-such-order"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("unknown order: %v", err)
	}
	big := make([]byte, registration.DefaultMaxPhotoSize+1)
	copy(big, testenv.JPEG(8, 8, 0))
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	cases := []struct {
		name string
		ps   func() []registration.Photo
		want string
	}{
		{"oversized", func() []registration.Photo { p := photos(); p[0].Data = big; return p }, "at most"},
		{"gif", func() []registration.Photo { p := photos(); p[2].Data = gif; return p }, "not a JPEG or PNG"},
		{"html", func() []registration.Photo { p := photos(); p[2].Data = []byte("<script>alert(1)</script>"); return p }, "not a JPEG or PNG"},
		{"truncated jpeg", func() []registration.Photo { p := photos(); p[0].Data = p[0].Data[:20]; return p }, "damaged"},
		{"no selfie", func() []registration.Photo { return photos()[:2] }, "selfie is needed"},
		{"no front", func() []registration.Photo { return photos()[1:] }, "front"},
		{"twice", func() []registration.Photo { p := photos(); p[1].Kind = selo.EvidenceSelfie; return p }, "twice"},
		{"unknown kind", func() []registration.Photo { p := photos(); p[1].Kind = "x-ray"; return p }, "unknown photo"},
		{"empty", func() []registration.Photo { p := photos(); p[1].Data = nil; return p }, "empty"},
	}
	for _, tc := range cases {
		_, err := submit(anaAcct, tc.ps(), mrz)
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want EINVALID with %q", tc.name, err, tc.want)
		}
	}
	if got, _ := f.svc.FindOrderByID(ctx, o.ID); got.IdentityAttempts != 0 {
		t.Fatalf("refused photos used %d attempts", got.IdentityAttempts)
	}
	c, err := submit(anaAcct, photos(), wrongCheckDigit(mrz))
	if err != nil || c.Status != selo.IdentityRefused || !strings.Contains(c.MachineReason, "check digit") {
		t.Fatalf("bad MRZ: %+v %v", c, err)
	}
	if left, _ := f.env.Store.ListIdentityEvidence(ctx, c.ID); len(left) != 0 {
		t.Fatalf("a refused check kept %d photos", len(left))
	}
	c, err = submit(anaAcct, photos(), "not an MRZ at all")
	if err != nil || c.Status != selo.IdentityRefused || c.MachineReason == "" {
		t.Fatalf("garbage MRZ: %+v %v", c, err)
	}
	t.Logf("garbage MRZ refused: %s", c.MachineReason)
	if _, err := f.svc.HolderPhoto(ctx, ruiAcct, c.ID, selo.EvidenceSelfie); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("another holder's photo: %v", err)
	}
}
