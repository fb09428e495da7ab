package desk_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/registration"
)

func get(t testing.TB, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t testing.TB, c *http.Client, u string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// identityForm builds the holder's multipart form.
func identityForm(docType, mrz string, photos map[string][]byte) (string, *bytes.Buffer) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("document_type", docType)
	_ = mw.WriteField("mrz", mrz)
	for _, kind := range []string{"document-front", "document-back", "selfie"} {
		if data, ok := photos[kind]; ok {
			w, _ := mw.CreateFormFile(kind, kind+".jpg")
			_, _ = w.Write(data)
		}
	}
	_ = mw.Close()
	return mw.FormDataContentType(), &b
}

func postForm(t testing.TB, c *http.Client, u, contentType string, body io.Reader, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, body)
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func goodPhotos() map[string][]byte {
	return map[string][]byte{"document-front": testenv.JPEG(80, 50, 1), "document-back": testenv.PNG(80, 50, 2), "selfie": testenv.JPEG(60, 80, 3)}
}

// TestRolesOnTheDesk: no session goes to sign-in; wrong passwords are
// refused; each role reaches its pages and is refused (403, audited) the
// others; an auditor cannot decide; sign-out kills the token even if a copy
// of the cookie is kept; a disabled account stops at once.
func TestRolesOnTheDesk(t *testing.T) {
	f := newFixture(t)
	anon := f.client(t)
	if code, _ := get(t, anon, f.srv.URL+"/desk/identity"); code != http.StatusSeeOther {
		t.Fatalf("anonymous queue: %d", code)
	}
	if code, body := post(t, anon, f.srv.URL+"/desk/signin", url.Values{"username": {"olga"}, "password": {"wrong password!"}}, nil); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") && !strings.Contains(body, "errados") {
		t.Fatalf("wrong password: %d", code)
	}
	if !f.audited(t, "operator:olga", "operator.login") {
		t.Fatal("the refused sign-in is not audited")
	}
	cases := []struct {
		user string
		path string
		want int
	}{
		{"olga", "/desk/identity", 200}, {"olga", "/desk/orders", 200}, {"olga", "/desk/revoke", 200},
		{"olga", "/desk/audit", 403}, {"olga", "/desk/admin", 403},
		{"aldo", "/desk/identity", 200}, {"aldo", "/desk/orders", 200}, {"aldo", "/desk/audit", 200}, {"aldo", "/desk/admin", 200},
		{"aldo", "/desk/revoke", 403},
		{"ana", "/desk/admin", 200}, {"ana", "/desk/audit", 200}, {"ana", "/desk/identity", 403}, {"ana", "/desk/revoke", 403},
		{"otto", "/desk/identity", 200}, {"otto", "/desk/admin", 200},
	}
	clients := map[string]*http.Client{}
	for _, tc := range cases {
		c := clients[tc.user]
		if c == nil {
			c = f.client(t)
			f.signIn(t, c, tc.user)
			clients[tc.user] = c
		}
		code, body := get(t, c, f.srv.URL+tc.path)
		if code != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.user, tc.path, code, tc.want)
		}
		if code == 403 && !strings.Contains(body, "desk.forbidden") && !strings.Contains(body, "roles") && !strings.Contains(body, "funções") {
			t.Errorf("%s GET %s: the refusal page does not say why", tc.user, tc.path)
		}
	}
	if !f.audited(t, "operator:olga", "desk.forbidden") || !f.audited(t, "operator:ana", "desk.forbidden") {
		t.Fatal("role refusals are not audited")
	}
	// An auditor cannot decide nor revoke, even by posting the form.
	if code, _ := post(t, clients["aldo"], f.srv.URL+"/desk/identity/x/decision", url.Values{"decision": {"approve"}, "reason": {"ok"}}, nil); code != 403 {
		t.Fatalf("auditor's decision: %d", code)
	}
	if code, _ := post(t, clients["aldo"], f.srv.URL+"/desk/revoke", url.Values{"serial": {"01"}, "reason": {"0"}, "confirm": {"yes"}}, nil); code != 403 {
		t.Fatalf("auditor's revocation: %d", code)
	}
	// Sign-out: the copied cookie is dead too.
	olga := clients["olga"]
	u, _ := url.Parse(f.srv.URL + "/desk/")
	copied := olga.Jar.Cookies(u)
	if code, _ := post(t, olga, f.srv.URL+"/desk/signout", nil, nil); code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", code)
	}
	thief := f.client(t)
	thief.Jar.SetCookies(u, copied)
	if code, _ := get(t, thief, f.srv.URL+"/desk/identity"); code != http.StatusSeeOther {
		t.Fatalf("a copied cookie after sign-out: %d", code)
	}
	if !f.audited(t, "operator:olga", "operator.logout") {
		t.Fatal("sign-out is not audited")
	}
	// A disabled account stops at its next request.
	otto := clients["otto"]
	if err := f.ctl.SetOperatorDisabled(context.Background(), controlRoot, "otto", true); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, otto, f.srv.URL+"/desk/identity"); code != http.StatusSeeOther {
		t.Fatalf("a disabled operator's session: %d", code)
	}
}

// TestCrossOriginPostRefused: a form posted from another site is refused
// before it reaches the handler, for officers and holders alike.
func TestCrossOriginPostRefused(t *testing.T) {
	f := newFixture(t)
	h := selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	o, token := f.holder(t, h)
	c := f.client(t)
	f.signIn(t, c, "olga")
	evil := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	if code, _ := post(t, c, f.srv.URL+"/desk/revoke", url.Values{"serial": {"01"}, "reason": {"1"}, "confirm": {"yes"}}, evil); code != 403 {
		t.Fatalf("cross-site revocation: %d", code)
	}
	if code, _ := post(t, f.client(t), f.srv.URL+"/desk/signin", url.Values{"username": {"olga"}, "password": {password}}, evil); code != 403 {
		t.Fatalf("cross-site sign-in (login CSRF): %d", code)
	}
	ct, body := identityForm("id-card", mrzOf(t, h, f.clock.Now()), goodPhotos())
	if code, _ := postForm(t, f.holderClient(t, token), f.srv.URL+"/account/orders/"+o.ID+"/identity", ct, body, evil); code != 403 {
		t.Fatalf("cross-site identity submission: %d", code)
	}
	if got, _ := f.reg.FindOrderByID(context.Background(), o.ID); got.IdentityAttempts != 0 {
		t.Fatal("the cross-site submission was recorded")
	}
}

// TestHolderCannotReachAnotherHoldersOrder: another holder's order page,
// submission and photos are 404, the same as an order that does not exist.
func TestHolderCannotReachAnotherHoldersOrder(t *testing.T) {
	f := newFixture(t)
	ana := selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	rui := selo.Holder{GivenNames: "Rui", Surname: "Costa", Email: "rui@example.pt", Mobile: "+351912345679"}
	o, anaToken := f.holder(t, ana)
	_, ruiToken := f.holder(t, rui)
	anaC, ruiC := f.holderClient(t, anaToken), f.holderClient(t, ruiToken)
	ct, body := identityForm("id-card", mrzOf(t, ana, f.clock.Now()), goodPhotos())
	if code, page := postForm(t, anaC, f.srv.URL+"/account/orders/"+o.ID+"/identity", ct, body, nil); code != 200 || !strings.Contains(page, "pending") {
		t.Fatalf("Ana's own submission: %d", code)
	}
	_, checks, err := f.reg.HolderIdentityChecks(context.Background(), "acct-silva", o.ID)
	if err != nil || len(checks) != 1 {
		t.Fatal(err)
	}
	photo := f.srv.URL + "/account/orders/" + o.ID + "/identity/" + checks[0].ID + "/selfie"
	if code, _ := get(t, anaC, photo); code != 200 {
		t.Fatalf("Ana's own selfie: %d", code)
	}
	for _, u := range []string{f.srv.URL + "/account/orders/" + o.ID + "/identity", photo, f.srv.URL + "/account/orders/nope/identity"} {
		if code, page := get(t, ruiC, u); code != 404 || strings.Contains(page, "Silva") {
			t.Errorf("Rui GET %s: %d", u, code)
		}
	}
	ct, body = identityForm("id-card", mrzOf(t, ana, f.clock.Now()), goodPhotos())
	if code, _ := postForm(t, ruiC, f.srv.URL+"/account/orders/"+o.ID+"/identity", ct, body, nil); code != 404 {
		t.Fatalf("Rui's submission on Ana's order: %d", code)
	}
	// Without a session: to the portal's sign-in, never the page.
	if code, _ := get(t, f.client(t), f.srv.URL+"/account/orders/"+o.ID+"/identity"); code != http.StatusSeeOther {
		t.Fatalf("anonymous identity page: %d", code)
	}
	if !f.audited(t, "account:acct-costa", "order.read") {
		t.Fatal("the cross-holder attempt is not audited")
	}
}

// TestUploadRefusals: an oversized body, a photo that is not an image, a
// missing selfie and unknown fields are refused with a message on the
// form, and nothing is recorded.
func TestUploadRefusals(t *testing.T) {
	f := newFixture(t)
	h := selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	o, token := f.holder(t, h)
	c := f.holderClient(t, token)
	u := f.srv.URL + "/account/orders/" + o.ID + "/identity"
	mrz := mrzOf(t, h, f.clock.Now())
	huge := goodPhotos()
	huge["selfie"] = append(testenv.JPEG(8, 8, 0), make([]byte, registration.DefaultMaxPhotoSize)...)
	html := goodPhotos()
	html["selfie"] = []byte("<html><script>alert(1)</script></html>")
	noSelfie := goodPhotos()
	delete(noSelfie, "selfie")
	cases := []struct {
		name   string
		photos map[string][]byte
		want   string
	}{
		{"oversized", huge, "at most"},
		{"html as a photo", html, "not a JPEG or PNG"},
		{"no selfie", noSelfie, "selfie"},
	}
	for _, tc := range cases {
		ct, body := identityForm("id-card", mrz, tc.photos)
		code, page := postForm(t, c, u, ct, body, nil)
		if code != 400 || !strings.Contains(page, tc.want) {
			t.Errorf("%s: %d, want 400 with %q", tc.name, code, tc.want)
		}
	}
	// A body past the form's limit is cut off, not read to the end.
	big := bytes.NewReader(make([]byte, 3*registration.DefaultMaxPhotoSize+200<<10))
	code, page := postForm(t, c, u, "multipart/form-data; boundary=xyz", io.MultiReader(strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\r\n\r\n"), big), nil)
	if code != 400 || !strings.Contains(page, "larger than") && !strings.Contains(page, "at most") {
		t.Fatalf("a body past the limit: %d %s", code, page[:min(len(page), 200)])
	}
	if code, _ := post(t, c, u, url.Values{"document_type": {"id-card"}, "mrz": {mrz}}, nil); code != 400 {
		t.Fatalf("an url-encoded form: %d", code)
	}
	if got, _ := f.reg.FindOrderByID(context.Background(), o.ID); got.IdentityAttempts != 0 {
		t.Fatalf("refused uploads used %d attempts", got.IdentityAttempts)
	}
}

// TestScriptInFieldsIsEscaped: a holder's name with markup and an MRZ with
// markup are shown as text on the officer's pages and the holder's.
func TestScriptInFieldsIsEscaped(t *testing.T) {
	f := newFixture(t)
	h := selo.Holder{GivenNames: `<script>alert("x")</script>`, Surname: `<img src=x onerror=alert(1)>`, Email: "evil@example.pt", Mobile: "+351912345678"}
	o, token := f.holder(t, h)
	ct, body := identityForm("id-card", `<script>alert(2)</script>`, goodPhotos())
	code, page := postForm(t, f.holderClient(t, token), f.srv.URL+"/account/orders/"+o.ID+"/identity", ct, body, nil)
	if code != 200 || strings.Contains(page, "<script>alert(2)") || !strings.Contains(page, "&lt;SCRIPT&gt;") {
		t.Fatalf("holder's page after a markup MRZ: %d\n%s", code, page)
	}
	c := f.client(t)
	f.signIn(t, c, "olga")
	_, page = get(t, c, f.srv.URL+"/desk/orders")
	if strings.Contains(page, "<script>alert(") || strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatalf("orders page does not escape the holder's name:\n%s", page)
	}
}

// TestSignInThrottled: five wrong passwords for one user name lock it for
// the window, even against the right password (429 with Retry-After,
// audited); a right password before the limit clears what it counted.
func TestSignInThrottled(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	wrong := url.Values{"username": {"olga"}, "password": {"not the password"}}
	for i := 0; i < 4; i++ {
		if code, _ := post(t, c, f.srv.URL+"/desk/signin", wrong, nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, code)
		}
	}
	f.signIn(t, f.client(t), "olga") // the right one takes back only its own attempt
	if code, _ := post(t, c, f.srv.URL+"/desk/signin", wrong, nil); code != http.StatusUnauthorized {
		t.Fatalf("fifth wrong password: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/desk/signin", strings.NewReader(url.Values{"username": {"olga"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password after five wrong ones: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	// Another user name from another address is not affected.
	f.signIn(t, f.client(t), "aldo")
	entries, _ := f.env.Store.ListAudit(context.Background(), 0, 0)
	throttled := false
	for _, e := range entries {
		throttled = throttled || e.Action == "operator.login" && strings.Contains(e.Details, "throttled")
	}
	if !throttled {
		t.Fatal("the throttled sign-in is not audited")
	}
}

// TestDeskOnPostgres runs the desk's path over PostgreSQL: a holder's
// check with photos, an officer opening a photo and approving, a
// revocation, and an auditor verifying the audit chain.
func TestDeskOnPostgres(t *testing.T) {
	f := newFixtureOn(t, true)
	ctx := context.Background()
	h := selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	o, token := f.holder(t, h)
	ct, body := identityForm("id-card", mrzOf(t, h, f.clock.Now()), goodPhotos())
	if code, page := postForm(t, f.holderClient(t, token), f.srv.URL+"/account/orders/"+o.ID+"/identity", ct, body, nil); code != 200 || !strings.Contains(page, "pending") {
		t.Fatalf("submission: %d", code)
	}
	checks, err := f.reg.ListPendingIdentityChecks(ctx, "", 10)
	if err != nil || len(checks) != 1 {
		t.Fatalf("queue %v %v", checks, err)
	}
	c := f.client(t)
	f.signIn(t, c, "olga")
	resp, err := c.Get(f.srv.URL + "/desk/identity/" + checks[0].ID + "/photo/document-back")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(data, goodPhotos()["document-back"]) {
		t.Fatalf("photo: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if code, _ := post(t, c, f.srv.URL+"/desk/identity/"+checks[0].ID+"/decision", url.Values{"decision": {"approve"}, "reason": {"matches"}}, nil); code != 200 {
		t.Fatalf("approval: %d", code)
	}
	if got, _ := f.reg.FindOrderByID(ctx, o.ID); got.State != selo.OrderIdentityValidated {
		t.Fatalf("order %s", got.State)
	}
	cert := f.env.Issue(t, "qualified-sign", "ecdsa-p256")
	if code, _ := post(t, c, f.srv.URL+"/desk/revoke", url.Values{"serial": {cert.Serial}, "reason": {"1"}, "confirm": {"yes"}}, nil); code != 200 {
		t.Fatalf("revocation: %d", code)
	}
	a := f.client(t)
	f.signIn(t, a, "aldo")
	if code, page := post(t, a, f.srv.URL+"/desk/audit/verify", nil, nil); code != 200 || !strings.Contains(page, "intact") && !strings.Contains(page, "intacta") {
		t.Fatalf("verify: %d", code)
	}
}
