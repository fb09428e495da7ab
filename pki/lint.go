package pki

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"

	"github.com/selo-qtsp/selo"
)

// Lint sets beyond the profile kinds: CA certificates in general,
// subordinate CAs that issue CA/B Forum TLS certificates, and delegated OCSP
// responder certificates.
const (
	lintSetCA            = "ca"
	lintSetCATLS         = "ca-tls"
	lintSetOCSPResponder = "ocsp-responder"
)

// rfcSources are the IETF lint sources every certificate must pass.
var rfcSources = lint.SourceList{lint.RFC5280, lint.RFC5480, lint.RFC5891, lint.RFC3279, lint.RFC8813}

// lintSources says which zlint sources judge each kind of certificate.
//
// The advanced kind has no CA/B or ETSI rule book of its own (its policy is
// ETSI EN 319 411-1 NCP, which zlint does not model), so it gets the RFCs only.
// The smime kind includes the CA/B S/MIME BRs: the built-in advanced-email
// profile (mailbox-validated strict) passes them without a warning provided
// the issuer's CRL and AIA URLs are plain http, as those BRs require.
var lintSources = map[string]lint.SourceList{
	KindQualifiedNatural: append(append(lint.SourceList{}, rfcSources...), lint.EtsiEsi),
	KindQualifiedLegal:   append(append(lint.SourceList{}, rfcSources...), lint.EtsiEsi),
	KindAdvanced:         rfcSources,
	KindSMIME:            append(append(lint.SourceList{}, rfcSources...), lint.CABFSMIMEBaselineRequirements),
	KindTLS:              append(append(lint.SourceList{}, rfcSources...), lint.CABFBaselineRequirements),
	lintSetCA:            rfcSources,
	lintSetCATLS:         append(append(lint.SourceList{}, rfcSources...), lint.CABFBaselineRequirements),
	lintSetOCSPResponder: rfcSources,
}

// lintConflicts are lints left out of a set because the set's own rule book
// says the opposite. RFC 5280 4.2.1.2 says end-entity certificates SHOULD
// carry a subject key identifier; the TLS BRs 7.1.2.7.6 (ballot SC-062) make it
// NOT RECOMMENDED for TLS subscribers, so zlint warns either way. The BRs are
// the more specific rule for TLS, and Let's Encrypt's Boulder ignores the same
// RFC lint for the same reason.
var lintConflicts = map[string][]string{
	KindTLS: {"w_ext_subject_key_identifier_missing_sub_cert"},
}

// Linter runs the zlint sources that apply to a profile; registries are
// filtered once, when the Linter is built.
type Linter struct {
	registries map[string]lint.Registry
}

// NewLinter builds one filtered zlint registry per profile kind.
func NewLinter() (*Linter, error) {
	global := lint.GlobalRegistry()
	l := &Linter{registries: map[string]lint.Registry{}}
	for kind, sources := range lintSources {
		// Keep only sources that have lints, so a source dropped by a future
		// zlint release does not make Filter fail.
		var present lint.SourceList
		for _, s := range sources {
			if len(global.BySource(s)) > 0 {
				present = append(present, s)
			}
		}
		r, err := global.Filter(lint.FilterOptions{IncludeSources: present, ExcludeNames: lintConflicts[kind]})
		if err != nil {
			return nil, fmt.Errorf("filter zlint registry for %s: %w", kind, err)
		}
		l.registries[kind] = r
	}
	return l, nil
}

// defaultLinter serves callers that pass a nil *Linter, so that a missing
// linter means "lint with the defaults", never "do not lint".
var defaultLinter = sync.OnceValues(NewLinter)

func (l *Linter) orDefault() (*Linter, error) {
	if l != nil {
		return l, nil
	}
	return defaultLinter()
}

// LintNames returns the names of the lints run for a profile kind (or
// "ca", "ca-tls"), sorted; for reports and tests.
func (l *Linter) LintNames(kind string) []string {
	l, err := l.orDefault()
	if err != nil {
		return nil
	}
	r, ok := l.registries[kind]
	if !ok {
		return nil
	}
	names := r.Names()
	sort.Strings(names)
	return names
}

// LintFinding is one non-pass zlint result.
type LintFinding struct {
	Lint    string `json:"lint"`
	Status  string `json:"status"` // "warn", "error", "fatal", "notice", "info"
	Details string `json:"details,omitempty"`
}

// Lint runs the registry of a profile kind (or "ca", "ca-tls") over a DER
// certificate and returns every result that is neither pass, not applicable
// nor not yet effective, sorted by lint name.
func (l *Linter) Lint(kind string, der []byte) ([]LintFinding, error) {
	l, err := l.orDefault()
	if err != nil {
		return nil, err
	}
	r, ok := l.registries[kind]
	if !ok {
		return nil, fmt.Errorf("lint: unknown profile kind %q", kind)
	}
	return lintWith(r, der)
}

// LintFullRegistry lints der with every registered zlint lint. It is for
// reference and benchmarks only: most lints there belong to other rule books.
func LintFullRegistry(der []byte) ([]LintFinding, error) {
	return lintWith(lint.GlobalRegistry(), der)
}

func lintWith(r lint.Registry, der []byte) ([]LintFinding, error) {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lint: parse certificate: %w", err)
	}
	rs := zlint.LintCertificateEx(c, r)
	var out []LintFinding
	for name, res := range rs.Results {
		switch res.Status {
		case lint.Pass, lint.NA, lint.NE, lint.Reserved:
			continue
		}
		out = append(out, LintFinding{Lint: name, Status: res.Status.String(), Details: res.Details})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lint < out[j].Lint })
	return out, nil
}

// lintRefusal returns selo EINVALID listing the error and fatal findings, or
// nil when there are none.
func lintRefusal(what string, findings []LintFinding) error {
	var bad []string
	for _, f := range findings {
		if f.Status == "error" || f.Status == "fatal" {
			s := f.Lint
			if f.Details != "" {
				s += " (" + truncate(f.Details, 200) + ")"
			}
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return selo.Errorf(selo.EINVALID, "%s fails lint: %s", what, strings.Join(bad, "; "))
}
