package desk

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/internal/web/webtest"
)

// TestMessages: Portuguese and English hold the same keys, and every key
// the pages and handlers name (fixed or built from a kind or document type)
// has an English text.
func TestMessages(t *testing.T) {
	msgs, _ := fs.Sub(files, "messages")
	webtest.CheckMessages(t, msgs)
	cat, err := newCatalog()
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`"(desk\.[a-zA-Z0-9._-]+)"`)
	var keys []string
	for _, dir := range []string{"pages", "."} {
		names, _ := fs.Glob(files, dir+"/*")
		for _, n := range names {
			b, err := fs.ReadFile(files, n)
			if err != nil {
				continue
			}
			for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
				keys = append(keys, m[1])
			}
		}
	}
	for _, k := range selo.EvidenceKinds {
		keys = append(keys, "desk.kind."+string(k), "desk.identity.hint."+string(k))
	}
	c, _ := idcheck.DefaultCatalogue()
	for _, d := range documentChoices(c) {
		keys = append(keys, "desk.doctype."+d.Type)
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d message keys in the pages", len(keys))
	}
	for _, k := range keys {
		if !cat.Has(k) {
			t.Errorf("no message %s", k)
		}
	}
}
