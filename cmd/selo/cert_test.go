package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo/pki"
)

var (
	oidQCStatements  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 3}
	oidQCPn          = asn1.ObjectIdentifier{0, 4, 0, 194112, 1, 0}
	oidQCPl          = asn1.ObjectIdentifier{0, 4, 0, 194112, 1, 1}
	oidDomainValided = asn1.ObjectIdentifier{2, 23, 140, 1, 2, 1}
)

// naturalPersonCSR returns a PEM CSR with the subject of a qualified-sign
// certificate, which `selo csr new` (a web server wizard) does not make.
func naturalPersonCSR(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: "Maria Silva", SerialNumber: "IDCPT-12345678", Country: []string{"PT"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidGivenName, Value: "Maria"}, {Type: oidSurname, Value: "Silva"}}}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// issued is one certificate issued in a test: its serial and PEM file.
type issued struct {
	serial, file string
	cert         *x509.Certificate
}

// issueCert runs `selo cert issue ... --out FILE` and returns what it wrote.
func issueCert(t *testing.T, data, name string, args ...string) issued {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".pem")
	r := mustRunSelo(t, append([]string{"cert", "issue", "--data", data, "--out", file}, args...)...)
	m := regexp.MustCompile(`issued \S+ serial ([0-9a-f]+) `).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("cert issue did not name the serial:\n%s", r)
	}
	certs := parsePEMCertificates(t, readFile(t, file))
	if len(certs) != 1 {
		t.Fatalf("cert issue wrote %d certificates, want 1", len(certs))
	}
	if got := fmt.Sprintf("%x", certs[0].SerialNumber); got != m[1] {
		t.Fatalf("cert issue named serial %s, wrote %s", m[1], got)
	}
	return issued{serial: m[1], file: file, cert: certs[0]}
}

// opensslVerify checks leaf against the chain of caID with openssl.
func opensslVerify(t *testing.T, data, caID, leaf string, extra ...string) {
	t.Helper()
	issuing, root := chainFiles(t, data, caID)
	args := append([]string{"verify", "-CAfile", root, "-untrusted", issuing}, extra...)
	out := mustOpenSSL(t, append(args, leaf)...)
	if !strings.Contains(out, leaf+": OK") {
		t.Errorf("openssl verify %s under %s: %s", leaf, caID, out)
	}
}

func TestCertIssueTLS(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), keyPassword)
	csr := filepath.Join(dir, "www.csr")
	mustRunSelo(t, "csr", "new", "--cn", "www.example.pt", "--san", "www.example.pt", "--san", "example.pt",
		"--key-out", filepath.Join(dir, "www.key"), "--out", csr, "--password-file", pw)

	leaf := issueCert(t, data, "www", "--profile", "tls-server", "--csr", csr)
	opensslVerify(t, data, "tls-rsa-v1", leaf.file, "-purpose", "sslserver")
	c := leaf.cert
	if !slices.Equal(c.DNSNames, []string{"www.example.pt", "example.pt"}) || c.Issuer.CommonName != "Selo Demo TLS CA RSA V1" {
		t.Errorf("TLS certificate: SANs %v, issuer %q", c.DNSNames, c.Issuer.CommonName)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || !slices.ContainsFunc(c.PolicyIdentifiers, oidDomainValided.Equal) {
		t.Errorf("TLS certificate: EKU %v, policies %v", c.ExtKeyUsage, c.PolicyIdentifiers)
	}
	if days := c.NotAfter.Sub(c.NotBefore).Hours() / 24; days > 199 {
		t.Errorf("TLS certificate valid %.1f days, more than the profile's 199", days)
	}
	if !slices.Equal(c.CRLDistributionPoints, []string{"http://127.0.0.1:8080/crl/tls-rsa-v1.crl"}) {
		t.Errorf("CRL distribution points %v, want the default base URL's", c.CRLDistributionPoints)
	}

	// The profile decides what a request may hold.
	// The refusals under an ECDSA CA: in-process issuance under the RSA one
	// makes a throwaway RSA key each time, which is slow under -race.
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc", "--name", "TLS ECC", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	orgCSR := filepath.Join(dir, "org.csr")
	mustRunSelo(t, "csr", "new", "--cn", "org.example.pt", "--o", "Example Lda", "--c", "PT", "--key-type", "ecdsa-p256",
		"--key-out", filepath.Join(dir, "org.key"), "--out", orgCSR, "--password-file", pw)
	before := countCertificates(t, data)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"organisation in an OV request, not validated", []string{"--profile", "tls-server-ov", "--csr", orgCSR}, 1, "only from the validated organisation"},
		{"unknown profile", []string{"--profile", "no-such-profile", "--csr", csr}, 1, "no-such-profile"},
		{"CSR file missing", []string{"--profile", "tls-server", "--csr", filepath.Join(dir, "missing.csr")}, 1, "read CSR"},
		{"not a CSR", []string{"--profile", "tls-server", "--csr", pw}, 1, ""},
		{"no profile", []string{"--csr", csr}, 2, "needs --profile"},
		{"neither CSR nor key", []string{"--profile", "tls-server"}, 2, "needs --csr FILE or --generate-key"},
		{"both CSR and key", []string{"--profile", "tls-server", "--csr", csr, "--generate-key", "ecdsa-p256"}, 2, "not both"},
	} {
		r := runSelo(t, append([]string{"cert", "issue", "--data", data, "--ca", "tls-ecc"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("%s: want exit %d and %q, nothing on standard output:\n%s", tc.name, tc.code, tc.msg, r)
		}
	}
	if after := countCertificates(t, data); after != before {
		t.Errorf("refused requests stored %d certificates", after-before)
	}
}

func countCertificates(t *testing.T, data string) int {
	t.Helper()
	var certs []certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "list", "--json", "--limit", "0", "--data", data), &certs)
	return len(certs)
}

func TestCertIssueQualified(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	csr := writeFile(t, filepath.Join(t.TempDir(), "maria.csr"), naturalPersonCSR(t))

	for _, tc := range []struct {
		name    string
		args    []string
		policy  asn1.ObjectIdentifier
		keyHeld bool
		subject []string
	}{
		// Neither a CSR's key nor a key Selo makes for a .pfx is known to be
		// in a QSCD: QCP-n / QCP-l without QcSSCD (issue 12 item 4).
		{"qualified-sign from a CSR", []string{"--profile", "qualified-sign", "--csr", csr}, oidQCPn, false,
			[]string{"CN=Maria Silva", "serialNumber=IDCPT-12345678", "C=PT"}},
		{"qualified-sign with a key Selo makes", []string{"--profile", "qualified-sign", "--generate-key", "ecdsa-p384",
			"--cn", "Joao Sousa", "--given-name", "Joao", "--surname", "Sousa", "--serial-number", "IDCPT-87654321", "--country", "PT",
			"--email", "joao@example.pt"}, oidQCPn, true, []string{"CN=Joao Sousa", "serialNumber=IDCPT-87654321"}},
		{"qualified-seal with a key Selo makes", []string{"--profile", "qualified-seal", "--generate-key", "ecdsa-p256",
			"--cn", "Example Lda", "--org", "Example Lda", "--org-id", "VATPT-500000000", "--country", "PT", "--locality", "Braga"},
			oidQCPl, true, []string{"CN=Example Lda", "O=Example Lda", "L=Braga"}},
	} {
		leaf := issueCert(t, data, strings.ReplaceAll(tc.name, " ", "-"), tc.args...)
		opensslVerify(t, data, "qualified-ecc-v1", leaf.file)
		c := leaf.cert
		if !slices.ContainsFunc(c.PolicyIdentifiers, tc.policy.Equal) {
			t.Errorf("%s: policies %v, want %v", tc.name, c.PolicyIdentifiers, tc.policy)
		}
		if pki.HasQcSSCD(c) {
			t.Errorf("%s: QcSSCD for a key not in a QSCD", tc.name)
		}
		if !slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidQCStatements) }) {
			t.Errorf("%s: no QC statements", tc.name)
		}
		var show certOutput
		decodeJSON(t, mustRunSelo(t, "cert", "show", leaf.serial, "--json", "--data", data), &show)
		if show.Serial != leaf.serial || show.CA != "qualified-ecc-v1" || show.Status != "valid" || show.KeyHeld != tc.keyHeld {
			t.Errorf("%s: cert show --json %+v", tc.name, show)
		}
		for _, s := range tc.subject {
			if !strings.Contains(show.Subject, s) {
				t.Errorf("%s: subject %q lacks %s", tc.name, show.Subject, s)
			}
		}
	}

	// Missing subject attributes are refused by the profile.
	wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--profile", "qualified-sign", "--generate-key", "ecdsa-p256",
		"--cn", "No Serial", "--given-name", "No", "--surname", "Serial", "--country", "PT"), 1, "serialNumber")
	wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--profile", "qualified-sign", "--generate-key", "rsa-2048",
		"--cn", "Small Key", "--given-name", "Small", "--surname", "Key", "--serial-number", "IDCPT-1", "--country", "PT"), 1, "3072")
	wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--profile", "qualified-seal", "--generate-key", "ed25519", "--cn", "X"), 1, "ed25519")
	mustRunSelo(t, "audit", "verify", "--data", data)
}

func TestCertShowGetList(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc", "--name", "Selo Test TLS CA ECC", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	tls := issueCert(t, data, "web", "--profile", "tls-server", "--ca", "tls-ecc", "--csr", writeFile(t, filepath.Join(t.TempDir(), "web.csr"), newCSRPEM(t, "web.example.pt")))
	seal := issueSeal(t, data, "Seal Lda")

	// show, plain and JSON.
	r := mustRunSelo(t, "cert", "show", tls.serial, "--data", data)
	for _, want := range []string{
		`(?m)^Serial:\s+` + tls.serial + `$`, `(?m)^Status:\s+valid$`, `(?m)^Profile:\s+tls-server$`, `(?m)^CA:\s+tls-ecc$`,
		`(?m)^Issuer:\s+CN=Selo Test TLS CA ECC$`, `(?m)^Key:\s+ECDSA P-256$`, `(?m)^DNS name:\s+web\.example\.pt$`,
		`(?m)^Valid:\s+\d{4}-.* to \d{4}-`, `(?m)^Lint findings:\s+\d+$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("cert show lacks %s:\n%s", want, r)
		}
	}
	var show certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "show", tls.serial, "--json", "--data", data), &show)
	if show.Serial != tls.serial || show.Profile != "tls-server" || show.Key != "ECDSA P-256" || !slices.Equal(show.DNSNames, []string{"web.example.pt"}) ||
		show.KeyHeld || show.PEM != "" || show.Lint == nil || !show.NotAfter.Equal(tls.cert.NotAfter) {
		t.Errorf("cert show --json: %+v", show)
	}
	// A serial as people type it: upper case, with colons.
	colons := strings.ToUpper(regexp.MustCompile(`(..)`).ReplaceAllString(tls.serial, "$1:"))
	if r := mustRunSelo(t, "cert", "show", strings.TrimSuffix(colons, ":"), "--data", data); !strings.Contains(r.stdout, tls.serial) {
		t.Errorf("cert show with %s:\n%s", colons, r)
	}

	// get: PEM, DER and the chain.
	pemOut := mustRunSelo(t, "cert", "get", tls.serial, "--data", data).stdout
	if certs := parsePEMCertificates(t, []byte(pemOut)); len(certs) != 1 || !certs[0].Equal(tls.cert) {
		t.Errorf("cert get PEM is not the certificate issued")
	}
	derFile := filepath.Join(t.TempDir(), "web.der")
	mustRunSelo(t, "cert", "get", tls.serial, "--format", "der", "--out", derFile, "--data", data)
	if der := readFile(t, derFile); string(der) != string(tls.cert.Raw) {
		t.Errorf("cert get --format der is not the certificate's DER")
	}
	if out := mustOpenSSL(t, "x509", "-inform", "DER", "-in", derFile, "-noout", "-serial"); !strings.Contains(strings.ToLower(out), tls.serial) {
		t.Errorf("openssl reads serial %s from the DER, want %s", out, tls.serial)
	}
	chain := parsePEMCertificates(t, []byte(mustRunSelo(t, "cert", "get", tls.serial, "--chain", "--data", data).stdout))
	if len(chain) != 3 || !chain[0].Equal(tls.cert) || chain[1].Subject.CommonName != "Selo Test TLS CA ECC" || chain[2].Subject.CommonName != "Selo Demo Root CA ECC V1" {
		t.Errorf("cert get --chain: %d certificates", len(chain))
	}
	var got certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "get", tls.serial, "--json", "--data", data), &got)
	if got.Serial != tls.serial || got.PEM != pemOut {
		t.Errorf("cert get --json: serial %s, certificate %q", got.Serial, got.PEM)
	}
	wantExit(t, runSelo(t, "cert", "get", tls.serial, "--format", "der", "--chain", "--data", data), 2, "--chain needs --format pem")
	wantExit(t, runSelo(t, "cert", "get", tls.serial, "--format", "txt", "--data", data), 2, "--format must be pem or der")
	wantExit(t, runSelo(t, "cert", "get", tls.serial, "--json", "--chain", "--data", data), 2, "--json")

	// list, plain and JSON, with filters.
	r = mustRunSelo(t, "cert", "list", "--data", data)
	if !regexp.MustCompile(`(?m)^SERIAL\s+CA\s+PROFILE\s+STATUS\s+NOT AFTER\s+SUBJECT$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+tls.serial+`\s+tls-ecc\s+tls-server\s+valid\s+\d{4}-\d\d-\d\d`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^`+seal+`\s+qualified-ecc-v1\s+qualified-seal\s+valid\s+`).MatchString(r.stdout) {
		t.Errorf("cert list:\n%s", r)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, sortedStrings(tls.serial, seal)},
		{[]string{"--ca", "tls-ecc"}, []string{tls.serial}},
		{[]string{"--ca", "qualified-ecc-v1"}, []string{seal}},
		{[]string{"--status", "valid"}, sortedStrings(tls.serial, seal)},
		{[]string{"--status", "superseded"}, nil},
		{[]string{"--limit", "1"}, sortedStrings(tls.serial, seal)[:1]},
		{[]string{"--after", sortedStrings(tls.serial, seal)[0]}, sortedStrings(tls.serial, seal)[1:]},
	} {
		var list []certOutput
		decodeJSON(t, mustRunSelo(t, append([]string{"cert", "list", "--json", "--data", data}, tc.args...)...), &list)
		var serials []string
		for _, c := range list {
			serials = append(serials, c.Serial)
		}
		if !slices.Equal(serials, tc.want) {
			t.Errorf("cert list --json %v: %v, want %v", tc.args, serials, tc.want)
		}
	}

	// Unknown and malformed serials.
	wantExit(t, runSelo(t, "cert", "show", "0123456789abcdef", "--data", data), 1, "not found")
	wantExit(t, runSelo(t, "cert", "show", "not-a-serial", "--data", data), 1, "not hexadecimal")
	wantExit(t, runSelo(t, "cert", "get", "0123456789abcdef", "--data", data), 1, "not found")
	wantExit(t, runSelo(t, "cert", "show", "--data", data), 2, "needs a serial")
	wantExit(t, runSelo(t, "cert", "get", "--data", data), 2, "needs a serial")
}

func sortedStrings(s ...string) []string {
	slices.Sort(s)
	return s
}

// issueNaturalPerson issues a qualified-sign certificate with a key Selo makes.
func issueNaturalPerson(t *testing.T, data string) certOutput {
	t.Helper()
	var q certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "issue", "--json", "--data", data, "--profile", "qualified-sign", "--generate-key", "ecdsa-p256",
		"--cn", "Maria Silva", "--given-name", "Maria", "--surname", "Silva", "--serial-number", "IDCPT-12345678", "--country", "PT"), &q)
	if !q.KeyHeld || q.PEM == "" {
		t.Fatalf("cert issue --generate-key --json: %+v", q)
	}
	return q
}

// TestCertPFXPasswordFromEnvironment takes the .pfx password from SELO_PFX_PASSWORD.
func TestCertPFXPasswordFromEnvironment(t *testing.T) {
	data := dataDir(t)
	q := issueNaturalPerson(t, data)
	t.Setenv("SELO_PFX_PASSWORD", "from-the-env-1")
	pfx := filepath.Join(t.TempDir(), "env.pfx")
	mustRunSelo(t, "cert", "pfx", q.Serial, "--out", pfx, "--data", data)
	mustOpenSSL(t, "pkcs12", "-info", "-nokeys", "-in", pfx, "-passin", "pass:from-the-env-1")
	checkPFX(t, pfx, "from-the-env-1", q.PEM)
	// A password file beats the environment.
	pfx = filepath.Join(t.TempDir(), "file.pfx")
	mustRunSelo(t, "cert", "pfx", q.Serial, "--out", pfx, "--data", data, "--password-file", writeFile(t, filepath.Join(t.TempDir(), "pw"), "from-the-file-1"))
	checkPFX(t, pfx, "from-the-file-1", q.PEM)
	if strings.Contains(mustRunSelo(t, "audit", "list", "--json", "--limit", "0", "--data", data).stdout, "from-the-") {
		t.Errorf("the audit log holds a password")
	}
}

func TestCertPFX(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()
	q := issueNaturalPerson(t, data)
	const pfxPassword = "pfx-Password-42"
	pwFile := writeFile(t, filepath.Join(dir, "pfx-pw"), pfxPassword+"\n")
	pfx := filepath.Join(dir, "maria.pfx")

	r := mustRunSelo(t, "cert", "pfx", q.Serial, "--out", pfx, "--password-file", pwFile, "--data", data)
	if r.stdout != "" {
		t.Errorf("cert pfx wrote to standard output:\n%s", r)
	}
	if fi, err := os.Stat(pfx); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pfx file: %v (want mode 0600)", err)
	}
	out := mustOpenSSL(t, "pkcs12", "-info", "-nokeys", "-in", pfx, "-passin", "pass:"+pfxPassword)
	if n := strings.Count(out, "-----BEGIN CERTIFICATE-----"); n != 3 {
		t.Errorf("openssl finds %d certificates in the pfx, want the leaf, its CA and the root:\n%s", n, out)
	}
	if !strings.Contains(out, "AES-256-CBC") {
		t.Errorf("the pfx is not encrypted with AES-256:\n%s", out)
	}
	if out, err := openssl(t, "pkcs12", "-info", "-nokeys", "-in", pfx, "-passin", "pass:wrong-password"); err == nil {
		t.Errorf("openssl opened the pfx with a wrong password:\n%s", out)
	}
	checkPFX(t, pfx, pfxPassword, q.PEM)

	// Never from an argument, never too short, never from nowhere.
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"password argument", []string{"--password", pfxPassword}, 2, "unknown flag: --password"},
		{"password argument, short form", []string{"-p", pfxPassword}, 2, "unknown shorthand flag: 'p'"},
		{"no password", nil, 1, "no password"},
		{"short password", []string{"--password-file", writeFile(t, filepath.Join(dir, "short"), "short")}, 1, "at least 8 characters"},
	} {
		target := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pfx")
		r := runSelo(t, append([]string{"cert", "pfx", q.Serial, "--out", target, "--data", data}, tc.args...)...)
		wantExit(t, r, tc.code, tc.msg)
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("%s: a refused export wrote %s", tc.name, target)
		}
	}
	wantExit(t, runSelo(t, "cert", "pfx", q.Serial, "--password-file", pwFile, "--data", data), 2, "needs --out")

	// A certificate from a CSR: Selo has no key, the holder brings theirs.
	// The key file as 'selo csr new' writes it (TestCSRNew), encrypted with
	// fewer PBKDF2 rounds to keep the test fast.
	csr, key := filepath.Join(dir, "web.csr"), filepath.Join(dir, "web.key")
	keyPW := writeFile(t, filepath.Join(dir, "key-pw"), keyPassword)
	holderKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := pkcs8.MarshalPrivateKey(holderKey, []byte(keyPassword), &pkcs8.Opts{
		Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 1000, HMACHash: crypto.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: keyDER})))
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"web.example.pt"}}, holderKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, csr, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})))
	// Under an ECDSA CA: in-process issuance under the RSA one makes a
	// throwaway RSA key each time, which is slow under -race.
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc", "--name", "TLS ECC", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	web := issueCert(t, data, "web", "--profile", "tls-server", "--ca", "tls-ecc", "--csr", csr)
	wantExit(t, runSelo(t, "cert", "pfx", web.serial, "--out", filepath.Join(dir, "web.pfx"), "--password-file", pwFile, "--data", data),
		1, "does not hold the key")
	wantExit(t, runSelo(t, "cert", "pfx", web.serial, "--out", filepath.Join(dir, "web.pfx"), "--password-file", pwFile,
		"--key", key, "--key-password-file", pwFile, "--data", data), 1, "cannot decrypt")
	wantExit(t, runSelo(t, "cert", "pfx", q.Serial, "--out", filepath.Join(dir, "web.pfx"), "--password-file", pwFile,
		"--key", key, "--key-password-file", keyPW, "--data", data), 1, "does not belong to certificate")
	mustRunSelo(t, "cert", "pfx", web.serial, "--out", filepath.Join(dir, "web.pfx"), "--password-file", pwFile,
		"--key", key, "--key-password-file", keyPW, "--data", data)
	checkPFX(t, filepath.Join(dir, "web.pfx"), pfxPassword, string(readFile(t, web.file)))

	// The passwords are in no output and in no audit entry.
	audit := mustRunSelo(t, "audit", "list", "--json", "--limit", "0", "--data", data)
	for _, secret := range []string{pfxPassword, keyPassword} {
		if strings.Contains(audit.stdout, secret) {
			t.Errorf("the audit log holds a password")
		}
	}
	if !strings.Contains(audit.stdout, `"key.export"`) {
		t.Errorf("no key.export audit entry:\n%s", audit.stdout)
	}
	mustRunSelo(t, "audit", "verify", "--data", data)
}

// checkPFX opens the PKCS#12 and checks it holds the certificate with
// certPEM, its key, and the CA chain.
func checkPFX(t *testing.T, path, password, certPEM string) {
	t.Helper()
	key, leaf, cas, err := pkcs12.DecodeChain(readFile(t, path), password)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	want := parsePEMCertificates(t, []byte(certPEM))[0]
	if !leaf.Equal(want) {
		t.Errorf("%s holds certificate %x, want %x", path, leaf.SerialNumber, want.SerialNumber)
	}
	if !keyMatchesCert(key, leaf) {
		t.Errorf("%s: the key does not belong to the certificate", path)
	}
	if len(cas) != 2 {
		t.Errorf("%s holds %d CA certificates, want 2", path, len(cas))
	}
	mustOpenSSL(t, "pkcs12", "-in", path, "-passin", "pass:"+password, "-nodes", "-noout")
}

func keyMatchesCert(key any, cert *x509.Certificate) bool {
	s, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	pub, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
