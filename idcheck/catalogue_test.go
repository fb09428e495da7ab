package idcheck_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/idcheck"
)

func TestDefaultCatalogue(t *testing.T) {
	c, err := idcheck.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.OfficerChecks(); !slices.Equal(got, []string{"photo", "liveness video"}) {
		t.Fatalf("officer checks %v", got)
	}
	idCards := map[string][]string{}
	passports := false
	for _, d := range c.Documents() {
		switch d.Type {
		case "id-card":
			for _, cc := range d.Countries {
				idCards[cc] = d.Codes
			}
		case "passport":
			passports = slices.Equal(d.Countries, []string{idcheck.AnyState}) && slices.Contains(d.Codes, "P<")
		}
	}
	for _, cc := range []string{"PRT", "ESP", "FRA", "POL"} {
		if !slices.Contains(idCards[cc], "ID") && !slices.Contains(idCards[cc], "I<") {
			t.Errorf("no ID card of %s: %v", cc, idCards)
		}
	}
	if !passports {
		t.Error("passports of any state are not accepted")
	}
	for _, code := range []string{"IR", "AR"} {
		if !c.IsResidencePermit(code) {
			t.Errorf("%s is not a residence permit", code)
		}
	}
	// The shipped file, loaded from disk as an operator's copy, is the same.
	path := filepath.Join(t.TempDir(), "catalogue.yaml")
	if err := os.WriteFile(path, idcheck.DefaultCatalogueYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := idcheck.LoadCatalogue(path)
	if err != nil || len(loaded.Documents()) != len(c.Documents()) {
		t.Fatalf("load the shipped copy: %v", err)
	}
}

const minimal = `version: 1
officer_checks: [photo]
residence_permit_codes: [IR]
documents:
  - type: id-card
    countries: [PT]
    formats: [TD1]
    codes: [ID]
`

func TestParseCatalogueRefuses(t *testing.T) {
	if _, err := idcheck.ParseCatalogue([]byte(minimal)); err != nil {
		t.Fatalf("minimal: %v", err)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"unknown key":         {"officer_checks:", "officer_check:", "not found"},
		"unknown nested key":  {"    codes: [ID]", "    codes: [ID]\n    code: [I<]", "not found"},
		"unknown country":     {"[PT]", "[XY]", `"XY" is not an ISO 3166`},
		"specimen country":    {"[PT]", "[UTO]", `"UTO" is not`},
		"lower-case code":     {"[ID]", "[id]", "not an MRZ document code"},
		"long code":           {"[ID]", "[IDX]", "not an MRZ document code"},
		"bad format":          {"[TD1]", "[TD4]", "not TD1, TD2 or TD3"},
		"no countries":        {"[PT]", "[]", "required"},
		"star with others":    {"[PT]", `["*", PT]`, "stands alone"},
		"except without star": {"[PT]", "[PT]\n    except: [ES]", "except goes only"},
		"residence overlap":   {"[IR]", "[ID]", "residence permit code"},
		"residence type":      {"type: id-card", "type: residence-permit", "never accepted"},
		"bad type":            {"type: id-card", "type: ID Card", "lower-case"},
		"bad version":         {"version: 1", "version: 2", "version 2"},
		"two documents":       {"documents:", "documents:\n---\nversion: 1\ndocuments:", "single YAML document"},
		"duplicate":           {"    codes: [ID]", "    codes: [ID]\n  - type: passport\n    countries: [PRT]\n    formats: [TD1]\n    codes: [ID]", "already accepts"},
		"repeated check":      {"[photo]", "[photo, photo]", "repeated"},
		"not yaml":            {"version: 1", "version: [", "parse catalogue"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(minimal, tc.old, tc.new, 1)
			if doc == minimal {
				t.Fatalf("%q not in the catalogue", tc.old)
			}
			_, err := idcheck.ParseCatalogue([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := idcheck.ParseCatalogue([]byte("version: 1\ndocuments: []\n")); err == nil || !strings.Contains(err.Error(), "no document") {
		t.Fatalf("no documents: %v", err)
	}
	if _, err := idcheck.ParseCatalogue(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty: %v", err)
	}
}

func TestLoadCatalogueLimits(t *testing.T) {
	dir := t.TempDir()
	if _, err := idcheck.LoadCatalogue(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
	// At the size limit (padded with a YAML comment) it loads; one byte over, it does not.
	at := minimal + "#" + strings.Repeat("x", idcheck.MaxCatalogueSize-len(minimal)-1)
	path := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(path, []byte(at), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := idcheck.LoadCatalogue(path); err != nil {
		t.Fatalf("%d bytes: %v", len(at), err)
	}
	if err := os.WriteFile(path, []byte(at+"x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := idcheck.LoadCatalogue(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("%d bytes: %v", len(at)+1, err)
	}
}

func TestICAOCode(t *testing.T) {
	for in, want := range map[string]string{"PT": "PRT", "pt": "PRT", "PRT": "PRT", "DE": "D", "DEU": "D", "D": "D", "XK": "RKS", "UNO": "UNO", " es ": "ESP"} {
		if got, ok := idcheck.ICAOCode(in); !ok || got != want {
			t.Errorf("ICAOCode(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"XY", "UTO", "", "PRTX", "ZZZ"} {
		if _, ok := idcheck.ICAOCode(in); ok {
			t.Errorf("ICAOCode(%q) is known", in)
		}
	}
	if idcheck.IsState("UNO") || !idcheck.IsState("FRA") {
		t.Error("IsState")
	}
}
