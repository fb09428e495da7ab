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

// The specimens of ICAO 9303 (8th edition): Part 4 (TD3), Part 5 (TD1),
// Part 6 (TD2). Their check digits are real.
const (
	specimenTD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n" +
		"L898902C36UTO7408122F1204159ZE184226B<<<<<10"
	specimenTD1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n" +
		"7408122F1204159UTO<<<<<<<<<<<6\n" +
		"ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
	specimenTD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n" +
		"D231458907UTO7408122F1204159<<<<<<<6"
)

var specimenTime = time.Date(2010, 6, 1, 12, 0, 0, 0, time.UTC)

func TestCheckDigit(t *testing.T) {
	for in, want := range map[string]byte{
		"L898902C3": '6', "740812": '2', "120415": '9', "ZE184226B<<<<<": '1', "D23145890": '7',
		"L898902C3674081221204159ZE184226B<<<<<1": '0', // the TD3 specimen's composite
		"AB<1": idcheck.CheckDigit("AB 1"), // other characters count 0, like fillers
		"":     '0', "<<<<<<": '0',
	} {
		if got := idcheck.CheckDigit(in); got != want {
			t.Errorf("CheckDigit(%q) = %c, want %c", in, got, want)
		}
	}
}

func TestParseSpecimens(t *testing.T) {
	anna := idcheck.MRZ{IssuingState: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", Nationality: "UTO",
		BirthDate: idcheck.Date{Year: 1974, Month: 8, Day: 12}, Sex: "F", ExpiryDate: idcheck.Date{Year: 2012, Month: 4, Day: 15}}
	td3, td1, td2 := anna, anna, anna
	td3.Format, td3.DocumentCode, td3.DocumentNumber, td3.OptionalData = idcheck.TD3, "P<", "L898902C3", "ZE184226B"
	td1.Format, td1.DocumentCode, td1.DocumentNumber = idcheck.TD1, "I<", "D23145890"
	td2.Format, td2.DocumentCode, td2.DocumentNumber = idcheck.TD2, "I<", "D23145890"
	for name, tc := range map[string]struct {
		in   string
		want idcheck.MRZ
	}{
		"TD3":                  {specimenTD3, td3},
		"TD1":                  {specimenTD1, td1},
		"TD2":                  {specimenTD2, td2},
		"CRLF":                 {strings.ReplaceAll(specimenTD1, "\n", "\r\n"), td1},
		"spaces and blank end": {"\n  " + strings.ReplaceAll(specimenTD3, "\n", "  \r\n\t ") + " \r\n\n", td3},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := idcheck.ParseMRZ(tc.in, specimenTime)
			if err != nil {
				t.Fatal(err)
			}
			if *m != tc.want {
				t.Fatalf("got  %+v\nwant %+v", *m, tc.want)
			}
			// It is stored as JSON: it must come back the same.
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back idcheck.MRZ
			if err := json.Unmarshal(b, &back); err != nil || back != *m {
				t.Fatalf("JSON round trip: %s → %+v, %v", b, back, err)
			}
			if !strings.Contains(string(b), `"birth_date":"1974-08-12"`) {
				t.Fatalf("JSON %s", b)
			}
		})
	}
}

// setChar returns mrz with the character at line, pos (1-based) replaced.
func setChar(mrz string, line, pos int, c byte) string {
	lines := strings.Split(mrz, "\n")
	b := []byte(lines[line-1])
	b[pos-1] = c
	lines[line-1] = string(b)
	return strings.Join(lines, "\n")
}

// bump returns the digit after d, so a check digit is surely wrong.
func bump(mrz string, line, pos int) string {
	d := strings.Split(mrz, "\n")[line-1][pos-1]
	return setChar(mrz, line, pos, '0'+(d-'0'+1)%10)
}

func TestEveryCheckDigit(t *testing.T) {
	longTD1 := mrztest.TD1(mrztest.Document{Code: "I<", State: "PRT", Number: "123456789ZZ4", Expiry: specimenTime.AddDate(3, 0, 0)})
	if !strings.HasPrefix(longTD1, "I<PRT123456789<ZZ4") {
		t.Fatalf("long number layout: %s", longTD1)
	}
	for _, tc := range []struct {
		name      string
		mrz       string
		line, pos int
		field     string
	}{
		{"TD3 number", specimenTD3, 2, 10, "document number"},
		{"TD3 birth", specimenTD3, 2, 20, "birth date"},
		{"TD3 expiry", specimenTD3, 2, 28, "expiry date"},
		{"TD3 personal number", specimenTD3, 2, 43, "personal number"},
		{"TD3 composite", specimenTD3, 2, 44, "whole MRZ (composite)"},
		{"TD1 number", specimenTD1, 1, 15, "document number"},
		{"TD1 birth", specimenTD1, 2, 7, "birth date"},
		{"TD1 expiry", specimenTD1, 2, 15, "expiry date"},
		{"TD1 composite", specimenTD1, 2, 30, "whole MRZ (composite)"},
		{"TD1 long number", longTD1, 1, 19, "document number"},
		{"TD2 number", specimenTD2, 2, 10, "document number"},
		{"TD2 birth", specimenTD2, 2, 20, "birth date"},
		{"TD2 expiry", specimenTD2, 2, 28, "expiry date"},
		{"TD2 composite", specimenTD2, 2, 36, "whole MRZ (composite)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := idcheck.ParseMRZ(tc.mrz, specimenTime); err != nil {
				t.Fatalf("unchanged: %v", err)
			}
			_, err := idcheck.ParseMRZ(bump(tc.mrz, tc.line, tc.pos), specimenTime)
			var e *idcheck.Error
			if !errors.As(err, &e) || !errors.Is(err, idcheck.ErrCheckDigit) || e.Field != tc.field {
				t.Fatalf("got %v (%#v), want a wrong check digit of %s", err, e, tc.field)
			}
			if !strings.Contains(e.Message, tc.field) {
				t.Fatalf("message %q does not name %s", e.Message, tc.field)
			}
		})
	}
	// A field changed under its check digit is caught too.
	if _, err := idcheck.ParseMRZ(setChar(specimenTD3, 2, 2, '9'), specimenTime); !errors.Is(err, idcheck.ErrCheckDigit) {
		t.Fatalf("changed number: %v", err)
	}
	// The TD3 personal number check digit may be a filler when there is none.
	none := mrztest.TD3(mrztest.Document{Expiry: specimenTime.AddDate(1, 0, 0)})
	if m, err := idcheck.ParseMRZ(none, specimenTime); err != nil || m.OptionalData != "" || none[len(none)-2] != '<' {
		t.Fatalf("no personal number: %v %+v", err, m)
	}
}

func TestLongDocumentNumber(t *testing.T) {
	for _, opt := range []string{"", "ABC"} {
		mrz := mrztest.TD1(mrztest.Document{State: "PRT", Number: "000000000ZZ0", Optional: opt, Expiry: specimenTime.AddDate(3, 0, 0)})
		m, err := idcheck.ParseMRZ(mrz, specimenTime)
		if err != nil || m.DocumentNumber != "000000000ZZ0" || m.OptionalData != opt {
			t.Fatalf("%s: %+v %v", mrz, m, err)
		}
	}
	// A filler check digit with nothing after it in the optional data.
	bad := setChar(specimenTD1, 1, 15, '<')
	if _, err := idcheck.ParseMRZ(bad, specimenTime); !errors.Is(err, idcheck.ErrMalformed) {
		t.Fatalf("empty overflow: %v", err)
	}
}

func TestBirthCentury(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for birth, want := range map[time.Time]int{
		time.Date(1974, 8, 12, 0, 0, 0, 0, time.UTC): 1974,
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC):  2020,
		time.Date(1926, 3, 2, 0, 0, 0, 0, time.UTC):  1926, // 2026-03-02 is after now
		time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC): 2026,
		time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC):  1930,
	} {
		m, err := idcheck.ParseMRZ(mrztest.TD3(mrztest.Document{Birth: birth, Expiry: now.AddDate(1, 0, 0)}), now)
		if err != nil || m.BirthDate.Year != want {
			t.Errorf("born %s: %+v %v, want %d", birth.Format("2006-01-02"), m, err, want)
		}
		if m != nil && m.ExpiryDate.Year != 2027 {
			t.Errorf("expiry %v", m.ExpiryDate)
		}
	}
}

func TestUnknownBirthDate(t *testing.T) {
	for field, want := range map[string]string{"<<<<<<0": "", "74<<<<1": "1974", "7408<<7": "1974-08"} {
		mrz := specimenTD1[:31] + field + specimenTD1[38:]
		// Recompute the composite for the changed birth date.
		lines := strings.Split(mrz, "\n")
		composite := lines[0][5:30] + lines[1][0:7] + lines[1][8:15] + lines[1][18:29]
		mrz = setChar(mrz, 2, 30, idcheck.CheckDigit(composite))
		m, err := idcheck.ParseMRZ(mrz, specimenTime)
		if err != nil || m.BirthDate.String() != want {
			t.Errorf("birth %s: %+v %v, want %q", field, m, err, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		in       string
		kind     error
		contains string
	}{
		"empty":             {"  \n ", idcheck.ErrMissing, "empty"},
		"one line":          {strings.ReplaceAll(specimenTD3, "\n", ""), idcheck.ErrMalformed, "1 lines (of 88"},
		"four lines":        {specimenTD1 + "\n" + strings.Repeat("<", 30), idcheck.ErrMalformed, "4 lines"},
		"blank line":        {strings.Replace(specimenTD1, "\n", "\n\n", 1), idcheck.ErrMalformed, "4 lines"},
		"short line":        {specimenTD3[:len(specimenTD3)-1], idcheck.ErrMalformed, "line 2 of the MRZ has 43 characters"},
		"TD1 short line 3":  {specimenTD1[:len(specimenTD1)-2], idcheck.ErrMalformed, "line 3 of the MRZ has 28"},
		"lower case":        {setChar(specimenTD3, 1, 7, 'r'), idcheck.ErrMalformed, "line 1, position 7"},
		"bad byte":          {setChar(specimenTD1, 3, 30, 0xff), idcheck.ErrMalformed, "line 3, position 30"},
		"lone CR":           {strings.ReplaceAll(specimenTD3, "\n", "\r"), idcheck.ErrMalformed, "1 lines"},
		"code digit":        {setChar(specimenTD3, 1, 1, '1'), idcheck.ErrMalformed, "document code"},
		"code second digit": {setChar(specimenTD3, 1, 2, '2'), idcheck.ErrMalformed, "document code"},
		"state digit":       {setChar(specimenTD3, 1, 4, '1'), idcheck.ErrMalformed, "issuing state"},
		"state fillers":     {setChar(setChar(setChar(specimenTD3, 1, 3, '<'), 1, 4, '<'), 1, 5, '<'), idcheck.ErrMalformed, "issuing state"},
		"nationality":       {setChar(specimenTD3, 2, 12, '7'), idcheck.ErrMalformed, "nationality"},
		"name filler":       {setChar(specimenTD3, 1, 6, '<'), idcheck.ErrMalformed, "must start with the surname"},
		"name digit":        {setChar(specimenTD3, 1, 8, '5'), idcheck.ErrMalformed, "digits"},
		"sex":               {setChar(specimenTD3, 2, 21, 'Q'), idcheck.ErrMalformed, "sex"},
		"month 13":          {setChar(setChar(specimenTD3, 2, 16, '1'), 2, 17, '3'), idcheck.ErrMalformed, "month 13"},
		"30 February":       {strings.Replace(specimenTD3, "7408122", "7402302", 1), idcheck.ErrMalformed, "not a day"},
		"expiry unknown":    {strings.Replace(specimenTD3, "1204159", "<<<<<<0", 1), idcheck.ErrMalformed, "expiry date"},
		"check not digit":   {setChar(specimenTD3, 2, 20, 'A'), idcheck.ErrMalformed, "not a digit"},
		"number filler":     {setChar(specimenTD3, 2, 3, '<'), idcheck.ErrMalformed, "filler"},
		"number empty":      {strings.Replace(specimenTD3, "L898902C36", "<<<<<<<<<0", 1), idcheck.ErrMalformed, "empty"},
		"too long":          {specimenTD3 + strings.Repeat(" ", idcheck.MaxMRZLength), idcheck.ErrMalformed, "at most 90"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := idcheck.ParseMRZ(tc.in, specimenTime)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("got %v, want %v containing %q", err, tc.kind, tc.contains)
			}
		})
	}
	// At the limit, spaces are fine.
	padded := specimenTD3 + strings.Repeat(" ", idcheck.MaxMRZLength-len(specimenTD3))
	if _, err := idcheck.ParseMRZ(padded, specimenTime); err != nil {
		t.Fatalf("%d bytes: %v", len(padded), err)
	}
}

func TestDateText(t *testing.T) {
	for _, s := range []string{"", "1974", "1974-08", "1974-08-12"} {
		var d idcheck.Date
		if err := d.UnmarshalText([]byte(s)); err != nil || d.String() != s {
			t.Errorf("%q: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"1974-13", "74-08-12", "1974-02-30", "x"} {
		var d idcheck.Date
		if err := d.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%q parsed as %v", s, d)
		}
	}
}
