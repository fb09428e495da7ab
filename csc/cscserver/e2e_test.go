package cscserver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

const password = "correct horse battery"

// stack is the whole remote-signing service behind a real HTTP listener:
// SQLite, the soft key store, the authority with its CA hierarchy, the
// signing service, the outbox as SMS gateway, and the server with /csc/v2.
type stack struct {
	env    *testenv.Env
	svc    *signing.Service
	outbox *notify.Outbox // the SMS gateway, unless newStackSMS was given another
	url    string         // CSC base URL
}

func newStack(t testing.TB) *stack {
	t.Helper()
	return newStackSMS(t, nil)
}

// newStackSMS is newStack with the SMS gateway sms instead of the outbox
// (nil: the outbox); a benchmark that reads thousands of codes uses one that
// keeps the last text rather than list a growing directory.
func newStackSMS(t testing.TB, sms selo.SMSSender) *stack {
	t.Helper()
	return newStackWith(t, sms, nil)
}

// newStackWith is newStackSMS over the store open returns (PostgreSQL,
// say) instead of testenv's SQLite when open is not nil.
func newStackWith(t testing.TB, sms selo.SMSSender, open func(selo.Clock) selo.Store) *stack {
	t.Helper()
	var env *testenv.Env
	if open != nil {
		clock := selo.SystemClock{}
		env = testenv.NewWithOptions(t, testenv.Options{Clock: clock, Store: open(clock)})
	} else {
		env = testenv.New(t)
	}
	var outbox *notify.Outbox
	var mailer selo.Mailer
	if sms == nil {
		outbox = testenv.Outbox(t, env.Clock)
		sms, mailer = outbox, outbox
	}
	// testenv's signing service: no limit on codes sent (these tests send
	// many on purpose; the limits have their own tests, server/limit_test.go).
	svc := env.SigningService(t, func(c *signing.Config) { c.SMS, c.Mailer = sms, mailer })
	srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Signing: svc,
		Logger: slog.New(slog.DiscardHandler), PublicRateLimit: server.RateLimit{Off: true}}).Handler())
	t.Cleanup(srv.Close)
	return &stack{env: env, svc: svc, outbox: outbox, url: srv.URL + server.CSCPrefix}
}

func (s *stack) holder(t testing.TB, email, mobile string) *selo.Account {
	t.Helper()
	a, err := s.svc.CreateAccount(context.Background(), "operator", signing.CreateAccountRequest{
		Email: email, Name: "Holder " + email, Mobile: mobile, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *stack) credential(t testing.TB, a *selo.Account, profile string, ap selo.ApprovalType, key selo.KeyAlgorithm) (string, *signing.CredentialInfo) {
	t.Helper()
	if strings.HasPrefix(profile, "qualified") {
		// Qualified credentials come only from an order.
		att, err := s.svc.AttachOrderCredential(context.Background(), "operator", s.env.OrderCredential(t, a.Email, profile, ap, key))
		if err != nil {
			t.Fatalf("attach the order's %s credential: %v", profile, err)
		}
		c, err := s.svc.CredentialInfo(context.Background(), a.ID, att.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Credential.ID, c
	}
	req := pkitest.Request(profile, nil)
	c, err := s.svc.CreateCredential(context.Background(), "operator", signing.CreateCredentialRequest{
		AccountID: a.ID, Profile: profile, ApprovalType: ap, KeyAlgorithm: key,
		Subject: req.Subject, EmailAddresses: req.EmailAddresses})
	if err != nil {
		t.Fatalf("create %s credential: %v", profile, err)
	}
	return c.Credential.ID, c
}

// client logs in through auth/login.
func (s *stack) client(t testing.TB, email string) *csc.Client {
	t.Helper()
	c, err := csc.NewClient(s.url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), email, password); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return c
}

// smsCode reads the last code texted to mobile from the outbox, as the
// holder reads it on the phone.
func (s *stack) smsCode(t testing.TB, mobile string) string {
	t.Helper()
	msgs, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS, To: mobile})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no SMS to %s: %v", mobile, err)
	}
	code := codeIn(msgs[len(msgs)-1].Body)
	if code == "" {
		t.Fatalf("no code in the SMS %q", msgs[len(msgs)-1].Body)
	}
	return code
}

// codeIn returns the one-time code in the text of an SMS (a word of 6 to 8
// digits), or "" where it holds none.
func codeIn(text string) string {
	for _, f := range strings.Fields(text) {
		f = strings.TrimRight(f, ".,:")
		if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	return ""
}

// otpauth reads the secret and parameters of an otpauth:// URI, as an
// authenticator app or an ERP would.
func otpauth(t testing.TB, uri string) ([]byte, approval.OTPParams) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(q.Get("secret")))
	if err != nil {
		t.Fatalf("secret of %s: %v", uri, err)
	}
	p := approval.OTPParams{Algorithm: approval.Algorithm(q.Get("algorithm")), Digits: 6, Period: 30 * time.Second}
	if d, err := strconv.Atoi(q.Get("digits")); err == nil {
		p.Digits = d
	}
	if s, err := strconv.Atoi(q.Get("period")); err == nil {
		p.Period = time.Duration(s) * time.Second
	}
	return secret, p
}

func digests(n int, seed string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(seed + strconv.Itoa(i)))
		out[i] = h[:]
	}
	return out
}

// verifyAll checks every signature with the certificate credentials/info returned.
func verifyAll(t testing.TB, d *csc.CredentialDetail, hash crypto.Hash, hashes, sigs [][]byte) {
	t.Helper()
	certs, err := d.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != len(hashes) {
		t.Fatalf("%d signatures for %d hashes", len(sigs), len(hashes))
	}
	for i := range hashes {
		switch pub := certs[0].PublicKey.(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, hashes[i], sigs[i]) {
				t.Fatalf("ECDSA signature %d does not verify", i)
			}
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, hash, hashes[i], sigs[i]); err != nil {
				t.Fatalf("RSA signature %d: %v", i, err)
			}
		default:
			t.Fatalf("unexpected key %T", pub)
		}
	}
}

func wantCSCError(t testing.TB, err error, name string) {
	t.Helper()
	if got := csc.ErrorName(err); got != name {
		t.Fatalf("error %v: CSC error %q, want %q", err, got, name)
	}
}

// TestEndToEnd walks the path through the HTTP API with the Go
// client: log in, list, authorize with each approval type, sign a batch,
// verify every signature with the standard library.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t)
	const mobile = "+351912000001"
	acct := s.holder(t, "maria@example.pt", mobile)
	smsID, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	totpID, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalAuthenticator, selo.KeyRSA3072)
	sealID, _ := s.credential(t, acct, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP384)
	walletID, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)
	c := s.client(t, "maria@example.pt")

	info, err := c.Info(ctx)
	if err != nil || info.Specs == "" || len(info.Methods) == 0 {
		t.Fatalf("info: %+v, %v", info, err)
	}
	list, err := c.ListCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CredentialIDs) != 4 {
		t.Fatalf("credentials/list: %v, want the holder's 4", list.CredentialIDs)
	}

	t.Run("sms", func(t *testing.T) {
		d, err := c.CredentialInfo(ctx, smsID)
		if err != nil {
			t.Fatal(err)
		}
		if d.SCAL != "2" || d.Key.Status != "enabled" || d.Key.Len != 256 {
			t.Errorf("credentials/info: %+v", d)
		}
		if err := c.SendOTP(ctx, smsID); err != nil {
			t.Fatal(err)
		}
		hashes := digests(100, "sms")
		res, err := c.Authorize(ctx, smsID, csc.OIDSHA256, hashes, s.smsCode(t, mobile), "100 invoices")
		if err != nil || res.SAD == "" {
			t.Fatalf("authorize: %+v, %v", res, err)
		}
		sigs, err := c.SignHash(ctx, smsID, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, d, crypto.SHA256, hashes, sigs)
		// The SAD was for one batch, once.
		_, err = c.SignHash(ctx, smsID, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		wantCSCError(t, err, csc.ErrInvalidRequest)
	})

	t.Run("authenticator", func(t *testing.T) {
		enr, err := s.svc.EnrollAuthenticator(ctx, acct.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
		if err != nil {
			t.Fatal(err)
		}
		secret, p := otpauth(t, enr.URI)
		if err := s.svc.ConfirmAuthenticator(ctx, acct.ID, enr.Authenticator.ID, approval.TOTP(secret, time.Now().Add(-30*time.Second), p)); err != nil {
			t.Fatal(err)
		}
		d, err := c.CredentialInfo(ctx, totpID)
		if err != nil {
			t.Fatal(err)
		}
		hashes := make([][]byte, 5)
		for i := range hashes {
			h := sha512.Sum512([]byte{byte(i)})
			hashes[i] = h[:]
		}
		code := approval.TOTP(secret, time.Now(), p)
		res, err := c.Authorize(ctx, totpID, csc.OIDSHA512, hashes, code, "")
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := c.SignHash(ctx, totpID, res.SAD, csc.OIDSHA512, csc.OIDRSAEncryption, nil, hashes)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, d, crypto.SHA512, hashes, sigs)
		// The same code again is a replay.
		_, err = c.Authorize(ctx, totpID, csc.OIDSHA512, hashes, code, "")
		wantCSCError(t, err, csc.ErrInvalidOTP)
	})

	t.Run("authorizer", func(t *testing.T) {
		az, err := s.svc.RegisterAuthorizer(ctx, acct.ID, sealID, "ERP")
		if err != nil {
			t.Fatal(err)
		}
		setup, err := s.svc.ConfirmAuthorizer(ctx, acct.ID, az.ID, s.smsCode(t, mobile))
		if err != nil {
			t.Fatal(err)
		}
		secret, p := otpauth(t, setup.URI)
		d, err := c.CredentialInfo(ctx, sealID)
		if err != nil {
			t.Fatal(err)
		}
		hashes := make([][]byte, 20)
		for i := range hashes {
			h := sha512.Sum384([]byte{byte(i)})
			hashes[i] = h[:]
		}
		res, err := c.Authorize(ctx, sealID, csc.OIDSHA384, hashes, approval.TOTP(secret, time.Now(), p), "invoices")
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := c.SignHash(ctx, sealID, res.SAD, csc.OIDSHA384, csc.OIDECDSAWithSHA384, nil, hashes)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, d, crypto.SHA384, hashes, sigs)
		// A disabled authorizer approves nothing.
		if err := s.svc.SetAuthorizerEnabled(ctx, acct.ID, az.ID, false); err != nil {
			t.Fatal(err)
		}
		_, err = c.Authorize(ctx, sealID, csc.OIDSHA384, hashes, approval.TOTP(secret, time.Now().Add(30*time.Second), p), "")
		wantCSCError(t, err, csc.ErrAccessDenied)
	})

	t.Run("wallet", func(t *testing.T) {
		offer, err := s.svc.StartWalletEnrollment(ctx, acct.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
		if err != nil {
			t.Fatal(err)
		}
		enr, err := approval.ParseWalletEnrollmentURI(offer.URI)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		reg, err := approval.NewWalletRegistration(enr, "test phone", key)
		if err != nil {
			t.Fatal(err)
		}
		wallet, err := s.svc.RegisterWallet(ctx, reg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.CredentialInfo(ctx, walletID)
		if err != nil {
			t.Fatal(err)
		}
		hashes := digests(10, "wallet")
		res, err := c.Authorize(ctx, walletID, csc.OIDSHA256, hashes, "", "contract.pdf")
		if err != nil || res.SAD != "" || res.ResponseID == "" {
			t.Fatalf("wallet authorize: %+v, %v (want a responseID to poll)", res, err)
		}
		if r, err := c.AuthorizeCheck(ctx, walletID, res.ResponseID); err != nil || r.SAD != "" {
			t.Fatalf("authorizeCheck before the holder decided: %+v, %v", r, err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the holder approves on the phone
			defer wg.Done()
			pending, err := s.svc.PendingApprovals(ctx, wallet)
			if err != nil || len(pending) != 1 || len(pending[0].Hashes) != len(hashes) {
				t.Errorf("pending approvals: %v, %v", pending, err)
				return
			}
			sig, err := approval.SignWalletDecision(pending[0], true, key)
			if err != nil {
				t.Error(err)
				return
			}
			if err := s.svc.DecideWalletApproval(ctx, pending[0].ApprovalID, wallet.ID, true, sig); err != nil {
				t.Error(err)
			}
		}()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done, err := c.WaitAuthorized(wctx, walletID, res.ResponseID, 20*time.Millisecond)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := c.SignHash(ctx, walletID, done.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, d, crypto.SHA256, hashes, sigs)
	})

	// Signer: a crypto.Signer over the SMS credential.
	t.Run("signer", func(t *testing.T) {
		d, err := c.CredentialInfo(ctx, smsID)
		if err != nil {
			t.Fatal(err)
		}
		certs, _ := d.Certificates()
		sg := &csc.Signer{Client: c, CredentialID: smsID, Key: certs[0].PublicKey,
			Approve: func(ctx context.Context, id string) (string, error) {
				if err := c.SendOTP(ctx, id); err != nil {
					return "", err
				}
				return s.smsCode(t, mobile), nil
			}}
		digest := sha256.Sum256([]byte("a contract"))
		sig, err := sg.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(certs[0].PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatal("the remote signature does not verify")
		}
	})

	if err := c.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListCredentials(ctx)
	wantCSCError(t, err, csc.ErrInvalidToken)
}

// TestSecurity holds the refusals real CSC servers have got wrong.
func TestSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t)
	a := s.holder(t, "a@example.pt", "+351912000002")
	b := s.holder(t, "b@example.pt", "+351912000003")
	aCred, _ := s.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	bCred, _ := s.credential(t, b, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	ca := s.client(t, "a@example.pt")
	cb := s.client(t, "b@example.pt")

	// credentials/list shows only mine.
	list, err := cb.ListCredentials(ctx)
	if err != nil || len(list.CredentialIDs) != 1 || list.CredentialIDs[0] != bCred {
		t.Fatalf("B's credentials/list: %+v, %v", list, err)
	}
	// B cannot read, text or authorize A's credential.
	_, err = cb.CredentialInfo(ctx, aCred)
	wantCSCError(t, err, csc.ErrInvalidRequest)
	wantCSCError(t, cb.SendOTP(ctx, aCred), csc.ErrInvalidRequest)

	hashes := digests(3, "sec")
	if err := ca.SendOTP(ctx, aCred); err != nil {
		t.Fatal(err)
	}
	res, err := ca.Authorize(ctx, aCred, csc.OIDSHA256, hashes, s.smsCode(t, "+351912000002"), "")
	if err != nil {
		t.Fatal(err)
	}
	// A SAD used with another user's token is refused, and burnt.
	_, err = cb.SignHash(ctx, aCred, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
	wantCSCError(t, err, csc.ErrInvalidRequest)
	// A SAD for other hashes.
	if err := ca.SendOTP(ctx, aCred); err != nil {
		t.Fatal(err)
	}
	res, err = ca.Authorize(ctx, aCred, csc.OIDSHA256, hashes, s.smsCode(t, "+351912000002"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ca.SignHash(ctx, aCred, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, digests(3, "other"))
	wantCSCError(t, err, csc.ErrInvalidRequest)
	// ... which burnt it: the right hashes no longer sign either.
	_, err = ca.SignHash(ctx, aCred, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
	wantCSCError(t, err, csc.ErrInvalidRequest)

	// Five wrong codes kill the approval and lock the credential: the sixth
	// is refused even when right.
	if err := ca.SendOTP(ctx, aCred); err != nil {
		t.Fatal(err)
	}
	right := s.smsCode(t, "+351912000002")
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		_, err := ca.Authorize(ctx, aCred, csc.OIDSHA256, hashes, wrong, "")
		if name := csc.ErrorName(err); name != csc.ErrInvalidOTP && name != csc.ErrAccessDenied {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	_, err = ca.Authorize(ctx, aCred, csc.OIDSHA256, hashes, right, "")
	wantCSCError(t, err, csc.ErrAccessDenied)

	// No token, a forged token.
	anon, _ := csc.NewClient(s.url)
	_, err = anon.ListCredentials(ctx)
	wantCSCError(t, err, csc.ErrInvalidToken)
	forged, _ := csc.NewClient(s.url, csc.WithAccessToken("Zm9yZ2Vk"))
	_, err = forged.ListCredentials(ctx)
	wantCSCError(t, err, csc.ErrInvalidToken)
	// A wrong password.
	if _, err := anon.Login(ctx, "a@example.pt", "wrong password"); csc.ErrorName(err) != csc.ErrAuthenticationError {
		t.Fatalf("wrong password: %v", err)
	}

	// Malformed requests get invalid_request, never a 500.
	for _, body := range []string{`{`, `{"credentialID":1}`, `{"credentialID":"x","numSignatures":1,"hashes":["not base64!"],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}`} {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/credentials/authorize", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ca.AccessToken())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("authorize %s: status %d, want 400", body, resp.StatusCode)
		}
	}
}
