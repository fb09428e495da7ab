package cscserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// The attacks of issue 13 items 1, 2 and 11 and its "also decide" items,
// each through the HTTP API as a client would run them, on SQLite and
// PostgreSQL.

// do sends a JSON request to the server (path from its root) with a bearer
// token ("" for none) and decodes a 2xx answer into out; it returns the
// status and the body.
func (s *stack) do(t testing.TB, method, path, token string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, strings.TrimSuffix(s.url, server.CSCPrefix)+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
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
	return resp.StatusCode, string(b)
}

// holderToken logs in on the holder API (POST /api/v1/account/login).
func (s *stack) holderToken(t testing.TB, email string) string {
	t.Helper()
	var login server.LoginResponse
	if st, body := s.do(t, "POST", "/api/v1/account/login", "", server.LoginRequest{Email: email, Password: password}, &login); st != 200 {
		t.Fatalf("holder login: %d %s", st, body)
	}
	return login.AccessToken
}

// messages lists what the outbox holds for to on channel.
func (s *stack) messages(t testing.TB, channel, to string) []selo.OutboxMessage {
	t.Helper()
	msgs, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: channel, To: to})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// audited reports whether the audit log holds an entry of action on object
// with outcome.
func (s *stack) audited(t testing.TB, action, object, outcome string) bool {
	t.Helper()
	es, err := s.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == action && e.Object == object && e.Outcome == outcome {
			return true
		}
	}
	return false
}

// listValid is credentials/list {"onlyValid": true}.
func listValid(t testing.TB, c *csc.Client, s *stack) []string {
	t.Helper()
	var resp csc.CredentialsListResponse
	st, body := s.do(t, "POST", server.CSCPrefix+"/credentials/list", c.AccessToken(), csc.CredentialsListRequest{OnlyValid: true}, &resp)
	if st != 200 {
		t.Fatalf("credentials/list: %d %s", st, body)
	}
	return resp.CredentialIDs
}

// TestRevokedCertificateIsNotUsable (issue 13 item 1): after the operator
// revokes (or holds) a credential's certificate, credentials/info says so,
// credentials/list onlyValid leaves it out, and sendOTP and authorize refuse
// before any code is sent or consumed.
func TestRevokedCertificateIsNotUsable(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		const mobile = "+351912000101"
		acct := s.holder(t, "rita@example.pt", mobile)
		revokedID, revoked := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		heldID, held := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		goodID, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		c := s.client(t, "rita@example.pt")

		// A code texted before the revocation...
		if err := c.SendOTP(ctx, revokedID); err != nil {
			t.Fatal(err)
		}
		early := s.smsCode(t, mobile)
		for serial, reason := range map[string]string{revoked.Credential.CertificateSerial: "keyCompromise", held.Credential.CertificateSerial: "certificateHold"} {
			if st, body := s.do(t, "POST", "/api/v1/certificates/"+serial+"/revoke", s.env.APIKey, server.RevokeRequest{Reason: reason}, nil); st != 201 && st != 200 {
				t.Fatalf("revoke %s: %d %s", serial, st, body)
			}
		}
		for id, want := range map[string]string{revokedID: "revoked", heldID: "suspended", goodID: "valid"} {
			d, err := c.CredentialInfo(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantKey := "disabled"
			if want == "valid" {
				wantKey = "enabled"
			}
			if d.Cert.Status != want || d.Key.Status != wantKey {
				t.Errorf("credentials/info %s: cert %q key %q, want cert %q key %q", id, d.Cert.Status, d.Key.Status, want, wantKey)
			}
		}
		if ids := listValid(t, c, s); len(ids) != 1 || ids[0] != goodID {
			t.Errorf("credentials/list onlyValid = %v, want only %s", ids, goodID)
		}
		var creds struct{ Credentials []server.HolderCredential }
		if code, _ := s.do(t, "GET", "/api/v1/account/credentials", s.holderToken(t, "rita@example.pt"), nil, &creds); code != 200 {
			t.Fatalf("holder credentials: %d", code)
		}
		for _, hc := range creds.Credentials {
			if want := map[string]string{revokedID: "revoked", heldID: "suspended", goodID: "valid"}[hc.ID]; hc.CertificateStatus != want {
				t.Errorf("holder API: credential %s certificate_status %q, want %q", hc.ID, hc.CertificateStatus, want)
			}
		}
		texts := len(s.messages(t, notify.ChannelSMS, mobile))
		for _, id := range []string{revokedID, heldID} {
			err := c.SendOTP(ctx, id)
			wantCSCError(t, err, csc.ErrAccessDenied)
		}
		if n := len(s.messages(t, notify.ChannelSMS, mobile)); n != texts {
			t.Fatalf("sendOTP for a revoked certificate texted the holder (%d texts, want %d)", n, texts)
		}
		// ...is refused without being checked: access_denied, not invalid_otp.
		_, err := c.Authorize(ctx, revokedID, csc.OIDSHA256, digests(1, "r"), early, "")
		wantCSCError(t, err, csc.ErrAccessDenied)
		if !s.audited(t, "approval.send", "credential/"+heldID, selo.OutcomeFailure) {
			t.Error("the refused sendOTP is not audited")
		}
		// The good credential still works.
		if err := c.SendOTP(ctx, goodID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Authorize(ctx, goodID, csc.OIDSHA256, digests(1, "g"), s.smsCode(t, mobile), ""); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDisabledAccountStopsAtOnce (issue 13 item 2): disabling an account
// through the operator API ends its CSC and holder tokens and the SAD it
// already holds; enabling lets it log in again.
func TestDisabledAccountStopsAtOnce(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		const mobile = "+351912000102"
		acct := s.holder(t, "sara@example.pt", mobile)
		id, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		c := s.client(t, "sara@example.pt")
		holderTok := s.holderToken(t, "sara@example.pt")
		if err := c.SendOTP(ctx, id); err != nil {
			t.Fatal(err)
		}
		hashes := digests(2, "d")
		res, err := c.Authorize(ctx, id, csc.OIDSHA256, hashes, s.smsCode(t, mobile), "")
		if err != nil {
			t.Fatal(err)
		}

		var st server.AccountStatus
		if code, body := s.do(t, "POST", "/api/v1/accounts/sara@example.pt/disable", s.env.APIKey, nil, &st); code != 200 || !st.Disabled {
			t.Fatalf("disable: %d %s", code, body)
		}
		_, err = c.SignHash(ctx, id, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if err == nil {
			t.Fatal("a disabled account signed with its session token and SAD")
		}
		_, err = c.ListCredentials(ctx)
		wantCSCError(t, err, csc.ErrInvalidToken)
		if code, _ := s.do(t, "GET", "/api/v1/account/credentials", holderTok, nil, nil); code != 401 {
			t.Errorf("holder token after disable: %d, want 401", code)
		}
		c2, _ := csc.NewClient(s.url)
		if _, err := c2.Login(ctx, "sara@example.pt", password); err == nil {
			t.Error("a disabled account logged in")
		}
		if !s.audited(t, "account.disable", "account/"+acct.ID, selo.OutcomeSuccess) {
			t.Error("disabling is not audited")
		}
		if code, body := s.do(t, "POST", "/api/v1/accounts/"+acct.ID+"/enable", s.env.APIKey, nil, &st); code != 200 || st.Disabled {
			t.Fatalf("enable: %d %s", code, body)
		}
		if _, err := c2.Login(ctx, "sara@example.pt", password); err != nil {
			t.Fatalf("login after enable: %v", err)
		}
		if code, _ := s.do(t, "POST", "/api/v1/accounts/sara@example.pt/disable", "", nil, nil); code != 401 {
			t.Errorf("disable without an API key: %d, want 401", code)
		}
	})
}

// TestDisabledCredentialEndsItsSADs (issue 13 item 2): the operator API
// disables a credential and its SAD issued before no longer signs.
func TestDisabledCredentialEndsItsSADs(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		const mobile = "+351912000103"
		acct := s.holder(t, "tiago@example.pt", mobile)
		id, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		c := s.client(t, "tiago@example.pt")
		if err := c.SendOTP(ctx, id); err != nil {
			t.Fatal(err)
		}
		hashes := digests(1, "c")
		res, err := c.Authorize(ctx, id, csc.OIDSHA256, hashes, s.smsCode(t, mobile), "")
		if err != nil {
			t.Fatal(err)
		}
		if code, body := s.do(t, "POST", "/api/v1/credentials/"+id+"/disable", s.env.APIKey, nil, nil); code != 200 {
			t.Fatalf("disable credential: %d %s", code, body)
		}
		if code, body := s.do(t, "POST", "/api/v1/credentials/"+id+"/enable", s.env.APIKey, nil, nil); code != 200 {
			t.Fatalf("enable credential: %d %s", code, body)
		}
		// Enabled again, the SAD issued before the disabling stays dead.
		if _, err := c.SignHash(ctx, id, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes); err == nil {
			t.Fatal("a SAD issued before the credential was disabled still signs")
		}
	})
}

// TestCSCTokenCannotManageFactors (issue 13 item 11): the access token an
// integrator gets from CSC auth/login is refused on the holder account API,
// so it cannot enrol its own authenticator or wallet, nor delete the
// holder's.
func TestCSCTokenCannotManageFactors(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		acct := s.holder(t, "ugo@example.pt", "+351912000104")
		s.credential(t, acct, "qualified-sign", selo.ApprovalAuthenticator, selo.KeyECDSAP256)
		c := s.client(t, "ugo@example.pt")
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/account/authenticators", server.NameRequest{Name: "attacker"}},
			{"POST", "/api/v1/account/wallets", nil},
			{"GET", "/api/v1/account/authenticators", nil},
			{"DELETE", "/api/v1/account/wallets/any", nil},
			{"POST", "/api/v1/account/factor-code", nil},
		} {
			if code, body := s.do(t, tc.method, tc.path, c.AccessToken(), tc.body, nil); code != 403 {
				t.Errorf("%s %s with a CSC token: %d %s, want 403", tc.method, tc.path, code, body)
			}
		}
		if !s.audited(t, "account.access", "account/"+acct.ID, selo.OutcomeFailure) {
			t.Error("the refused CSC token is not audited")
		}
		// The same holder's own login reaches the account API.
		if code, _ := s.do(t, "GET", "/api/v1/account/authenticators", s.holderToken(t, "ugo@example.pt"), nil, nil); code != 200 {
			t.Errorf("holder token on the account API: %d", code)
		}
	})
}

// TestFactorChangeNeedsExistingFactor (issue 13 item 11): with the password
// alone (a holder token) no authenticator can be enrolled or removed; a code
// texted to the certificate's phone, or one from the current authenticator,
// is needed, and the holder is told by e-mail and SMS.
func TestFactorChangeNeedsExistingFactor(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		const mobile = "+351912000105"
		acct := s.holder(t, "vera@example.pt", mobile)
		id, _ := s.credential(t, acct, "qualified-sign", selo.ApprovalAuthenticator, selo.KeyECDSAP256)
		tok := s.holderToken(t, "vera@example.pt")

		if code, body := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "attacker"}, nil); code != 403 {
			t.Fatalf("enrol with the password alone: %d %s, want 403", code, body)
		}
		if code, _ := s.do(t, "POST", "/api/v1/account/wallets", tok, nil, nil); code != 403 {
			t.Fatalf("wallet offer with the password alone: %d, want 403", code)
		}
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "attacker", FactorCode: "000000"}, nil); code != 401 {
			t.Fatalf("enrol with a made-up code: %d, want 401", code)
		}
		if !s.audited(t, "authenticator.enroll", "account/"+acct.ID, selo.OutcomeFailure) {
			t.Error("the refused enrolment is not audited")
		}

		// The holder asks for a code on the certificate's phone and enrols.
		if code, body := s.do(t, "POST", "/api/v1/account/factor-code", tok, server.FactorCodeRequest{CredentialID: id}, nil); code != 202 {
			t.Fatalf("factor code: %d %s", code, body)
		}
		texted := s.smsCode(t, mobile)
		var enr server.EnrollmentResponse
		if code, body := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "phone", FactorCode: texted}, &enr); code != 201 {
			t.Fatalf("enrol with the texted code: %d %s", code, body)
		}
		if mails := s.messages(t, notify.ChannelEmail, "vera@example.pt"); len(mails) == 0 || !strings.Contains(mails[len(mails)-1].Body, `"phone"`) {
			t.Fatalf("no e-mail notice of the new authenticator: %+v", mails)
		}
		if texts := s.messages(t, notify.ChannelSMS, mobile); !strings.Contains(texts[len(texts)-1].Body, `"phone"`) {
			t.Fatalf("no SMS notice of the new authenticator: %q", texts[len(texts)-1].Body)
		}
		secret, p := otpauth(t, enr.URI)
		if code, body := s.do(t, "POST", "/api/v1/account/authenticators/"+enr.ID+"/confirm", tok, server.CodeRequest{Code: approval.TOTP(secret, time.Now().Add(-30*time.Second), p)}, nil); code != 204 {
			t.Fatalf("confirm: %d %s", code, body)
		}
		// A texted code works once.
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "again", FactorCode: texted}, nil); code == 201 {
			t.Fatal("a factor code was used twice")
		}
		// Removing needs a factor too: the authenticator's own code.
		if code, _ := s.do(t, "DELETE", "/api/v1/account/authenticators/"+enr.ID, tok, nil, nil); code != 403 {
			t.Fatalf("delete with the password alone: %d, want 403", code)
		}
		if code, body := s.do(t, "DELETE", "/api/v1/account/authenticators/"+enr.ID, tok, server.FactorRequest{FactorCode: approval.TOTP(secret, time.Now(), p)}, nil); code != 204 {
			t.Fatalf("delete with the authenticator's code: %d %s", code, body)
		}
		if !s.audited(t, "authenticator.delete", "authenticator/"+enr.ID, selo.OutcomeSuccess) {
			t.Error("the removal is not audited")
		}
	})
}

// TestAuthenticatorLockoutCountsPerSecret (issue 13, also decide): three
// credentials share one authenticator app; five wrong codes spread over
// them lock the app, so the next code, even the right one, is refused for
// every credential (not 5 x 3 guesses).
func TestAuthenticatorLockoutCountsPerSecret(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		acct := s.holder(t, "xana@example.pt", "+351912000106")
		ids := make([]string, 3)
		for i := range ids {
			ids[i], _ = s.credential(t, acct, "qualified-sign", selo.ApprovalAuthenticator, selo.KeyECDSAP256)
		}
		tok := s.holderToken(t, "xana@example.pt")
		if code, _ := s.do(t, "POST", "/api/v1/account/factor-code", tok, nil, nil); code != 202 {
			t.Fatal("factor code")
		}
		var enr server.EnrollmentResponse
		if code, body := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "phone", FactorCode: s.smsCode(t, "+351912000106")}, &enr); code != 201 {
			t.Fatalf("enrol: %d %s", code, body)
		}
		secret, p := otpauth(t, enr.URI)
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators/"+enr.ID+"/confirm", tok, server.CodeRequest{Code: approval.TOTP(secret, time.Now().Add(-30*time.Second), p)}, nil); code != 204 {
			t.Fatal("confirm")
		}
		c := s.client(t, "xana@example.pt")
		good := approval.TOTP(secret, time.Now(), p)
		wrong := "000000"
		if wrong == good {
			wrong = "111111"
		}
		for i := range 5 {
			_, err := c.Authorize(ctx, ids[i%2], csc.OIDSHA256, digests(1, "w"), wrong, "")
			wantCSCError(t, err, csc.ErrInvalidOTP)
		}
		_, err := c.Authorize(ctx, ids[2], csc.OIDSHA256, digests(1, "g"), good, "")
		wantCSCError(t, err, csc.ErrAccessDenied)
	})
}

// TestDisabledAuthorizerEndsItsSADs (issue 13, also decide): a SAD an
// authorizer's code approved no longer signs once the holder disables the
// authorizer.
func TestDisabledAuthorizerEndsItsSADs(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		const mobile = "+351912000107"
		acct := s.holder(t, "ze@example.pt", mobile)
		sealID, _ := s.credential(t, acct, "qualified-seal", selo.ApprovalAuthorizer, selo.KeyECDSAP256)
		tok := s.holderToken(t, "ze@example.pt")
		var z server.HolderAuthorizer
		if code, body := s.do(t, "POST", "/api/v1/account/authorizers", tok, server.RegisterAuthorizerRequest{CredentialID: sealID, Name: "ERP"}, &z); code != 202 {
			t.Fatalf("register authorizer: %d %s", code, body)
		}
		var setup server.AuthorizerSetupResponse
		if code, body := s.do(t, "POST", "/api/v1/account/authorizers/"+z.ID+"/confirm", tok, server.CodeRequest{Code: s.smsCode(t, mobile)}, &setup); code != 200 {
			t.Fatalf("confirm authorizer: %d %s", code, body)
		}
		secret, p := otpauth(t, setup.URI)
		c := s.client(t, "ze@example.pt")
		hashes := digests(1, "z")
		res, err := c.Authorize(ctx, sealID, csc.OIDSHA256, hashes, approval.TOTP(secret, time.Now(), p), "")
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := s.do(t, "POST", "/api/v1/account/authorizers/"+z.ID+"/disable", tok, nil, nil); code != 204 {
			t.Fatal("disable authorizer")
		}
		if _, err := c.SignHash(ctx, sealID, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes); err == nil {
			t.Fatal("a SAD approved by an authorizer signed after the authorizer was disabled")
		}
	})
}

// TestWalletApprovesFactorChange (issue 13 item 11): a holder whose factor
// is a wallet proves it for a factor change by approving a request in the
// wallet; the approval works once and only for its account.
func TestWalletApprovesFactorChange(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		acct := s.holder(t, "yara@example.pt", "+351912000108")
		s.credential(t, acct, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)
		other := s.holder(t, "other@example.pt", "+351912000109")
		s.credential(t, other, "qualified-sign", selo.ApprovalWallet, selo.KeyECDSAP256)
		tok := s.holderToken(t, "yara@example.pt")
		otherTok := s.holderToken(t, "other@example.pt")

		// The first wallet comes through the desk (an officer's identity check).
		offer, err := s.svc.StartWalletEnrollment(ctx, acct.ID, signing.FactorProof{IdentityCheckedBy: "officer:test"})
		if err != nil {
			t.Fatal(err)
		}
		enr, err := approval.ParseWalletEnrollmentURI(offer.URI)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		reg, _ := approval.NewWalletRegistration(enr, "phone", key)
		wallet, err := s.svc.RegisterWallet(ctx, reg)
		if err != nil {
			t.Fatal(err)
		}

		var req server.FactorApprovalResponse
		if code, body := s.do(t, "POST", "/api/v1/account/factor-code", tok, server.FactorCodeRequest{Via: "wallet"}, &req); code != 202 || req.ApprovalID == "" {
			t.Fatalf("wallet factor request: %d %s", code, body)
		}
		// Not approved yet: refused.
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "phone", FactorApproval: req.ApprovalID}, nil); code != 403 {
			t.Fatalf("enrol before the wallet approved: %d, want 403", code)
		}
		pending, err := s.svc.PendingApprovals(ctx, wallet)
		if err != nil || len(pending) != 1 || pending[0].ApprovalID != req.ApprovalID {
			t.Fatalf("the wallet does not see the request: %+v %v", pending, err)
		}
		sig, err := approval.SignWalletDecision(pending[0], true, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.svc.DecideWalletApproval(ctx, req.ApprovalID, wallet.ID, true, sig); err != nil {
			t.Fatal(err)
		}
		// Another holder cannot use it.
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators", otherTok, server.NameRequest{Name: "x", FactorApproval: req.ApprovalID}, nil); code != 401 {
			t.Fatalf("another holder used the wallet approval: %d, want 401", code)
		}
		if code, body := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "phone", FactorApproval: req.ApprovalID}, nil); code != 201 {
			t.Fatalf("enrol with the wallet's approval: %d %s", code, body)
		}
		if code, _ := s.do(t, "POST", "/api/v1/account/authenticators", tok, server.NameRequest{Name: "again", FactorApproval: req.ApprovalID}, nil); code != 401 {
			t.Fatalf("a wallet approval used twice: %d, want 401", code)
		}
	})
}
