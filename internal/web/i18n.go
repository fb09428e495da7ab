package web

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

// The languages of the portals; Portuguese first, the default.
var Languages = []string{"pt", "en"}

// LangCookie keeps the language a ?lang= link chose.
const LangCookie = "selo_lang"

// Catalog holds the messages of each language.
type Catalog struct {
	mu   sync.RWMutex
	msgs map[string]map[string]string // lang → key → text
}

// NewCatalog returns a catalog with the kit's own messages (messages/*.txt).
func NewCatalog() (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	sub, _ := fs.Sub(kitFS, "messages")
	if err := c.Add(sub); err != nil {
		return nil, err
	}
	return c, nil
}

// Add reads <lang>.txt of each language from fsys: lines "key = text",
// blank lines and lines starting with # skipped. A later file's key replaces
// an earlier one's.
func (c *Catalog) Add(fsys fs.FS) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, lang := range Languages {
		f, err := fsys.Open(lang + ".txt")
		if err != nil {
			return fmt.Errorf("messages %s: %w", lang, err)
		}
		m := c.msgs[lang]
		if m == nil {
			m = map[string]string{}
			c.msgs[lang] = m
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				f.Close()
				return fmt.Errorf("messages %s.txt line %d: no '='", lang, n)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("messages %s: %w", lang, err)
		}
	}
	return nil
}

// Text returns the message key in lang with args formatted in (fmt verbs),
// falling back to English, then to the key itself so a missing message shows.
func (c *Catalog) Text(lang, key string, args ...any) string {
	c.mu.RLock()
	msg, ok := c.msgs[lang][key]
	if !ok {
		msg, ok = c.msgs["en"][key]
	}
	c.mu.RUnlock()
	if !ok {
		msg = key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Has reports whether key has a message in English (every key should).
func (c *Catalog) Has(key string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.msgs["en"][key]
	return ok
}

func supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Lang returns the language of a request: a ?lang= parameter (remembered in
// LangCookie, which it sets on w unless w is nil), else the cookie, else the first supported
// language of Accept-Language, else Portuguese.
func Lang(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); supported(q) {
		if w == nil {
			return q
		}
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		return q
	}
	if c, err := r.Cookie(LangCookie); err == nil && supported(c.Value) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if supported(base) {
			return base
		}
	}
	return Languages[0]
}
