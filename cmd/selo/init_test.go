package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestInitCreatesDataDirectory checks what `selo init --data DIR` leaves
// behind without a terminal: the database, the sealed key store under a new
// master key, a config file with no secret in it, and the default hierarchy.
func TestInitCreatesDataDirectory(t *testing.T) {
	t.Parallel()
	data, out := templateDataDir(t)

	if out.DataDir != data || out.Config != filepath.Join(data, "selo.yaml") {
		t.Errorf("init --json names data %q and config %q; want %q and its selo.yaml", out.DataDir, out.Config, data)
	}
	if !strings.HasPrefix(out.APIKey, "selo_") || len(out.APIKey) < 30 {
		t.Errorf("init printed API key %q; want a selo_ secret", out.APIKey)
	}
	for _, want := range []string{"creating CA root-ecc-v1 (ecdsa-p384)", "creating CA qualified-ecc-v1 (ecdsa-p384)", "creating CA tls-rsa-v1 (rsa-3072)"} {
		if !strings.Contains(initOnce.res.stderr, want) {
			t.Errorf("init did not report %q:\n%s", want, initOnce.res)
		}
	}

	// Files, and permissions that keep the key material private.
	for _, f := range []struct {
		name string
		perm os.FileMode
		dir  bool
	}{
		{"selo.db", 0o600, false},
		{"selo.yaml", 0o600, false},
		{"master.key", 0o600, false},
		{"keys", 0o700, true},
		{"keys/keystore.check", 0o600, false},
	} {
		fi, err := os.Stat(filepath.Join(data, f.name))
		if err != nil {
			t.Errorf("init did not create %s: %v", f.name, err)
			continue
		}
		if fi.IsDir() != f.dir {
			t.Errorf("%s: directory = %v, want %v", f.name, fi.IsDir(), f.dir)
		}
		if f.perm != 0 && fi.Mode().Perm() != f.perm {
			t.Errorf("%s has mode %v, want %v", f.name, fi.Mode().Perm(), f.perm)
		}
	}
	keys, err := filepath.Glob(filepath.Join(data, "keys", "*.key"))
	if err != nil || len(keys) != 4 {
		t.Errorf("key store holds %d keys (%v), want the 3 CA keys and the audit key", len(keys), err)
	}

	// The config file: the profile to CA map, and no secret.
	cfgBytes := readFile(t, filepath.Join(data, "selo.yaml"))
	var cfg map[string]any
	if err := yaml.Unmarshal(cfgBytes, &cfg); err != nil {
		t.Fatalf("config file is not YAML: %v\n%s", err, cfgBytes)
	}
	wantProfileCA := map[string]string{
		"qualified-sign": "qualified-ecc-v1", "qualified-seal": "qualified-ecc-v1",
		"advanced-invoice": "qualified-ecc-v1", "advanced-email": "qualified-ecc-v1", "tls-server": "tls-rsa-v1", "tls-server-ov": "tls-rsa-v1",
	}
	pca, _ := cfg["profile_ca"].(map[string]any)
	for p, ca := range wantProfileCA {
		if pca[p] != ca {
			t.Errorf("config profile_ca[%s] = %v, want %s\n%s", p, pca[p], ca, cfgBytes)
		}
	}
	if cfg["keystore"] != "soft" {
		t.Errorf("config keystore = %v, want soft", cfg["keystore"])
	}
	master := strings.TrimSpace(string(readFile(t, filepath.Join(data, "master.key"))))
	if strings.Contains(string(cfgBytes), out.APIKey) || (master != "" && strings.Contains(string(cfgBytes), master)) {
		t.Errorf("the config file holds a secret:\n%s", cfgBytes)
	}

	// The hierarchy, as stored and as certified.
	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	want := []caOutput{
		{ID: "root-ecc-v1", KeyAlgorithm: "ecdsa-p384", Status: "active"},
		{ID: "qualified-ecc-v1", Parent: "root-ecc-v1", KeyAlgorithm: "ecdsa-p384", Status: "active"},
		{ID: "tls-rsa-v1", Parent: "root-ecc-v1", KeyAlgorithm: "rsa-3072", Status: "active"},
	}
	if len(cas) != len(want) {
		t.Fatalf("ca list shows %d CAs, want %d: %+v", len(cas), len(want), cas)
	}
	for i, w := range want {
		g := cas[i]
		if g.ID != w.ID || g.Parent != w.Parent || g.KeyAlgorithm != w.KeyAlgorithm || g.Status != w.Status {
			t.Errorf("CA %d = %+v, want %+v", i, g, w)
		}
		if !strings.Contains(g.Subject, "O=Selo Demo Trust Services") || !strings.Contains(g.Subject, "C=PT") {
			t.Errorf("CA %s subject %q lacks the default organisation and country", g.ID, g.Subject)
		}
	}

	rootChain := parsePEMCertificates(t, []byte(mustRunSelo(t, "ca", "chain", "root-ecc-v1", "--data", data).stdout))
	if len(rootChain) != 1 {
		t.Fatalf("root chain has %d certificates, want 1", len(rootChain))
	}
	root := rootChain[0]
	if err := root.CheckSignatureFrom(root); err != nil || !root.IsCA {
		t.Errorf("root is not a self-signed CA: IsCA=%v, %v", root.IsCA, err)
	}
	wantECDSA(t, "root", root, elliptic.P384())

	for _, tc := range []struct {
		id  string
		key func(*testing.T, *x509.Certificate)
	}{
		{"qualified-ecc-v1", func(t *testing.T, c *x509.Certificate) { wantECDSA(t, "qualified CA", c, elliptic.P384()) }},
		{"tls-rsa-v1", func(t *testing.T, c *x509.Certificate) {
			k, ok := c.PublicKey.(*rsa.PublicKey)
			if !ok || k.N.BitLen() != 3072 {
				t.Errorf("TLS CA key is %T, want RSA 3072", c.PublicKey)
			}
		}},
	} {
		chain := parsePEMCertificates(t, []byte(mustRunSelo(t, "ca", "chain", tc.id, "--data", data).stdout))
		if len(chain) != 2 || !chain[1].Equal(root) {
			t.Fatalf("chain of %s has %d certificates, want it and the root", tc.id, len(chain))
		}
		ca := chain[0]
		if err := ca.CheckSignatureFrom(root); err != nil {
			t.Errorf("%s is not signed by the root: %v", tc.id, err)
		}
		if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
			t.Errorf("%s: IsCA=%v MaxPathLen=%d; want an issuing CA with pathLen 0", tc.id, ca.IsCA, ca.MaxPathLen)
		}
		tc.key(t, ca)
	}
	mustRunSelo(t, "audit", "verify", "--data", data)
}

func wantECDSA(t *testing.T, what string, c *x509.Certificate, curve elliptic.Curve) {
	t.Helper()
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != curve {
		t.Errorf("%s key is %T, want ECDSA %s", what, c.PublicKey, curve.Params().Name)
	}
}

// TestInitRefusesTwice runs init again on an initialized directory: it must
// fail and leave every file as it was.
func TestInitRefusesTwice(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	before := dirDigest(t, data)

	r := runSelo(t, "init", "--data", data)
	wantExit(t, r, 1, "already initialized")
	if after := dirDigest(t, data); !equalMaps(before, after) {
		t.Errorf("a refused init changed the data directory:\nbefore %v\nafter  %v", before, after)
	}

	// Even past the config-file guard (a config elsewhere), init must not
	// replace a CA, a key or the master key.
	other := filepath.Join(t.TempDir(), "other.yaml")
	r = runSelo(t, "init", "--data", data, "--config", other)
	wantExit(t, r, 1, "already exists")
	after := dirDigest(t, data)
	for name, sum := range before {
		if name != "selo.db" && !strings.HasPrefix(name, "selo.db-") && after[name] != sum {
			t.Errorf("a refused init changed %s", name)
		}
	}
	if _, err := os.Stat(other); err == nil {
		t.Errorf("a refused init wrote the config file %s", other)
	}
	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	if len(cas) != 3 {
		t.Errorf("after a refused init there are %d CAs, want 3", len(cas))
	}
	mustRunSelo(t, "audit", "verify", "--data", data)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestInitMasterKeyFile keeps the master key outside the data directory: the
// later commands must find it through the config file init wrote.
func TestInitMasterKeyFile(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(t.TempDir(), "vault", "selo-master.key")
	mustRunSelo(t, "init", "--data", data, "--master-key-file", keyFile, "--tls-key-type", "ecdsa-p256",
		"--org", "Example Trust Services", "--country", "ES", "--root-id", "root-x", "--qualified-id", "q-x", "--tls-id", "tls-x")

	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file %s: %v (want mode 0600)", keyFile, err)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
		t.Errorf("init wrote DATA/master.key although --master-key-file was given (%v)", err)
	}
	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	if len(cas) != 3 || cas[0].ID != "root-x" || cas[1].ID != "q-x" || cas[2].ID != "tls-x" || cas[2].KeyAlgorithm != "ecdsa-p256" {
		t.Fatalf("ca list after init with flags: %+v", cas)
	}
	if !strings.Contains(cas[0].Subject, "O=Example Trust Services") || !strings.Contains(cas[0].Subject, "C=ES") {
		t.Errorf("root subject %q does not carry --org and --country", cas[0].Subject)
	}
	// The key store needs the key: signing works only with the right one.
	dir := t.TempDir()
	csr := writeFile(t, filepath.Join(dir, "www.csr"), newCSRPEM(t, "www.example.es"))
	mustRunSelo(t, "cert", "issue", "--profile", "tls-server", "--csr", csr, "--data", data)

	wrong := filepath.Join(t.TempDir(), "wrong.key")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantExit(t, runSelo(t, "cert", "issue", "--profile", "tls-server", "--csr", csr, "--data", data, "--master-key-file", wrong),
		1, "wrong master key")
}

// TestInitPassphrase derives the master key from SELO_MASTER_PASSPHRASE: no
// key file is written, and every later command needs the same passphrase.
func TestInitPassphrase(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("SELO_MASTER_PASSPHRASE", "correct horse battery staple")
	mustRunSelo(t, "init", "--data", data, "--tls-key-type", "ecdsa-p256")
	if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
		t.Errorf("init with a passphrase wrote a master key file (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(data, "keys", "keystore.salt")); err != nil {
		t.Errorf("init with a passphrase wrote no salt: %v", err)
	}
	mustRunSelo(t, "ca", "list", "--data", data)

	t.Setenv("SELO_MASTER_PASSPHRASE", "wrong horse battery staple")
	wantExit(t, runSelo(t, "ca", "list", "--data", data), 1, "wrong master key or passphrase")
	t.Setenv("SELO_MASTER_PASSPHRASE", "")
	wantExit(t, runSelo(t, "ca", "list", "--data", data), 1, "no master key", "SELO_MASTER_PASSPHRASE")
}
