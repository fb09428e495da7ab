package portal_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/web/webtest"
)

// TestPortalAsksTheServices: the portal's pages ask the services (signing,
// registration) and never reach into a store: no store package imported, no
// Store field or method used. Its web sessions go through the kit
// (internal/web), which is handed the store by the wiring.
func TestPortalAsksTheServices(t *testing.T) {
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
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, "/store") {
				t.Errorf("%s imports %s", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "selo" {
					t.Errorf("%s: the portal reaches into a store", fset.Position(sel.Pos()))
				}
			}
			return true
		})
	}
}

// TestMessagesAgree: every portal message exists in Portuguese and English.
func TestMessagesAgree(t *testing.T) {
	webtest.CheckMessages(t, os.DirFS("messages"))
}
