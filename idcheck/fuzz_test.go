package idcheck_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/idcheck/mrztest"
)

// compositeAt is where each format keeps its composite check digit.
var compositeAt = map[idcheck.Format][2]int{idcheck.TD1: {2, 30}, idcheck.TD2: {2, 36}, idcheck.TD3: {2, 44}}

func FuzzParseMRZ(f *testing.F) {
	for _, s := range []string{specimenTD3, specimenTD1, specimenTD2, strings.ReplaceAll(specimenTD1, "\n", "\r\n"),
		mrztest.TD1(mrztest.Document{State: "PRT", Number: "123456789ZZ4", Optional: "X"}), "", "P<\n<<", strings.Repeat("<", 88)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := idcheck.ParseMRZ(s, now)
		if err != nil {
			var e *idcheck.Error
			if m != nil || !errors.As(err, &e) || e.Message == "" || e.Kind == nil {
				t.Fatalf("error %#v with result %v", err, m)
			}
			return
		}
		if m.DocumentNumber == "" || !m.ExpiryDate.Complete() || m.Surname == "" || m.BirthDate.Time().After(now) {
			t.Fatalf("accepted %q as %+v", s, m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back idcheck.MRZ
		if err := json.Unmarshal(b, &back); err != nil || back != *m {
			t.Fatalf("JSON round trip %s: %+v %v", b, back, err)
		}
		// Any other composite check digit is refused.
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		at := compositeAt[m.Format]
		line := []byte(lines[at[0]-1])
		line[at[1]-1] = '0' + (line[at[1]-1]-'0'+1)%10
		lines[at[0]-1] = string(line)
		if _, err := idcheck.ParseMRZ(strings.Join(lines, "\n"), now); !errors.Is(err, idcheck.ErrCheckDigit) {
			t.Fatalf("changed composite of %q: %v", s, err)
		}
	})
}

func FuzzCheck(f *testing.F) {
	sub, _ := ptCard()
	f.Add(sub.MRZ, "Silva", "Ana Maria", "id-card", "PT", "123456789ZZ4")
	f.Add(specimenTD3, "Eriksson", "Anna Maria", "passport", "UTO", "L898902C3")
	f.Add(mrztest.TD3(mrztest.Document{State: "D", Surname: "MUELLER"}), "Müller", "Änne-Marie O'Brien", "passport", "DE", "L898902C3")
	c, err := idcheck.DefaultCatalogue()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, mrz, surname, given, docType, country, number string) {
		sub := idcheck.Submission{DocumentType: docType, Country: country, DocumentNumber: number, ExpiryDate: expiry, MRZ: mrz}
		v, err := c.Check(sub, idcheck.Holder{Surname: surname, GivenNames: given}, now)
		var e *idcheck.Error
		switch {
		case err != nil && (v != nil || !errors.As(err, &e) || e.Message == ""):
			t.Fatalf("error %#v with verdict %v", err, v)
		case err == nil && (v.MRZ == nil || v.MRZ.DocumentNumber == "" || len(v.Pending) == 0):
			t.Fatalf("verdict %+v", v)
		}
	})
}

// Matching names is a search; a long name of letters with many
// transliterations must still be quick.
func TestNameMatchIsBounded(t *testing.T) {
	c := defaultCatalogue(t)
	sub, d := ptCard()
	d.Surname, d.GivenNames = strings.Repeat("U", 30), ""
	sub.MRZ = mrztest.TD1(d)
	start := time.Now()
	_, err := c.Check(sub, idcheck.Holder{Surname: strings.Repeat("Ü", 200), GivenNames: strings.Repeat("Ä", 200)}, now)
	if !errors.Is(err, idcheck.ErrNameMismatch) && err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}
