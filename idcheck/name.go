package idcheck

import (
	"strings"
	"unicode"
)

// maxNameRunes bounds the holder's surname and given names each.
const maxNameRunes = 200

// transliterations are ICAO 9303 Part 3 (section 6, Latin characters):
// what an MRZ may write for each letter with a diacritic. Where ICAO gives
// more than one (Ä as AE or A), any is accepted.
var transliterations = map[rune][]string{
	'À': {"A"}, 'Á': {"A"}, 'Â': {"A"}, 'Ã': {"A"}, 'Ä': {"AE", "A"}, 'Å': {"AA", "A"}, 'Æ': {"AE"},
	'Ç': {"C"}, 'È': {"E"}, 'É': {"E"}, 'Ê': {"E"}, 'Ë': {"E"}, 'Ì': {"I"}, 'Í': {"I"}, 'Î': {"I"}, 'Ï': {"I"},
	'Ð': {"D"}, 'Ñ': {"N", "NXX"}, 'Ò': {"O"}, 'Ó': {"O"}, 'Ô': {"O"}, 'Õ': {"O"}, 'Ö': {"OE", "O"}, 'Ø': {"OE"},
	'Ù': {"U"}, 'Ú': {"U"}, 'Û': {"U"}, 'Ü': {"UE", "UXX", "U"}, 'Ý': {"Y"}, 'Þ': {"TH"}, 'ß': {"SS"}, 'ẞ': {"SS"},
	'Ā': {"A"}, 'Ă': {"A"}, 'Ą': {"A"}, 'Ć': {"C"}, 'Ĉ': {"C"}, 'Ċ': {"C"}, 'Č': {"C"}, 'Ď': {"D"}, 'Đ': {"D"},
	'Ē': {"E"}, 'Ĕ': {"E"}, 'Ė': {"E"}, 'Ę': {"E"}, 'Ě': {"E"}, 'Ĝ': {"G"}, 'Ğ': {"G"}, 'Ġ': {"G"}, 'Ģ': {"G"},
	'Ĥ': {"H"}, 'Ħ': {"H"}, 'Ĩ': {"I"}, 'Ī': {"I"}, 'Ĭ': {"I"}, 'Į': {"I"}, 'İ': {"I"}, 'Ĳ': {"IJ"},
	'Ĵ': {"J"}, 'Ķ': {"K"}, 'Ĺ': {"L"}, 'Ļ': {"L"}, 'Ľ': {"L"}, 'Ŀ': {"L"}, 'Ł': {"L"}, 'Ń': {"N"}, 'Ņ': {"N"},
	'Ň': {"N"}, 'Ŋ': {"N"}, 'Ō': {"O"}, 'Ŏ': {"O"}, 'Ő': {"O"}, 'Œ': {"OE"}, 'Ŕ': {"R"}, 'Ŗ': {"R"}, 'Ř': {"R"},
	'Ś': {"S"}, 'Ŝ': {"S"}, 'Ş': {"S"}, 'Š': {"S"}, 'Ș': {"S"}, 'Ţ': {"T"}, 'Ť': {"T"}, 'Ŧ': {"T"}, 'Ț': {"T"},
	'Ũ': {"U"}, 'Ū': {"U"}, 'Ŭ': {"U"}, 'Ů': {"U"}, 'Ű': {"U"}, 'Ų': {"U"}, 'Ŵ': {"W"}, 'Ŷ': {"Y"}, 'Ÿ': {"Y"},
	'Ź': {"Z"}, 'Ż': {"Z"}, 'Ž': {"Z"},
}

// nameUnit is one character of the holder's name and what an MRZ may write
// for it.
type nameUnit struct {
	opts   []string
	letter bool
}

var (
	separator  = []string{"<"}
	apostrophe = []string{"", "<"} // ICAO omits it; some issuers write a filler
	omitted    = []string{""}
	split      = []string{"<<"}
)

// nameUnits spells the holder's name as MRZ units: surname, "<<", given
// names. It returns the first character no MRZ can write, if any.
func nameUnits(surname, given string) ([]nameUnit, rune, bool) {
	var units []nameUnit
	add := func(s string) (rune, bool) {
		pendingSep := false
		for _, r := range s {
			switch {
			case unicode.IsSpace(r) || r == '-' || r == ',' || r == '‐' || r == '–':
				pendingSep = len(units) > 0 && units[len(units)-1].letter
				continue
			case r == '\'' || r == '’' || r == 'ʼ' || r == '‘' || r == '`':
				units = append(units, nameUnit{opts: apostrophe})
				continue
			case r == '.':
				units = append(units, nameUnit{opts: omitted})
				continue
			}
			if pendingSep {
				units = append(units, nameUnit{opts: separator})
				pendingSep = false
			}
			u := unicode.ToUpper(r)
			switch opts, ok := transliterations[u]; {
			case u >= 'A' && u <= 'Z':
				units = append(units, nameUnit{opts: []string{string(u)}, letter: true})
			case ok:
				units = append(units, nameUnit{opts: opts, letter: true})
			default:
				return r, false
			}
		}
		return 0, true
	}
	if r, ok := add(surname); !ok {
		return nil, r, false
	}
	if strings.TrimSpace(given) != "" {
		units = append(units, nameUnit{opts: split})
		if r, ok := add(given); !ok {
			return nil, r, false
		}
	}
	return units, 0, true
}

// nameMatches reports whether the MRZ name text (surname, "<<", given
// names, single fillers between words) spells units. When truncated, the
// issuer may have cut the name to fit: any word may end early (an initial)
// and the name may stop anywhere.
func nameMatches(units []nameUnit, text string, truncated bool) bool {
	n := len(text) + 1
	memo := make([]int8, (len(units)+1)*n) // 0 unknown, 1 yes, 2 no
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if j == len(text) {
			return i == len(units) || truncated
		}
		if i == len(units) {
			return false
		}
		if v := memo[i*n+j]; v != 0 {
			return v == 1
		}
		ok := false
		for _, o := range units[i].opts {
			if strings.HasPrefix(text[j:], o) && match(i+1, j+len(o)) {
				ok = true
				break
			}
			if truncated && len(o) > len(text)-j && strings.HasPrefix(o, text[j:]) {
				ok = true // the MRZ ends inside this letter's transliteration
				break
			}
		}
		if !ok && truncated && units[i].letter && i > 0 && units[i-1].letter {
			// Cut the rest of this word: skip to the next non-letter.
			k := i
			for k < len(units) && units[k].letter {
				k++
			}
			ok = match(k, j)
		}
		memo[i*n+j] = 2
		if ok {
			memo[i*n+j] = 1
		}
		return ok
	}
	return match(0, 0)
}

// matchName refuses an MRZ whose name is not the holder's.
func matchName(h Holder, m *MRZ) error {
	if len([]rune(h.Surname)) > maxNameRunes || len([]rune(h.GivenNames)) > maxNameRunes {
		return refuse(ErrNameMismatch, "name", "the order holder's name is longer than %d characters; an officer must check it", maxNameRunes)
	}
	shown := m.Surname
	if m.GivenNames != "" {
		shown += ", " + m.GivenNames
	}
	units, bad, ok := nameUnits(h.Surname, h.GivenNames)
	if !ok {
		return refuse(ErrNameMismatch, "name", "the order holder's name has a character (%q) that an MRZ cannot show; an officer must check the name", bad)
	}
	text := strings.ReplaceAll(m.Surname, " ", "<")
	if m.GivenNames != "" {
		text += "<<" + strings.ReplaceAll(m.GivenNames, " ", "<")
	}
	if len(units) == 0 || !nameMatches(units, text, m.NameFieldFull) {
		return refuse(ErrNameMismatch, "name", "the name in the MRZ (%s) is not the order holder's (%s, %s): the certificate can only name the person the document names",
			shown, strings.TrimSpace(h.Surname), strings.TrimSpace(h.GivenNames))
	}
	return nil
}
