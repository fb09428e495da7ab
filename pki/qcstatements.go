package pki

import (
	"encoding/asn1"
	"net/url"
	"regexp"
	"sync"

	"github.com/selo-qtsp/selo"
)

// QCStatements configures the ETSI qualified certificate statements.
type QCStatements struct {
	Compliance bool `yaml:"compliance"` // QcCompliance
	SSCD       bool `yaml:"sscd"`       // QcSSCD (key in a QSCD)
	// Type is "esign", "eseal" or "web" (QcType).
	Type string `yaml:"type"`
	// PDS: QcPDS locations.
	PDS []struct {
		URL      string `yaml:"url"`
		Language string `yaml:"language"`
	} `yaml:"pds"`
	// Semantics is "natural" or "legal": the semantics identifier of
	// id-qcs-pkixQCSyntax-v2 (ETSI EN 319 412-1).
	Semantics string `yaml:"semantics"`
}

// OIDs of RFC 3739 and ETSI EN 319 412-5 / EN 319 412-1.
var (
	oidQCStatements       = asn1OID{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQCSyntaxV2         = asn1OID{1, 3, 6, 1, 5, 5, 7, 11, 2}
	oidQcCompliance       = asn1OID{0, 4, 0, 1862, 1, 1}
	oidQcSSCD             = asn1OID{0, 4, 0, 1862, 1, 4}
	oidQcPDS              = asn1OID{0, 4, 0, 1862, 1, 5}
	oidQcType             = asn1OID{0, 4, 0, 1862, 1, 6}
	oidSemanticsNatural   = asn1OID{0, 4, 0, 194121, 1, 1}
	oidSemanticsLegal     = asn1OID{0, 4, 0, 194121, 1, 2}
	qcTypeOIDs            = map[string]asn1OID{"esign": {0, 4, 0, 1862, 1, 6, 1}, "eseal": {0, 4, 0, 1862, 1, 6, 2}, "web": {0, 4, 0, 1862, 1, 6, 3}}
	qcSemanticsIdentifier = map[string]asn1OID{"natural": oidSemanticsNatural, "legal": oidSemanticsLegal}
)

// qcStatement is RFC 3739 QCStatement: statementId and optional statementInfo.
type qcStatement struct {
	ID   asn1OID
	Info asn1.RawValue `asn1:"optional"`
}

// semanticsInformation is RFC 3739 SemanticsInformation with only the
// identifier, as ETSI EN 319 412-1 §5.1 uses it.
type semanticsInformation struct {
	Identifier asn1OID `asn1:"optional"`
}

// pdsLocation is ETSI EN 319 412-5 PdsLocation.
type pdsLocation struct {
	URL      string `asn1:"ia5"`
	Language string `asn1:"printable"`
}

var pdsLanguagePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}$`) })

func (q *QCStatements) validate() error {
	if q.Type != "" {
		if _, ok := qcTypeOIDs[q.Type]; !ok {
			return invalidProfile("qc_statements.type %q is not one of esign, eseal, web", q.Type)
		}
	}
	if q.Semantics != "" {
		if _, ok := qcSemanticsIdentifier[q.Semantics]; !ok {
			return invalidProfile("qc_statements.semantics %q is not one of natural, legal", q.Semantics)
		}
	}
	for i, pds := range q.PDS {
		u, err := url.Parse(pds.URL)
		// ETSI EN 319 412-5 §4.3.4: the PDS is served over https.
		if err != nil || u.Scheme != "https" || u.Host == "" || !isIA5(pds.URL) {
			return invalidProfile("qc_statements.pds[%d].url %q is not an https url", i, pds.URL)
		}
		// ISO 639-1 in lower case, as zlint's PDS lints expect.
		if !pdsLanguagePattern().MatchString(pds.Language) {
			return invalidProfile("qc_statements.pds[%d].language %q is not a lower-case two-letter ISO 639-1 code", i, pds.Language)
		}
	}
	if !q.Compliance && !q.SSCD && q.Type == "" && len(q.PDS) == 0 && q.Semantics == "" {
		return invalidProfile("qc_statements is present but states nothing")
	}
	return nil
}

// marshal encodes the qcStatements extension value (RFC 3739, ETSI EN 319 412-5).
func (q *QCStatements) marshal() ([]byte, error) {
	var stmts []qcStatement
	add := func(id asn1OID, info any) error {
		s := qcStatement{ID: id}
		if info != nil {
			der, err := asn1.Marshal(info)
			if err != nil {
				return err
			}
			s.Info = asn1.RawValue{FullBytes: der}
		}
		stmts = append(stmts, s)
		return nil
	}
	if q.Semantics != "" {
		if err := add(oidQCSyntaxV2, semanticsInformation{Identifier: qcSemanticsIdentifier[q.Semantics]}); err != nil {
			return nil, err
		}
	}
	if q.Compliance {
		if err := add(oidQcCompliance, nil); err != nil {
			return nil, err
		}
	}
	if q.SSCD {
		if err := add(oidQcSSCD, nil); err != nil {
			return nil, err
		}
	}
	if q.Type != "" {
		if err := add(oidQcType, []asn1OID{qcTypeOIDs[q.Type]}); err != nil {
			return nil, err
		}
	}
	if len(q.PDS) > 0 {
		locs := make([]pdsLocation, len(q.PDS))
		for i, p := range q.PDS {
			locs[i] = pdsLocation{URL: p.URL, Language: p.Language}
		}
		if err := add(oidQcPDS, locs); err != nil {
			return nil, err
		}
	}
	der, err := asn1.Marshal(stmts)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "encode qc statements: %v", err)
	}
	return der, nil
}
