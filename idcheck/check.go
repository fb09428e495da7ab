package idcheck

import (
	"slices"
	"strings"
	"time"
)

// residencePermitType is the document type a holder may choose for a
// residence permit, only to be told it is refused.
const residencePermitType = "residence-permit"

// Submission is what the holder typed and pasted for a remote identity check.
type Submission struct {
	DocumentType   string    // "passport", "id-card", ...
	Country        string    // issuing country, ISO 3166 alpha-2 or ICAO code
	DocumentNumber string    // as printed; spaces, hyphens and fillers are ignored
	ExpiryDate     time.Time // only the date counts
	MRZ            string
	Copy           bool // the holder (or the capture app) says it is a copy
}

// Holder is the person the order names.
type Holder struct {
	Surname    string
	GivenNames string
	BirthDate  time.Time // zero when the order does not say
}

// Verdict is what the machine checks found in a document they accepted.
type Verdict struct {
	MRZ      *MRZ     `json:"mrz"`
	Document Document `json:"document"` // the catalogue entry that accepts it
	Pending  []string `json:"pending"`  // what only an officer can judge
}

// Check runs every machine check of a submission against the catalogue,
// the typed data and the order's holder: copies and residence permits
// refused, the MRZ parsed with every check digit, the document type and
// issuing country accepted, number and expiry as typed, not expired on
// now's date (UTC), and the holder's name (and birth date, when the order
// has one) as in the MRZ. A refusal is an *Error; its message is for the
// holder.
func (c *Catalogue) Check(sub Submission, h Holder, now time.Time) (*Verdict, error) {
	docType := strings.ToLower(strings.TrimSpace(sub.DocumentType))
	switch {
	case sub.Copy:
		return nil, refuse(ErrCopy, "copy", "copies of identity documents are not accepted: show the original document")
	case docType == residencePermitType:
		return nil, refuse(ErrResidencePermit, "document type", "residence permits are not accepted: use your passport or national ID card")
	case docType == "":
		return nil, refuse(ErrMissing, "document type", "choose the type of document (passport or ID card)")
	case strings.TrimSpace(sub.Country) == "":
		return nil, refuse(ErrMissing, "country", "give the country that issued the document")
	case normaliseNumber(sub.DocumentNumber) == "":
		return nil, refuse(ErrMissing, "document number", "give the document number as printed on the document")
	case sub.ExpiryDate.IsZero():
		return nil, refuse(ErrMissing, "expiry date", "give the document's expiry date")
	}
	typedCountry, known := ICAOCode(sub.Country)
	switch {
	case typedCountry == SpecimenState && !c.specimens:
		return nil, refuse(ErrCountry, "country", "UTO is ICAO's specimen state (Utopia): specimen documents are not accepted")
	case !known && typedCountry != SpecimenState:
		return nil, refuse(ErrCountry, "country", "%q is not a country code (use the two-letter ISO code, such as PT)", strings.TrimSpace(sub.Country))
	}
	now = now.UTC()
	m, err := ParseMRZ(sub.MRZ, now)
	if err != nil {
		return nil, err
	}
	if c.IsResidencePermit(m.DocumentCode) {
		return nil, refuse(ErrResidencePermit, "document code", "the MRZ is a residence permit's (document code %s): residence permits are not accepted; use your passport or national ID card", m.DocumentCode)
	}
	switch known := IsState(m.IssuingState) || countries().nonStates[m.IssuingState]; {
	case m.IssuingState == SpecimenState && !c.specimens:
		return nil, refuse(ErrCountry, "issuing state", "the MRZ is of an ICAO specimen document (issuing state UTO, Utopia), not of a real one")
	case !known && m.IssuingState != SpecimenState:
		return nil, refuse(ErrCountry, "issuing state", "the MRZ names issuing state %s, which is not an ICAO country code", m.IssuingState)
	}
	if !IsState(m.Nationality) && !countries().nonStates[m.Nationality] && !(c.specimens && m.Nationality == SpecimenState) {
		return nil, refuse(ErrMalformed, "nationality", "the MRZ names nationality %s, which is not an ICAO code: copy the MRZ exactly as printed on the document", m.Nationality)
	}
	if typedCountry != m.IssuingState {
		return nil, refuse(ErrMismatch, "country", "you gave issuing country %s, but the MRZ says the document was issued by %s", strings.ToUpper(strings.TrimSpace(sub.Country)), m.IssuingState)
	}
	doc := c.find(m.Format, m.DocumentCode, m.IssuingState)
	switch {
	case doc == nil && c.acceptsCode(m.Format, m.DocumentCode):
		return nil, refuse(ErrCountry, "issuing state", "documents of this type (MRZ code %s) issued by %s are not accepted; accepted: %s", m.DocumentCode, m.IssuingState, c.summary())
	case doc == nil:
		return nil, refuse(ErrTypeNotAccepted, "document code", "this type of document (MRZ code %s, %s) is not accepted; accepted: %s", m.DocumentCode, m.Format, c.summary())
	case doc.Type != docType:
		return nil, refuse(ErrMismatch, "document type", "you chose document type %s, but the MRZ is of a %s", docType, doc.Type)
	}
	if normaliseNumber(sub.DocumentNumber) != m.DocumentNumber {
		return nil, refuse(ErrMismatch, "document number", "the document number you gave is not the one in the MRZ (%s)", m.DocumentNumber)
	}
	if typed := DateOf(sub.ExpiryDate.UTC()); typed != m.ExpiryDate {
		return nil, refuse(ErrMismatch, "expiry date", "you gave expiry date %s, but the MRZ says %s", typed, m.ExpiryDate)
	}
	if m.ExpiryDate.Before(DateOf(now)) {
		return nil, refuse(ErrExpired, "expiry date", "the document expired on %s: expired documents are not accepted", m.ExpiryDate)
	}
	if !h.BirthDate.IsZero() && m.BirthDate.Complete() && DateOf(h.BirthDate.UTC()) != m.BirthDate {
		return nil, refuse(ErrMismatch, "birth date", "the birth date in the MRZ (%s) is not the order holder's", m.BirthDate)
	}
	if err := matchName(h, m); err != nil {
		return nil, err
	}
	return &Verdict{MRZ: m, Document: *doc, Pending: slices.Clone(c.officerChecks)}, nil
}

// normaliseNumber writes a typed document number as an MRZ does: upper
// case, without spaces, hyphens, dots or fillers.
func normaliseNumber(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '.', '<', '/':
			return -1
		}
		return r
	}, strings.ToUpper(s))
}
