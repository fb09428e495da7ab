package registration_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/idcheck/mrztest"
	"github.com/selo-qtsp/selo/registration"
)

// document builds a submission of a valid document of country for holder:
// the MRZ carries the holder's name (upper-cased, as an issuer writes a name
// without diacritics) and correct check digits.
func document(docType string, h selo.Holder, country, number string, expiry time.Time) registration.IdentitySubmission {
	state, ok := idcheck.ICAOCode(country)
	if !ok {
		panic("unknown country " + country) // a mistake in the test itself
	}
	d := mrztest.Document{State: state, Number: number, Surname: h.Surname, GivenNames: h.GivenNames, Birth: h.BirthDate, Expiry: expiry}
	sub := registration.IdentitySubmission{DocumentType: docType, Country: country, DocumentNumber: number, ExpiryDate: expiry}
	if docType == "passport" {
		sub.MRZ = mrztest.TD3(d)
	} else {
		d.Code = "ID"
		if state == "PRT" {
			d.Code = "I<"
		}
		sub.MRZ = mrztest.TD1(d)
	}
	return sub
}

// idCard returns a valid ID card submission (TD1) for h; country is an
// ISO 3166 alpha-2 or ICAO code.
func idCard(h selo.Holder, country, number string, expiry time.Time) registration.IdentitySubmission {
	return document("id-card", h, country, number, expiry)
}

// passport returns a valid passport submission (TD3) for h.
func passport(h selo.Holder, country, number string, expiry time.Time) registration.IdentitySubmission {
	return document("passport", h, country, number, expiry)
}

// wrongCheckDigit changes the birth date check digit of a TD1 or TD3 MRZ.
func wrongCheckDigit(mrz string) string {
	lines := strings.Split(mrz, "\n")
	pos := 19 // TD3, line 2, position 20
	if len(lines) == 3 {
		pos = 6 // TD1, line 2, position 7
	}
	b := []byte(lines[1])
	b[pos] = '0' + (b[pos]-'0'+1)%10
	lines[1] = string(b)
	return strings.Join(lines, "\n")
}

// TestIdentityRefusals submits one document per refusal class through the
// holder's path: each is refused by the production checker with its own
// message, recorded with the check and audited, and the holder may submit
// again.
func TestIdentityRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	holder := selo.Holder{GivenNames: "Joana", Surname: "Ferreira", Email: "joana@example.pt", Mobile: "+351912345678"}
	later := f.clock.Now().AddDate(3, 0, 0)
	good := func() registration.IdentitySubmission { return idCard(holder, "PT", "123456789ZZ4", later) }
	// A crew member certificate (AC) with valid check digits: not in the catalogue.
	crew := mrztest.TD1(mrztest.Document{Code: "AC", State: "PRT", Number: "123456789ZZ4", Surname: holder.Surname, GivenNames: holder.GivenNames, Expiry: later})
	cases := []struct {
		name     string
		sub      func() registration.IdentitySubmission
		contains string
	}{
		{"check digit", func() registration.IdentitySubmission { s := good(); s.MRZ = wrongCheckDigit(s.MRZ); return s }, "check digit of the birth date"},
		{"malformed", func() registration.IdentitySubmission {
			s := good()
			s.MRZ = strings.ReplaceAll(s.MRZ, "\n", "")
			return s
		}, "an MRZ has 3 lines"},
		{"country", func() registration.IdentitySubmission { return idCard(holder, "IT", "CA12345AB", later) }, "issued by ITA are not accepted"},
		{"expired", func() registration.IdentitySubmission {
			return idCard(holder, "PT", "123456789ZZ4", f.clock.Now().AddDate(0, 0, -1))
		}, "expired documents are not accepted"},
		{"type not accepted", func() registration.IdentitySubmission { s := good(); s.MRZ = crew; return s }, "MRZ code AC, TD1) is not accepted"},
		{"residence permit", func() registration.IdentitySubmission { s := good(); s.DocumentType = "residence-permit"; return s }, "residence permits are not accepted"},
		{"copy", func() registration.IdentitySubmission { s := good(); s.Copy = true; return s }, "copies of identity documents are not accepted"},
		{"typed number", func() registration.IdentitySubmission { s := good(); s.DocumentNumber = "99999999"; return s }, "document number you gave"},
		{"name", func() registration.IdentitySubmission {
			other := holder
			other.GivenNames = "Joaquina"
			return idCard(other, "PT", "123456789ZZ4", later)
		}, "is not the order holder's"},
		{"specimen", func() registration.IdentitySubmission {
			return registration.IdentitySubmission{DocumentType: "passport", Country: "PT", DocumentNumber: "L898902C3",
				ExpiryDate: time.Date(2012, 4, 15, 0, 0, 0, 0, time.UTC),
				MRZ:        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"}
		}, "specimen"},
	}
	checker, err := registration.NewCatalogueChecker("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			created, err := f.svc.CreateOrder(ctx, "officer:o", registration.OrderRequest{Holder: holder,
				Profile: "qualified-sign", Delivery: selo.DeliveryCloud, Approval: selo.ApprovalSMS, Subject: selo.OrderSubject{Country: "PT"}})
			if err != nil {
				t.Fatal(err)
			}
			sub := tc.sub()
			// The checker's own answer: EINVALID, with a message for the holder.
			_, err = checker.CheckDocument(sub, holder, f.clock.Now())
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.contains) {
				t.Fatalf("CheckDocument: %v, want EINVALID containing %q", err, tc.contains)
			}
			msg := selo.ErrorMessage(err)
			if other, dup := seen[msg]; dup {
				t.Fatalf("%s and %s give the same message %q", tc.name, other, msg)
			}
			seen[msg] = tc.name

			c, err := f.svc.SubmitIdentityCheck(ctx, created.Order.Number, created.AccessCode, sub)
			if err != nil || c.Status != selo.IdentityRefused || c.MachineReason != msg || c.DecidedAt.IsZero() {
				t.Fatalf("submit: %+v, %v", c, err)
			}
			stored, err := f.env.Store.FindIdentityCheck(ctx, c.ID)
			if err != nil || stored.Status != selo.IdentityRefused || stored.MachineReason != msg || stored.MRZ != sub.MRZ {
				t.Fatalf("stored: %+v, %v", stored, err)
			}
			o, err := f.svc.FindOrder(ctx, created.Order.Number)
			if err != nil || o.IdentityStatus != selo.IdentityRefused || o.IdentityAttempts != 1 || o.State != selo.OrderCreated {
				t.Fatalf("order after refusal: %+v, %v", o, err)
			}
			// The refusal is in the audit log with its reason.
			entries, err := f.env.Store.ListAudit(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range entries {
				var d map[string]any
				if e.Action == "identity.submit" && e.Object == "order/"+o.ID && e.Outcome == selo.OutcomeFailure &&
					json.Unmarshal([]byte(e.Details), &d) == nil && d["reason"] == msg {
					found = true
				}
			}
			if !found {
				t.Fatal("no audit entry for the refusal")
			}
			// The holder may try again with a good document.
			c, err = f.svc.SubmitIdentityCheck(ctx, created.Order.Number, created.AccessCode, good())
			if err != nil || c.Status != selo.IdentityPending {
				t.Fatalf("second try: %+v, %v", c, err)
			}
		})
	}
}

func TestCatalogueCheckerFromFile(t *testing.T) {
	// An operator's catalogue that accepts only Spanish ID cards.
	path := filepath.Join(t.TempDir(), "catalogue.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nofficer_checks: [photo]\ndocuments:\n  - {type: id-card, countries: [ES], formats: [TD1], codes: [ID]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checker, err := registration.NewCatalogueChecker(path)
	if err != nil {
		t.Fatal(err)
	}
	h := selo.Holder{GivenNames: "Carmen", Surname: "Garcia Lopez"}
	expiry := time.Now().AddDate(2, 0, 0)
	v, err := checker.CheckDocument(document("id-card", h, "ES", "BAA000589", expiry), h, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := v.MRZ.(*idcheck.MRZ)
	if !ok || m.IssuingState != "ESP" || len(v.Pending) != 1 || v.Pending[0] != "photo" {
		t.Fatalf("verdict %+v", v)
	}
	_, err = checker.CheckDocument(document("passport", h, "ES", "PAA000589", expiry), h, time.Now())
	if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "not accepted") {
		t.Fatalf("passport with an ID-card-only catalogue: %v", err)
	}
	if _, err := registration.NewCatalogueChecker(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("a missing catalogue loaded")
	}
	// A checker without a catalogue is an internal failure, not a refusal.
	_, err = (&registration.CatalogueChecker{}).CheckDocument(document("id-card", h, "ES", "BAA000589", expiry), h, time.Now())
	if err == nil || selo.ErrorCode(err) != selo.EINTERNAL {
		t.Fatalf("no catalogue: %v", err)
	}
}
