package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/internal/web/webtest"
	"github.com/selo-qtsp/selo/store/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newSessions(t *testing.T, secure bool) (*web.Sessions, *clock, selo.WebSessionStore) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "selo.db"), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	return web.NewSessions(web.SessionConfig{Store: st, Kind: selo.WebSessionHolder, CookieName: "s", Path: "/account/", Secure: secure,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 2 * time.Hour, Now: c.Now}), c, st
}

func requestWith(cookies []*http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/account/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// TestSessionCookie: the cookie is HttpOnly, SameSite=Lax, scoped to the
// portal, Secure exactly when asked, and holds a token the store does not.
func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		m, _, st := newSessions(t, secure)
		w := httptest.NewRecorder()
		s, err := m.Start(context.Background(), w, "acct1", selo.WebStagePassword, "")
		if err != nil {
			t.Fatal(err)
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("%d cookies", len(cs))
		}
		c := cs[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Path != "/account/" {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v, Path=/account/", c, secure)
		}
		if len(c.Value) < 40 || c.Value == s.TokenHash {
			t.Fatalf("cookie value %q is not a random token apart from its hash", c.Value)
		}
		if _, err := st.FindWebSession(context.Background(), c.Value); selo.ErrorCode(err) != selo.ENOTFOUND {
			t.Fatalf("the store knows the raw token: %v", err)
		}
		got, err := m.Get(requestWith(cs))
		if err != nil || got == nil || got.Subject != "acct1" {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	}
}

// TestSessionTimeouts: idle for the idle timeout ends a session; so does the
// absolute timeout however busy it is; a rotated token replaces the old one.
func TestSessionTimeouts(t *testing.T) {
	ctx := context.Background()
	m, c, _ := newSessions(t, false)
	w := httptest.NewRecorder()
	if _, err := m.Start(ctx, w, "acct1", selo.WebStageSignedIn, ""); err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	c.t = c.t.Add(29 * time.Minute)
	if s, _ := m.Get(requestWith(cookies)); s == nil {
		t.Fatal("session ended before the idle timeout")
	}
	c.t = c.t.Add(29 * time.Minute)
	if s, _ := m.Get(requestWith(cookies)); s == nil {
		t.Fatal("a request 29 minutes after the last one found no session, though the last one renewed it")
	}
	c.t = c.t.Add(31 * time.Minute)
	if s, _ := m.Get(requestWith(cookies)); s != nil {
		t.Fatal("session alive after 31 idle minutes")
	}

	w = httptest.NewRecorder()
	if _, err := m.Start(ctx, w, "acct1", selo.WebStageSignedIn, ""); err != nil {
		t.Fatal(err)
	}
	cookies = w.Result().Cookies()
	for i := 0; i < 8; i++ { // busy: a request every 20 minutes
		c.t = c.t.Add(20 * time.Minute)
		s, _ := m.Get(requestWith(cookies))
		if (s != nil) != (i < 5) {
			t.Fatalf("after %d minutes the session is alive=%v; the absolute timeout is 2 hours", (i+1)*20, s != nil)
		}
	}

	w = httptest.NewRecorder()
	s, _ := m.Start(ctx, w, "acct1", selo.WebStagePassword, "")
	old := w.Result().Cookies()
	w = httptest.NewRecorder()
	if _, err := m.Rotate(ctx, w, s, selo.WebStageSignedIn); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Get(requestWith(old)); s != nil {
		t.Fatal("the token from before the rotation still works")
	}
	if s, _ := m.Get(requestWith(w.Result().Cookies())); s == nil || s.Stage != selo.WebStageSignedIn {
		t.Fatalf("rotated session %+v", s)
	}
}

// TestEndOthers keeps the current session and ends the subject's others.
func TestEndOthers(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newSessions(t, false)
	var cookies [][]*http.Cookie
	var keep *selo.WebSession
	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		s, _ := m.Start(ctx, w, "acct1", selo.WebStageSignedIn, "")
		keep = s
		cookies = append(cookies, w.Result().Cookies())
	}
	if n, err := m.EndOthers(ctx, "acct1", keep); err != nil || n != 2 {
		t.Fatalf("EndOthers = %d, %v", n, err)
	}
	for i, cs := range cookies {
		s, _ := m.Get(requestWith(cs))
		if (s != nil) != (i == 2) {
			t.Fatalf("session %d alive=%v", i, s != nil)
		}
	}
}

// TestSweepExpired deletes ended sessions and keeps live ones.
func TestSweepExpired(t *testing.T) {
	ctx := context.Background()
	m, c, st := newSessions(t, false)
	live, _ := m.Start(ctx, httptest.NewRecorder(), "a", selo.WebStageSignedIn, "")
	c.t = c.t.Add(3 * time.Hour) // past the 2-hour absolute timeout of newSessions
	fresh, _ := m.Start(ctx, httptest.NewRecorder(), "b", selo.WebStageSignedIn, "")
	n, err := web.SweepExpired(ctx, st, c.t)
	if err != nil || n != 1 {
		t.Fatalf("SweepExpired = %d, %v", n, err)
	}
	if _, err := st.FindWebSession(ctx, live.TokenHash); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatal("the expired session survived")
	}
	if _, err := st.FindWebSession(ctx, fresh.TokenHash); err != nil {
		t.Fatal("the live session was swept")
	}
}

// TestProtect: every answer has the security headers; a cross-site POST is
// refused before the handler runs, a same-origin one passes.
func TestProtect(t *testing.T) {
	ran := 0
	h := web.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ }), nil)
	for _, tc := range []struct {
		site   string
		origin string
		want   int
		runs   bool
	}{
		{"same-origin", "", 200, true},
		{"cross-site", "https://evil.example", 403, false},
		{"", "https://evil.example", 403, false},
		{"", "", 200, true}, // not a browser: no Origin, no Sec-Fetch-Site
	} {
		ran = 0
		r := httptest.NewRequest("POST", "https://selo.example/account/x", strings.NewReader("a=b"))
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want || (ran == 1) != tc.runs {
			t.Errorf("site %q origin %q: %d, ran %d; want %d", tc.site, tc.origin, w.Code, ran, tc.want)
		}
		for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
			if w.Header().Get(hdr) == "" {
				t.Errorf("no %s", hdr)
			}
		}
		if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	}
}

// TestLang: ?lang= wins and is remembered, then the cookie, then
// Accept-Language, then Portuguese.
func TestLang(t *testing.T) {
	for _, tc := range []struct{ query, cookie, accept, want string }{
		{"en", "pt", "pt", "en"},
		{"", "en", "pt-PT", "en"},
		{"", "", "fr, en-GB;q=0.8", "en"},
		{"", "", "de", "pt"},
		{"xx", "", "", "pt"},
	} {
		r := httptest.NewRequest("GET", "/account/?lang="+tc.query, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: web.LangCookie, Value: tc.cookie})
		}
		r.Header.Set("Accept-Language", tc.accept)
		if got := web.Lang(httptest.NewRecorder(), r); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
}

// TestRenderEscapes: a holder's name with markup is text on the page.
func TestRenderEscapes(t *testing.T) {
	cat, err := web.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rd := web.NewRenderer(os.DirFS("testdata/pages"), cat, nil, nil)
	r := httptest.NewRequest("GET", "/x", nil)
	w := httptest.NewRecorder()
	p := rd.NewPage(w, r, "web.notfound")
	p.Data = `<script>alert(1)</script>`
	rd.Render(w, 200, "hello", p)
	body := w.Body.String()
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("not escaped: %s", body)
	}
	if !strings.Contains(body, "Não encontrado.") {
		t.Fatalf("no Portuguese title: %s", body)
	}
}

// TestCatalogsAgree: every message exists in both languages.
func TestCatalogsAgree(t *testing.T) {
	webtest.CheckMessages(t, os.DirFS("messages"))
}
