package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// holderServer is the real stack with a signing service behind HTTP.
type holderServer struct {
	env *testenv.Env
	svc *signing.Service
	srv *httptest.Server
	sms smsOutbox
}

// smsOutbox is the SMS gateway of these tests: the real local outbox, read
// back as the holder reads the phone.
type smsOutbox struct{ *notify.Outbox }

// openSMSOutbox opens an outbox in a new temporary directory.
func openSMSOutbox(t *testing.T, clock selo.Clock) smsOutbox {
	t.Helper()
	o, err := notify.OpenOutbox(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	return smsOutbox{o}
}

// texts returns the bodies of the text messages sent, oldest first.
func (o smsOutbox) texts(t *testing.T) []string {
	t.Helper()
	ms, err := o.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(ms))
	for i, m := range ms {
		texts[i] = m.Body
	}
	return texts
}

func newHolderServer(t *testing.T) *holderServer {
	t.Helper()
	env := testenv.New(t)
	srv := httptest.NewUnstartedServer(nil)
	sms := openSMSOutbox(t, nil)
	// On the wall clock, without the code limits (they have their own tests).
	svc := env.SigningService(t, func(c *signing.Config) {
		c.SMS, c.PublicURL = sms.Outbox, "http://"+srv.Listener.Addr().String()
	})
	srv.Config.Handler = server.New(server.Config{Authority: env.Authority, Signing: svc,
		Logger: slog.New(slog.DiscardHandler)}).Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &holderServer{env: env, svc: svc, srv: srv, sms: sms}
}

// call sends a JSON request with a holder token ("" for none) and decodes
// the answer into out when given; it returns the status.
func (h *holderServer) call(t *testing.T, method, path, token string, body, out any, header ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (h *holderServer) account(t *testing.T, email string) (*selo.Account, string) {
	t.Helper()
	a, err := h.svc.CreateAccount(context.Background(), "operator", signing.CreateAccountRequest{
		Email: email, Name: "Holder", Mobile: "+351912345678", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	var login server.LoginResponse
	if st := h.call(t, "POST", "/api/v1/account/login", "", server.LoginRequest{Email: email, Password: "correct horse battery"}, &login); st != 200 || login.AccessToken == "" {
		t.Fatalf("login: %d %+v", st, login)
	}
	return a, login.AccessToken
}

func (h *holderServer) credential(t *testing.T, a *selo.Account, profile string, how selo.ApprovalType) *signing.CredentialInfo {
	t.Helper()
	if strings.HasPrefix(profile, "qualified") {
		// Qualified credentials come only from an order.
		att, err := h.svc.AttachOrderCredential(context.Background(), "operator", h.env.OrderCredential(t, a.Email, profile, how, selo.KeyECDSAP256))
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.svc.CredentialInfo(context.Background(), a.ID, att.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	req := pkitest.Request(profile, nil)
	c, err := h.svc.CreateCredential(context.Background(), "operator", signing.CreateCredentialRequest{
		AccountID: a.ID, Profile: profile, ApprovalType: how, KeyAlgorithm: selo.KeyECDSAP256,
		Subject: req.Subject, EmailAddresses: req.EmailAddresses})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// walletGet lists a wallet's pending approvals with a signed request.
func (h *holderServer) walletGet(t *testing.T, id string, key *ecdsa.PrivateKey, query string) (int, []server.WalletChallenge) {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Second)
	d := sha256.Sum256(signing.WalletRequestBytes(id, at))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
	var out struct{ Approvals []server.WalletChallenge }
	st := h.call(t, "GET", "/api/v1/wallet/"+id+"/approvals"+query, "", nil, &out,
		server.WalletTimeHeader, at.Format(time.RFC3339), server.WalletSignatureHeader, base64.StdEncoding.EncodeToString(sig))
	return st, out.Approvals
}

func TestHolderAPIWalletFlow(t *testing.T) {
	h := newHolderServer(t)
	ctx := context.Background()
	a, token := h.account(t, "ana@example.pt")
	c := h.credential(t, a, "qualified-sign", selo.ApprovalWallet)

	if st := h.call(t, "POST", "/api/v1/account/login", "", server.LoginRequest{Email: "ana@example.pt", Password: "wrong"}, nil); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	if st := h.call(t, "GET", "/api/v1/account/credentials", "", nil, nil); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	var creds struct{ Credentials []server.HolderCredential }
	if st := h.call(t, "GET", "/api/v1/account/credentials", token, nil, &creds); st != 200 || len(creds.Credentials) != 1 || creds.Credentials[0].ID != c.Credential.ID {
		t.Fatalf("credentials: %d %+v", st, creds)
	}

	// Enrol a wallet from the offer, as the app does.
	var offer server.EnrollmentResponse
	if st := h.call(t, "POST", "/api/v1/account/wallets", token, server.FactorRequest{FactorCode: h.factorCode(t, token)}, &offer); st != 201 || offer.QRPNG == "" {
		t.Fatalf("wallet offer: %d", st)
	}
	e, err := approval.ParseWalletEnrollmentURI(offer.URI)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, _ := approval.NewWalletRegistration(e, "phone", key)
	b64 := base64.StdEncoding.EncodeToString
	var wl server.HolderWallet
	body := server.WalletRegisterRequest{EnrollmentID: reg.EnrollmentID, DeviceName: reg.DeviceName,
		PublicKey: b64(reg.PublicKey), Proof: b64(reg.Proof), Signature: b64(reg.Signature)}
	if st := h.call(t, "POST", "/api/v1/wallet/register", "", body, &wl); st != 201 || wl.ID == "" {
		t.Fatalf("register: %d", st)
	}

	// Long-poll: the wallet waits, the CSC layer asks for a signature.
	hashes := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	type polled struct {
		st int
		cs []server.WalletChallenge
	}
	done := make(chan polled, 1)
	go func() {
		st, cs := h.walletGet(t, wl.ID, key, "?wait=20s")
		done <- polled{st, cs}
	}()
	// The approval is asked for once the wallet's request waits for it.
	for deadline := time.Now().Add(15 * time.Second); h.svc.ApprovalWaiters(a.ID) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the wallet's long-poll did not start waiting")
		}
		time.Sleep(time.Millisecond)
	}
	res, err := h.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: 2, Description: "contract.pdf"})
	if err != nil || res.Pending == nil {
		t.Fatalf("Authorize: %+v %v", res, err)
	}
	var p polled
	select {
	case p = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the long-poll did not wake on the new approval")
	}
	if p.st != 200 || len(p.cs) != 1 || p.cs[0].ApprovalID != res.Pending.ID || len(p.cs[0].Hashes) != 2 {
		t.Fatalf("long-poll: %d %+v", p.st, p.cs)
	}
	// The holder's own list shows it too, with the hashes.
	var ap struct{ Approvals []server.HolderApproval }
	if st := h.call(t, "GET", "/api/v1/account/approvals?status=pending", token, nil, &ap); st != 200 || len(ap.Approvals) != 1 || ap.Approvals[0].Hashes[1] != b64(hashes[1]) {
		t.Fatalf("holder approvals: %d %+v", st, ap)
	}
	// A badly signed wallet request is refused.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if st, _ := h.walletGet(t, wl.ID, other, ""); st != 401 {
		t.Fatalf("wallet request with another key: %d", st)
	}

	ch, err := p.cs[0].ToChallenge()
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := approval.SignWalletDecision(ch, true, key)
	dec := server.WalletDecisionRequest{Approve: true, Signature: b64(sig)}
	if st := h.call(t, "POST", "/api/v1/wallet/"+wl.ID+"/approvals/"+ch.ApprovalID, "", dec, nil); st != 204 {
		t.Fatalf("decision: %d", st)
	}
	if st := h.call(t, "POST", "/api/v1/wallet/"+wl.ID+"/approvals/"+ch.ApprovalID, "", dec, nil); st != 409 {
		t.Fatalf("second decision: %d", st)
	}
	chk, err := h.svc.AuthorizeCheck(ctx, a.ID, res.Pending.ID)
	if err != nil || chk.SAD == "" {
		t.Fatalf("AuthorizeCheck: %+v %v", chk, err)
	}
	if st := h.call(t, "POST", "/api/v1/account/logout", token, nil, nil); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if st := h.call(t, "GET", "/api/v1/account/credentials", token, nil, nil); st != 401 {
		t.Fatalf("token after logout: %d", st)
	}
}

func TestHolderAPIIsolation(t *testing.T) {
	h := newHolderServer(t)
	a, tokenA := h.account(t, "ana@example.pt")
	_, tokenB := h.account(t, "bruno@example.pt")
	seal := h.credential(t, a, "qualified-seal", selo.ApprovalAuthorizer)

	var auth server.EnrollmentResponse
	if st := h.call(t, "POST", "/api/v1/account/authenticators", tokenA, server.NameRequest{Name: "phone", FactorCode: h.factorCode(t, tokenA)}, &auth); st != 201 || auth.URI == "" {
		t.Fatalf("enrol authenticator: %d", st)
	}
	var offer server.EnrollmentResponse
	h.call(t, "POST", "/api/v1/account/wallets", tokenA, server.FactorRequest{FactorCode: h.factorCode(t, tokenA)}, &offer)
	e, _ := approval.ParseWalletEnrollmentURI(offer.URI)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, _ := approval.NewWalletRegistration(e, "phone", key)
	wl, err := h.svc.RegisterWallet(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	var z server.HolderAuthorizer
	if st := h.call(t, "POST", "/api/v1/account/authorizers", tokenA, server.RegisterAuthorizerRequest{CredentialID: seal.Credential.ID, Name: "ERP"}, &z); st != 202 {
		t.Fatalf("register authorizer: %d", st)
	}

	// Holder B reaches none of A's objects: every answer is 404 and nothing changes.
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/api/v1/account/authenticators/" + auth.ID},
		{"POST", "/api/v1/account/authenticators/" + auth.ID + "/confirm"},
		{"DELETE", "/api/v1/account/wallets/" + wl.ID},
		{"POST", "/api/v1/account/authorizers/" + z.ID + "/confirm"},
		{"POST", "/api/v1/account/authorizers/" + z.ID + "/renew"},
		{"POST", "/api/v1/account/authorizers/" + z.ID + "/enable"},
		{"GET", "/api/v1/account/authorizers?credential=" + seal.Credential.ID},
	} {
		var body any
		if tc.method == "POST" && tc.path[len(tc.path)-7:] == "confirm" {
			body = server.CodeRequest{Code: "123456"}
		}
		if st := h.call(t, tc.method, tc.path, tokenB, body, nil); st != 404 {
			t.Errorf("holder B: %s %s = %d, want 404", tc.method, tc.path, st)
		}
	}
	var creds struct{ Credentials []server.HolderCredential }
	if h.call(t, "GET", "/api/v1/account/credentials", tokenB, nil, &creds); len(creds.Credentials) != 0 {
		t.Fatalf("holder B sees %d credentials", len(creds.Credentials))
	}
	var ws struct{ Wallets []server.HolderWallet }
	if h.call(t, "GET", "/api/v1/account/wallets", tokenA, nil, &ws); len(ws.Wallets) != 1 {
		t.Fatalf("A's wallet is gone or hidden: %+v", ws)
	}
	if h.call(t, "GET", "/api/v1/account/wallets", tokenB, nil, &ws); len(ws.Wallets) != 0 {
		t.Fatalf("B sees A's wallets: %+v", ws)
	}
	var zs struct{ Authorizers []server.HolderAuthorizer }
	if h.call(t, "GET", "/api/v1/account/authorizers", tokenA, nil, &zs); len(zs.Authorizers) != 1 || zs.Authorizers[0].Confirmed {
		t.Fatalf("A's authorizers: %+v", zs)
	}
	// A confirms with the texted code and gets the set-up once.
	code := lastDigits(t, h.sms.texts(t))
	var setup server.AuthorizerSetupResponse
	if st := h.call(t, "POST", "/api/v1/account/authorizers/"+z.ID+"/confirm", tokenA, server.CodeRequest{Code: code}, &setup); st != 200 || setup.URI == "" || len(setup.Authorizer.Authorizations) != 1 {
		t.Fatalf("confirm authorizer: %d %+v", st, setup)
	}
	if st := h.call(t, "POST", "/api/v1/account/authorizers/"+z.ID+"/disable", tokenA, nil, nil); st != 204 {
		t.Fatalf("disable: %d", st)
	}
}

// factorCode asks for the SMS code that lets the holder change an approval
// factor and reads it, as the holder reads it on the phone.
func (h *holderServer) factorCode(t *testing.T, token string) string {
	t.Helper()
	if st := h.call(t, "POST", "/api/v1/account/factor-code", token, nil, nil); st != 202 {

		t.Fatalf("factor code: %d", st)
	}
	return lastDigits(t, h.sms.texts(t))
}

func lastDigits(t *testing.T, texts []string) string {
	t.Helper()
	if len(texts) == 0 {
		t.Fatal("no SMS sent")
	}
	var code []byte
	for _, r := range []byte(texts[len(texts)-1]) {
		if r >= '0' && r <= '9' {
			code = append(code, r)
		} else if len(code) >= 6 {
			break
		} else {
			code = code[:0]
		}
	}
	return string(code)
}
