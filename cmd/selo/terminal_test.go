package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// onTerminal runs the selo binary on a pseudo-terminal made by script(1),
// typing input, and returns its exit status and what the terminal showed.
func onTerminal(t *testing.T, input string, args ...string) (int, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("script(1) is not installed, and CI must run every test")
		}
		t.Skip("script(1) is not installed: no terminal to test the prompts on")
	}
	line := shellQuote(seloBinary(t))
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	// Should a prompt wait for more than was typed, the timeout ends it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "SHELL=/bin/sh")
	// The input stays open until the command ends: at the end of its input
	// script(1) lingers for a second or two before it passes the EOF on.
	stdin, typing, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer typing.Close()
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if _, err := typing.WriteString(input); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestInitPromptsOnTerminal: on a terminal, init asks for what no flag gave.
func TestInitPromptsOnTerminal(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	code, out := onTerminal(t, "Prompted Trust Services\nES\nhttps://pki.example.es\n", "init", "--data", data, "--tls-key-type", "ecdsa-p256")
	if code != 0 {
		t.Fatalf("init on a terminal: exit %d\n%s", code, out)
	}
	for _, q := range []string{"Organisation name [Selo Demo Trust Services]: ", "Country (two letters) [PT]: ", "Public base URL [http://127.0.0.1:8080]: "} {
		if !strings.Contains(out, q) {
			t.Errorf("init did not ask %q:\n%s", q, out)
		}
	}
	var cas []caOutput
	decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
	if len(cas) != 3 || !strings.Contains(cas[0].Subject, "O=Prompted Trust Services") || !strings.Contains(cas[0].Subject, "C=ES") {
		t.Errorf("CAs after the prompts: %+v", cas)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(readFile(t, filepath.Join(data, "selo.yaml")), &cfg); err != nil || cfg["base-url"] != "https://pki.example.es" {
		t.Errorf("config after the prompts: %v %v", cfg, err)
	}

	// A flag is not asked again.
	data2 := filepath.Join(t.TempDir(), "data")
	code, out = onTerminal(t, "\n\n", "init", "--data", data2, "--tls-key-type", "ecdsa-p256", "--org", "Flag Org")
	if code != 0 || strings.Contains(out, "Organisation name") || !strings.Contains(out, "Country (two letters)") {
		t.Errorf("init --org on a terminal: exit %d\n%s", code, out)
	}
}

// TestPasswordPromptOnTerminal: with no file and no variable, the password is
// asked on the terminal, twice for a new secret.
func TestPasswordPromptOnTerminal(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	q := issueNaturalPerson(t, data)
	dir := t.TempDir()

	pfx := filepath.Join(dir, "prompted.pfx")
	code, out := onTerminal(t, "prompted-pw-1\nprompted-pw-1\n", "cert", "pfx", q.Serial, "--out", pfx, "--data", data)
	if code != 0 || !strings.Contains(out, "Password for the .pfx: ") || !strings.Contains(out, "Password for the .pfx (again): ") {
		t.Fatalf("cert pfx on a terminal: exit %d\n%s", code, out)
	}
	checkPFX(t, pfx, "prompted-pw-1", q.PEM)

	mismatch := filepath.Join(dir, "mismatch.pfx")
	code, out = onTerminal(t, "prompted-pw-1\nprompted-pw-2\n", "cert", "pfx", q.Serial, "--out", mismatch, "--data", data)
	if code != 1 || !strings.Contains(out, "the passwords do not match") {
		t.Errorf("cert pfx with two different passwords: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(mismatch); !os.IsNotExist(err) {
		t.Errorf("a refused export wrote %s", mismatch)
	}

	key, csr := filepath.Join(dir, "www.key"), filepath.Join(dir, "www.csr")
	code, out = onTerminal(t, "prompted-key-1\nprompted-key-1\n", "csr", "new", "--cn", "www.example.pt", "--key-type", "ecdsa-p256", "--key-out", key, "--out", csr)
	if code != 0 || !strings.Contains(out, "Password for the new key file: ") {
		t.Fatalf("csr new on a terminal: exit %d\n%s", code, out)
	}
	if _, err := readKeyFile(key, "prompted-key-1"); err != nil {
		t.Errorf("key written with the prompted password: %v", err)
	}
}

// TestReissueProgressOnTerminal: on a terminal the bulk re-issue draws one
// bar redrawn in place instead of a line per step.
func TestReissueProgressOnTerminal(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc-v1", "--name", "TLS ECC V1", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	mustRunSelo(t, "ca", "create", "--data", data, "--id", "tls-ecc-v2", "--name", "TLS ECC V2", "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
	for i := range 3 {
		csr := writeFile(t, filepath.Join(t.TempDir(), "host.csr"), newCSRPEM(t, fmt.Sprintf("host%d.example.pt", i)))
		issueCert(t, data, "host", "--profile", "tls-server", "--ca", "tls-ecc-v1", "--csr", csr)
	}
	code, out := onTerminal(t, "", "cert", "reissue", "--all-from", "tls-ecc-v1", "--ca", "tls-ecc-v2", "--data", data)
	if code != 0 || !strings.Contains(out, "Re-issued 3 certificates of tls-ecc-v1 under tls-ecc-v2. The re-issue is complete") {
		t.Fatalf("bulk reissue on a terminal: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "\r["+strings.Repeat("#", 40)+"] 100% 3/3") || strings.Contains(out, "progress: ") {
		t.Errorf("bulk reissue on a terminal drew no bar:\n%q", out)
	}
}
