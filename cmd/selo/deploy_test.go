package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceDeployment checks the systemd units and the environment file
// of deploy/systemd against the real command line: every flag a unit passes
// and every SELO_* setting of selo.env is one 'selo serve' takes, each unit
// runs one role with --no-init, and systemd's own checker (systemd-analyze
// verify, where installed) accepts the units with ExecStart pointing at a
// real selo binary.
func TestReferenceDeployment(t *testing.T) {
	help := mustRunSelo(t, "serve", "--help").stdout
	hasFlag := func(name string) bool {
		return strings.Contains(help, "--"+name+" ") || strings.Contains(help, "--"+name+"\n")
	}

	units, err := filepath.Glob("../../deploy/systemd/*.service")
	if err != nil || len(units) != 3 {
		t.Fatalf("want the api, ocsp and worker units, found %v (%v)", units, err)
	}
	bin := ""
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		bin = seloBinary(t)
	}
	dir := t.TempDir()
	roles := map[string]bool{}
	for _, u := range units {
		body := string(readFile(t, u))
		var exec string
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				exec = v
			}
		}
		args := strings.Fields(exec)
		if len(args) < 3 || args[0] != "/usr/local/bin/selo" || args[1] != "serve" {
			t.Fatalf("%s: ExecStart %q does not run 'selo serve'", u, exec)
		}
		noInit := false
		for i, a := range args[2:] {
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			switch {
			case !strings.HasPrefix(a, "--"):
				continue
			case !hasFlag(name):
				t.Errorf("%s: 'selo serve' has no flag --%s", u, name)
			case name == "no-init":
				noInit = true
			case name == "roles" && i+3 < len(args):
				for _, r := range strings.Split(args[i+3], ",") {
					roles[r] = true
				}
			}
		}
		if !noInit {
			t.Errorf("%s: a replica must start with --no-init (never create a hierarchy on its own)", u)
		}
		if !strings.Contains(body, "EnvironmentFile=/etc/selo/selo.env") || !strings.Contains(body, "NoNewPrivileges=yes") {
			t.Errorf("%s: no shared environment file or no hardening", u)
		}
		if bin != "" {
			out := filepath.Join(dir, filepath.Base(u))
			writeFile(t, out, strings.ReplaceAll(body, "/usr/local/bin/selo", bin))
		}
	}
	for _, r := range []string{"api", "ocsp", "worker", "portal"} {
		if !roles[r] {
			t.Errorf("no unit runs the %s role (roles: %v)", r, roles)
		}
	}

	f, err := os.Open("../../deploy/systemd/selo.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, ok := strings.Cut(line, "=")
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, "SELO_"), "_", "-"))
		if !ok || !strings.HasPrefix(key, "SELO_") || !hasFlag(name) {
			t.Errorf("selo.env: %q is not a setting of 'selo serve'", line)
		}
		settings++
	}
	if settings == 0 {
		t.Error("selo.env sets nothing")
	}

	if bin == "" {
		t.Log("systemd-analyze is not installed: the units' syntax was not checked by systemd")
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.service"))
	out, err := exec.Command("systemd-analyze", append([]string{"verify"}, files...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
