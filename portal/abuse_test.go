package portal_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/portal"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestCrossHolderURLs: a signed-in holder who puts another holder's
// credential or authorizer ID in a URL gets "not found", for reading and
// for every change; nothing of the other holder's changes.
func TestCrossHolderURLs(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	ana, rui := s.holder(t, "ana@example.pt", "Ana"), s.holder(t, "rui@example.pt", "Rui")
	a, err := s.svc.RegisterAuthorizer(ctx, ana.acct.ID, ana.seal.Credential.ID, "ERP")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.ConfirmAuthorizer(ctx, ana.acct.ID, a.ID, s.lastCode(t)); err != nil {
		t.Fatal(err)
	}
	c := s.client(t)
	c.signIn(s, "rui@example.pt", password)
	anaSeal, ruiSeal := ana.seal.Credential.ID, rui.seal.Credential.ID
	for _, tc := range []struct{ method, path string }{
		{"GET", "/account/certificates/" + anaSeal},
		{"GET", "/account/certificates/" + anaSeal + "/download/certificate.pem"},
		{"GET", "/account/certificates/" + anaSeal + "/download/chain.p7b"},
		{"GET", "/account/certificates/" + anaSeal + "/revoke"},
		{"POST", "/account/certificates/" + anaSeal + "/revoke/code"},
		{"POST", "/account/certificates/" + ana.sign.Credential.ID + "/revoke"},
		{"POST", "/account/certificates/" + anaSeal + "/authorizers"},
		{"GET", "/account/certificates/" + anaSeal + "/authorizers/" + a.ID},
		{"POST", "/account/certificates/" + anaSeal + "/authorizers/" + a.ID + "/disable"},
		// Rui's own certificate with Ana's authorizer.
		{"GET", "/account/certificates/" + ruiSeal + "/authorizers/" + a.ID},
		{"POST", "/account/certificates/" + ruiSeal + "/authorizers/" + a.ID + "/disable"},
		{"POST", "/account/certificates/" + ruiSeal + "/authorizers/" + a.ID + "/renew"},
		{"POST", "/account/certificates/" + anaSeal + "/factor-code"},
	} {
		form := url.Values{"name": {"x"}, "password": {password}, "code": {"123456"}, "reason": {"1"}, "confirm": {"yes"}}
		if tc.method == "GET" {
			form = nil
		}
		resp := c.do(tc.method, tc.path, form)
		b := body(t, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
		if strings.Contains(b, "Ana") || strings.Contains(b, "ERP") {
			t.Errorf("%s %s shows Ana's data", tc.method, tc.path)
		}
	}
	as, err := s.svc.ListAuthorizers(ctx, ana.acct.ID, anaSeal)
	if err != nil || len(as) != 1 || !as[0].Authorizer.Enabled {
		t.Fatalf("Ana's authorizer changed: %+v %v", as, err)
	}
	if info, _ := s.svc.CredentialInfo(ctx, ana.acct.ID, ana.sign.Credential.ID); info.CertificateStatus != "valid" {
		t.Fatalf("Ana's certificate is %s", info.CertificateStatus)
	}
}

// TestCrossOriginPost: a form another site posts (the browser says
// Sec-Fetch-Site: cross-site, or sends a foreign Origin) is refused before
// it reaches a handler, even with the holder's cookie.
func TestCrossOriginPost(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "ana@example.pt", "Ana")
	c := s.client(t)
	c.signIn(s, "ana@example.pt", password)
	path := "/account/certificates/" + h.sign.Credential.ID + "/revoke/code"
	before, _ := s.outbox.List(context.Background(), notifySMS())
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		resp := c.do("POST", path, url.Values{}, hdr...)
		body(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%v: %d, want 403", hdr, resp.StatusCode)
		}
	}
	after, _ := s.outbox.List(context.Background(), notifySMS())
	if len(after) != len(before) {
		t.Fatal("a cross-origin post sent a text")
	}
	resp := c.do("POST", path, url.Values{})
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin post: %d", resp.StatusCode)
	}
}

// TestScriptEscaped: markup in a holder-chosen name (the authorizer's) and
// in the account name is shown as text.
func TestScriptEscaped(t *testing.T) {
	s := newStack(t)
	evil := `<script>alert("x")</script>`
	h := s.holder(t, "ana@example.pt", evil)
	c := s.client(t)
	c.signIn(s, "ana@example.pt", password)
	resp := c.do("POST", "/account/certificates/"+h.seal.Credential.ID+"/authorizers", url.Values{"name": {evil}})
	body(t, resp)
	page := body(t, c.do("GET", "/account/certificates/"+h.seal.Credential.ID, nil))
	if strings.Contains(page, "<script>alert") {
		t.Fatalf("markup reached the page: %s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatalf("the name is not shown escaped")
	}
}

// TestCookieFlags: the session cookie is HttpOnly, SameSite=Lax, scoped to
// /account/, and Secure when the base URL is https.
func TestCookieFlags(t *testing.T) {
	s := newStack(t)
	s.holder(t, "ana@example.pt", "Ana")
	c := s.client(t)
	resp := c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}})
	body(t, resp)
	var got *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == portal.CookieName {
			got = ck
		}
	}
	if got == nil || !got.HttpOnly || got.SameSite != http.SameSiteLaxMode || got.Path != "/account/" || got.Secure {
		t.Fatalf("cookie %+v", got)
	}
	if !web.SecureBaseURL("https://pki.example.pt") || web.SecureBaseURL("http://127.0.0.1:8080") {
		t.Fatal("SecureBaseURL")
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
}

// TestSessionEnds: after sign-out, the old cookie opens nothing; after a
// password change, the holder's other sessions open nothing and the one
// that changed it goes on.
func TestSessionEnds(t *testing.T) {
	s := newStack(t)
	s.holder(t, "ana@example.pt", "Ana")
	a, b := s.client(t), s.client(t)
	a.signIn(s, "ana@example.pt", password)
	b.signIn(s, "ana@example.pt", password)
	u, _ := url.Parse(s.srv.URL + "/account/")
	stolen := a.c.Jar.Cookies(u)
	body(t, a.do("POST", "/account/signout", url.Values{}))
	replay := s.client(t)
	replay.c.Jar.SetCookies(u, stolen)
	if resp := replay.do("GET", "/account/certificates", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/signin" {
		t.Fatalf("cookie after sign-out: %d", resp.StatusCode)
	}

	a.signIn(s, "ana@example.pt", password)
	next := "another good password"
	resp := b.do("POST", "/account/password", url.Values{"current": {password}, "new": {next}, "repeat": {next}})
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d", resp.StatusCode)
	}
	if resp := a.do("GET", "/account/certificates", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other session after the password change: %d", resp.StatusCode)
	}
	if resp := b.do("GET", "/account/certificates", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session that changed it: %d", resp.StatusCode)
	}
	c := s.client(t)
	if resp := c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}}); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the old password still signs in")
	}
	c.signIn(s, "ana@example.pt", next)
}

// TestWrongSecondFactor: ten wrong codes in a row. Each is an audited
// failed login that counts against the e-mail like a wrong password; the
// fifth ends the half-done sign-in (the right code then opens nothing) and
// kills the texted code; the e-mail is then locked, so codes six to ten
// find no sign-in to guess at and the password is refused (429) until the
// window has room, except with a code of the holder's authenticator.
func TestWrongSecondFactor(t *testing.T) {
	s := newStack(t)
	h := s.holder(t, "ana@example.pt", "Ana")
	c := s.client(t)
	resp := c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}})
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password: %d", resp.StatusCode)
	}
	body(t, c.do("POST", "/account/signin/sms", url.Values{}))
	right := s.lastCode(t)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 1; i <= 10; i++ {
		resp := c.do("POST", "/account/signin/code", url.Values{"code": {wrong}})
		b := body(t, resp)
		switch {
		case i <= 5 && resp.StatusCode != http.StatusUnauthorized:
			t.Fatalf("wrong code %d: %d", i, resp.StatusCode)
		case i == 5 && !strings.Contains(b, "Demasiados códigos errados"):
			t.Fatalf("after five wrong codes: %s", b)
		case i > 5 && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/signin"):
			t.Fatalf("wrong code %d after the sign-in ended: %d %s", i, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp = c.do("POST", "/account/signin/code", url.Values{"code": {right}})
	body(t, resp)
	if resp.Header.Get("Location") == "/account/certificates" {
		t.Fatal("the right code signed in after five wrong ones")
	}
	resp = c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}})
	body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the password after five wrong codes: %d, want 429 (e-mail locked)", resp.StatusCode)
	}
	failed := 0
	es, _ := s.env.Store.ListAuditByActor(context.Background(), "holder:"+h.acct.ID, "account.login", 0, 100)
	for _, e := range es {
		if e.Outcome == selo.OutcomeFailure {
			failed++
		}
	}
	if failed != 6 {
		t.Fatalf("%d failed logins audited, want 6 (five codes, one locked password)", failed)
	}
	as, _ := s.svc.ListApprovals(context.Background(), h.acct.ID, selo.ApprovalPending)
	for _, a := range as {
		if a.Purpose == "account.login" {
			t.Fatalf("the texted code is still pending after five wrong guesses: %+v", a)
		}
	}
	// Whoever locked the e-mail does not keep the holder out: the password
	// with a code of the holder's authenticator still signs in, at once.
	code := s.authenticator(t, h)
	resp = c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}, "locked_code": {"000000"}})
	body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a locked e-mail with a wrong authenticator code: %d", resp.StatusCode)
	}
	resp = c.do("POST", "/account/signin", url.Values{"email": {"ana@example.pt"}, "password": {password}, "locked_code": {code()}})
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/certificates" {
		t.Fatalf("a locked e-mail with the password and an authenticator code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := c.do("GET", "/account/certificates", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in past the lock: %d", resp.StatusCode)
	}
}

// TestOrdersPage: the holder sees their own orders (by the account's
// e-mail, any case) with the next step and the identity-check link, and
// not another holder's.
func TestOrdersPage(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.holder(t, "ana@example.pt", "Ana")
	var numbers []string
	for _, email := range []string{"Ana@Example.pt", "rui@example.pt"} {
		created, err := s.reg.CreateOrder(ctx, "officer:o", registration.OrderRequest{
			Holder:  selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: email, Mobile: "+351912345678"},
			Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, created.Order.Number)
	}
	c := s.client(t)
	c.signIn(s, "ana@example.pt", password)
	page := body(t, c.do("GET", "/account/orders", nil))
	if !strings.Contains(page, numbers[0]) || strings.Contains(page, numbers[1]) {
		t.Fatalf("orders page shows %v wrongly: %s", numbers, page)
	}
	if !strings.Contains(page, `/identity"`) {
		t.Fatal("no identity-check link for a new order")
	}
}

// TestResetLinkNotLogged: the password-reset link's token never reaches the
// server's log (it travels in the query, which the access log leaves out),
// and the link works once.
func TestResetLinkNotLogged(t *testing.T) {
	s := newStack(t)
	s.holder(t, "ana@example.pt", "Ana")
	c := s.client(t)
	body(t, c.do("POST", "/account/reset", url.Values{"email": {"ana@example.pt"}}))
	link := s.lastResetLink(t)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if len(token) < 40 {
		t.Fatalf("reset token %q", token)
	}
	resp := c.do("GET", u.RequestURI(), nil)
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/reset/password" {
		t.Fatalf("open the link: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(s.logs.String(), token) {
		t.Fatal("the reset token is in the server's log")
	}
	if !strings.Contains(s.logs.String(), "/account/reset/open") {
		t.Fatal("no access log line for the link: the check above proves nothing")
	}
}

// TestApprovalTooLargeForQR: a wallet approval of 64 hashes writes a
// challenge URI (about 3.4 KB) that no QR code holds; the approvals page
// shows the URI to copy and draws no broken image for it, while a small
// approval still gets its QR code.
func TestApprovalTooLargeForQR(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	ana := s.holder(t, "ana@example.pt", "Ana")
	cred := s.credential(t, ana.acct, "qualified-sign", selo.ApprovalWallet)
	s.wallet(t, ana)
	authorize := func(n int) string {
		hashes := make([][]byte, n)
		for i := range hashes {
			d := sha256.Sum256([]byte{byte(n), byte(i)})
			hashes[i] = d[:]
		}
		res, err := s.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: ana.acct.ID, CredentialID: cred.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: n, Description: fmt.Sprintf("%d invoices", n)})
		if err != nil || res.Pending == nil {
			t.Fatalf("authorize %d hashes: %+v %v", n, res, err)
		}
		return res.Pending.ID
	}
	large, small := authorize(64), authorize(1)
	c := s.client(t)
	c.signIn(s, "ana@example.pt", password)
	page := body(t, c.do("GET", "/account/approvals", nil))
	sections := strings.Split(page, `<section class="box qr approval"`)
	found := 0
	for _, sec := range sections[1:] {
		switch {
		case strings.Contains(sec, "/account/approvals/"+large+"/status"):
			found++
			if strings.Contains(sec, "<img") || !strings.Contains(sec, "selo-wallet://approve?") || !strings.Contains(sec, `<p class="approval-noqr">Este pedido é grande demais`) {
				t.Errorf("64-hash approval: want the URI and no image, got %s", sec)
			}
		case strings.Contains(sec, "/account/approvals/"+small+"/status"):
			found++
			if !strings.Contains(sec, `class="approval-qr"`) || !strings.Contains(sec, `src="data:image/png;base64,`) {
				t.Errorf("one-hash approval: no QR image in %s", sec)
			}
		}
	}
	if found != 2 {
		t.Fatalf("the page shows %d of the 2 approvals: %s", found, page)
	}
}
