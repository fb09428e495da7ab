package idcheck

import (
	"fmt"
	"strings"
	"time"
)

// MaxMRZLength is the longest MRZ text ParseMRZ reads, in bytes, spaces and
// line breaks included. The longest MRZ (TD1) is 90 characters.
const MaxMRZLength = 512

// Format is an ICAO 9303 machine-readable document format.
type Format string

// The formats ParseMRZ reads.
const (
	TD1 Format = "TD1" // ID-1 cards: 3 lines of 30 characters (ICAO 9303 Part 5)
	TD2 Format = "TD2" // ID-2 cards: 2 lines of 36 characters (Part 6)
	TD3 Format = "TD3" // passports: 2 lines of 44 characters (Part 4)
)

// MRZ is what a machine-readable zone says, every check digit verified.
// Fillers ("<") are removed from codes and numbers and become single spaces
// inside names. It is stored as JSON with the identity check.
type MRZ struct {
	Format Format `json:"format"`
	// DocumentCode is the document code exactly as printed, filler included:
	// "P<" for most passports, "ID" or "I<" for ID cards.
	DocumentCode   string `json:"document_code"`
	IssuingState   string `json:"issuing_state"`   // ICAO code: "PRT", "D", "UTO"
	DocumentNumber string `json:"document_number"` // with a TD1/TD2 long number's overflow joined
	Surname        string `json:"surname"`         // primary identifier
	GivenNames     string `json:"given_names"`     // secondary identifier
	// NameFieldFull says the name filled its field (to the last character,
	// or to the one before with no given names), so the issuer may have
	// truncated it.
	NameFieldFull bool   `json:"name_field_full,omitempty"`
	Nationality   string `json:"nationality"`
	BirthDate     Date   `json:"birth_date"` // zero when the MRZ says it is unknown
	Sex           string `json:"sex"`        // "F", "M" or "X" (unspecified)
	ExpiryDate    Date   `json:"expiry_date"`
	// OptionalData is the TD3 personal number, or the TD1/TD2 optional data
	// after any document number overflow.
	OptionalData  string `json:"optional_data,omitempty"`
	OptionalData2 string `json:"optional_data_2,omitempty"` // TD1 line 2
}

// Date is a calendar date as an MRZ writes it; Month and Day are 0 when the
// MRZ says they are unknown (birth dates only). As text it is "2006-01-02",
// "2006-01" or "2006", and "" for the zero Date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports whether d is the zero Date (unknown).
func (d Date) IsZero() bool { return d == Date{} }

// String returns d as ISO 8601 text, as long as it is known.
func (d Date) String() string {
	switch {
	case d.IsZero():
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the forms String writes.
func (d *Date) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "" {
		*d = Date{}
		return nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if len(s) != len(layout) {
			continue
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			return fmt.Errorf("date %q: %w", s, err)
		}
		*d = Date{Year: t.Year()}
		if len(layout) >= 7 {
			d.Month = t.Month()
		}
		if len(layout) == 10 {
			d.Day = t.Day()
		}
		return nil
	}
	return fmt.Errorf("date %q: not YYYY-MM-DD, YYYY-MM or YYYY", s)
}

// Complete reports whether year, month and day are all known.
func (d Date) Complete() bool { return d.Year != 0 && d.Month != 0 && d.Day != 0 }

// Time returns midnight UTC of d; unknown parts count as 1.
func (d Date) Time() time.Time {
	m, day := d.Month, d.Day
	if m == 0 {
		m = 1
	}
	if day == 0 {
		day = 1
	}
	return time.Date(d.Year, m, day, 0, 0, 0, 0, time.UTC)
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Before reports whether d comes before e; both must be complete.
func (d Date) Before(e Date) bool { return d.Time().Before(e.Time()) }

// CheckDigit returns the ICAO 9303 Part 3 check digit of s ('0' to '9'):
// digits count as themselves, A to Z as 10 to 35 and fillers as 0, weighted
// 7, 3, 1 in turn, modulo 10. Other characters count as 0.
func CheckDigit(s string) byte {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		v := 0
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10)
}

// ParseMRZ reads a machine-readable zone: 3 lines of 30 characters (TD1),
// 2 of 36 (TD2) or 2 of 44 (TD3), separated by line breaks (LF or CRLF),
// with spaces around lines tolerated. It verifies every check digit.
// now decides the century of the birth date (the latest one not after
// now); expiry dates are in 20xx. Any refusal is an *Error naming the line
// and field.
func ParseMRZ(text string, now time.Time) (*MRZ, error) {
	lines, err := splitLines(text)
	if err != nil {
		return nil, err
	}
	p := &mrzParser{lines: lines, now: now}
	switch len(lines[0]) {
	case 30:
		return p.td1()
	case 36:
		return p.td2()
	}
	return p.td3()
}

// splitLines returns the MRZ's lines, checked for count, length and
// alphabet.
func splitLines(text string) ([]string, error) {
	if len(text) > MaxMRZLength {
		return nil, refuse(ErrMalformed, "mrz", "the MRZ is %d characters long; an MRZ is at most 90 characters (3 lines of 30)", len(text))
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, refuse(ErrMissing, "mrz", "the MRZ is empty: copy the machine-readable zone of the document (the lines with <<< at the bottom)")
	}
	lines := strings.Split(text, "\n")
	lengths := make([]string, len(lines))
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
		lengths[i] = fmt.Sprint(len(lines[i]))
	}
	want, format := 0, Format("")
	switch {
	case len(lines) == 3:
		want, format = 30, TD1
	case len(lines) == 2 && len(lines[0]) == 36:
		want, format = 36, TD2
	case len(lines) == 2:
		want, format = 44, TD3
	default:
		return nil, refuse(ErrMalformed, "mrz", "the MRZ has %d lines (of %s characters): an MRZ has 3 lines of 30 characters (ID card, TD1), 2 lines of 36 (TD2) or 2 lines of 44 (passport, TD3), each on its own line",
			len(lines), strings.Join(lengths, ", "))
	}
	for i, l := range lines {
		if len(l) != want {
			return nil, refuse(ErrMalformed, fmt.Sprintf("line %d", i+1), "line %d of the MRZ has %d characters; each line of a %s MRZ (%d lines) has %d", i+1, len(l), format, len(lines), want)
		}
	}
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			if c := l[j]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '<') {
				return nil, refuse(ErrMalformed, fmt.Sprintf("line %d", i+1), "line %d, position %d of the MRZ: %q is not an MRZ character (A to Z, 0 to 9 and <)", i+1, j+1, rune(c))
			}
		}
	}
	return lines, nil
}

type mrzParser struct {
	lines []string
	now   time.Time
}

// field is a stretch of one line: 1-based line, 1-based first position,
// and its name for messages.
type field struct {
	line, pos int
	name      string
}

func (f field) where() string { return fmt.Sprintf("line %d, position %d", f.line, f.pos) }

func (p *mrzParser) get(f field, n int) string {
	return p.lines[f.line-1][f.pos-1 : f.pos-1+n]
}

// verify checks the check digit at position cd of data, the value of field f.
// fillerOK allows a filler check digit when data is all fillers (optional data).
func verify(f field, data string, cdLine, cdPos int, cd byte, fillerOK bool) error {
	if cd == '<' && fillerOK && strings.Trim(data, "<") == "" {
		return nil
	}
	if cd < '0' || cd > '9' {
		return refuse(ErrMalformed, f.name, "the check digit of the %s (line %d, position %d) is %q, not a digit", f.name, cdLine, cdPos, rune(cd))
	}
	if CheckDigit(data) != cd {
		return refuse(ErrCheckDigit, f.name, "the check digit of the %s (line %d, position %d) is wrong: copy the MRZ exactly as printed on the document", f.name, cdLine, cdPos)
	}
	return nil
}

func (p *mrzParser) code(m *MRZ) error {
	c := p.lines[0][:2]
	if c[0] < 'A' || c[0] > 'Z' || c[1] >= '0' && c[1] <= '9' {
		return refuse(ErrMalformed, "document code", "the document code (line 1, position 1) %q is not a letter followed by a letter or <", c)
	}
	m.DocumentCode = c
	state, err := stateCode(field{1, 3, "issuing state"}, p.lines[0][2:5])
	m.IssuingState = state
	return err
}

// stateCode reads a 3-character ICAO code: letters, then fillers.
func stateCode(f field, s string) (string, error) {
	code := strings.TrimRight(s, "<")
	if code == "" || strings.ContainsAny(code, "<0123456789") {
		return "", refuse(ErrMalformed, f.name, "the %s (%s) %q is not an ICAO country code", f.name, f.where(), s)
	}
	return code, nil
}

// number reads a document number of up to 9 characters with trailing fillers.
func number(f field, s string) (string, error) {
	n := strings.TrimRight(s, "<")
	if n == "" {
		return "", refuse(ErrMalformed, f.name, "the document number (%s) is empty", f.where())
	}
	if strings.Contains(n, "<") {
		return "", refuse(ErrMalformed, f.name, "the document number (%s) %q has a filler (<) inside it", f.where(), s)
	}
	return n, nil
}

// longNumber reads a TD1/TD2 document number whose check digit position
// may hold a filler: then the number goes on in the optional data, followed
// by its check digit and a filler (ICAO 9303 Part 5, 4.2.4). It returns the
// number and the optional data left after it.
func longNumber(numField field, num string, cd byte, cdLine, cdPos int, opt string, optPos int) (string, string, error) {
	if cd != '<' {
		n, err := number(numField, num)
		if err != nil {
			return "", "", err
		}
		return n, strings.TrimRight(opt, "<"), verify(numField, num, cdLine, cdPos, cd, false)
	}
	if strings.Contains(num, "<") {
		return "", "", refuse(ErrMalformed, numField.name, "the document number (%s) %q is short but has no check digit at line %d, position %d", numField.where(), num, cdLine, cdPos)
	}
	end := strings.IndexByte(opt, '<')
	if end < 0 {
		end = len(opt)
	}
	if end < 2 {
		return "", "", refuse(ErrMalformed, numField.name, "the document number continues in the optional data (line %d, position %d) but no more of it and its check digit are there", cdLine, optPos)
	}
	full := num + opt[:end-1]
	if err := verify(numField, full, cdLine, optPos+end-1, opt[end-1], false); err != nil {
		return "", "", err
	}
	rest := ""
	if end < len(opt) {
		rest = strings.Trim(opt[end:], "<")
	}
	return full, rest, nil
}

// date reads a YYMMDD date. For a birth date, fillers mark unknown parts
// and the century is the latest that is not after now; expiry dates must be
// complete and are in 20xx.
func (p *mrzParser) date(f field, s string, birth bool) (Date, error) {
	bad := func(why string) (Date, error) {
		return Date{}, refuse(ErrMalformed, f.name, "the %s (%s) %q %s", f.name, f.where(), s, why)
	}
	digits := func(t string) (int, bool) {
		if t[0] < '0' || t[0] > '9' || t[1] < '0' || t[1] > '9' {
			return 0, false
		}
		return int(t[0]-'0')*10 + int(t[1]-'0'), true
	}
	if birth && s == "<<<<<<" {
		return Date{}, nil
	}
	yy, ok := digits(s[0:2])
	if !ok {
		return bad("is not a date (YYMMDD)")
	}
	var d Date
	switch {
	case birth && s[2:6] == "<<<<":
		d = Date{Year: 2000 + yy}
	default:
		mm, ok := digits(s[2:4])
		if !ok {
			return bad("is not a date (YYMMDD)")
		}
		if mm < 1 || mm > 12 {
			return bad(fmt.Sprintf("has no month %02d", mm))
		}
		d = Date{Year: 2000 + yy, Month: time.Month(mm)}
		if birth && s[4:6] == "<<" {
			break
		}
		dd, ok := digits(s[4:6])
		if !ok {
			return bad("is not a date (YYMMDD)")
		}
		if d.Day = dd; dd < 1 || d.Time().Day() != dd {
			return bad("is not a day of the calendar")
		}
	}
	if birth && d.Time().After(p.now) {
		d.Year -= 100
	}
	return d, nil
}

func sex(f field, c byte) (string, error) {
	switch c {
	case 'F', 'M':
		return string(c), nil
	case 'X', '<':
		return "X", nil
	}
	return "", refuse(ErrMalformed, f.name, "the sex (%s) %q is not F, M, X or <", f.where(), rune(c))
}

// name reads a name field: primary identifier, "<<", secondary identifier,
// fillers between components and at the end.
func name(f field, s string, m *MRZ) error {
	trimmed := strings.TrimRight(s, "<")
	if trimmed == "" || trimmed[0] == '<' {
		return refuse(ErrMalformed, f.name, "the name (%s) must start with the surname", f.where())
	}
	if strings.ContainsAny(trimmed, "0123456789") {
		return refuse(ErrMalformed, f.name, "the name (%s) %q has digits in it", f.where(), trimmed)
	}
	primary, secondary, _ := strings.Cut(trimmed, "<<")
	words := func(s string) string {
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '<' }), " ")
	}
	m.Surname, m.GivenNames = words(primary), words(secondary)
	// A name that fills its field may have been cut to fit; so may one that
	// stops one filler short with no given names, cut at a word's end.
	m.NameFieldFull = len(trimmed) == len(s) || len(trimmed) == len(s)-1 && secondary == "" && !strings.Contains(trimmed, "<<")
	return nil
}

func (p *mrzParser) td1() (*MRZ, error) {
	l1, l2, l3 := p.lines[0], p.lines[1], p.lines[2]
	m := &MRZ{Format: TD1}
	if err := p.code(m); err != nil {
		return nil, err
	}
	num, opt, err := longNumber(field{1, 6, "document number"}, l1[5:14], l1[14], 1, 15, l1[15:30], 16)
	if err != nil {
		return nil, err
	}
	m.DocumentNumber, m.OptionalData = num, opt
	if err := p.datesAndSex(m, 2, 1); err != nil {
		return nil, err
	}
	if m.Nationality, err = stateCode(field{2, 16, "nationality"}, l2[15:18]); err != nil {
		return nil, err
	}
	m.OptionalData2 = strings.Trim(l2[18:29], "<")
	composite := l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
	if err := verify(field{2, 30, "whole MRZ (composite)"}, composite, 2, 30, l2[29], false); err != nil {
		return nil, err
	}
	if err := name(field{3, 1, "name"}, l3, m); err != nil {
		return nil, err
	}
	return m, nil
}

// datesAndSex reads birth date, sex and expiry date, starting at position
// start of line (1-based), laid out as in every format.
func (p *mrzParser) datesAndSex(m *MRZ, line, start int) error {
	l := p.lines[line-1]
	at := func(pos int) byte { return l[start-1+pos] }
	var err error
	bf := field{line, start, "birth date"}
	birth := p.get(bf, 6)
	if m.BirthDate, err = p.date(bf, birth, true); err != nil {
		return err
	}
	if err := verify(bf, birth, line, start+6, at(6), false); err != nil {
		return err
	}
	if m.Sex, err = sex(field{line, start + 7, "sex"}, at(7)); err != nil {
		return err
	}
	ef := field{line, start + 8, "expiry date"}
	expiry := p.get(ef, 6)
	if m.ExpiryDate, err = p.date(ef, expiry, false); err != nil {
		return err
	}
	return verify(ef, expiry, line, start+14, at(14), false)
}

// lineOne reads line 1 of TD2 and TD3: document code, issuing state, name.
func (p *mrzParser) lineOne(m *MRZ) error {
	if err := p.code(m); err != nil {
		return err
	}
	return name(field{1, 6, "name"}, p.lines[0][5:], m)
}

// lineTwo reads nationality, birth date, sex and expiry date from line 2 of
// TD2 and TD3, laid out alike in both.
func (p *mrzParser) lineTwo(m *MRZ) error {
	var err error
	if m.Nationality, err = stateCode(field{2, 11, "nationality"}, p.lines[1][10:13]); err != nil {
		return err
	}
	return p.datesAndSex(m, 2, 14)
}

func (p *mrzParser) td2() (*MRZ, error) {
	l2 := p.lines[1]
	m := &MRZ{Format: TD2}
	if err := p.lineOne(m); err != nil {
		return nil, err
	}
	num, opt, err := longNumber(field{2, 1, "document number"}, l2[0:9], l2[9], 2, 10, l2[28:35], 29)
	if err != nil {
		return nil, err
	}
	m.DocumentNumber, m.OptionalData = num, opt
	if err := p.lineTwo(m); err != nil {
		return nil, err
	}
	composite := l2[0:10] + l2[13:20] + l2[21:35]
	if err := verify(field{2, 36, "whole MRZ (composite)"}, composite, 2, 36, l2[35], false); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *mrzParser) td3() (*MRZ, error) {
	l2 := p.lines[1]
	m := &MRZ{Format: TD3}
	if err := p.lineOne(m); err != nil {
		return nil, err
	}
	nf := field{2, 1, "document number"}
	num, err := number(nf, l2[0:9])
	if err != nil {
		return nil, err
	}
	if err := verify(nf, l2[0:9], 2, 10, l2[9], false); err != nil {
		return nil, err
	}
	m.DocumentNumber = num
	if err := p.lineTwo(m); err != nil {
		return nil, err
	}
	pf := field{2, 29, "personal number"}
	if err := verify(pf, l2[28:42], 2, 43, l2[42], true); err != nil {
		return nil, err
	}
	m.OptionalData = strings.Trim(l2[28:42], "<")
	composite := l2[0:10] + l2[13:20] + l2[21:43]
	if err := verify(field{2, 44, "whole MRZ (composite)"}, composite, 2, 44, l2[43], false); err != nil {
		return nil, err
	}
	return m, nil
}
