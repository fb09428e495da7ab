package server_test

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

// TestServerAsksTheServices: the HTTP layer asks the services for their data
// (authority for CAs and certificates, registration for orders) and never
// reaches past them into the store. It fails on any use of a Store field or
// method (a.Store(), cfg.Store) in the package's non-test files; the store's
// type, selo.Store, may still be named.
func TestServerAsksTheServices(t *testing.T) {
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
		imports := map[string]bool{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := path[strings.LastIndexByte(path, '/')+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Store" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] {
				return true // a type such as selo.Store
			}
			t.Errorf("%s: the server reaches into a store (%s); ask the service that owns the data instead",
				fset.Position(sel.Pos()), src[fset.Position(sel.Pos()).Offset:fset.Position(sel.End()).Offset])
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked %d files: is the test running in the server package's directory?", checked)
	}
}
