package idcheck

import (
	_ "embed"
	"strings"
	"sync"
)

// countriesTSV maps ISO 3166-1 alpha-2 codes to the codes ICAO 9303 writes
// in an MRZ (see its header).
//
//go:embed countries.tsv
var countriesTSV string

// SpecimenState is ICAO's code for Utopia, the made-up state of the
// specimen documents in ICAO 9303.
const SpecimenState = "UTO"

// icaoNonStates are ICAO 9303 Part 3 codes that name no state: British
// nationality classes, UN bodies, other international organisations, and
// stateless persons and refugees. They are valid in an MRZ; the catalogue
// accepts documents they issue only when it names them.
var icaoNonStates = []string{
	"GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "XBA", "XIM", "XCC", "XCE", "XCO", "XEC", "XPO",
	"XES", "XMP", "XOM", "XDC", "XXA", "XXB", "XXC", "XXX", "EUE",
}

type countryTable struct {
	byAlpha2  map[string]string // "PT" → "PRT", "DE" → "D"
	states    map[string]bool   // ICAO codes of states
	nonStates map[string]bool
}

var countries = sync.OnceValue(func() *countryTable {
	t := &countryTable{byAlpha2: map[string]string{}, states: map[string]bool{}, nonStates: map[string]bool{}}
	for _, line := range strings.Split(countriesTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		t.byAlpha2[f[0]] = f[1]
		t.states[f[1]] = true
	}
	for _, c := range icaoNonStates {
		t.nonStates[c] = true
	}
	return t
})

// ICAOCode returns the code an MRZ uses for a country given as an ISO 3166
// alpha-2 code ("PT", "DE") or as an ICAO code ("PRT", "D", "UNO"),
// in any case, and whether the code is known.
func ICAOCode(country string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(country))
	t := countries()
	if len(c) == 2 {
		code, ok := t.byAlpha2[c]
		if ok {
			return code, true
		}
	}
	if c == "DEU" { // ISO's code for Germany; ICAO writes D
		return "D", true
	}
	if t.states[c] || t.nonStates[c] {
		return c, true
	}
	return c, false
}

// IsState reports whether code is the ICAO code of a state (not an
// organisation, a nationality class or the specimen state).
func IsState(code string) bool { return countries().states[code] }
