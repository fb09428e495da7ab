package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"unicode/utf8"
)

// dnNames are the short names NameString gives attribute types, as OpenSSL
// prints them: pkix.Name.String knows neither the given name, the surname
// nor the organizationIdentifier of qualified certificates and prints them
// as hex.
var dnNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.17": "postalCode",
	"2.5.4.42": "GN", "2.5.4.97": "organizationIdentifier", "1.2.840.113549.1.9.1": "emailAddress",
}

// NameString renders a distinguished name as RFC 4514 text, most specific
// attribute first (as pkix.Name.String does), with readable names for the
// attributes of qualified certificates. Attributes of unknown types keep
// their dotted OID; values that are not strings are printed as #hex.
func NameString(n pkix.Name) string {
	atvs := n.Names
	if len(atvs) == 0 {
		// A name built in code rather than parsed: its fields.
		for _, rdn := range n.ToRDNSequence() {
			atvs = append(atvs, rdn...)
		}
	}
	parts := make([]string, 0, len(atvs))
	for i := len(atvs) - 1; i >= 0; i-- {
		atv := atvs[i]
		typ := atv.Type.String()
		if short, ok := dnNames[typ]; ok {
			typ = short
		}
		var val string
		switch v := atv.Value.(type) {
		case string:
			val = escapeDNValue(v)
		default:
			der, err := asn1.Marshal(v)
			if err != nil {
				val = fmt.Sprintf("%v", v)
			} else {
				val = fmt.Sprintf("#%x", der)
			}
		}
		parts = append(parts, typ+"="+val)
	}
	return strings.Join(parts, ",")
}

// escapeDNValue escapes an attribute value per RFC 4514 section 2.4.
func escapeDNValue(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ',' || r == '+' || r == '"' || r == '\\' || r == '<' || r == '>' || r == ';',
			(r == ' ' || r == '#') && i == 0,
			r == ' ' && i == len(s)-1:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0 || r == utf8.RuneError || r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
