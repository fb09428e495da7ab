package idcheck

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// MaxCatalogueSize is the largest catalogue file LoadCatalogue reads.
const MaxCatalogueSize = 1 << 20

// defaultCatalogue is the catalogue shipped with Selo.
//
//go:embed catalogue.yaml
var defaultCatalogue []byte

// AnyState in a document's countries accepts every ICAO state.
const AnyState = "*"

// Document is one kind of accepted identity document.
type Document struct {
	Type string `yaml:"type" json:"type"` // as the holder chooses it: "passport", "id-card"
	Name string `yaml:"name" json:"name"` // for people
	// Countries are ICAO codes once loaded (the file may say "PT" or
	// "PRT"), or AnyState alone.
	Countries []string `yaml:"countries" json:"countries"`
	Except    []string `yaml:"except,omitempty" json:"except,omitempty"` // with AnyState only
	Formats   []Format `yaml:"formats" json:"formats"`
	// Codes are MRZ document codes as printed: "P<", "ID".
	Codes []string `yaml:"codes" json:"codes"`
}

// catalogueFile is the YAML file's shape.
type catalogueFile struct {
	Version              int        `yaml:"version"`
	OfficerChecks        []string   `yaml:"officer_checks"`
	Specimens            bool       `yaml:"specimens"`
	ResidencePermitCodes []string   `yaml:"residence_permit_codes"`
	Documents            []Document `yaml:"documents"`
}

// Catalogue is the list of accepted identity documents, with what goes to
// an officer. It is read-only once loaded and safe for concurrent use.
type Catalogue struct {
	officerChecks    []string
	specimens        bool
	residencePermits []string
	documents        []Document
}

// DefaultCatalogue returns the catalogue shipped with Selo (catalogue.yaml).
var DefaultCatalogue = sync.OnceValues(func() (*Catalogue, error) {
	c, err := ParseCatalogue(defaultCatalogue)
	if err != nil {
		return nil, fmt.Errorf("embedded catalogue: %w", err)
	}
	return c, nil
})

// DefaultCatalogueYAML returns the shipped catalogue file, as a starting
// point for an operator's own copy.
func DefaultCatalogueYAML() []byte { return bytes.Clone(defaultCatalogue) }

// LoadCatalogue reads and validates an operator's catalogue file.
func LoadCatalogue(path string) (*Catalogue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCatalogueSize+1))
	if err != nil {
		return nil, fmt.Errorf("catalogue %s: %w", path, err)
	}
	c, err := ParseCatalogue(data)
	if err != nil {
		return nil, fmt.Errorf("catalogue %s: %w", path, err)
	}
	return c, nil
}

var (
	documentCodeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][A-Z<]$`) })
	typeRE         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`) })
)

// ParseCatalogue reads and validates a catalogue: one YAML document, no
// unknown keys, known countries, well-formed document codes, no document
// code both accepted and a residence permit, no two entries for the same
// country, format and code.
func ParseCatalogue(data []byte) (*Catalogue, error) {
	if len(data) > MaxCatalogueSize {
		return nil, fmt.Errorf("the catalogue is larger than %d bytes", MaxCatalogueSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f catalogueFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the catalogue is empty")
		}
		return nil, fmt.Errorf("parse catalogue: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the catalogue must be a single YAML document")
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("catalogue version %d: this Selo reads version 1", f.Version)
	}
	c := &Catalogue{specimens: f.Specimens}
	for i, o := range f.OfficerChecks {
		o = strings.TrimSpace(o)
		if o == "" || len(o) > 100 || slices.Contains(c.officerChecks, o) {
			return nil, fmt.Errorf("officer_checks[%d]: %q is empty, longer than 100 characters or repeated", i, o)
		}
		c.officerChecks = append(c.officerChecks, o)
	}
	for i, code := range f.ResidencePermitCodes {
		if !documentCodeRE().MatchString(code) {
			return nil, fmt.Errorf("residence_permit_codes[%d]: %q is not an MRZ document code (a letter, then a letter or <)", i, code)
		}
		c.residencePermits = append(c.residencePermits, code)
	}
	if len(f.Documents) == 0 {
		return nil, fmt.Errorf("the catalogue accepts no document")
	}
	seen := map[string]int{}
	for i, d := range f.Documents {
		at := fmt.Sprintf("documents[%d]", i)
		if !typeRE().MatchString(d.Type) {
			return nil, fmt.Errorf("%s: type %q is not lower-case letters, digits and hyphens", at, d.Type)
		}
		if d.Type == residencePermitType {
			return nil, fmt.Errorf("%s: residence permits are never accepted", at)
		}
		if len(d.Countries) == 0 || len(d.Formats) == 0 || len(d.Codes) == 0 {
			return nil, fmt.Errorf("%s (%s): countries, formats and codes are required", at, d.Type)
		}
		if slices.Contains(d.Countries, AnyState) {
			if len(d.Countries) != 1 {
				return nil, fmt.Errorf("%s: %q stands alone in countries; use except to leave some out", at, AnyState)
			}
		} else if len(d.Except) > 0 {
			return nil, fmt.Errorf("%s: except goes only with countries [%q]", at, AnyState)
		}
		norm := func(list []string, key string) ([]string, error) {
			var out []string
			for j, cc := range list {
				if cc == AnyState {
					out = append(out, cc)
					continue
				}
				code, ok := ICAOCode(cc)
				if !ok || strings.ToUpper(cc) == SpecimenState {
					return nil, fmt.Errorf("%s.%s[%d]: %q is not an ISO 3166 alpha-2 or ICAO country code", at, key, j, cc)
				}
				out = append(out, code)
			}
			return out, nil
		}
		var err error
		if d.Countries, err = norm(d.Countries, "countries"); err != nil {
			return nil, err
		}
		if d.Except, err = norm(d.Except, "except"); err != nil {
			return nil, err
		}
		for j, format := range d.Formats {
			if format != TD1 && format != TD2 && format != TD3 {
				return nil, fmt.Errorf("%s.formats[%d]: %q is not TD1, TD2 or TD3", at, j, format)
			}
		}
		for j, code := range d.Codes {
			if !documentCodeRE().MatchString(code) {
				return nil, fmt.Errorf("%s.codes[%d]: %q is not an MRZ document code (a letter, then a letter or <)", at, j, code)
			}
			if slices.Contains(c.residencePermits, code) {
				return nil, fmt.Errorf("%s.codes[%d]: %q is listed as a residence permit code", at, j, code)
			}
			for _, country := range d.Countries {
				for _, format := range d.Formats {
					key := country + " " + string(format) + " " + code
					if k, dup := seen[key]; dup {
						return nil, fmt.Errorf("%s: documents[%d] already accepts code %q in %s from %s", at, k, code, format, country)
					}
					seen[key] = i
				}
			}
		}
		c.documents = append(c.documents, d)
	}
	return c, nil
}

// Documents returns the accepted documents.
func (c *Catalogue) Documents() []Document { return slices.Clone(c.documents) }

// OfficerChecks returns what an officer must judge for every document.
func (c *Catalogue) OfficerChecks() []string { return slices.Clone(c.officerChecks) }

// IsResidencePermit reports whether an MRZ document code is a residence
// permit's.
func (c *Catalogue) IsResidencePermit(code string) bool {
	return slices.Contains(c.residencePermits, code)
}

// find returns the document entry that accepts an MRZ of this format and
// code issued by state: an entry naming the state first, then one for any
// state. It returns nil when none does.
func (c *Catalogue) find(format Format, code, state string) *Document {
	var any *Document
	for i := range c.documents {
		d := &c.documents[i]
		if !slices.Contains(d.Formats, format) || !slices.Contains(d.Codes, code) {
			continue
		}
		if slices.Contains(d.Countries, state) {
			return d
		}
		if any == nil && d.Countries[0] == AnyState && !slices.Contains(d.Except, state) &&
			(IsState(state) || c.specimens && state == SpecimenState) {
			any = d
		}
	}
	return any
}

// acceptsCode reports whether some entry accepts this format and code from
// some country.
func (c *Catalogue) acceptsCode(format Format, code string) bool {
	for _, d := range c.documents {
		if slices.Contains(d.Formats, format) && slices.Contains(d.Codes, code) {
			return true
		}
	}
	return false
}

// summary names what the catalogue accepts, for a refusal's message:
// "passport of any state; id-card of PRT, ESP".
func (c *Catalogue) summary() string {
	var types []string
	countries := map[string][]string{}
	for _, d := range c.documents {
		if _, ok := countries[d.Type]; !ok {
			types = append(types, d.Type)
		}
		for _, cc := range d.Countries {
			if !slices.Contains(countries[d.Type], cc) {
				countries[d.Type] = append(countries[d.Type], cc)
			}
		}
	}
	parts := make([]string, len(types))
	for i, t := range types {
		if slices.Contains(countries[t], AnyState) {
			parts[i] = t + " of any state"
		} else {
			parts[i] = t + " of " + strings.Join(countries[t], ", ")
		}
	}
	return strings.Join(parts, "; ")
}

// DocumentFor returns the catalogue entry that accepts the document an MRZ
// describes (a copy), or nil when none does.
func (c *Catalogue) DocumentFor(m *MRZ) *Document {
	if m == nil {
		return nil
	}
	d := c.find(m.Format, m.DocumentCode, m.IssuingState)
	if d == nil {
		return nil
	}
	out := *d
	out.Countries, out.Except, out.Formats, out.Codes = slices.Clone(d.Countries), slices.Clone(d.Except), slices.Clone(d.Formats), slices.Clone(d.Codes)
	return &out
}
