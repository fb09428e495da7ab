package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStartupInitIsSmall holds Selo's own packages to little work at
// start-up: every run of the binary, `selo --help` included, pays for each
// package's initialisation, so regular expressions, templates and tables
// that only some commands use are built on first use (sync.OnceValue). It
// runs this test binary, which links the same packages, with
// GODEBUG=inittrace=1 and counts allocations, not time, so it does not
// depend on the machine's load. Before the lazy values, pki's init made
// 1959 allocations (regular expressions), authority's 724, idcheck's 603 and
// server's 296 (the outbox templates).
func TestStartupInitIsSmall(t *testing.T) {
	if os.Getenv("SELO_INITTRACE_CHILD") != "" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "SELO_INITTRACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	const maxAllocs = 150
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		// init github.com/selo-qtsp/selo/pki @4.1 ms, 0.006 ms clock, 5912 bytes, 55 allocs
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || f[10] != "allocs" || !strings.HasPrefix(f[1], "github.com/selo-qtsp/selo") {
			continue
		}
		seen++
		allocs, err := strconv.Atoi(f[9])
		if err != nil {
			t.Fatalf("cannot read %q", line)
		}
		if allocs > maxAllocs {
			t.Errorf("%s allocates %d times at start-up (at most %d): build what only some commands need on first use", f[1], allocs, maxAllocs)
		}
	}
	if seen < 10 {
		t.Fatalf("only %d of Selo's packages in the init trace:\n%s", seen, out)
	}
}
