package tsa_test

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/selo-qtsp/selo"

// goListDeps returns the import paths of pkg and every package it links
// (go list -deps), the standard library left out.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	goCmd := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := exec.LookPath(goCmd); err != nil {
		if goCmd, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to list the dependencies: %v", err)
		}
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, pkg) {
		t.Fatalf("go list -deps %s did not list the package itself: %q", pkg, deps)
	}
	return deps
}

// TestTimestampImportRules holds the floors: the time-stamp protocol
// (pki/timestamp) and the CMS it signs tokens with (pki/cms) sit below
// document signing, and the TSA service (tsa) runs on them, so none of the
// three links any docsign package (docsign/cades and docsign/pades import
// the protocol, not the other way round). The protocol and CMS link nothing
// of ours beyond the root package and each other: no X.509 engine (zlint),
// store or service comes with a timestamp.
func TestTimestampImportRules(t *testing.T) {
	lean := []string{module, module + "/pki/cms", module + "/pki/timestamp"}
	for _, pkg := range []string{module + "/tsa", module + "/pki/timestamp", module + "/pki/cms"} {
		for _, dep := range goListDeps(t, pkg) {
			if dep == module+"/docsign" || strings.HasPrefix(dep, module+"/docsign/") {
				t.Errorf("%s links %s: the timestamp code must stay below document signing", pkg, dep)
			}
			if pkg != module+"/tsa" && strings.HasPrefix(dep, module) && !slices.Contains(lean, dep) {
				t.Errorf("%s links %s: only the root package, pki/cms and pki/timestamp are allowed", pkg, dep)
			}
		}
	}
}
