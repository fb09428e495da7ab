package main

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/server"
)

var oidOrganizationValidated = asn1.ObjectIdentifier{2, 23, 140, 1, 2, 2}

// TestTLSProfilesOrganisationCSR issues TLS certificates from the CSR the
// seed describes (O, L, ST, C beside the host name), made by `selo csr new`.
// tls-server (DV) accepts it, leaves the organisation out and says so;
// tls-server-ov takes the organisation only from what the officer validated;
// a CN-only CSR gives a DV certificate that is named by its DNS name, not
// "(, until ...)". Every certificate is zlint clean (its lint findings).
func TestTLSProfilesOrganisationCSR(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "pw"), keyPassword)
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc", "--name", "TLS ECC", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	orgCSR := filepath.Join(dir, "org.csr")
	mustRunSelo(t, "csr", "new", "--cn", "www.exemplo.pt", "--san", "www.exemplo.pt", "--o", "Exemplo Lda", "--l", "Lisboa", "--st", "Lisboa", "--c", "PT",
		"--key-type", "ecdsa-p256", "--key-out", filepath.Join(dir, "org.key"), "--out", orgCSR, "--password-file", pw)
	cnCSR := filepath.Join(dir, "cn.csr")
	mustRunSelo(t, "csr", "new", "--cn", "cn.exemplo.pt", "--key-type", "ecdsa-p256", "--key-out", filepath.Join(dir, "cn.key"), "--out", cnCSR, "--password-file", pw)

	issue := func(t *testing.T, args ...string) (result, *x509.Certificate) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "cert.pem")
		// A public base URL: the default 127.0.0.1 is an internal name to zlint.
		r := mustRunSelo(t, append([]string{"cert", "issue", "--data", data, "--ca", "tls-ecc", "--out", out, "--base-url", "http://pki.exemplo.pt"}, args...)...)
		certs := parsePEMCertificates(t, readFile(t, out))
		var lint struct {
			Lint []struct{ Lint, Status string } `json:"lint_findings"`
		}
		serial := strings.Fields(strings.SplitN(r.stderr, "serial ", 2)[1])[0]
		if err := json.Unmarshal([]byte(mustRunSelo(t, "cert", "show", serial, "--json", "--data", data).stdout), &lint); err != nil {
			t.Fatalf("cert show --json: %v", err)
		}
		for _, f := range lint.Lint {
			if f.Status == "warn" || f.Status == "error" || f.Status == "fatal" {
				t.Errorf("zlint %s: %s", f.Status, f.Lint)
			}
		}
		return r, certs[0]
	}

	t.Run("DV drops the organisation", func(t *testing.T) {
		r, c := issue(t, "--profile", "tls-server", "--csr", orgCSR)
		if len(c.Subject.Names) != 0 || !slices.Equal(c.DNSNames, []string{"www.exemplo.pt"}) || !slices.ContainsFunc(c.PolicyIdentifiers, oidDomainValided.Equal) {
			t.Errorf("DV certificate subject %q, SANs %v, policies %v", c.Subject, c.DNSNames, c.PolicyIdentifiers)
		}
		if !strings.Contains(r.stderr, "left out of the certificate: C, ST, L, O from the CSR's subject") || !strings.Contains(r.stderr, "tls-server-ov") {
			t.Errorf("cert issue did not say which fields it dropped:\n%s", r)
		}
		if strings.Contains(r.stderr, "(, until") || !strings.Contains(r.stderr, "(DNS www.exemplo.pt") {
			t.Errorf("cert issue names a DV certificate by an empty subject:\n%s", r)
		}
	})
	t.Run("DV from a CN-only CSR", func(t *testing.T) {
		// selo csr new puts the CN in the SAN when no --san is given.
		r, c := issue(t, "--profile", "tls-server", "--csr", cnCSR)
		if strings.Contains(r.stderr, "(, until") || !strings.Contains(r.stderr, "DNS cn.exemplo.pt") || strings.Contains(r.stderr, "left out") {
			t.Errorf("cert issue of a CN-only CSR:\n%s", r)
		}
		show := mustRunSelo(t, "cert", "show", strings.Fields(strings.SplitN(r.stderr, "serial ", 2)[1])[0], "--data", data)
		if !strings.Contains(show.stdout, "DNS cn.exemplo.pt") {
			t.Errorf("cert show of a DV certificate with an empty subject:\n%s", show)
		}
		if len(c.Subject.Names) != 0 {
			t.Errorf("DV subject %q", c.Subject)
		}
	})
	t.Run("OV from the validated organisation", func(t *testing.T) {
		wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--ca", "tls-ecc", "--profile", "tls-server-ov", "--csr", orgCSR), 1,
			"only from the validated organisation")
		wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--ca", "tls-ecc", "--profile", "tls-server-ov", "--csr", orgCSR,
			"--org", "Outra SA", "--locality", "Lisboa", "--state", "Lisboa", "--country", "PT"), 1, `does not match the validated organisation's "Outra SA"`)
		_, c := issue(t, "--profile", "tls-server-ov", "--csr", orgCSR, "--org", "Exemplo Lda", "--locality", "Lisboa", "--state", "Lisboa", "--country", "PT")
		s := c.Subject
		if !slices.Equal(s.Organization, []string{"Exemplo Lda"}) || !slices.Equal(s.Locality, []string{"Lisboa"}) || !slices.Equal(s.Province, []string{"Lisboa"}) ||
			!slices.Equal(s.Country, []string{"PT"}) || s.CommonName != "" || !slices.ContainsFunc(c.PolicyIdentifiers, oidOrganizationValidated.Equal) {
			t.Errorf("OV certificate subject %q, policies %v", s, c.PolicyIdentifiers)
		}
		// A CN-only CSR gets its subject from the validation alone.
		_, c = issue(t, "--profile", "tls-server-ov", "--csr", cnCSR, "--org", "Exemplo Lda", "--locality", "Porto", "--country", "PT")
		if !slices.Equal(c.Subject.Organization, []string{"Exemplo Lda"}) || !slices.Equal(c.Subject.Locality, []string{"Porto"}) {
			t.Errorf("OV certificate from a CN-only CSR: subject %q", c.Subject)
		}
		// Organisation flags name the validation, not the certificate's names.
		wantExit(t, runSelo(t, "cert", "issue", "--data", data, "--profile", "tls-server-ov", "--csr", cnCSR, "--cn", "other.exemplo.pt"), 2, "names come from the CSR")
	})
}

// TestOVOrderOrganisation creates tls-server-ov orders: the organisation the
// officer validates goes with the order (the certificate's O, L, ST, C come
// from it at issuance); an order without its locality or state is refused at
// once, not when the holder is halfway through.
func TestOVOrderOrganisation(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	base := []string{"--data", data, "order", "create", "--given-names", "Ana", "--surname", "Silva", "--email", "ana@exemplo.pt",
		"--mobile", "+351912345678", "--profile", "tls-server-ov", "--delivery", "software", "--dns", "www.exemplo.pt"}
	wantExit(t, runSelo(t, append(base, "--org", "Exemplo Lda", "--country", "PT")...), 1, "locality or state")
	wantExit(t, runSelo(t, append(base, "--locality", "Lisboa", "--country", "PT")...), 1, "O is required")
	var created server.CreateOrderResponse
	decodeJSON(t, mustRunSelo(t, append(base, "--org", "Exemplo Lda", "--locality", "Lisboa", "--country", "PT", "--json")...), &created)
	if s := created.Order.Subject; s.Organization != "Exemplo Lda" || s.Locality != "Lisboa" || s.Country != "PT" {
		t.Fatalf("OV order subject %+v", s)
	}
}
