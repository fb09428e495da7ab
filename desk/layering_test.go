package desk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeskAsksTheServices: the back office imports no store package and
// reaches no store (no .Store selector): every read and every action goes
// through the registration, authority and control services, which audit
// them. Only web sessions live in a store the desk is handed, through the
// web kit.
func TestDeskAsksTheServices(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); strings.Contains(path, "/store") {
				t.Errorf("%s imports %s: ask a service instead", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "selo" {
					t.Errorf("%s: the desk reaches into a store", fset.Position(sel.Pos()))
				}
			}
			return true
		})
	}
}
