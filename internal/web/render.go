package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
)

//go:embed templates messages static
var kitFS embed.FS

// NavLink is one entry of the layout's menu.
type NavLink struct {
	Href, Label string // Label is a message key
	Current     bool
}

// Page is what the layout and a page's "content" template read.
type Page struct {
	Lang  string
	Title string // a message key
	// Brand is the portal's name in the header (a message key).
	Brand string
	// Assets is the URL prefix Assets is served at, ending in "/".
	Assets string
	Nav    []NavLink
	// User names who is signed in ("" for nobody); SignOut is the URL of
	// the sign-out form.
	User, SignOut string
	Flash         string // a message shown once, already translated
	Error         string // an error message, already translated
	// Poll loads poll.js (QR pages only).
	Poll bool
	// Path is the request's path, for the language links.
	Path string
	Data any
	cat  *Catalog
}

// T returns the message key in the page's language (see Catalog.Text).
func (p *Page) T(key string, args ...any) string { return p.cat.Text(p.Lang, key, args...) }

// LangURL is the current path with ?lang=lang.
func (p *Page) LangURL(lang string) string { return p.Path + "?lang=" + url.QueryEscape(lang) }

// Languages lists the languages for the switch.
func (p *Page) Languages() []string { return Languages }

// Renderer renders the pages of one portal inside the kit's layout.
type Renderer struct {
	cat   *Catalog
	pages fs.FS
	funcs template.FuncMap
	log   *slog.Logger
	mu    sync.Mutex
	cache map[string]*template.Template
}

// NewRenderer returns a renderer of the *.html files of pages, each defining
// "content". funcs are added to the templates' functions. Nothing is parsed
// until a page is first rendered.
func NewRenderer(pages fs.FS, cat *Catalog, funcs template.FuncMap, log *slog.Logger) *Renderer {
	if log == nil {
		log = slog.Default()
	}
	return &Renderer{cat: cat, pages: pages, funcs: funcs, log: log, cache: map[string]*template.Template{}}
}

// Catalog returns the renderer's messages.
func (rd *Renderer) Catalog() *Catalog { return rd.cat }

func (rd *Renderer) template(name string) (*template.Template, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if t, ok := rd.cache[name]; ok {
		return t, nil
	}
	t := template.New("layout").Funcs(rd.funcs)
	layout, err := fs.ReadFile(kitFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	if _, err := t.Parse(string(layout)); err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	body, err := fs.ReadFile(rd.pages, name+".html")
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", name, err)
	}
	if _, err := t.New(name).Parse(string(body)); err != nil {
		return nil, fmt.Errorf("parse page %s: %w", name, err)
	}
	rd.cache[name] = t
	return t, nil
}

// NewPage returns a Page for r in its language (Lang), with cat set.
func (rd *Renderer) NewPage(w http.ResponseWriter, r *http.Request, title string) *Page {
	return &Page{Lang: Lang(w, r), Title: title, Path: r.URL.Path, cat: rd.cat}
}

// Render writes page name with p at status. A template that fails leaves a
// plain 500 and a log line, never half a page.
func (rd *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) {
	t, err := rd.template(name)
	var buf bytes.Buffer
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		rd.log.Error("render page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Assets serves the kit's static files (style.css, poll.js); mount it with
// http.StripPrefix under the portal's own prefix and set Page.Assets to it.
func Assets() http.Handler {
	sub, _ := fs.Sub(kitFS, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || path.Ext(r.URL.Path) == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
