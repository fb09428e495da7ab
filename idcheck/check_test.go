package idcheck_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/idcheck/mrztest"
)

var (
	now    = time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
	expiry = time.Date(2031, 7, 9, 0, 0, 0, 0, time.UTC)
	ana    = idcheck.Holder{Surname: "Silva", GivenNames: "Ana Maria", BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC)}
)

// ptCard is a valid Portuguese citizen card submission for ana.
func ptCard() (idcheck.Submission, mrztest.Document) {
	d := mrztest.Document{Code: "I<", State: "PRT", Number: "123456789ZZ4", Surname: "SILVA", GivenNames: "ANA MARIA",
		Birth: ana.BirthDate, Expiry: expiry}
	return idcheck.Submission{DocumentType: "id-card", Country: "PT", DocumentNumber: "12345678 9 ZZ4", ExpiryDate: expiry, MRZ: mrztest.TD1(d)}, d
}

func defaultCatalogue(t testing.TB) *idcheck.Catalogue {
	t.Helper()
	c, err := idcheck.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckAccepts(t *testing.T) {
	c := defaultCatalogue(t)
	for name, tc := range map[string]struct {
		holder idcheck.Holder
		sub    func() idcheck.Submission
	}{
		"PT card I<": {ana, func() idcheck.Submission { s, _ := ptCard(); return s }},
		"PT card ID, lower-case typed data": {ana, func() idcheck.Submission {
			s, d := ptCard()
			d.Code = "ID"
			s.MRZ, s.Country, s.DocumentNumber, s.DocumentType = mrztest.TD1(d), "pt", "123456789zz4", " ID-Card "
			return s
		}},
		"ES card": {idcheck.Holder{Surname: "Española Española", GivenNames: "Carmen"}, func() idcheck.Submission {
			d := mrztest.Document{Code: "ID", State: "ESP", Number: "BAA000589", Optional: "99999999R", Surname: "ESPANOLA ESPANOLA", GivenNames: "CARMEN", Expiry: expiry}
			return idcheck.Submission{DocumentType: "id-card", Country: "ES", DocumentNumber: "BAA000589", ExpiryDate: expiry, MRZ: mrztest.TD1(d)}
		}},
		"FR card": {idcheck.Holder{Surname: "Lefèvre-Çelik", GivenNames: "Zoé"}, func() idcheck.Submission {
			d := mrztest.Document{Code: "ID", State: "FRA", Number: "X4RTBPFW4", Surname: "LEFEVRE CELIK", GivenNames: "ZOE", Expiry: expiry}
			return idcheck.Submission{DocumentType: "id-card", Country: "FR", DocumentNumber: "X4RTBPFW4", ExpiryDate: expiry, MRZ: mrztest.TD1(d)}
		}},
		"PL card": {idcheck.Holder{Surname: "Wałęsa", GivenNames: "Łucja"}, func() idcheck.Submission {
			d := mrztest.Document{Code: "ID", State: "POL", Number: "ABA123456", Surname: "WALESA", GivenNames: "LUCJA", Expiry: expiry}
			return idcheck.Submission{DocumentType: "id-card", Country: "PL", DocumentNumber: "ABA 123456", ExpiryDate: expiry, MRZ: mrztest.TD1(d)}
		}},
		"German passport, umlaut as UE": {idcheck.Holder{Surname: "Müller", GivenNames: "Jürgen"}, func() idcheck.Submission {
			d := mrztest.Document{State: "D", Number: "C01X00T47", Surname: "MUELLER", GivenNames: "JUERGEN", Sex: "M", Expiry: expiry}
			return idcheck.Submission{DocumentType: "passport", Country: "DE", DocumentNumber: "C01X00T47", ExpiryDate: expiry, MRZ: mrztest.TD3(d)}
		}},
		"German passport, umlaut as U": {idcheck.Holder{Surname: "Müller", GivenNames: "Jürgen"}, func() idcheck.Submission {
			d := mrztest.Document{State: "D", Number: "C01X00T47", Surname: "MULLER", GivenNames: "JURGEN", Expiry: expiry}
			return idcheck.Submission{DocumentType: "passport", Country: "D", DocumentNumber: "C01X00T47", ExpiryDate: expiry, MRZ: mrztest.TD3(d)}
		}},
		"Japanese passport PP": {idcheck.Holder{Surname: "Tanaka", GivenNames: "Hanako"}, func() idcheck.Submission {
			d := mrztest.Document{Code: "PP", State: "JPN", Number: "TR1234567", Surname: "TANAKA", GivenNames: "HANAKO", Expiry: expiry}
			return idcheck.Submission{DocumentType: "passport", Country: "JP", DocumentNumber: "TR1234567", ExpiryDate: expiry, MRZ: mrztest.TD3(d)}
		}},
		"Irish passport, apostrophe omitted": {idcheck.Holder{Surname: "O'Neill", GivenNames: "Seán"}, func() idcheck.Submission {
			d := mrztest.Document{State: "IRL", Number: "PX1234567", Surname: "ONEILL", GivenNames: "SEAN", Expiry: expiry}
			return idcheck.Submission{DocumentType: "passport", Country: "IE", DocumentNumber: "PX1234567", ExpiryDate: expiry, MRZ: mrztest.TD3(d)}
		}},
		"Spanish Ñ, ß and Ø": {idcheck.Holder{Surname: "Núñez Strauß", GivenNames: "Søren"}, func() idcheck.Submission {
			d := mrztest.Document{State: "ESP", Number: "PAA123456", Surname: "NUNEZ STRAUSS", GivenNames: "SOEREN", Expiry: expiry}
			return idcheck.Submission{DocumentType: "passport", Country: "ES", DocumentNumber: "PAA123456", ExpiryDate: expiry, MRZ: mrztest.TD3(d)}
		}},
		"truncated long name": {idcheck.Holder{Surname: "Albuquerque de Vasconcelos", GivenNames: "Maria da Conceição Bartolomeu"}, func() idcheck.Submission {
			// 30 characters: the issuer cut the given names to fit.
			d := mrztest.Document{Code: "I<", State: "PRT", Number: "123456789ZZ4", Surname: "ALBUQUERQUE DE VASCONCELOS", GivenNames: "MARIA D", Expiry: expiry}
			s := idcheck.Submission{DocumentType: "id-card", Country: "PT", DocumentNumber: "123456789ZZ4", ExpiryDate: expiry, MRZ: mrztest.TD1(d)}
			if !strings.HasSuffix(s.MRZ, "ALBUQUERQUE<DE<VASCONCELOS<<MA") {
				panic(s.MRZ)
			}
			return s
		}},
		"expires today": {ana, func() idcheck.Submission {
			s, d := ptCard()
			d.Expiry = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			s.MRZ, s.ExpiryDate = mrztest.TD1(d), d.Expiry
			return s
		}},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := c.Check(tc.sub(), tc.holder, now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Pending, []string{"photo", "liveness video"}) || v.MRZ == nil || v.Document.Type == "" {
				t.Fatalf("verdict %+v", v)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckSpecimens(t *testing.T) {
	anna := idcheck.Holder{Surname: "Eriksson", GivenNames: "Anna Maria"}
	td3 := idcheck.Submission{DocumentType: "passport", Country: "UTO", DocumentNumber: "L898902C3", ExpiryDate: time.Date(2012, 4, 15, 0, 0, 0, 0, time.UTC), MRZ: specimenTD3}
	td1 := idcheck.Submission{DocumentType: "id-card", Country: "UTO", DocumentNumber: "D23145890", ExpiryDate: td3.ExpiryDate, MRZ: specimenTD1}

	// Selo's catalogue refuses ICAO's specimens: Utopia is not a state.
	for _, sub := range []idcheck.Submission{td3, td1} {
		_, err := defaultCatalogue(t).Check(sub, anna, specimenTime)
		if !errors.Is(err, idcheck.ErrCountry) || !strings.Contains(err.Error(), "specimen") {
			t.Fatalf("default catalogue: %v", err)
		}
	}
	// A test catalogue that allows specimens accepts both while they were valid,
	// and refuses them as expired now.
	c, err := idcheck.ParseCatalogue([]byte(`version: 1
officer_checks: [photo, liveness video]
specimens: true
documents:
  - {type: passport, countries: ["*"], formats: [TD3], codes: ["P<"]}
  - {type: id-card, countries: ["*"], formats: [TD1], codes: ["I<"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []idcheck.Submission{td3, td1} {
		v, err := c.Check(sub, anna, specimenTime)
		if err != nil {
			t.Fatalf("%s: %v", sub.DocumentType, err)
		}
		if v.MRZ.IssuingState != "UTO" || v.MRZ.GivenNames != "ANNA MARIA" {
			t.Fatalf("%+v", v.MRZ)
		}
		if _, err := c.Check(sub, anna, now); !errors.Is(err, idcheck.ErrExpired) || !strings.Contains(err.Error(), "2012-04-15") {
			t.Fatalf("now: %v", err)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	c := defaultCatalogue(t)
	for name, tc := range map[string]struct {
		change   func(s *idcheck.Submission, d *mrztest.Document, h *idcheck.Holder)
		kind     error
		contains string
	}{
		"copy": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.Copy = true }, idcheck.ErrCopy, "copies"},
		"residence permit chosen": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) {
			s.DocumentType = "residence-permit"
		},
			idcheck.ErrResidencePermit, "residence permits are not accepted"},
		"residence permit MRZ": {func(_ *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.Code = "IR" },
			idcheck.ErrResidencePermit, "document code IR"},
		"German residence permit MRZ": {func(_ *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.Code = "AR" },
			idcheck.ErrResidencePermit, "document code AR"},
		"wrong check digit": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) {
			s.MRZ = bump(s.MRZ, 2, 7)
		}, idcheck.ErrCheckDigit, "birth date"},
		"malformed": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.MRZ = s.MRZ[:40] }, idcheck.ErrMalformed, "line"},
		"card of a country not in the catalogue": {func(s *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) {
			d.Code, d.State, s.Country = "ID", "ITA", "IT"
		}, idcheck.ErrCountry, "issued by ITA are not accepted"},
		"unknown issuing state": {func(s *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.State = "ZZZ" },
			idcheck.ErrCountry, "ZZZ, which is not an ICAO country code"},
		"unknown nationality": {func(_ *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.Nationality = "DT" },
			idcheck.ErrMalformed, "nationality DT"},
		"unknown typed country": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.Country = "XY" },
			idcheck.ErrCountry, `"XY" is not a country code`},
		"specimen state": {func(s *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.State = "UTO" },
			idcheck.ErrCountry, "specimen"},
		"type not accepted": {func(s *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) { d.Code = "AC" },
			idcheck.ErrTypeNotAccepted, "MRZ code AC, TD1"},
		"typed country differs": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.Country = "ES" },
			idcheck.ErrMismatch, "issued by PRT"},
		"typed type differs": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.DocumentType = "passport" },
			idcheck.ErrMismatch, "MRZ is of a id-card"},
		"typed number differs": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.DocumentNumber = "12345678" },
			idcheck.ErrMismatch, "document number"},
		"typed expiry differs": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) {
			s.ExpiryDate = s.ExpiryDate.AddDate(0, 0, 1)
		},
			idcheck.ErrMismatch, "expiry date 2031-07-10"},
		"birth date differs": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) {
			h.BirthDate = h.BirthDate.AddDate(1, 0, 0)
		},
			idcheck.ErrMismatch, "birth date"},
		"expired yesterday": {func(s *idcheck.Submission, d *mrztest.Document, _ *idcheck.Holder) {
			d.Expiry = time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
			s.ExpiryDate = d.Expiry
		}, idcheck.ErrExpired, "expired on 2026-02-28"},
		"surname differs": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) { h.Surname = "Silvestre" },
			idcheck.ErrNameMismatch, "SILVA, ANA MARIA"},
		"given name missing from the order": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) { h.GivenNames = "Ana" },
			idcheck.ErrNameMismatch, "not the order holder's"},
		"extra given name on the order": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) { h.GivenNames = "Ana Maria Rosa" },
			idcheck.ErrNameMismatch, "not the order holder's"},
		"names swapped": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) {
			h.Surname, h.GivenNames = "Ana Maria", "Silva"
		},
			idcheck.ErrNameMismatch, "not the order holder's"},
		"name in another script": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) { h.Surname = "Силва" },
			idcheck.ErrNameMismatch, "cannot show"},
		"name too long": {func(_ *idcheck.Submission, _ *mrztest.Document, h *idcheck.Holder) {
			h.GivenNames = strings.Repeat("a", 201)
		},
			idcheck.ErrNameMismatch, "longer than 200"},
		"no type":    {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.DocumentType = " " }, idcheck.ErrMissing, "type"},
		"no number":  {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.DocumentNumber = " - " }, idcheck.ErrMissing, "number"},
		"no expiry":  {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.ExpiryDate = time.Time{} }, idcheck.ErrMissing, "expiry"},
		"no country": {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.Country = "" }, idcheck.ErrMissing, "country"},
		"no MRZ":     {func(s *idcheck.Submission, _ *mrztest.Document, _ *idcheck.Holder) { s.MRZ = "" }, idcheck.ErrMissing, "MRZ is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			sub, d := ptCard()
			h := ana
			before := sub.MRZ
			tc.change(&sub, &d, &h)
			if sub.MRZ == before {
				sub.MRZ = mrztest.TD1(d)
			}
			v, err := c.Check(sub, h, now)
			var e *idcheck.Error
			if v != nil || !errors.As(err, &e) || !errors.Is(err, tc.kind) || !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("got %v, %v; want %v containing %q", v, err, tc.kind, tc.contains)
			}
			if e.Field == "" {
				t.Fatalf("%v names no field", err)
			}
		})
	}
}

func TestNameWithoutTruncationMustBeWhole(t *testing.T) {
	// A name that does not fill its field was not truncated: an initial is
	// not the holder's given name.
	c := defaultCatalogue(t)
	sub, d := ptCard()
	d.GivenNames = "ANA M"
	sub.MRZ = mrztest.TD1(d)
	if _, err := c.Check(sub, ana, now); !errors.Is(err, idcheck.ErrNameMismatch) {
		t.Fatalf("initial without truncation: %v", err)
	}
	// The same initial in a full field is a truncation and passes.
	h := ana
	h.Surname = "Silva Albuquerque Vasconcelos"
	d.Surname = "SILVA ALBUQUERQUE VASCONCELOS"
	d.GivenNames = "ANA MARIA"
	sub.MRZ = mrztest.TD1(d) // cut to 30 characters: ...VASCONCELOS<<
	if _, err := c.Check(sub, h, now); err != nil {
		t.Fatalf("truncated: %v (%s)", err, sub.MRZ)
	}
}
