package csc

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

// goList runs the go command's list with args and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goCmd := filepath.Join(build.Default.GOROOT, "bin", "go")
	if _, err := exec.LookPath(goCmd); err != nil {
		if goCmd, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to list the client's dependencies: %v", err)
		}
	}
	out, err := exec.Command(goCmd, append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// TestClientLinksNoServer holds the integrators' client to what it needs:
// the standard library, its own internal packages and the root package
// (selo.Error and the domain words, which import the standard library only:
// anything more it pulled in would show here too). Nothing of the CA
// (authority, pki and zlint, zcrypto), the store (sqlite, pgx), PKCS#12 or
// the signing service may creep in through an import.
func TestClientLinksNoServer(t *testing.T) {
	deps := goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	if !slices.Contains(deps, module+"/csc") {
		t.Fatalf("go list -deps did not list the client itself: %q", deps)
	}
	forbidden := []string{"zlint", "zcrypto", "sqlite", "pgx", "pkcs12", "pkcs7", "yaml", "qrcode",
		module + "/authority", module + "/signing", module + "/pki", module + "/store", module + "/server"}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				t.Errorf("the CSC client links %s (%s)", dep, f)
			}
		}
		if dep != module && dep != module+"/csc" && !strings.HasPrefix(dep, module+"/csc/internal/") {
			t.Errorf("the CSC client links %s: only the standard library, the root package and csc/internal/... are allowed", dep)
		}
	}
}

// TestClientImportRules: the client package imports none of the service's
// packages directly (the root's selo.SigningService and plain types are
// what the server side shares with the service, not the client).
func TestClientImportRules(t *testing.T) {
	imports := goList(t, "-f", `{{join .Imports "\n"}}`, ".")
	if len(imports) == 0 {
		t.Fatal("go list reported no imports of the client")
	}
	for _, imp := range imports {
		for _, banned := range []string{"signing", "authority", "pki", "store", "server", "csc/cscserver"} {
			if imp == module+"/"+banned || strings.HasPrefix(imp, module+"/"+banned+"/") {
				t.Errorf("the CSC client imports %s", imp)
			}
		}
	}
}
