package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509/pkix"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
)

// Request is what to certify.
type Request struct {
	PublicKey      crypto.PublicKey
	Subject        pkix.Name
	DNSNames       []string
	EmailAddresses []string
	// NotBefore/NotAfter override the profile's validity (re-issue keeps the
	// old notAfter). Zero NotBefore means now; zero NotAfter means now + ValidityDays.
	NotBefore time.Time
	NotAfter  time.Time
	// KeyInQSCD says the key was generated in a qualified signature creation
	// device (the HSM of a cloud credential, the holder's token). Only then
	// does a profile with QcSSCD certify QcSSCD and its -qscd policy; any
	// other key gets the profile without them (QCP-n / QCP-l).
	KeyInQSCD bool
	// Validated holds the subject attributes the registration authority
	// checked (an OV order's organisation), by short name: O, L, ST, C. A
	// profile's subject.validated attributes come only from here.
	Validated map[string]string

	// unsupportedSANs are SANs of a CSR that a Request cannot carry.
	unsupportedSANs []string
}

// ETSI EN 319 412-1 §5.1.3: natural person identifier, e.g. IDCPT-12345678,
// PNOPT-..., PASPT-..., TAXPT-..., TINPT-..., or a national scheme "XX:YY-...".
var naturalIdentifierPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^((PAS|IDC|PNO|TAX|TIN)[A-Z]{2}-|[A-Z]{2}:[A-Z]{2}-)[A-Za-z0-9./+-]{1,50}$`)
})

// ETSI EN 319 412-1 §5.1.4: legal person identifier, e.g. VATPT-500000000,
// NTRPT-..., PSDPT-..., LEIXG-..., or a national scheme "XX:YY-...".
var legalIdentifierPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^((VAT|NTR|PSD|LEI)[A-Z]{2}-|[A-Z]{2}:[A-Z]{2}-)[A-Za-z0-9./+-]{1,50}$`)
})

var countryPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z]{2}$`) })

// CheckRequest applies the profile's subject, SAN and key rules to a request
// (EINVALID naming what is wrong).
func (p *Profile) CheckRequest(req *Request) error {
	if req == nil {
		return selo.Errorf(selo.EINVALID, "request is empty")
	}
	if err := p.checkKey(req.PublicKey); err != nil {
		return err
	}
	values, err := p.checkSubject(req)
	if err != nil {
		return err
	}
	if err := p.checkSANs(req, values); err != nil {
		return err
	}
	if !req.NotBefore.IsZero() && !req.NotAfter.IsZero() && !req.NotAfter.After(req.NotBefore) {
		return selo.Errorf(selo.EINVALID, "notAfter must be later than notBefore")
	}
	return nil
}

func (p *Profile) checkKey(pub crypto.PublicKey) error {
	if err := CheckPublicKey(pub); err != nil {
		return err
	}
	kt := keyTypeName(pub)
	if !slices.Contains(p.KeyTypes, kt) {
		return selo.Errorf(selo.EINVALID, "profile %s does not allow %s keys (allowed: %s)", p.Name, KeyDescription(pub), strings.Join(p.KeyTypes, ", "))
	}
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() < p.MinRSABits {
		return selo.Errorf(selo.EINVALID, "profile %s requires rsa keys of at least %d bits, not %d", p.Name, p.MinRSABits, k.N.BitLen())
	}
	return nil
}

// checkSubject returns the subject's attribute values by profile name.
//
// A TLS profile that does not allow CN still accepts a request whose CN only
// repeats one of its DNS names, as nearly every CSR does, and leaves it out of
// the certificate: the BRs (7.1.4.3) call CN NOT RECOMMENDED and the SAN is
// what clients check. Attributes the profile ignores are left out the same
// way (DroppedAttributes names them); validated attributes come from
// req.Validated, and a request's own value must agree with it.
func (p *Profile) checkSubject(req *Request) (map[string]string, error) {
	values := map[string]string{}
	for _, sv := range subjectValues(req.Subject) {
		a := attributeByOID(sv.oid)
		if a == nil {
			return nil, selo.Errorf(selo.EINVALID, "subject attribute %s is not allowed by profile %s", sv.oid, p.Name)
		}
		if slices.Contains(p.Subject.Ignored, a.name) {
			continue
		}
		if slices.Contains(p.Subject.Validated, a.name) {
			v, ok := req.Validated[a.name]
			switch {
			case !ok:
				return nil, selo.Errorf(selo.EINVALID, "subject attribute %s %q: profile %s takes %s only from the validated organisation (an order, or the officer's --org, --locality, --state and --country), never from the request alone",
					a.name, anyString(sv.value), p.Name, a.name)
			case anyString(sv.value) != v:
				return nil, selo.Errorf(selo.EINVALID, "subject attribute %s %q in the request does not match the validated organisation's %q", a.name, anyString(sv.value), v)
			}
			continue
		}
		allowed := slices.Contains(p.Subject.Required, a.name) || slices.Contains(p.Subject.Allowed, a.name)
		if !allowed && p.Kind == KindTLS && a.name == "CN" {
			if s, ok := sv.value.(string); ok && slices.Contains(req.DNSNames, s) {
				continue
			}
			return nil, selo.Errorf(selo.EINVALID, "subject CN %q must be one of the dns names", anyString(sv.value))
		}
		if !allowed {
			return nil, selo.Errorf(selo.EINVALID, "subject attribute %s is not allowed by profile %s", a.name, p.Name)
		}
		s, ok := sv.value.(string)
		if !ok {
			return nil, selo.Errorf(selo.EINVALID, "subject attribute %s is not a string", a.name)
		}
		if _, dup := values[a.name]; dup {
			return nil, selo.Errorf(selo.EINVALID, "subject attribute %s appears more than once", a.name)
		}
		if err := checkAttributeValue(a, s); err != nil {
			return nil, err
		}
		values[a.name] = s
	}
	for name, v := range req.Validated {
		switch {
		case slices.Contains(p.Subject.Validated, name):
		case slices.Contains(p.Subject.Ignored, name):
			continue
		default:
			return nil, selo.Errorf(selo.EINVALID, "profile %s does not take a validated %s", p.Name, name)
		}
		a := attributeByName[name]
		if err := checkAttributeValue(a, v); err != nil {
			return nil, err
		}
		values[name] = v
	}
	for _, r := range p.Subject.Required {
		if _, ok := values[r]; !ok {
			return nil, selo.Errorf(selo.EINVALID, "subject attribute %s is required by profile %s", r, p.Name)
		}
	}
	switch p.Kind {
	case KindTLS:
		// CA/B BR 7.1.2.7.4 (OV): an organisation comes with its country
		// and its locality or state.
		if _, ok := values["O"]; ok {
			_, l := values["L"]
			_, st := values["ST"]
			if _, c := values["C"]; !c || (!l && !st) {
				return nil, selo.Errorf(selo.EINVALID, "profile %s names an organisation: the validated organisation needs its country and its locality or state", p.Name)
			}
		}
	case KindQualifiedNatural:
		if v, ok := values["serialNumber"]; ok && !naturalIdentifierPattern().MatchString(v) {
			return nil, selo.Errorf(selo.EINVALID, "subject serialNumber %q is not an ETSI EN 319 412-1 natural person identifier such as IDCPT-12345678", v)
		}
	case KindQualifiedLegal, KindAdvanced:
		if v, ok := values["organizationIdentifier"]; ok && !legalIdentifierPattern().MatchString(v) {
			return nil, selo.Errorf(selo.EINVALID, "subject organizationIdentifier %q is not an ETSI EN 319 412-1 legal person identifier such as VATPT-500000000", v)
		}
	}
	if v, ok := values["organizationIdentifier"]; ok && len(v) >= 5 && v[2] != ':' {
		// The identifier's country must agree with the subject's country (CA/B
		// S/MIME BR 7.1.4.2.2 and ETSI): "VATPT-..." with C=ES is a typo.
		if c, ok := values["C"]; ok && v[3:5] != c && v[3:5] != "EU" && v[3:5] != "XG" {
			return nil, selo.Errorf(selo.EINVALID, "subject organizationIdentifier %q does not match country %s", v, c)
		}
	}
	return values, nil
}

func checkAttributeValue(a *attribute, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return selo.Errorf(selo.EINVALID, "subject attribute %s is empty", a.name)
	case strings.TrimSpace(s) != s:
		return selo.Errorf(selo.EINVALID, "subject attribute %s has leading or trailing spaces", a.name)
	case len([]rune(s)) > a.maxLength:
		return selo.Errorf(selo.EINVALID, "subject attribute %s is longer than %d characters", a.name, a.maxLength)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }):
		return selo.Errorf(selo.EINVALID, "subject attribute %s contains control characters", a.name)
	case a.name == "C" && !countryPattern().MatchString(s):
		return selo.Errorf(selo.EINVALID, "subject attribute C %q is not a two-letter upper-case country code", s)
	case a.tag == asn1TagPrintable && !isPrintable(s):
		return selo.Errorf(selo.EINVALID, "subject attribute %s may contain only letters, digits, spaces and '()+,-./:=?", a.name)
	case a.name == "emailAddress" && !isIA5(s):
		return selo.Errorf(selo.EINVALID, "subject attribute emailAddress must be ascii")
	}
	return nil
}

func (p *Profile) checkSANs(req *Request, subject map[string]string) error {
	if len(req.unsupportedSANs) > 0 {
		return selo.Errorf(selo.EINVALID, "subject alternative name %s is not supported", req.unsupportedSANs[0])
	}
	for _, r := range []struct {
		kind  string
		rule  string
		count int
	}{{"dns name", p.SAN.DNS, len(req.DNSNames)}, {"email address", p.SAN.Email, len(req.EmailAddresses)}} {
		switch {
		case r.rule == SANRequired && r.count == 0:
			return selo.Errorf(selo.EINVALID, "profile %s requires at least one %s subject alternative name", p.Name, r.kind)
		case (r.rule == SANForbidden || r.rule == "") && r.count > 0:
			return selo.Errorf(selo.EINVALID, "profile %s does not allow %s subject alternative names", p.Name, r.kind)
		}
	}
	if len(req.DNSNames) > 100 || len(req.EmailAddresses) > 100 {
		return selo.Errorf(selo.EINVALID, "too many subject alternative names (at most 100 of each type)")
	}
	seen := map[string]bool{}
	for _, d := range req.DNSNames {
		if err := checkDNSName(d); err != nil {
			return err
		}
		if seen["dns:"+d] {
			return selo.Errorf(selo.EINVALID, "dns name %q is listed twice", d)
		}
		seen["dns:"+d] = true
	}
	for _, e := range req.EmailAddresses {
		if err := checkEmail(e); err != nil {
			return err
		}
		if seen["email:"+strings.ToLower(e)] {
			return selo.Errorf(selo.EINVALID, "email address %q is listed twice", e)
		}
		seen["email:"+strings.ToLower(e)] = true
	}
	switch p.Kind {
	case KindTLS:
		// CA/B BR 7.1.4.3: a CN, if present, repeats one of the DNS names.
		if cn, ok := subject["CN"]; ok && !seen["dns:"+cn] {
			return selo.Errorf(selo.EINVALID, "subject CN %q must be one of the dns names", cn)
		}
	case KindSMIME:
		// S/MIME BR 7.1.4.2.2: a mailbox in the subject repeats a SAN mailbox.
		for _, attr := range []string{"CN", "emailAddress"} {
			if v, ok := subject[attr]; ok && !seen["email:"+strings.ToLower(v)] {
				return selo.Errorf(selo.EINVALID, "subject %s %q must be one of the email addresses", attr, v)
			}
		}
	}
	return nil
}

var dnsLabelPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })

// checkDNSName accepts lower-case LDH host names of two labels or more, with
// at most a leading wildcard label; IP addresses and trailing dots are refused.
func checkDNSName(d string) error {
	if d == "" || len(d) > 253 {
		return selo.Errorf(selo.EINVALID, "dns name %q must be 1 to 253 characters", truncate(d, 80))
	}
	if d != strings.ToLower(d) {
		return selo.Errorf(selo.EINVALID, "dns name %q must be lower case", d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return selo.Errorf(selo.EINVALID, "dns name %q must be a fully qualified domain name", d)
	}
	for i, l := range labels {
		if i == 0 && l == "*" && len(labels) > 2 {
			continue
		}
		if !dnsLabelPattern().MatchString(l) {
			return selo.Errorf(selo.EINVALID, "dns name %q is not a valid host name", d)
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return selo.Errorf(selo.EINVALID, "dns name %q looks like an ip address", d)
	}
	if strings.HasPrefix(last, "xn--") || strings.Contains(d, "xn--") {
		// Punycode is valid but needs IDNA checks Selo does not do yet.
		return selo.Errorf(selo.EINVALID, "dns name %q: internationalized names are not supported", d)
	}
	return nil
}

// checkEmail accepts a plain ASCII addr-spec such as "ana@example.eu".
func checkEmail(e string) error {
	if e == "" || len(e) > 254 || !isIA5(e) {
		return selo.Errorf(selo.EINVALID, "email address %q is not a valid ascii address", truncate(e, 80))
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return selo.Errorf(selo.EINVALID, "email address %q is not a valid address", truncate(e, 80))
	}
	at := strings.LastIndexByte(e, '@')
	if err := checkDNSName(strings.ToLower(e[at+1:])); err != nil {
		return selo.Errorf(selo.EINVALID, "email address %q has an invalid domain", e)
	}
	return nil
}

// DroppedAttributes names the subject attributes of req that the profile
// ignores and so leaves out of the certificate (the O, L, ST and C of a CSR
// for a DV certificate), in the order certificates list them, so that the
// caller can tell the user.
func (p *Profile) DroppedAttributes(req *Request) []string {
	found := map[string]bool{}
	for _, sv := range subjectValues(req.Subject) {
		if a := attributeByOID(sv.oid); a != nil && slices.Contains(p.Subject.Ignored, a.name) {
			found[a.name] = true
		}
	}
	var out []string
	for _, a := range attributes {
		if found[a.name] {
			out = append(out, a.name)
		}
	}
	return out
}
