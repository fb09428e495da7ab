package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"unicode/utf8"
)

// asn1OID is a shorter name for the OIDs this package encodes itself.
type asn1OID = asn1.ObjectIdentifier

const asn1TagPrintable = asn1.TagPrintableString

// attribute describes one subject attribute Selo knows: its profile name,
// its OID, the most characters RFC 5280 (appendix A) allows, and whether it
// must be an IA5String (emailAddress) or a PrintableString (C, serialNumber).
type attribute struct {
	name      string
	oid       asn1OID
	maxLength int
	tag       int // 0: PrintableString when possible, else UTF8String
}

var attributes = []attribute{
	// Order of the list is the order in the issued subject, general to specific.
	{name: "C", oid: asn1OID{2, 5, 4, 6}, maxLength: 2, tag: asn1.TagPrintableString},
	{name: "ST", oid: asn1OID{2, 5, 4, 8}, maxLength: 128},
	{name: "L", oid: asn1OID{2, 5, 4, 7}, maxLength: 128},
	{name: "O", oid: asn1OID{2, 5, 4, 10}, maxLength: 64},
	{name: "OU", oid: asn1OID{2, 5, 4, 11}, maxLength: 64},
	{name: "organizationIdentifier", oid: asn1OID{2, 5, 4, 97}, maxLength: 64},
	{name: "GN", oid: asn1OID{2, 5, 4, 42}, maxLength: 64},
	{name: "SN", oid: asn1OID{2, 5, 4, 4}, maxLength: 64},
	{name: "serialNumber", oid: asn1OID{2, 5, 4, 5}, maxLength: 64, tag: asn1.TagPrintableString},
	{name: "CN", oid: asn1OID{2, 5, 4, 3}, maxLength: 64},
	{name: "emailAddress", oid: asn1OID{1, 2, 840, 113549, 1, 9, 1}, maxLength: 255, tag: asn1.TagIA5String},
}

var attributeByName = func() map[string]*attribute {
	m := map[string]*attribute{}
	for i := range attributes {
		m[attributes[i].name] = &attributes[i]
	}
	return m
}()

// attributeByOID finds a known attribute, or nil.
func attributeByOID(oid asn1OID) *attribute {
	for i := range attributes {
		if attributes[i].oid.Equal(oid) {
			return &attributes[i]
		}
	}
	return nil
}

// subjectValue is one attribute of a requested subject.
type subjectValue struct {
	oid   asn1OID
	value any
}

// subjectValues lists every attribute of name, whether it came from a parsed
// CSR (Names) or was built by a caller (the typed fields and ExtraNames).
func subjectValues(name pkix.Name) []subjectValue {
	var out []subjectValue
	seen := map[string]bool{}
	add := func(atv pkix.AttributeTypeAndValue) {
		key := atv.Type.String() + "\x00" + anyString(atv.Value)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, subjectValue{oid: atv.Type, value: atv.Value})
	}
	for _, rdn := range name.ToRDNSequence() {
		for _, atv := range rdn {
			add(atv)
		}
	}
	// Names holds what a parser found; the typed fields above already cover
	// the attributes pkix.Name knows, Names adds GN, SN, organizationIdentifier...
	for _, atv := range name.Names {
		add(atv)
	}
	return out
}

func anyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "\x01non-string"
}

// buildSubject encodes the subject in Selo's fixed attribute order, one
// attribute per RDN, with the string type each attribute calls for.
func buildSubject(values map[string]string) ([]byte, error) {
	var rdns pkix.RDNSequence
	for _, a := range attributes {
		v, ok := values[a.name]
		if !ok {
			continue
		}
		var val any = v
		switch {
		case a.tag == asn1.TagIA5String:
			val = asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(v)}
		case a.tag == asn1.TagPrintableString:
			val = asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(v)}
		case !isPrintable(v):
			val = asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)}
		default:
			val = asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(v)}
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: a.oid, Value: val}})
	}
	return asn1.Marshal(rdns)
}

// isPrintable reports whether s fits an ASN.1 PrintableString.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == ' ', b == '\'', b == '(', b == ')', b == '+', b == ',', b == '-', b == '.', b == '/', b == ':', b == '=', b == '?':
		default:
			return false
		}
	}
	return true
}

// isIA5 reports whether s fits an ASN.1 IA5String (7-bit ASCII).
func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
