package pki

import (
	"bytes"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/selo-qtsp/selo"
)

// Profile says what a certificate may be. Loaded from YAML data files; the
// built-ins are embedded and an operator may copy and change them.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Kind selects the rule set and lint sources: "qualified-natural",
	// "qualified-legal", "advanced", "smime", "tls".
	Kind string `yaml:"kind"`
	// KeyTypes allowed for the subject key: any of "ecdsa-p256", "ecdsa-p384", "rsa".
	KeyTypes   []string `yaml:"key_types"`
	MinRSABits int      `yaml:"min_rsa_bits"`
	// ValidityDays is the default and maximum validity.
	ValidityDays int `yaml:"validity_days"`
	// KeyUsage names: digitalSignature, contentCommitment, keyEncipherment, keyAgreement.
	KeyUsage []string `yaml:"key_usage"`
	// ExtKeyUsage names: serverAuth, clientAuth, emailProtection, documentSigning; or dotted OIDs.
	ExtKeyUsage []string `yaml:"ext_key_usage"`
	// Policies are certificate policy OIDs in dotted form.
	Policies []string `yaml:"policies"`
	// Subject lists required and allowed subject attributes by short name
	// (CN, C, O, OU, L, ST, GN, SN, serialNumber, organizationIdentifier, emailAddress).
	Subject struct {
		Required []string `yaml:"required"`
		Allowed  []string `yaml:"allowed"`
		// Validated attributes come only from what the registration
		// authority validated (Request.Validated: an order's organisation),
		// never from the request's subject: a CSR may repeat the validated
		// value, any other value is refused. May overlap Required.
		Validated []string `yaml:"validated"`
		// Ignored attributes are accepted in a request and left out of the
		// certificate (a DV certificate names only the domain, whatever the
		// CSR says); DroppedAttributes tells the caller which were.
		Ignored []string `yaml:"ignored"`
	} `yaml:"subject"`
	// SAN rules: which subjectAltName types are required/allowed.
	SAN struct {
		DNS   string `yaml:"dns"`   // "required", "allowed" or "forbidden" (default)
		Email string `yaml:"email"` // same
	} `yaml:"san"`
	// QC statements (ETSI EN 319 412-5); nil for non-qualified profiles.
	QC *QCStatements `yaml:"qc_statements"`
	// Approvals this profile allows for remote signing (later issues): sms, authenticator, wallet, authorizer.
	Approvals []string `yaml:"approvals"`

	// Derived once by LoadProfile so that issuance does no parsing.
	keyUsage    x509.KeyUsage
	extKeyUsage []x509.ExtKeyUsage
	unknownEKU  []asn1OID
	policies    []x509.OID
	qcDER       []byte // the encoded qcStatements extension value, nil when QC is nil
}

// Profile kinds.
const (
	KindQualifiedNatural = "qualified-natural"
	KindQualifiedLegal   = "qualified-legal"
	KindAdvanced         = "advanced"
	KindSMIME            = "smime"
	KindTLS              = "tls"
)

// Kinds lists every profile kind, each with its own rules and lint sources.
var Kinds = []string{KindQualifiedNatural, KindQualifiedLegal, KindAdvanced, KindSMIME, KindTLS}

// SAN rule values.
const (
	SANRequired  = "required"
	SANAllowed   = "allowed"
	SANForbidden = "forbidden"
)

// maxProfileSize bounds a profile file; real ones are about 1 KiB.
const maxProfileSize = 64 << 10

// maxValidityDays bounds any end-entity profile; five years is already more
// than any policy Selo serves allows.
const maxValidityDays = 1826

// maxTLSValidityDays is the CA/B Forum ceiling before ballot SC-081; the
// dated SC-081 steps are enforced by the CA/B lints at issuance.
const maxTLSValidityDays = 398

var keyUsageNames = map[string]x509.KeyUsage{
	"digitalSignature":  x509.KeyUsageDigitalSignature,
	"contentCommitment": x509.KeyUsageContentCommitment,
	"nonRepudiation":    x509.KeyUsageContentCommitment,
	"keyEncipherment":   x509.KeyUsageKeyEncipherment,
	"keyAgreement":      x509.KeyUsageKeyAgreement,
}

var extKeyUsageNames = map[string]x509.ExtKeyUsage{
	"serverAuth":      x509.ExtKeyUsageServerAuth,
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
	"codeSigning":     x509.ExtKeyUsageCodeSigning,
	"timeStamping":    x509.ExtKeyUsageTimeStamping,
	"ocspSigning":     x509.ExtKeyUsageOCSPSigning,
}

// oidDocumentSigning is id-kp-documentSigning (RFC 9336), which crypto/x509
// has no constant for.
var oidDocumentSigning = asn1OID{1, 3, 6, 1, 5, 5, 7, 3, 36}

var keyTypeNames = []string{"ecdsa-p256", "ecdsa-p384", "rsa"}

var approvalNames = []string{"sms", "authenticator", "wallet", "authorizer"}

var profileNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) })

var dottedOIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]{0,17}))+$`) })

// LoadProfile parses and validates one profile file. Errors are selo EINVALID
// with a message that names the field.
func LoadProfile(data []byte) (*Profile, error) {
	if len(data) > maxProfileSize {
		return nil, selo.Errorf(selo.EINVALID, "profile is larger than %d bytes", maxProfileSize)
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// Unknown fields are refused: a misspelt key would otherwise silently
	// leave a rule out of a certificate policy.
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, selo.Errorf(selo.EINVALID, "profile is empty")
		}
		return nil, selo.Errorf(selo.EINVALID, "profile is not valid yaml: %s", yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, selo.Errorf(selo.EINVALID, "profile must be a single yaml document")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// yamlMessage keeps a yaml error short and on one line.
func yamlMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

func invalidProfile(format string, args ...any) error {
	return selo.Errorf(selo.EINVALID, "profile: "+format, args...)
}

// validate checks every field and fills in the derived, unexported values.
func (p *Profile) validate() error {
	if !profileNamePattern().MatchString(p.Name) {
		return invalidProfile("name %q must be 1-63 lower-case letters, digits or dashes", p.Name)
	}
	if !slices.Contains(Kinds, p.Kind) {
		return invalidProfile("kind %q is not one of %s", p.Kind, strings.Join(Kinds, ", "))
	}
	if len(p.KeyTypes) == 0 {
		return invalidProfile("key_types is empty")
	}
	for _, k := range p.KeyTypes {
		if !slices.Contains(keyTypeNames, k) {
			return invalidProfile("key_types: %q is not one of %s", k, strings.Join(keyTypeNames, ", "))
		}
	}
	if slices.Contains(p.KeyTypes, "rsa") {
		if p.MinRSABits == 0 {
			p.MinRSABits = minRSABits
		}
		if p.MinRSABits < minRSABits || p.MinRSABits > maxRSABits {
			return invalidProfile("min_rsa_bits %d is outside %d..%d", p.MinRSABits, minRSABits, maxRSABits)
		}
	} else if p.MinRSABits != 0 {
		return invalidProfile("min_rsa_bits is set but key_types does not allow rsa")
	}
	maxDays := maxValidityDays
	if p.Kind == KindTLS {
		maxDays = maxTLSValidityDays
	}
	if p.ValidityDays <= 0 || p.ValidityDays > maxDays {
		return invalidProfile("validity_days %d is outside 1..%d", p.ValidityDays, maxDays)
	}

	if len(p.KeyUsage) == 0 {
		return invalidProfile("key_usage is empty")
	}
	p.keyUsage = 0
	for _, name := range p.KeyUsage {
		ku, ok := keyUsageNames[name]
		if !ok {
			return invalidProfile("key_usage: %q is not one of digitalSignature, contentCommitment, keyEncipherment, keyAgreement", name)
		}
		p.keyUsage |= ku
	}
	p.extKeyUsage, p.unknownEKU = nil, nil
	for _, name := range p.ExtKeyUsage {
		if eku, ok := extKeyUsageNames[name]; ok {
			p.extKeyUsage = append(p.extKeyUsage, eku)
			continue
		}
		if name == "documentSigning" {
			p.unknownEKU = append(p.unknownEKU, oidDocumentSigning)
			continue
		}
		oid, err := parseDottedOID(name)
		if err != nil {
			return invalidProfile("ext_key_usage: %q is neither a known name nor a dotted oid", name)
		}
		p.unknownEKU = append(p.unknownEKU, oid)
	}

	if len(p.Policies) == 0 {
		return invalidProfile("policies is empty: every certificate names its policy")
	}
	p.policies = nil
	seen := map[string]bool{}
	for _, s := range p.Policies {
		if seen[s] {
			return invalidProfile("policies: %q is listed twice", s)
		}
		seen[s] = true
		if !dottedOIDPattern().MatchString(s) {
			return invalidProfile("policies: %q is not a dotted oid", s)
		}
		oid, err := x509.ParseOID(s)
		if err != nil {
			return invalidProfile("policies: %q is not a valid oid", s)
		}
		p.policies = append(p.policies, oid)
	}

	seen = map[string]bool{}
	for _, list := range [][]string{p.Subject.Required, p.Subject.Allowed, p.Subject.Ignored} {
		for _, a := range list {
			if _, ok := attributeByName[a]; !ok {
				return invalidProfile("subject: unknown attribute %q (want one of %s)", a, strings.Join(attributeNames(), ", "))
			}
			if seen[a] {
				return invalidProfile("subject: attribute %q is listed twice", a)
			}
			seen[a] = true
		}
	}
	for _, a := range p.Subject.Validated {
		if _, ok := attributeByName[a]; !ok {
			return invalidProfile("subject.validated: unknown attribute %q (want one of %s)", a, strings.Join(attributeNames(), ", "))
		}
		if slices.Contains(p.Subject.Allowed, a) || slices.Contains(p.Subject.Ignored, a) {
			return invalidProfile("subject: attribute %q is validated and also allowed or ignored", a)
		}
	}
	for _, r := range []struct {
		field string
		value *string
	}{{"san.dns", &p.SAN.DNS}, {"san.email", &p.SAN.Email}} {
		if *r.value == "" {
			*r.value = SANForbidden
		}
		if *r.value != SANRequired && *r.value != SANAllowed && *r.value != SANForbidden {
			return invalidProfile("%s: %q is not one of required, allowed, forbidden", r.field, *r.value)
		}
	}
	for _, a := range p.Approvals {
		if !slices.Contains(approvalNames, a) {
			return invalidProfile("approvals: %q is not one of %s", a, strings.Join(approvalNames, ", "))
		}
	}

	if err := p.validateKind(); err != nil {
		return err
	}
	p.qcDER = nil
	if p.QC != nil {
		if err := p.QC.validate(); err != nil {
			return err
		}
		der, err := p.QC.marshal()
		if err != nil {
			return invalidProfile("qc_statements: %v", err)
		}
		p.qcDER = der
	}
	return p.validateQSCD()
}

// validateKind holds the rules a kind imposes on the rest of the profile, so
// that a copied and edited profile cannot drift away from what its lints demand.
func (p *Profile) validateKind() error {
	hasEKU := func(e x509.ExtKeyUsage) bool { return slices.Contains(p.extKeyUsage, e) }
	switch p.Kind {
	case KindQualifiedNatural, KindQualifiedLegal:
		if p.QC == nil {
			return invalidProfile("qc_statements are required for kind %s", p.Kind)
		}
		want := "natural"
		if p.Kind == KindQualifiedLegal {
			want = "legal"
		}
		if p.QC.Semantics != want {
			return invalidProfile("qc_statements.semantics must be %q for kind %s", want, p.Kind)
		}
		if !p.QC.Compliance {
			return invalidProfile("qc_statements.compliance must be true for kind %s", p.Kind)
		}
	case KindTLS:
		if !hasEKU(x509.ExtKeyUsageServerAuth) {
			return invalidProfile("ext_key_usage must contain serverAuth for kind tls")
		}
		if p.SAN.DNS != SANRequired {
			return invalidProfile("san.dns must be required for kind tls")
		}
		if p.SAN.Email != SANForbidden {
			return invalidProfile("san.email must be forbidden for kind tls")
		}
		if p.keyUsage&^(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement) != 0 {
			return invalidProfile("key_usage of kind tls allows only digitalSignature, keyEncipherment and keyAgreement")
		}
	case KindSMIME:
		if !hasEKU(x509.ExtKeyUsageEmailProtection) {
			return invalidProfile("ext_key_usage must contain emailProtection for kind smime")
		}
		if p.SAN.Email != SANRequired {
			return invalidProfile("san.email must be required for kind smime")
		}
	}
	return nil
}

func attributeNames() []string {
	names := make([]string, 0, len(attributeByName))
	for n := range attributeByName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

//go:embed profiles/*.yaml
var builtinFS embed.FS

var builtins = sync.OnceValues(func() (map[string][]byte, map[string]*Profile) {
	files := map[string][]byte{}
	profiles := map[string]*Profile{}
	entries, err := fs.ReadDir(builtinFS, "profiles")
	if err != nil {
		panic("pki: embedded profiles: " + err.Error())
	}
	for _, e := range entries {
		data, err := fs.ReadFile(builtinFS, "profiles/"+e.Name())
		if err != nil {
			panic("pki: embedded profiles: " + err.Error())
		}
		p, err := LoadProfile(data)
		if err != nil {
			// A broken built-in is a programming error caught by the tests.
			panic("pki: embedded profile " + e.Name() + ": " + selo.ErrorMessage(err))
		}
		files[p.Name] = data
		profiles[p.Name] = p
	}
	return files, profiles
})

// BuiltinProfiles returns the embedded profiles by name: qualified-sign,
// qualified-seal, advanced-invoice, advanced-email, tls-server (DV) and
// tls-server-ov.
// Each call returns fresh copies, so a caller may change them.
func BuiltinProfiles() map[string]*Profile {
	files, _ := builtins()
	out := make(map[string]*Profile, len(files))
	for name, data := range files {
		p, err := LoadProfile(data)
		if err != nil {
			panic("pki: embedded profile " + name + ": " + selo.ErrorMessage(err))
		}
		out[name] = p
	}
	return out
}

// BuiltinProfileFiles returns the embedded YAML of each built-in profile by name
// (so an operator can copy one: `selo profile show NAME > my.yaml`).
func BuiltinProfileFiles() map[string][]byte {
	files, _ := builtins()
	out := make(map[string][]byte, len(files))
	for name, data := range files {
		out[name] = bytes.Clone(data)
	}
	return out
}

// LoadProfiles returns the built-ins overlaid by every *.yaml in dir (a file
// whose name matches a built-in replaces it). A missing dir is not an error.
func LoadProfiles(dir string) (map[string]*Profile, error) {
	profiles := BuiltinProfiles()
	if dir == "" {
		return profiles, nil
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list profiles in %s: %w", dir, err)
	}
	sort.Strings(paths)
	fromFile := map[string]string{}
	for _, path := range paths {
		data, err := readLimited(path, maxProfileSize)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		p, err := LoadProfile(data)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "%s: %s", filepath.Base(path), selo.ErrorMessage(err))
		}
		if prev, ok := fromFile[p.Name]; ok {
			return nil, selo.Errorf(selo.EINVALID, "%s: profile %q is already defined in %s", filepath.Base(path), p.Name, prev)
		}
		fromFile[p.Name] = filepath.Base(path)
		profiles[p.Name] = p
	}
	return profiles, nil
}

// readLimited reads a file, refusing one larger than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", filepath.Base(path), err)
	}
	if int64(len(data)) > limit {
		return nil, selo.Errorf(selo.EINVALID, "%s: profile is larger than %d bytes", filepath.Base(path), limit)
	}
	return data, nil
}

// parseDottedOID parses "1.2.3" into an asn1.ObjectIdentifier.
func parseDottedOID(s string) (asn1OID, error) {
	if !dottedOIDPattern().MatchString(s) {
		return nil, fmt.Errorf("%q is not a dotted oid", s)
	}
	parts := strings.Split(s, ".")
	oid := make(asn1OID, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a dotted oid", s)
		}
		oid[i] = n
	}
	return oid, nil
}
