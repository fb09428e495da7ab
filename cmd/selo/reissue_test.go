package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCertReissueOne re-issues one certificate under a new CA: same key,
// subject and notAfter; the old one is superseded, not revoked.
func TestCertReissueOne(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	old := issueCert(t, data, "maria", "--profile", "qualified-sign", "--generate-key", "ecdsa-p256",
		"--cn", "Maria Silva", "--given-name", "Maria", "--surname", "Silva", "--serial-number", "IDCPT-12345678", "--country", "PT")
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "qualified-ecc-v2", "--name", "Selo Demo Qualified CA ECC V2",
		"--parent", "root-ecc-v1", "--key-type", "ecdsa-p384")

	r := mustRunSelo(t, "cert", "reissue", old.serial, "--ca", "qualified-ecc-v2", "--data", data)
	m := regexp.MustCompile(`^Re-issued ` + old.serial + ` as ([0-9a-f]+) under qualified-ecc-v2 \(valid until (\d{4}-\d\d-\d\d)\)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("cert reissue said:\n%s", r)
	}
	newSerial := m[1]
	if m[2] != old.cert.NotAfter.Format("2006-01-02") {
		t.Errorf("re-issued valid until %s, want the old %s", m[2], old.cert.NotAfter.Format("2006-01-02"))
	}

	var oldShow, newShow certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "show", old.serial, "--json", "--data", data), &oldShow)
	decodeJSON(t, mustRunSelo(t, "cert", "show", newSerial, "--json", "--data", data), &newShow)
	if oldShow.Status != "superseded" || oldShow.SupersededBy != newSerial {
		t.Errorf("old certificate after reissue: status %s, superseded by %q; want superseded by %s", oldShow.Status, oldShow.SupersededBy, newSerial)
	}
	if newShow.Status != "valid" || newShow.CA != "qualified-ecc-v2" || newShow.ReissuedFrom != old.serial || !newShow.KeyHeld {
		t.Errorf("new certificate: %+v", newShow)
	}
	if plain := mustRunSelo(t, "cert", "show", old.serial, "--data", data); !regexp.MustCompile(`(?m)^Status:\s+superseded$`).MatchString(plain.stdout) ||
		!regexp.MustCompile(`(?m)^Superseded by:\s+`+newSerial+`$`).MatchString(plain.stdout) {
		t.Errorf("cert show of the old certificate:\n%s", plain)
	}

	newFile := filepath.Join(t.TempDir(), "new.pem")
	mustRunSelo(t, "cert", "get", newSerial, "--out", newFile, "--data", data)
	nc := parsePEMCertificates(t, readFile(t, newFile))[0]
	switch {
	case !bytes.Equal(nc.RawSubjectPublicKeyInfo, old.cert.RawSubjectPublicKeyInfo):
		t.Error("the re-issued certificate has another key")
	case !nc.NotAfter.Equal(old.cert.NotAfter):
		t.Errorf("notAfter %v, want the old %v", nc.NotAfter, old.cert.NotAfter)
	case !bytes.Equal(nc.RawSubject, old.cert.RawSubject):
		t.Errorf("subject %v, want the old %v", nc.Subject, old.cert.Subject)
	case nc.Issuer.CommonName != "Selo Demo Qualified CA ECC V2":
		t.Errorf("issued by %v, want the new CA", nc.Issuer)
	}
	opensslVerify(t, data, "qualified-ecc-v2", newFile)
	// The key Selo holds for the holder goes with the new certificate.
	pw := writeFile(t, filepath.Join(t.TempDir(), "pw"), "pfx-password-1")
	pfx := filepath.Join(t.TempDir(), "new.pfx")
	mustRunSelo(t, "cert", "pfx", newSerial, "--out", pfx, "--password-file", pw, "--data", data)
	checkPFX(t, pfx, "pfx-password-1", string(readFile(t, newFile)))

	wantExit(t, runSelo(t, "cert", "reissue", old.serial, "--ca", "qualified-ecc-v2", "--data", data), 1, "superseded")
	wantExit(t, runSelo(t, "cert", "reissue", newSerial, "--ca", "qualified-ecc-v2", "--data", data), 1, "already issued by qualified-ecc-v2")
	wantExit(t, runSelo(t, "cert", "reissue", newSerial, "--ca", "root-ecc-v1", "--data", data), 1, "root")
	wantExit(t, runSelo(t, "cert", "reissue", newSerial, "--ca", "no-such-ca", "--data", data), 1, "no-such-ca")
	wantExit(t, runSelo(t, "cert", "reissue", newSerial, "--data", data), 2, "needs --ca")
	wantExit(t, runSelo(t, "cert", "reissue", "--ca", "qualified-ecc-v2", "--data", data), 2, "one serial, or --all-from")
	wantExit(t, runSelo(t, "cert", "reissue", newSerial, "--all-from", "qualified-ecc-v1", "--ca", "qualified-ecc-v2", "--data", data), 2, "one serial, or --all-from")
	mustRunSelo(t, "audit", "verify", "--data", data)
}

// TestCertReissueAll moves every certificate of a retired CA to a new one,
// with progress, and can be run again.
func TestCertReissueAll(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	// An ECDSA CA to move from: each in-process issuance under an RSA CA
	// makes a throwaway RSA key for linting, seconds under -race.
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc-v1", "--name", "Selo Demo TLS CA ECC V1", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	const n = 12
	var serials []string
	for i := range n {
		csr := writeFile(t, filepath.Join(t.TempDir(), "host.csr"), newCSRPEM(t, fmt.Sprintf("host%d.example.pt", i)))
		serials = append(serials, issueCert(t, data, "host", "--profile", "tls-server", "--ca", "tls-ecc-v1", "--csr", csr).serial)
	}
	other := issueSeal(t, data, "Other Lda") // another CA's: left alone
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc-v2", "--name", "Selo Demo TLS CA ECC V2", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p384")
	mustRunSelo(t, "ca", "retire", "tls-ecc-v1", "--data", data)

	// Moving to a CA that cannot issue changes nothing.
	wantExit(t, runSelo(t, "cert", "reissue", "--all-from", "tls-ecc-v1", "--ca", "tls-ecc-v1", "--data", data), 1, "retired")
	wantExit(t, runSelo(t, "cert", "reissue", "--all-from", "no-such-ca", "--ca", "tls-ecc-v2", "--data", data), 1, "no-such-ca")
	if got := listSerials(t, data, "--ca", "tls-ecc-v1", "--status", "valid"); len(got) != n {
		t.Fatalf("after refused bulk re-issues, %d valid certificates of tls-ecc-v1, want %d", len(got), n)
	}

	r := mustRunSelo(t, "cert", "reissue", "--all-from", "tls-ecc-v1", "--ca", "tls-ecc-v2", "--data", data)
	if want := fmt.Sprintf("Re-issued %d certificates of tls-ecc-v1 under tls-ecc-v2. The re-issue is complete: tls-ecc-v1 has no valid certificate left.\n", n); r.stdout != want {
		t.Errorf("bulk reissue said %q, want %q\n%s", r.stdout, want, r)
	}
	// Progress: a line per tenth on a non-terminal, in order, up to the end.
	progress := regexp.MustCompile(`(?m)^progress: (\d+)/(\d+) \((\d+)%\)$`).FindAllStringSubmatch(r.stderr, -1)
	if len(progress) < 10 {
		t.Fatalf("bulk reissue of %d certificates showed %d progress lines, want one for each tenth:\n%s", n, len(progress), r)
	}
	last := 0
	for _, p := range progress {
		done, _ := strconv.Atoi(p[1])
		if p[2] != strconv.Itoa(n) || done <= last {
			t.Errorf("progress line %q out of order or with the wrong total", p[0])
		}
		last = done
	}
	if final := progress[len(progress)-1][0]; final != fmt.Sprintf("progress: %d/%d (100%%)", n, n) {
		t.Errorf("last progress line %q, want the end", final)
	}

	if got := listSerials(t, data, "--ca", "tls-ecc-v1", "--status", "valid"); len(got) != 0 {
		t.Errorf("after the bulk reissue, tls-ecc-v1 still has valid certificates %v", got)
	}
	if got := listSerials(t, data, "--ca", "tls-ecc-v1", "--status", "superseded"); strings.Join(got, " ") != strings.Join(sortedStrings(serials...), " ") {
		t.Errorf("superseded certificates of tls-ecc-v1: %v, want %v", got, serials)
	}
	var moved []certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "list", "--json", "--ca", "tls-ecc-v2", "--data", data), &moved)
	from := map[string]bool{}
	for _, c := range moved {
		if c.Status != "valid" || c.ReissuedFrom == "" {
			t.Errorf("re-issued certificate %+v", c)
		}
		from[c.ReissuedFrom] = true
	}
	for _, s := range serials {
		if !from[s] {
			t.Errorf("certificate %s was not re-issued", s)
		}
	}
	var seal certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "show", other, "--json", "--data", data), &seal)
	if seal.Status != "valid" || seal.CA != "qualified-ecc-v1" {
		t.Errorf("a certificate of another CA was touched: %+v", seal)
	}
	leaf := filepath.Join(t.TempDir(), "leaf.pem")
	mustRunSelo(t, "cert", "get", moved[0].Serial, "--out", leaf, "--data", data)
	opensslVerify(t, data, "tls-ecc-v2", leaf, "-purpose", "sslserver")

	// Running it again resumes: nothing is left to do.
	var again struct {
		Reissued  int  `json:"reissued"`
		Failed    int  `json:"failed"`
		Remaining int  `json:"remaining"`
		Complete  bool `json:"complete"`
	}
	decodeJSON(t, mustRunSelo(t, "cert", "reissue", "--all-from", "tls-ecc-v1", "--ca", "tls-ecc-v2", "--json", "--data", data), &again)
	if again.Reissued != 0 || again.Failed != 0 || again.Remaining != 0 || !again.Complete {
		t.Errorf("second bulk reissue: %+v, want nothing done and complete", again)
	}
	if r := mustRunSelo(t, "cert", "reissue", "--all-from", "tls-ecc-v1", "--ca", "tls-ecc-v2", "--data", data); r.stdout != "Nothing left to re-issue: tls-ecc-v1 has no valid certificate left. The re-issue to tls-ecc-v2 is complete.\n" {
		t.Errorf("third bulk reissue said %q", r.stdout)
	}
	mustRunSelo(t, "audit", "verify", "--data", data)
}

func listSerials(t *testing.T, data string, filter ...string) []string {
	t.Helper()
	var list []certOutput
	decodeJSON(t, mustRunSelo(t, append([]string{"cert", "list", "--json", "--limit", "0", "--data", data}, filter...)...), &list)
	var out []string
	for _, c := range list {
		out = append(out, c.Serial)
	}
	return out
}

// TestProgressBar checks the plain-line progress for totals that step over
// the multiples of ten: a line for each tenth reached, in order, and the end.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`^progress: (\d+)/(\d+) \((\d+)%\)$`)
	for _, total := range []int{1, 3, 7, 12, 99, 250} {
		var b bytes.Buffer
		p := newProgressBar(&b)
		for done := 1; done <= total; done++ {
			p.update(done, total)
		}
		p.finish()
		tenths := map[int]bool{}
		last := -1
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			m := line.FindStringSubmatch(l)
			if m == nil || m[2] != strconv.Itoa(total) {
				t.Fatalf("total %d: line %q", total, l)
			}
			perc, _ := strconv.Atoi(m[3])
			if perc/10 <= last {
				t.Errorf("total %d: line %q repeats a tenth or goes back", total, l)
			}
			last = perc / 10
			tenths[last] = true
		}
		if !tenths[10] {
			t.Errorf("total %d: no line for the end:\n%s", total, b.String())
		}
		for tenth := 1; tenth <= 10 && total >= 10; tenth++ {
			if !tenths[tenth] {
				t.Errorf("total %d: no line for %d%%:\n%s", total, tenth*10, b.String())
			}
		}
		if total < 10 && len(tenths) != total {
			t.Errorf("total %d: %d lines, want one per item:\n%s", total, len(tenths), b.String())
		}
	}
}
