package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

var updateScreenshots = flag.Bool("screenshots", false, "write the browser test's screenshots to docs/portal/")

// browser starts one headless Chromium for a test; tab opens a fresh
// browser context in it (cookies of its own, like a separate browser).
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string // where screenshots go
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := signtest.Tool(t, "chromium", "")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1100, 900),
		chromedp.Flag("lang", "en-GB"), chromedp.Flag("accept-lang", "en-GB,en"))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := t.TempDir()
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "portal")
	}
	return &browser{t: t, ctx: ctx, dir: dir, base: base}
}

// tab returns a new browser context, closed when t ends.
func (b *browser) tab(t *testing.T) context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab, and a tab lives as long as the context
	// of its first run: open it here, not under a step's deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// run runs actions with a deadline, failing t with what it was doing.
func (b *browser) run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage: %s", what, err, html)
	}
}

// get runs one action that answers a value, with a deadline.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// shot saves a screenshot of the page as name.png; of the element sel
// when one is given.
func (b *browser) shot(t *testing.T, ctx context.Context, name string, sel ...string) {
	t.Helper()
	a := chromedp.CaptureScreenshot()
	if len(sel) > 0 {
		a = chromedp.Screenshot(chromedp.CSS(sel[0]))
	}
	png := get(t, ctx, "screenshot "+name, a)
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitURL waits until the tab's address contains part: the page a form
// led to has loaded (a .flash of the page before would match too early).
func (b *browser) waitURL(t *testing.T, ctx context.Context, part string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.Contains(loc, part) {
			if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("footer"))); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never reached an address with %q (at %s, %v)", part, loc, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// signIn signs in through the pages; code gives the second factor (nil:
// ask for a text and read it).
func (b *browser) signIn(t *testing.T, ctx context.Context, s *stack, email, pw string, code func() string, shots bool) {
	t.Helper()
	b.run(t, ctx, "password step",
		chromedp.Navigate(b.base+"/account/signin?lang=en"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw))
	if shots {
		b.shot(t, ctx, "signin")
	}
	b.run(t, ctx, "submit password", chromedp.Click(chromedp.ID("signin-submit")), chromedp.WaitVisible(chromedp.ID("code")))
	if code == nil {
		b.run(t, ctx, "ask for a text", chromedp.Click(chromedp.ID("send-sms")), chromedp.WaitVisible(chromedp.CSS(".flash")))
		code = func() string { return s.lastCode(t) }
		if shots {
			b.shot(t, ctx, "second-factor")
		}
	}
	b.run(t, ctx, "second factor",
		chromedp.SendKeys(chromedp.ID("code"), code()),
		chromedp.Click(chromedp.ID("code-submit")),
		chromedp.WaitVisible(chromedp.ID("certificates")))
}

// sign makes a signature with the SMS credential through the service, as an
// integrator does over CSC, so the history has rows.
func sign(t *testing.T, s *stack, h *holder, integrator string) {
	t.Helper()
	ctx := context.Background()
	d := sha256.Sum256([]byte(integrator + time.Now().String()))
	if err := s.svc.SendOTP(ctx, h.acct.ID, h.sign.Credential.ID); err != nil {
		t.Fatal(err)
	}
	req := signing.AuthorizeRequest{AccountID: h.acct.ID, CredentialID: h.sign.Credential.ID, HashAlgorithmOID: signing.OIDSHA256,
		Hashes: [][]byte{d[:]}, NumSignatures: 1, OTP: s.lastCode(t)}
	res, err := s.svc.Authorize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.SignHash(ctx, signing.SignHashRequest{AccountID: h.acct.ID, CredentialID: h.sign.Credential.ID, SAD: res.SAD,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: req.Hashes, SignAlgo: "1.2.840.10045.4.3.2", Integrator: integrator}); err != nil {
		t.Fatal(err)
	}
}

// TestPortalInChromium drives the portal in headless Chromium through the
// holder's flows: sign-in with a texted code and with an authenticator
// code, an authorizer registered, shown, renewed, disabled and enabled,
// the signature history, a revocation, the wallet's approval QR (read back
// with zbarimg, approved by the wallet, the page following by poll.js) and
// a password reset. Run with -screenshots to refresh docs/portal/.
func TestPortalInChromium(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.srv.URL)
	ana := s.holder(t, "ana@example.pt", "Ana Silva")
	ctx := b.tab(t)

	t.Run("SignInWithSMS", func(t *testing.T) {
		b.signIn(t, ctx, s, "ana@example.pt", password, nil, true)
		if txt := b.text(t, ctx, "#certificates"); !strings.Contains(txt, "qualified-seal") || !strings.Contains(txt, "qualified-sign") {
			t.Fatalf("certificates page: %s", txt)
		}
		b.shot(t, ctx, "certificates")
	})

	t.Run("Orders", func(t *testing.T) {
		if _, err := s.reg.CreateOrder(context.Background(), "officer:o", registration.OrderRequest{
			Holder:  selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"},
			Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}}); err != nil {
			t.Fatal(err)
		}
		b.run(t, ctx, "orders", chromedp.Navigate(b.base+"/account/orders"), chromedp.WaitVisible(chromedp.ID("orders")))
		if txt := b.text(t, ctx, "#orders tbody"); !strings.Contains(txt, "Check my identity") {
			t.Fatalf("orders: %s", txt)
		}
		b.shot(t, ctx, "orders")
	})

	var totp func() string
	t.Run("SignInWithAuthenticator", func(t *testing.T) {
		code := s.authenticator(t, ana)
		totp = code
		other := b.tab(t)
		b.signIn(t, other, s, "ana@example.pt", password, code, false)
	})

	t.Run("Authorizer", func(t *testing.T) {
		page := b.base + "/account/certificates/" + ana.seal.Credential.ID
		b.run(t, ctx, "register",
			chromedp.Navigate(page),
			chromedp.WaitVisible(chromedp.ID("authorizer-name")),
			chromedp.SendKeys(chromedp.ID("authorizer-name"), "ERP Faturas"),
			chromedp.Click(chromedp.ID("register-authorizer")),
			chromedp.WaitVisible(chromedp.ID("authorizer-code")))
		b.run(t, ctx, "confirm with the texted code",
			chromedp.SendKeys(chromedp.ID("authorizer-code"), s.lastCode(t)),
			chromedp.Click(chromedp.ID("confirm-authorizer")),
			chromedp.WaitVisible(chromedp.ID("setup")))
		if uri := b.text(t, ctx, "#setup-uri"); !strings.HasPrefix(uri, "otpauth://") {
			t.Fatalf("setup URI %q", uri)
		}
		b.shot(t, ctx, "authorizer-setup", "#authorizers")
		// Shown once: the page again has no secret.
		b.run(t, ctx, "reload", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("authorizer-list")))
		setups := get(t, ctx, "no setup", chromedp.Evaluate[int](`document.querySelectorAll("#setup").length`))
		if setups != 0 {
			t.Fatal("the setup data is shown again")
		}
		b.shot(t, ctx, "certificate-change")
		b.run(t, ctx, "show",
			chromedp.Click(chromedp.CSS(`#authorizer-list a.button`)),
			chromedp.WaitVisible(chromedp.ID("authorizations")))
		if days := b.text(t, ctx, "#authorizations td.days"); days != "60" {
			t.Fatalf("days left %q, want 60", days)
		}
		b.run(t, ctx, "ask for a renewal code",
			chromedp.Click(chromedp.ID("renew")),
			chromedp.WaitVisible(chromedp.ID("renew-code")))
		b.run(t, ctx, "renew",
			chromedp.SendKeys(chromedp.ID("renew-code"), s.lastCode(t)),
			chromedp.Click(chromedp.ID("renew-submit")))
		b.waitURL(t, ctx, "done=renewed")
		// Renewed again, with a code by e-mail.
		b.run(t, ctx, "ask for a code by e-mail",
			chromedp.Click(chromedp.ID("renew-email")),
			chromedp.WaitVisible(chromedp.ID("renew-code")))
		b.waitURL(t, ctx, "done=email")
		b.run(t, ctx, "renew with the e-mailed code",
			chromedp.SendKeys(chromedp.ID("renew-code"), s.lastEmailCode(t)),
			chromedp.Click(chromedp.ID("renew-submit")))
		b.waitURL(t, ctx, "done=renewed")
		b.shot(t, ctx, "authorizations")
		as, _ := s.svc.ListAuthorizers(context.Background(), ana.acct.ID, ana.seal.Credential.ID)
		if len(as) != 1 || len(as[0].Authorizations) != 3 {
			t.Fatalf("after the renewal: %+v", as)
		}
		for _, step := range []struct{ button, want string }{{"button.disable", "disabled"}, {"button.enable", "enabled"}} {
			b.run(t, ctx, step.want,
				chromedp.Navigate(page),
				chromedp.WaitVisible(chromedp.CSS(step.button)),
				chromedp.Click(chromedp.CSS(step.button)),
				chromedp.WaitVisible(chromedp.CSS(".flash")))
			if row := b.text(t, ctx, `#authorizer-list tbody tr`); !strings.Contains(row, step.want) {
				t.Fatalf("after %s: %q", step.button, row)
			}
			as, _ := s.svc.ListAuthorizers(context.Background(), ana.acct.ID, ana.seal.Credential.ID)
			if as[0].Authorizer.Enabled != (step.want == "enabled") {
				t.Fatalf("the service says enabled=%v after %s", as[0].Authorizer.Enabled, step.button)
			}
		}
	})

	t.Run("History", func(t *testing.T) {
		for _, app := range []string{"ERP Faturas", "Sign&Go", "VirtualCSP"} {
			sign(t, s, ana, app)
		}
		b.run(t, ctx, "history", chromedp.Navigate(b.base+"/account/history"), chromedp.WaitVisible(chromedp.ID("history")))
		txt := b.text(t, ctx, "#history tbody")
		if !strings.Contains(txt, "VirtualCSP") || !strings.Contains(txt, "SMS code") || strings.Index(txt, "VirtualCSP") > strings.Index(txt, "ERP Faturas") {
			t.Fatalf("history (newest first): %s", txt)
		}
		b.shot(t, ctx, "history")
	})

	t.Run("Revocation", func(t *testing.T) {
		b.run(t, ctx, "revoke page",
			chromedp.Navigate(b.base+"/account/certificates/"+ana.sign.Credential.ID+"/revoke"),
			chromedp.WaitVisible(chromedp.ID("revoke-warning")),
			chromedp.Click(chromedp.ID("revoke-sms")),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		b.run(t, ctx, "fill in the revocation",
			chromedp.SetValue(chromedp.ID("reason"), "1"),
			chromedp.SendKeys(chromedp.ID("revoke-password"), password),
			chromedp.SendKeys(chromedp.ID("revoke-code"), s.lastCode(t)),
			chromedp.Click(chromedp.ID("revoke-confirm")))
		b.shot(t, ctx, "revoke")
		b.run(t, ctx, "revoke", chromedp.Click(chromedp.ID("revoke-submit")), chromedp.WaitVisible(chromedp.ID("certificates")))
		info, err := s.svc.CredentialInfo(context.Background(), ana.acct.ID, ana.sign.Credential.ID)
		if err != nil || info.CertificateStatus != "revoked" {
			t.Fatalf("after revocation: %+v %v", info, err)
		}
		if row := b.text(t, ctx, `tr[data-serial="`+ana.sign.Credential.CertificateSerial+`"]`); !strings.Contains(row, "revoked") {
			t.Fatalf("certificates page row %q", row)
		}
	})

	var walletID string
	var key *ecdsa.PrivateKey
	t.Run("WalletQR", func(t *testing.T) {
		walletCred := s.credential(t, ana.acct, "qualified-sign", selo.ApprovalWallet)
		walletID, key = s.wallet(t, ana)
		d := sha256.Sum256([]byte("invoice 2026/118"))
		res, err := s.svc.Authorize(context.Background(), signing.AuthorizeRequest{AccountID: ana.acct.ID, CredentialID: walletCred.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: [][]byte{d[:]}, NumSignatures: 1, Description: "Invoice 2026/118"})
		if err != nil || res.Pending == nil {
			t.Fatalf("authorize: %+v %v", res, err)
		}
		b.run(t, ctx, "approvals page",
			chromedp.Navigate(b.base+"/account/approvals"),
			chromedp.WaitVisible(chromedp.CSS(".approval-qr")))
		src := get(t, ctx, "QR image", chromedp.AttributeValue(chromedp.CSS(".approval-qr"), "src")).Value
		b.shot(t, ctx, "wallet-approval")
		out := decodeQR(t, src)
		ch, err := approval.ParseWalletChallengeURI(out)
		if err != nil || ch.ApprovalID != res.Pending.ID {
			t.Fatalf("the QR code holds %q: %v", out, err)
		}
		// The wallet scans it and approves; poll.js sees the answer and
		// takes the page on.
		sig, err := approval.SignWalletDecision(ch, true, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.svc.DecideWalletApproval(context.Background(), ch.ApprovalID, walletID, true, sig); err != nil {
			t.Fatal(err)
		}
		b.run(t, ctx, "poll.js follows", chromedp.WaitVisible(chromedp.ID("no-approvals")))
		loc := get(t, ctx, "location", chromedp.Location())
		if !strings.Contains(loc, "done=decided") {
			t.Fatalf("page at %s", loc)
		}

		// 64 hashes write a challenge no QR code holds: the page says so and
		// shows the text, which the wallet reads; denied here.
		hashes := make([][]byte, 64)
		for i := range hashes {
			d := sha256.Sum256([]byte{'i', byte(i)})
			hashes[i] = d[:]
		}
		large, err := s.svc.Authorize(context.Background(), signing.AuthorizeRequest{AccountID: ana.acct.ID, CredentialID: walletCred.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 64, Description: "64 invoices, December"})
		if err != nil || large.Pending == nil {
			t.Fatalf("authorize 64 hashes: %+v %v", large, err)
		}
		for _, lang := range []string{"pt", "en"} {
			b.run(t, ctx, "large approval ("+lang+")",
				chromedp.Navigate(b.base+"/account/approvals?lang="+lang),
				chromedp.WaitVisible(chromedp.CSS(".approval-noqr")))
			b.shot(t, ctx, "wallet-approval-large-"+lang)
		}
		if n := get(t, ctx, "images", chromedp.Evaluate[int](`document.querySelectorAll("img.approval-qr").length`)); n != 0 {
			t.Fatalf("%d QR images for a challenge no QR code holds", n)
		}
		ch, err = approval.ParseWalletChallengeURI(b.text(t, ctx, ".approval-uri"))
		if err != nil || ch.ApprovalID != large.Pending.ID || len(ch.Hashes) != 64 {
			t.Fatalf("the text shown is not the 64-hash challenge: %v", err)
		}
		if sig, err = approval.SignWalletDecision(ch, false, key); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.DecideWalletApproval(context.Background(), ch.ApprovalID, walletID, false, sig); err != nil {
			t.Fatal(err)
		}
		b.run(t, ctx, "poll.js follows the denial", chromedp.WaitVisible(chromedp.ID("no-approvals")))
	})

	t.Run("SignInWithWallet", func(t *testing.T) {
		if key == nil {
			t.Skip("no wallet")
		}
		fresh := b.tab(t)
		b.run(t, fresh, "start",
			chromedp.Navigate(b.base+"/account/signin?lang=en"),
			chromedp.Click(chromedp.ID("wallet-signin")),
			chromedp.WaitVisible(chromedp.ID("wallet-qr")))
		b.shot(t, fresh, "wallet-signin")
		uri := decodeQR(t, get(t, fresh, "QR image", chromedp.AttributeValue(chromedp.ID("wallet-qr"), "src")).Value)
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "selo-wallet" {
			t.Fatalf("sign-in QR holds %q", uri)
		}
		challenge, approveURL := u.Query().Get("challenge"), u.Query().Get("url")
		post := func(wallet string, k *ecdsa.PrivateKey) int {
			d := sha256.Sum256(signing.WalletSignInBytes(wallet, challenge))
			sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
			resp, err := http.PostForm(approveURL, url.Values{"wallet_id": {wallet}, "challenge": {challenge}, "signature": {base64.StdEncoding.EncodeToString(sig)}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if st := post(walletID, other); st != http.StatusUnauthorized {
			t.Fatalf("a challenge signed by another key: %d", st)
		}
		if st := post(walletID, key); st != http.StatusNoContent {
			t.Fatalf("the wallet's approval: %d", st)
		}
		if st := post(walletID, key); st != http.StatusUnauthorized {
			t.Fatalf("the challenge used twice: %d", st)
		}
		// poll.js sees the approval and the page goes on, signed in.
		b.run(t, fresh, "signed in by the wallet", chromedp.WaitVisible(chromedp.ID("certificates")))
	})

	t.Run("ApprovalMethod", func(t *testing.T) {
		if totp == nil {
			t.Skip("no authenticator")
		}
		s.clock.Add(30 * time.Second) // the sign-in used this step
		page := b.base + "/account/certificates/" + ana.seal.Credential.ID
		b.run(t, ctx, "choose the authenticator",
			chromedp.Navigate(page),
			chromedp.WaitVisible(chromedp.ID("method-form")),
			chromedp.SetValue(chromedp.ID("method"), "authenticator"),
			chromedp.SendKeys(chromedp.ID("method-code"), totp()),
			chromedp.Click(chromedp.ID("set-method")),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		info, err := s.svc.CredentialInfo(context.Background(), ana.acct.ID, ana.seal.Credential.ID)
		if err != nil || info.Credential.ApprovalType != selo.ApprovalAuthenticator {
			t.Fatalf("after the change: %+v %v", info, err)
		}
		if txt := b.text(t, ctx, "#factors"); !strings.Contains(txt, "Approval method of this certificate: authenticator app") {
			t.Fatalf("factors section: %s", txt)
		}
	})

	t.Run("PasswordReset", func(t *testing.T) {
		fresh := b.tab(t)
		b.run(t, fresh, "ask for the link",
			chromedp.Navigate(b.base+"/account/reset?lang=en"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), "ana@example.pt"),
			chromedp.Click(chromedp.ID("reset-submit")),
			chromedp.WaitVisible(chromedp.ID("message")))
		link := s.lastResetLink(t)
		next := "a brand new passphrase"
		b.run(t, fresh, "open the link",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.ID("reset-sms")),
			chromedp.Click(chromedp.ID("reset-sms")),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		b.run(t, fresh, "fill in the new password",
			chromedp.SendKeys(chromedp.ID("code"), s.lastCode(t)),
			chromedp.SendKeys(chromedp.ID("new"), next),
			chromedp.SendKeys(chromedp.ID("repeat"), next))
		b.shot(t, fresh, "password-reset")
		b.run(t, fresh, "reset", chromedp.Click(chromedp.ID("reset-password")), chromedp.WaitVisible(chromedp.ID("signin")))
		// The link worked once; the old session ended; the new password signs in.
		b.run(t, fresh, "link again", chromedp.Navigate(link))
		if txt := b.text(t, fresh, "main"); !strings.Contains(txt, "not valid") {
			t.Fatalf("the reset link works twice: %s", txt)
		}
		b.run(t, ctx, "old session", chromedp.Navigate(b.base+"/account/certificates"), chromedp.WaitVisible(chromedp.ID("signin")))
		b.signIn(t, fresh, s, "ana@example.pt", next, nil, false)
	})
}

// decodeQR reads a QR code shown as a data: PNG with zbarimg, a decoder
// nobody here wrote.
func decodeQR(t *testing.T, src string) string {
	t.Helper()
	zbar := signtest.Tool(t, "zbarimg", "zbar-tools")
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", file).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimSpace(string(out))
}
