// Package layering holds the test of the house's layering rule for the
// packages in front of the services (server, portal, desk): they ask the
// services for data and never reach into a store.
package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CheckAsksTheServices fails t for each non-test Go file in the current
// directory (the package under test) that imports a store package, or that
// uses a Store field or method (a.Store(), cfg.Store); the root package's
// type selo.Store may still be named. who names the package in the
// messages; fewer than minFiles files checked means the test runs in the
// wrong directory.
func CheckAsksTheServices(t testing.TB, who string, minFiles int) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); strings.Contains(path, "/store") {
				t.Errorf("%s imports %s: ask a service instead", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Store" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "selo" {
				return true // the type selo.Store
			}
			t.Errorf("%s: the %s reaches into a store (%s); ask the service that owns the data instead",
				fset.Position(sel.Pos()), who, src[fset.Position(sel.Pos()).Offset:fset.Position(sel.End()).Offset])
			return true
		})
	}
	if checked < minFiles {
		t.Fatalf("checked %d files: is the test running in the %s package's directory?", checked, who)
	}
}
