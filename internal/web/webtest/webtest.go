// Package webtest holds checks the portals built on package web share in
// their tests.
package webtest

import (
	"bufio"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/web"
)

// CheckMessages fails t unless every key of each language's file in fsys
// is in every other language's: a portal's test calls it on its messages.
func CheckMessages(t testing.TB, fsys fs.FS) {
	t.Helper()
	keys := map[string]map[string]bool{}
	for _, lang := range web.Languages {
		f, err := fsys.Open(lang + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		keys[lang] = map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				keys[lang][strings.TrimSpace(k)] = true
			}
		}
		f.Close()
	}
	for _, a := range web.Languages {
		for _, b := range web.Languages {
			var missing []string
			for k := range keys[a] {
				if !keys[b][k] {
					missing = append(missing, k)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("in %s.txt but not in %s.txt: %v", a, b, missing)
			}
		}
	}
}
