package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDualControlCLI runs dual control on the CA machine: two operator
// accounts, each step authenticated by password, self-approval and replay
// refused, and the local break-glass path audited.
func TestDualControlCLI(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := []string{"--data", data}
	run := func(args ...string) result { return runSelo(t, append(d, args...)...) }
	must := func(args ...string) result { return mustRunSelo(t, append(d, args...)...) }

	// selo init's key is the first admin, ana the second; a third admin
	// waits for dual control unless glass is broken.
	must("operator", "create", "ana", "--role", "admin", "--password-file", pw)
	r := must("operator", "create", "cid", "--role", "admin", "--password-file", pw)
	if !strings.Contains(r.stdout, "disabled until an admin.grant proposal") {
		t.Fatalf("third admin:\n%s", r)
	}
	r = must("operator", "create", "bea", "--role", "admin,auditor", "--password-file", pw, "--break-glass")
	if !strings.Contains(r.stderr, "BREAK-GLASS") {
		t.Fatalf("break-glass without a warning:\n%s", r)
	}
	wantExit(t, run("operator", "create", "dan", "--role", "root", "--password-file", pw), 2, "unknown role")

	var p proposalOutput
	decodeJSON(t, must("--json", "proposal", "create", "ca.retire", "--params", `{"ca":"qualified-ecc-v1"}`,
		"--reason", "replaced", "--operator", "ana", "--password-file", pw), &p)
	if p.Status != "pending" || p.ProposedBy != "operator:ana" {
		t.Fatalf("proposal %+v", p)
	}
	wantExit(t, run("proposal", "approve", p.ID, "--operator", "ana", "--password-file", pw), 1, "different admin")
	bad := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(bad, []byte("wrong horse battery"), 0o600)
	wantExit(t, run("proposal", "approve", p.ID, "--operator", "bea", "--password-file", bad), 1, "wrong user name or password")
	wantExit(t, run("proposal", "execute", p.ID, "--operator", "ana", "--password-file", pw), 1, "not approved")
	must("proposal", "approve", p.ID, "--operator", "bea", "--password-file", pw)
	r = must("proposal", "execute", p.ID, "--operator", "ana", "--password-file", pw)
	if !strings.Contains(r.stdout, "executed") {
		t.Fatalf("execute:\n%s", r)
	}
	if r := must("ca", "list"); !strings.Contains(r.stdout, "retired") {
		t.Fatalf("CA not retired by the proposal:\n%s", r)
	}
	wantExit(t, run("proposal", "execute", p.ID, "--operator", "bea", "--password-file", pw), 1, "already executed")

	// The local commands that dual control covers: refused when required,
	// break-glass (warned and audited) otherwise.
	wantExit(t, run("ca", "create", "--id", "x-ca", "--name", "X", "--parent", "root-ecc-v1", "--require-proposal"), 1, "selo proposal create ca.create")
	r = must("ca", "retire", "tls-rsa-v1")
	if !strings.Contains(r.stderr, "BREAK-GLASS") {
		t.Fatalf("local ca retire without a warning:\n%s", r)
	}
	r = must("audit", "list")
	if n := strings.Count(r.stdout, "dualcontrol.break_glass"); n != 2 {
		t.Fatalf("%d break-glass entries in the audit log, want 2:\n%s", n, r.stdout)
	}
	must("audit", "verify")

	// API keys carry roles.
	must("apikey", "create", "monitoring", "--role", "auditor")
	r = must("apikey", "list")
	if !strings.Contains(r.stdout, "monitoring") || !strings.Contains(r.stdout, "auditor") || !strings.Contains(r.stdout, "admin,officer") {
		t.Fatalf("apikey list:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "selo_") {
		t.Fatalf("apikey list shows a secret:\n%s", r.stdout)
	}
}
