package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

// backends are the stores the journey tests run on: SQLite always,
// PostgreSQL when SELO_TEST_POSTGRES is set (CI sets it).
var backends = []string{"sqlite", "postgres"}

// dataDirOn returns an initialized data directory whose database is SQLite
// (a copy of the shared one) or a fresh PostgreSQL schema.
func dataDirOn(t *testing.T, backend string) string {
	t.Helper()
	if backend == "sqlite" {
		return dataDir(t)
	}
	dsn := postgresTestDSN(t)
	data := filepath.Join(t.TempDir(), "data")
	mustRunSelo(t, "init", "--data", data, "--database", dsn, "--json")
	return data
}

// pointProfiles rewrites selo.yaml's profile_ca so that every profile
// issued by from is issued by to, as the operator does after a CA change.
func pointProfiles(t *testing.T, data, from, to string) {
	t.Helper()
	path := filepath.Join(data, "selo.yaml")
	b := readFile(t, path)
	changed := bytes.ReplaceAll(b, []byte(": "+from+"\n"), []byte(": "+to+"\n"))
	if bytes.Equal(b, changed) {
		t.Fatalf("selo.yaml names no profile issued by %s:\n%s", from, b)
	}
	if err := os.WriteFile(path, changed, 0o600); err != nil {
		t.Fatal(err)
	}
}

// auditActions returns the audit log's entries as "action object".
func auditActions(t *testing.T, data string) []string {
	t.Helper()
	var entries []selo.AuditEntry
	decodeJSON(t, mustRunSelo(t, "audit", "list", "--data", data, "--json", "--limit", "100000"), &entries)
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Action + " " + e.Object
	}
	return out
}

// outboxSMSCode returns the code of the newest text to mobile in DATA's
// outbox, as the holder reads it on the phone.
func outboxSMSCode(t *testing.T, data, mobile string) string {
	t.Helper()
	r := mustRunSelo(t, "--data", data, "--json", "outbox", "--channel", "sms", "--to", mobile)
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	body := ""
	for dec.More() {
		var m selo.OutboxMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("selo outbox --json: %v\n%s", err, r)
		}
		body = m.Body
	}
	for _, f := range strings.Fields(body) {
		f = strings.TrimRight(f, ".,:")
		if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	t.Fatalf("no code in the newest text to %s:\n%s", mobile, r)
	return ""
}

// pemCertificate encodes a DER certificate as PEM.
func pemCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestReissueMovesCredential is issue 12 item 1: after a CA change and a bulk
// re-issue, an SMS credential signs with the new certificate (same key) with
// no action from the holder, CSC credentials/info shows the new chain, and
// the move is audited. Before the fix sign-hash was refused ("the
// certificate of credential … is superseded") after the SMS was sent.
func TestReissueMovesCredential(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			data := dataDirOn(t, backend)
			d := []string{"--data", data}
			dir := t.TempDir()
			pw := writeFile(t, filepath.Join(dir, "pw"), "correct horse battery\n")
			mustRunSelo(t, append(d, "account", "create", "--email", "rui@example.pt", "--name", "Rui Costa",
				"--mobile", "+351912000077", "--password-file", pw)...)
			var created map[string]any
			decodeJSON(t, mustRunSelo(t, append(d, "credential", "create", "--account", "rui@example.pt", "--profile", "advanced-invoice",
				"--approval", "sms", "--cn", "Costa Lda", "--org", "Costa Lda", "--org-id", "VATPT-500000001", "--country", "PT", "--json")...), &created)
			cred, _ := created["id"].(string)
			oldSerial, _ := created["serial"].(string)
			if cred == "" || oldSerial == "" {
				t.Fatalf("credential create --json: %v", created)
			}
			base, serveErr := serveInProcess(t, data)
			tf := []string{"--token-file", filepath.Join(dir, "token.json")}
			csc := func(args ...string) []string { return append(append([]string{"csc"}, args...), tf...) }
			mustRunSelo(t, csc("login", "--server", base, "--email", "rui@example.pt", "--password-file", pw)...)

			// The CA change: a new CA, the profiles pointed at it, the old one
			// retired, every certificate re-issued.
			mustRunSelo(t, append(d, "ca", "create", "--id", "qualified-ecc-v2", "--name", "Selo Demo Qualified CA ECC V2",
				"--parent", "root-ecc-v1", "--key-type", "ecdsa-p384")...)
			pointProfiles(t, data, "qualified-ecc-v1", "qualified-ecc-v2")
			mustRunSelo(t, append(d, "ca", "retire", "qualified-ecc-v1")...)
			runSelo(t, append(d, "cert", "reissue", "--all-from", "qualified-ecc-v1", "--ca", "qualified-ecc-v2")...)
			var old certOutput
			decodeJSON(t, mustRunSelo(t, append(d, "cert", "show", oldSerial, "--json")...), &old)
			if old.Status != "superseded" || old.SupersededBy == "" {
				t.Fatalf("the credential's certificate was not re-issued: %+v", old)
			}
			newSerial := old.SupersededBy

			// The holder's client sees the new certificate and chain.
			var infos []cscCredentialOutput
			decodeJSON(t, mustRunSelo(t, csc("credentials", cred, "--json")...), &infos)
			if len(infos) != 1 {
				t.Fatalf("csc credentials %s --json listed %d credentials", cred, len(infos))
			}
			if info := infos[0]; info.Serial != newSerial || !strings.Contains(info.Issuer, "Qualified CA ECC V2") || info.CertStatus != "valid" {
				t.Fatalf("csc credentials after the CA change: %+v, want certificate %s of the V2 CA", info, newSerial)
			}
			// One SMS, one signature, made with the same key and checked
			// against the new chain by openssl.
			mustRunSelo(t, csc("send-otp", cred)...)
			otp := writeFile(t, filepath.Join(dir, "otp"), outboxSMSCode(t, data, "+351912000077")+"\n")
			doc := writeFile(t, filepath.Join(dir, "invoice.xml"), "<invoice n=1/>")
			chain := filepath.Join(dir, "chain.pem")
			r := runSelo(t, csc("sign-hash", cred, "--otp-file", otp, "--file", doc, "--cert-out", chain)...)
			if r.code != 0 {
				t.Fatalf("sign-hash after the CA change:\n%s\n%s", r, serveErr.String())
			}
			certs := parsePEMCertificates(t, readFile(t, chain))
			if got := certs[0].SerialNumber.Text(16); strings.TrimLeft(got, "0") != strings.TrimLeft(newSerial, "0") {
				t.Fatalf("signed with certificate %s, want the re-issued %s", got, newSerial)
			}
			leaf := writeFile(t, filepath.Join(dir, "leaf.pem"), string(pemCertificate(certs[0].Raw)))
			opensslVerify(t, data, "qualified-ecc-v2", leaf)
			pub := filepath.Join(dir, "pub.pem")
			writeFile(t, pub, mustOpenSSL(t, "x509", "-in", leaf, "-pubkey", "-noout"))
			if out := mustOpenSSL(t, "dgst", "-sha256", "-verify", pub, "-signature", doc+".sig", doc); !strings.Contains(out, "Verified OK") {
				t.Fatalf("openssl dgst -verify: %s", out)
			}

			actions := strings.Join(auditActions(t, data), "\n")
			if !strings.Contains(actions, "credential.certificate.update credential/"+cred) {
				t.Errorf("the move of credential %s is not in the audit log:\n%s", cred, actions)
			}
			mustRunSelo(t, append(d, "audit", "verify")...)
		})
	}
}
