package desk_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/desk"
)

// browser starts one headless Chromium with a fake camera for the whole
// test; without Chromium the test is skipped, loudly, and fails under CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("SELO_CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs it")
		}
		t.Skip("SKIPPED: chromium is not installed; the browser tests of the desk did not run")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs actions with a time limit, failing the test on error.
func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// value runs one action that returns a value, with a time limit.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// poll waits until a JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return err
	})
}

// screenshot saves the page as desk-<name>.png in $SELO_SCREENSHOTS (the
// docs use docs/portal), else in the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SELO_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png := value(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, "desk-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

// signInAs signs an operator in through the form.
func signInAs(t *testing.T, ctx context.Context, base, user string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(base+"/desk/signin?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("header .user")))
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, chromedp.Click(chromedp.CSS("header form button")), chromedp.WaitVisible(chromedp.CSS("#signin")))
}

// TestBrowser drives the desk in Chromium: a holder's identity check with
// the fake camera, an officer approving it and rejecting another with a
// reason, a revocation, an auditor refused an action, and the audit log's
// verify button. One browser serves every step.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)
	base := f.srv.URL
	ctx0 := context.Background()
	ana := selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"}
	rui := selo.Holder{GivenNames: "Rui", Surname: "Costa", Email: "rui@example.pt", Mobile: "+351912345679"}
	order, token := f.holder(t, ana)
	ruiOrder, ruiToken := f.holder(t, rui)

	t.Run("holder identity check with the camera", func(t *testing.T) {
		httpOnly := true
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: desk.HolderCookieName, Value: token,
			URL: base + "/account/", Path: "/account/", HTTPOnly: &httpOnly}); err != nil {
			t.Fatal(err)
		}
		// From the portal's Orders page to the order's identity check.
		run(t, ctx, chromedp.Navigate(base+"/account/orders?lang=en"),
			chromedp.Click(chromedp.CSS(`tr[data-order="`+order.Number+`"] a.button`)),
			chromedp.WaitVisible(chromedp.CSS("#identity-form")),
			chromedp.SetValue(chromedp.CSS("#document_type"), "id-card"))
		for _, kind := range selo.EvidenceKinds {
			set := `fieldset[data-camera="` + string(kind) + `"]`
			run(t, ctx, chromedp.WaitVisible(chromedp.CSS(set+" button.start")),
				chromedp.Click(chromedp.CSS(set+" button.start")),
				chromedp.WaitEnabled(chromedp.CSS(set+" button.shoot")),
				poll(`document.querySelector('`+set+` video').videoWidth > 0`),
				chromedp.Click(chromedp.CSS(set+" button.shoot")),
				chromedp.WaitVisible(chromedp.CSS(set+"[data-taken] .taken")))
		}
		files := value(t, ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('input[type=file]')).filter(i => i.files.length == 1 && i.files[0].type == 'image/jpeg').length`))
		if files != 3 {
			t.Fatalf("%d file inputs hold a camera photo, want 3", files)
		}
		run(t, ctx, chromedp.SetValue(chromedp.CSS("#mrz"), mrzOf(t, ana, f.clock.Now())))
		screenshot(t, ctx, "identity-form")
		run(t, ctx, chromedp.Click(chromedp.CSS("#submit-identity")), chromedp.WaitVisible(chromedp.CSS(`p.flash[role="status"]`)))
		if got := text(t, ctx, "#identity-status"); got != "pending" {
			t.Fatalf("identity status after sending: %q", got)
		}
		screenshot(t, ctx, "identity-sent")
		_, checks, err := f.reg.HolderIdentityChecks(ctx0, "acct-silva", order.ID)
		if err != nil || len(checks) != 1 {
			t.Fatalf("checks %v %v", checks, err)
		}
		photos, err := f.env.Store.ListIdentityEvidence(ctx0, checks[0].ID)
		if err != nil || len(photos) != 3 || photos[2].ContentType != "image/jpeg" || photos[2].Size < 1000 {
			t.Fatalf("stored camera photos %+v %v", photos, err)
		}
	})

	// Rui sends his check without JavaScript's help (the file inputs).
	ct, body := identityForm("id-card", mrzOf(t, rui, f.clock.Now()), goodPhotos())
	if code, _ := postForm(t, f.holderClient(t, ruiToken), base+"/account/orders/"+ruiOrder.ID+"/identity", ct, body, nil); code != 200 {
		t.Fatalf("Rui's submission: %d", code)
	}

	t.Run("officer approves one and rejects the other", func(t *testing.T) {
		signInAs(t, ctx, base, "olga")
		run(t, ctx, chromedp.Navigate(base+"/desk/identity"), chromedp.WaitVisible(chromedp.CSS("#queue")))
		if q := text(t, ctx, "#queue"); !strings.Contains(q, "Silva") || !strings.Contains(q, "Costa") {
			t.Fatalf("queue: %s", q)
		}
		screenshot(t, ctx, "queue")
		run(t, ctx, chromedp.Click(chromedp.Search(`//tr[contains(., "Silva")]//a[@class="review"]`)),
			chromedp.WaitVisible(chromedp.CSS("#decision")),
			poll(`['document-front','document-back','selfie'].every(k => { const i = document.getElementById('photo-' + k); return i && i.complete && i.naturalWidth > 0 })`))
		if got := text(t, ctx, "#catalogue-entry"); !strings.Contains(got, "Portugal") {
			t.Fatalf("catalogue entry: %q", got)
		}
		if got := text(t, ctx, "#mrz-result"); !strings.Contains(got, "123456789ZZ4") || !strings.Contains(got, "SILVA") {
			t.Fatalf("MRZ result: %q", got)
		}
		screenshot(t, ctx, "review")
		run(t, ctx, chromedp.SendKeys(chromedp.CSS("#reason"), "face matches the card; original document"),
			chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS(`p.flash[role="status"]`)))
		if got, _ := f.reg.FindOrderByID(ctx0, order.ID); got.State != selo.OrderIdentityValidated {
			t.Fatalf("order after approval: %s", got.State)
		}
		run(t, ctx, chromedp.Click(chromedp.Search(`//tr[contains(., "Costa")]//a[@class="review"]`)),
			chromedp.WaitVisible(chromedp.CSS("#decision")),
			chromedp.SendKeys(chromedp.CSS("#reason"), "the selfie shows a screen, not a face"),
			chromedp.Click(chromedp.CSS("#reject")), chromedp.WaitVisible(chromedp.CSS(`p.flash[role="status"]`)))
		got, _ := f.reg.FindOrderByID(ctx0, ruiOrder.ID)
		if got.State != selo.OrderCreated || got.IdentityStatus != selo.IdentityRejected {
			t.Fatalf("order after rejection: %s %s", got.State, got.IdentityStatus)
		}
		// Rui reads the reason on his page, and may send again.
		if code, page := get(t, f.holderClient(t, ruiToken), base+"/account/orders/"+ruiOrder.ID+"/identity?lang=en"); code != 200 ||
			!strings.Contains(page, "the selfie shows a screen") || !strings.Contains(page, `id="identity-form"`) {
			t.Fatalf("Rui's page after the rejection: %d", code)
		}
		if !f.audited(t, "operator:olga", "order.identity_validated") || !f.audited(t, "operator:olga", "identity.reject") || !f.audited(t, "operator:olga", "identity.photo.view") {
			t.Fatal("the decisions or the photo views are not audited")
		}
		run(t, ctx, chromedp.Navigate(base+"/desk/orders"), chromedp.WaitVisible(chromedp.CSS("#orders")))
		screenshot(t, ctx, "orders")
	})

	t.Run("officer revokes a certificate", func(t *testing.T) {
		cert := f.env.Issue(t, "qualified-sign", "ecdsa-p256")
		run(t, ctx, chromedp.Navigate(base+"/desk/revoke?serial="+cert.Serial), chromedp.WaitVisible(chromedp.CSS("#revoke")),
			chromedp.SetValue(chromedp.CSS("#reason"), "1"), chromedp.Click(chromedp.CSS("#confirm")))
		screenshot(t, ctx, "revoke")
		run(t, ctx, chromedp.Click(chromedp.CSS("#revoke-button")), chromedp.WaitVisible(chromedp.CSS(`p.flash[role="status"]`)))
		if got := text(t, ctx, "#cert-status"); got != "revoked" {
			t.Fatalf("status after revocation: %q", got)
		}
		c, err := f.env.Authority.FindCertificate(ctx0, cert.Serial)
		if err != nil || c.Status != selo.CertRevoked {
			t.Fatalf("stored status %v %v", c, err)
		}
		signOut(t, ctx)
	})

	t.Run("auditor is refused an action and verifies the audit chain", func(t *testing.T) {
		signInAs(t, ctx, base, "aldo")
		run(t, ctx, chromedp.Navigate(base+"/desk/revoke"), chromedp.WaitVisible(chromedp.CSS(".error")))
		if got := text(t, ctx, ".error"); !strings.Contains(got, "officer") {
			t.Fatalf("auditor's refusal: %q", got)
		}
		screenshot(t, ctx, "forbidden")
		if !f.audited(t, "operator:aldo", "desk.forbidden") {
			t.Fatal("the auditor's refusal is not audited")
		}
		run(t, ctx, chromedp.Navigate(base+"/desk/audit"), chromedp.WaitVisible(chromedp.CSS("#verify-button")),
			chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS(`p.flash[role="status"]`)))
		if got := text(t, ctx, `p.flash[role="status"]`); !strings.Contains(got, "intact") {
			t.Fatalf("verify: %q", got)
		}
		screenshot(t, ctx, "audit")
		run(t, ctx, chromedp.Navigate(base+"/desk/admin"), chromedp.WaitVisible(chromedp.CSS("#operators")))
		screenshot(t, ctx, "admin")
	})
}
