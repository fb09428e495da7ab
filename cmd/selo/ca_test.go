package main

import (
	"crypto/elliptic"
	"crypto/x509"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCAList(t *testing.T) {
	t.Parallel()
	data := dataDir(t)

	r := mustRunSelo(t, "ca", "list", "--data", data)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^ID\s+PARENT\s+KEY\s+STATUS\s+NOT AFTER\s+SUBJECT$`).MatchString(lines[0]) {
		t.Fatalf("ca list: want a header and 3 rows:\n%s", r)
	}
	for i, want := range []string{
		`^root-ecc-v1\s+\(root\)\s+ecdsa-p384\s+active\s+\d{4}-\d\d-\d\d\s+CN=Selo Demo Root CA ECC V1,`,
		`^qualified-ecc-v1\s+root-ecc-v1\s+ecdsa-p384\s+active\s+\d{4}-\d\d-\d\d\s+CN=Selo Demo Qualified CA ECC V1,`,
		`^tls-rsa-v1\s+root-ecc-v1\s+rsa-3072\s+active\s+\d{4}-\d\d-\d\d\s+CN=Selo Demo TLS CA RSA V1,`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i+1]) {
			t.Errorf("ca list row %d = %q, want it to match %s", i+1, lines[i+1], want)
		}
	}

	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	if len(cas) != 3 {
		t.Fatalf("ca list --json: %d CAs, want 3", len(cas))
	}
	for _, ca := range cas {
		if !regexp.MustCompile(`^[0-9a-f]{16,40}$`).MatchString(ca.Serial) || ca.NotBefore.IsZero() || !ca.NotAfter.After(ca.NotBefore) {
			t.Errorf("ca list --json: CA %s has serial %q, validity %v to %v", ca.ID, ca.Serial, ca.NotBefore, ca.NotAfter)
		}
	}
	// Usage: list takes no argument.
	wantExit(t, runSelo(t, "ca", "list", "extra", "--data", data), 2, "unknown command \"extra\"")
}

func TestCACreate(t *testing.T) {
	t.Parallel()
	data := dataDir(t)

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"root ecdsa-p256", []string{"--id", "root-p256", "--name", "Test Root P256", "--key-type", "ecdsa-p256", "--org", "Example", "--country", "PT"}, 0, ""},
		{"issuing under the default root", []string{"--id", "sub-p256", "--name", "Test Sub P256", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256"}, 0, ""},
		{"issuing under the new root", []string{"--id", "sub-of-new", "--name", "Sub Of New", "--parent", "root-p256", "--key-type", "ecdsa-p384", "--validity-days", "365"}, 0, ""},
		{"rsa-2048 is too weak for a CA", []string{"--id", "weak-rsa", "--name", "Weak", "--parent", "root-ecc-v1", "--key-type", "rsa-2048"}, 1, "at least RSA 3072"},
		{"rsa-2048 root too", []string{"--id", "weak-root", "--name", "Weak Root", "--key-type", "rsa-2048"}, 1, "at least RSA 3072"},
		{"unknown key type", []string{"--id", "dsa", "--name", "DSA", "--key-type", "dsa-1024"}, 1, "unknown key type"},
		{"duplicate ID", []string{"--id", "root-ecc-v1", "--name", "Again"}, 1, "already exists"},
		{"unknown parent", []string{"--id", "orphan", "--name", "Orphan", "--parent", "no-such-ca"}, 1, "no-such-ca"},
		{"bad ID", []string{"--id", "Bad_ID", "--name", "Bad"}, 1, "lower-case"},
		{"bad country", []string{"--id", "bad-country", "--name", "Bad", "--country", "PRT"}, 1, "two-letter"},
		{"no --id", []string{"--name", "No ID"}, 2, "needs --id and --name"},
		{"no --name", []string{"--id", "no-name"}, 2, "needs --id and --name"},
		{"positional argument", []string{"--id", "x", "--name", "X", "extra"}, 2, "extra"},
	}
	for _, tc := range tests {
		r := runSelo(t, append([]string{"ca", "create", "--data", data}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%s: want exit %d and %q:\n%s", tc.name, tc.code, tc.msg, r)
		}
	}

	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	byID := map[string]caOutput{}
	for _, ca := range cas {
		byID[ca.ID] = ca
	}
	if len(cas) != 6 {
		t.Errorf("ca list after creating 3 CAs shows %d, want 6: %+v", len(cas), cas)
	}
	for _, refused := range []string{"weak-rsa", "weak-root", "dsa", "orphan", "no-name", "bad-country"} {
		if _, ok := byID[refused]; ok {
			t.Errorf("refused CA %s is listed", refused)
		}
	}
	for id, parent := range map[string]string{"root-p256": "", "sub-p256": "root-ecc-v1", "sub-of-new": "root-p256"} {
		ca, ok := byID[id]
		if !ok || ca.Parent != parent || ca.Status != "active" {
			t.Errorf("CA %s = %+v, want active under %q", id, ca, parent)
		}
	}

	// The certificates: the chain of the new issuing CA goes up to its root
	// and carries the key type asked for.
	chain := parsePEMCertificates(t, []byte(mustRunSelo(t, "ca", "chain", "sub-of-new", "--data", data).stdout))
	if len(chain) != 2 || chain[0].Subject.CommonName != "Sub Of New" || chain[1].Subject.CommonName != "Test Root P256" {
		t.Fatalf("chain of sub-of-new: %d certificates", len(chain))
	}
	wantECDSA(t, "sub-of-new", chain[0], elliptic.P384())
	wantECDSA(t, "root-p256", chain[1], elliptic.P256())
	if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
		t.Errorf("sub-of-new is not signed by root-p256: %v", err)
	}
	if d := chain[0].NotAfter.Sub(chain[0].NotBefore).Hours() / 24; d < 364 || d > 366 {
		t.Errorf("sub-of-new is valid %.1f days, want 365", d)
	}
	if got := chain[1].Subject.String(); !strings.Contains(got, "O=Example") || !strings.Contains(got, "C=PT") {
		t.Errorf("root-p256 subject %q lacks --org and --country", got)
	}

	// --json prints the CA made.
	var made caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "create", "--json", "--data", data, "--id", "json-ca", "--name", "JSON CA", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256"), &made)
	if made.ID != "json-ca" || made.Parent != "root-ecc-v1" || made.KeyAlgorithm != "ecdsa-p256" || made.Status != "active" || made.Serial == "" {
		t.Errorf("ca create --json printed %+v", made)
	}
	mustRunSelo(t, "audit", "verify", "--data", data)
}

func TestCARetire(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	before := issueSeal(t, data, "Before Lda")

	r := mustRunSelo(t, "ca", "retire", "qualified-ecc-v1", "--data", data)
	if !strings.Contains(r.stdout, "qualified-ecc-v1 is retired") {
		t.Errorf("ca retire said:\n%s", r)
	}
	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	for _, ca := range cas {
		if want := map[bool]string{true: "retired", false: "active"}[ca.ID == "qualified-ecc-v1"]; ca.Status != want {
			t.Errorf("after retiring qualified-ecc-v1, CA %s is %s, want %s", ca.ID, ca.Status, want)
		}
	}

	// Nothing new comes from a retired CA, by default or by name.
	seal := []string{"cert", "issue", "--data", data, "--profile", "qualified-seal", "--generate-key", "ecdsa-p256",
		"--cn", "After Lda", "--org", "After Lda", "--org-id", "VATPT-500000001", "--country", "PT"}
	wantExit(t, runSelo(t, seal...), 1, "qualified-ecc-v1", "retired")
	wantExit(t, runSelo(t, append(seal, "--ca", "qualified-ecc-v1")...), 1, "retired")
	wantExit(t, runSelo(t, "ca", "create", "--data", data, "--id", "under-retired", "--name", "U", "--parent", "qualified-ecc-v1"), 1, "retired")
	// A root issues no end-entity certificate either.
	wantExit(t, runSelo(t, append(seal, "--ca", "root-ecc-v1")...), 1, "root")

	// What it issued stays valid; retiring again changes nothing.
	var show certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "show", before, "--json", "--data", data), &show)
	if show.Status != "valid" {
		t.Errorf("a certificate of the retired CA is %s, want valid", show.Status)
	}
	mustRunSelo(t, "ca", "retire", "qualified-ecc-v1", "--data", data)
	var again caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "retire", "qualified-ecc-v1", "--json", "--data", data), &again)
	if again.Status != "retired" {
		t.Errorf("ca retire --json: %+v", again)
	}

	wantExit(t, runSelo(t, "ca", "retire", "no-such-ca", "--data", data), 1, "no-such-ca")
	wantExit(t, runSelo(t, "ca", "retire", "--data", data), 2, "needs the CA's ID")
	mustRunSelo(t, "audit", "verify", "--data", data)
}

// issueSeal issues a qualified-seal certificate with a key Selo makes and
// returns its serial.
func issueSeal(t *testing.T, data, org string) string {
	t.Helper()
	var out certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "issue", "--json", "--data", data, "--profile", "qualified-seal", "--generate-key", "ecdsa-p256",
		"--cn", org, "--org", org, "--org-id", "VATPT-500000000", "--country", "PT"), &out)
	return out.Serial
}

func TestCAChain(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()

	for _, tc := range []struct {
		ca   string
		want []string // common names, leaf CA first
	}{
		{"qualified-ecc-v1", []string{"Selo Demo Qualified CA ECC V1", "Selo Demo Root CA ECC V1"}},
		{"tls-rsa-v1", []string{"Selo Demo TLS CA RSA V1", "Selo Demo Root CA ECC V1"}},
		{"root-ecc-v1", []string{"Selo Demo Root CA ECC V1"}},
	} {
		pemFile := filepath.Join(dir, tc.ca+".pem")
		r := mustRunSelo(t, "ca", "chain", tc.ca, "--format", "pem", "--out", pemFile, "--data", data)
		if r.stdout != "" || !strings.Contains(r.stderr, "wrote "+pemFile) {
			t.Errorf("ca chain --out wrote to standard output or did not say so:\n%s", r)
		}
		certs := parsePEMCertificates(t, readFile(t, pemFile))
		if len(certs) != len(tc.want) {
			t.Fatalf("chain of %s: %d certificates, want %d", tc.ca, len(certs), len(tc.want))
		}
		for i, cn := range tc.want {
			if certs[i].Subject.CommonName != cn {
				t.Errorf("chain of %s, certificate %d: %q, want %q", tc.ca, i, certs[i].Subject.CommonName, cn)
			}
		}
		// Standard output by default, the same bytes.
		if r := mustRunSelo(t, "ca", "chain", tc.ca, "--data", data); r.stdout != string(readFile(t, pemFile)) {
			t.Errorf("ca chain to standard output differs from --out")
		}

		p7b := filepath.Join(dir, tc.ca+".p7b")
		mustRunSelo(t, "ca", "chain", tc.ca, "--format", "p7b", "--out", p7b, "--data", data)
		out := mustOpenSSL(t, "pkcs7", "-inform", "DER", "-in", p7b, "-print_certs", "-noout")
		subjects := regexp.MustCompile(`(?m)^subject=.*CN ?= ?([^,\n]+)`).FindAllStringSubmatch(out, -1)
		if len(subjects) != len(tc.want) {
			t.Fatalf("openssl pkcs7 lists %d certificates in %s, want %d:\n%s", len(subjects), p7b, len(tc.want), out)
		}
		for i, cn := range tc.want {
			if strings.TrimSpace(subjects[i][1]) != cn {
				t.Errorf("p7b of %s, certificate %d: %q, want %q", tc.ca, i, subjects[i][1], cn)
			}
		}
		// The certificates openssl reads from the p7b are the PEM chain's.
		pemOut := filepath.Join(dir, tc.ca+".p7b.pem")
		mustOpenSSL(t, "pkcs7", "-inform", "DER", "-in", p7b, "-print_certs", "-out", pemOut)
		fromP7B := parsePEMCertificatesLoose(t, readFile(t, pemOut))
		if len(fromP7B) != len(certs) {
			t.Fatalf("p7b holds %d certificates, PEM chain %d", len(fromP7B), len(certs))
		}
		for i := range certs {
			if !fromP7B[i].Equal(certs[i]) {
				t.Errorf("p7b certificate %d differs from the PEM chain's", i)
			}
		}
	}

	// openssl accepts each issuing CA under the root.
	root := filepath.Join(dir, "root-ecc-v1.pem")
	for _, ca := range []string{"qualified-ecc-v1", "tls-rsa-v1"} {
		issuing, _ := chainFiles(t, data, ca)
		if out := mustOpenSSL(t, "verify", "-CAfile", root, issuing); !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %s", ca, out)
		}
	}

	wantExit(t, runSelo(t, "ca", "chain", "tls-rsa-v1", "--format", "der", "--data", data), 2, "--format must be pem or p7b")
	wantExit(t, runSelo(t, "ca", "chain", "no-such-ca", "--data", data), 1, "no-such-ca")
	wantExit(t, runSelo(t, "ca", "chain", "--data", data), 2, "needs the CA's ID")
}

// parsePEMCertificatesLoose returns the CERTIFICATE blocks of b, skipping the
// text openssl writes between them.
func parsePEMCertificatesLoose(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, part := range strings.SplitAfter(string(b), "-----END CERTIFICATE-----") {
		i := strings.Index(part, "-----BEGIN CERTIFICATE-----")
		if i < 0 {
			continue
		}
		out = append(out, parsePEMCertificates(t, []byte(part[i:]))...)
	}
	return out
}
