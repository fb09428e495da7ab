// Package mrztest builds machine-readable zones with correct check digits,
// for tests: a TD1 ID card or a TD3 passport for any name, number and
// dates.
package mrztest

import (
	"strings"
	"time"

	"github.com/selo-qtsp/selo/idcheck"
)

// Document is what to write in an MRZ. Empty fields get the defaults of
// ICAO's specimen (Anna Maria Eriksson of Utopia), so a test sets only what
// it cares about. Names are written as given, upper-cased, with spaces and
// hyphens as fillers: transliterate them first.
type Document struct {
	Code        string // "P<", "ID", "I<"; default "P<" for TD3, "I<" for TD1
	State       string // issuing state, ICAO code
	Number      string
	Nationality string // default State
	Surname     string
	GivenNames  string
	Sex         string // "F", "M" or "<"
	Birth       time.Time
	Expiry      time.Time
	Optional    string // TD3 personal number, TD1 line 1 optional data
	Optional2   string // TD1 line 2 optional data
}

func (d Document) withDefaults(code string) Document {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&d.Code, code)
	def(&d.State, "UTO")
	def(&d.Nationality, d.State)
	def(&d.Number, "L898902C3")
	def(&d.Surname, "ERIKSSON")
	def(&d.GivenNames, "ANNA MARIA")
	def(&d.Sex, "F")
	if d.Birth.IsZero() {
		d.Birth = time.Date(1974, 8, 12, 0, 0, 0, 0, time.UTC)
	}
	if d.Expiry.IsZero() {
		d.Expiry = time.Now().AddDate(5, 0, 0)
	}
	return d
}

// pad fills s with fillers, or cuts it, to n characters.
func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat("<", n-len(s))
}

func yymmdd(t time.Time) string { return t.Format("060102") }

func cd(s string) string { return string(idcheck.CheckDigit(s)) }

// Name returns the MRZ name field of d, n characters long.
func Name(surname, given string, n int) string {
	f := func(s string) string {
		return strings.Join(strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r == ' ' || r == '-' }), "<")
	}
	s := f(surname)
	if given != "" {
		s += "<<" + f(given)
	}
	return pad(s, n)
}

// TD3 returns a passport MRZ (2 lines of 44, joined by "\n").
func TD3(d Document) string {
	d = d.withDefaults("P<")
	num := pad(d.Number, 9)
	personal := pad(d.Optional, 14)
	personalCD := cd(personal)
	if d.Optional == "" {
		personalCD = "<"
	}
	l1 := pad(d.Code, 2) + pad(d.State, 3) + Name(d.Surname, d.GivenNames, 39)
	l2 := num + cd(num) + pad(d.Nationality, 3) + yymmdd(d.Birth) + cd(yymmdd(d.Birth)) + d.Sex +
		yymmdd(d.Expiry) + cd(yymmdd(d.Expiry)) + personal + personalCD
	l2 += cd(l2[0:10] + l2[13:20] + l2[21:43])
	return l1 + "\n" + l2
}

// TD1 returns an ID card MRZ (3 lines of 30, joined by "\n"). A number
// longer than 9 characters goes on in the optional data, as ICAO 9303
// Part 5 says.
func TD1(d Document) string {
	d = d.withDefaults("I<")
	var numField string
	if len(d.Number) > 9 {
		numField = d.Number[:9] + "<" + d.Number[9:] + cd(d.Number) + "<" + d.Optional
	} else {
		numField = pad(d.Number, 9) + cd(pad(d.Number, 9)) + d.Optional
	}
	l1 := pad(d.Code, 2) + pad(d.State, 3) + pad(numField, 25)
	l2 := yymmdd(d.Birth) + cd(yymmdd(d.Birth)) + d.Sex + yymmdd(d.Expiry) + cd(yymmdd(d.Expiry)) +
		pad(d.Nationality, 3) + pad(d.Optional2, 11)
	l2 += cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
	return l1 + "\n" + l2 + "\n" + Name(d.Surname, d.GivenNames, 30)
}
