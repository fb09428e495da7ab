package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests set SELO_* variables and so run one at a time.

func appendConfig(t *testing.T, data, yaml string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(data, "selo.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(yaml); err != nil {
		t.Fatal(err)
	}
}

// TestDataDirPrecedence: --data beats SELO_DATA, which beats the default.
func TestDataDirPrecedence(t *testing.T) {
	data := dataDir(t)
	empty := filepath.Join(t.TempDir(), "empty")

	t.Setenv("SELO_DATA", data)
	if r := mustRunSelo(t, "ca", "list"); !strings.Contains(r.stdout, "root-ecc-v1") {
		t.Errorf("SELO_DATA was not used:\n%s", r)
	}
	wantExit(t, runSelo(t, "ca", "list", "--data", empty), 1, empty+" is not initialized", "selo init")

	t.Setenv("SELO_DATA", empty)
	if r := mustRunSelo(t, "ca", "list", "--data", data); !strings.Contains(r.stdout, "root-ecc-v1") {
		t.Errorf("--data did not beat SELO_DATA:\n%s", r)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("the data directory in SELO_DATA was touched although --data was given (%v)", err)
	}

	// With neither, ./selo-data.
	t.Setenv("SELO_DATA", "")
	t.Chdir(filepath.Dir(data))
	if err := os.Rename(data, "selo-data"); err != nil {
		t.Fatal(err)
	}
	if r := mustRunSelo(t, "ca", "list"); !strings.Contains(r.stdout, "root-ecc-v1") {
		t.Errorf("./selo-data was not the default:\n%s", r)
	}
}

// TestJSONPrecedence: the config file sets --json, SELO_JSON beats it, the
// flag beats both.
func TestJSONPrecedence(t *testing.T) {
	data := dataDir(t)
	isJSON := func(r result) bool { return strings.HasPrefix(r.stdout, "[") }

	if isJSON(mustRunSelo(t, "ca", "list", "--data", data)) {
		t.Fatal("JSON without being asked")
	}
	appendConfig(t, data, "json: true\n")
	if !isJSON(mustRunSelo(t, "ca", "list", "--data", data)) {
		t.Error("the config file's json: true was not applied")
	}
	t.Setenv("SELO_JSON", "false")
	if isJSON(mustRunSelo(t, "ca", "list", "--data", data)) {
		t.Error("SELO_JSON=false did not beat the config file")
	}
	if !isJSON(mustRunSelo(t, "ca", "list", "--json", "--data", data)) {
		t.Error("--json did not beat SELO_JSON=false")
	}
	t.Setenv("SELO_JSON", "true")
	if isJSON(mustRunSelo(t, "ca", "list", "--json=false", "--data", data)) {
		t.Error("--json=false did not beat SELO_JSON=true")
	}

	// A value a flag refuses is an error, wherever it comes from.
	t.Setenv("SELO_JSON", "maybe")
	wantExit(t, runSelo(t, "ca", "list", "--data", data), 1, "SELO_JSON", "maybe")
	t.Setenv("SELO_JSON", "")
	appendConfig(t, data, "limit: many\n")
	wantExit(t, runSelo(t, "cert", "list", "--data", data), 1, "config file", "limit")
}

// TestBaseURLPrecedence follows a setting into what it changes: the CRL URL
// of an issued certificate.
func TestBaseURLPrecedence(t *testing.T) {
	data := dataDir(t)
	// An ECDSA issuing CA keeps in-process issuance fast.
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc", "--name", "TLS ECC", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	csr := writeFile(t, filepath.Join(t.TempDir(), "www.csr"), newCSRPEM(t, "www.example.pt"))
	crl := func(extra ...string) string {
		t.Helper()
		c := issueCert(t, data, "www", append([]string{"--profile", "tls-server", "--ca", "tls-ecc", "--csr", csr}, extra...)...).cert
		if len(c.CRLDistributionPoints) != 1 {
			t.Fatalf("CRL distribution points %v", c.CRLDistributionPoints)
		}
		return strings.TrimSuffix(c.CRLDistributionPoints[0], "/crl/tls-ecc.crl")
	}

	if got := crl(); got != "http://127.0.0.1:8080" {
		t.Errorf("base URL from the config file written by init = %s", got)
	}
	cfg := readFile(t, filepath.Join(data, "selo.yaml"))
	writeFile(t, filepath.Join(data, "selo.yaml"), strings.Replace(string(cfg), "base-url: http://127.0.0.1:8080", "base-url: http://config.example.pt", 1))
	if got := crl(); got != "http://config.example.pt" {
		t.Errorf("base URL with the config file's = %s", got)
	}
	t.Setenv("SELO_BASE_URL", "http://env.example.pt")
	if got := crl(); got != "http://env.example.pt" {
		t.Errorf("base URL with SELO_BASE_URL = %s, want it to beat the config file", got)
	}
	if got := crl("--base-url", "http://flag.example.pt"); got != "http://flag.example.pt" {
		t.Errorf("base URL with --base-url = %s, want it to beat SELO_BASE_URL", got)
	}

	// --config names another file; SELO_CONFIG too.
	other := writeFile(t, filepath.Join(t.TempDir(), "other.yaml"), "base-url: http://other.example.pt\nprofile_ca:\n  tls-server: tls-ecc\n")
	t.Setenv("SELO_BASE_URL", "")
	r := mustRunSelo(t, "cert", "issue", "--profile", "tls-server", "--csr", csr, "--config", other, "--data", data, "--json")
	var out certOutput
	decodeJSON(t, r, &out)
	if out.CA != "tls-ecc" {
		t.Errorf("profile_ca from --config: issued by %s, want tls-ecc", out.CA)
	}
	if c := parsePEMCertificates(t, []byte(out.PEM))[0]; !slices.Equal(c.CRLDistributionPoints, []string{"http://other.example.pt/crl/tls-ecc.crl"}) {
		t.Errorf("base URL from --config: %v", c.CRLDistributionPoints)
	}
	t.Setenv("SELO_CONFIG", other)
	if got := crl(); got != "http://other.example.pt" {
		t.Errorf("base URL with SELO_CONFIG = %s", got)
	}
	wantExit(t, runSelo(t, "ca", "list", "--config", writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), "base-url: [unclosed\n"), "--data", data),
		1, "config file")
}
