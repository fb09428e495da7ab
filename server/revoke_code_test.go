package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// certificateStatus reads a certificate's status through the operator API.
func (st *abuseStack) certificateStatus(t *testing.T, serial string) string {
	t.Helper()
	a := send(t, st.srv, "GET", "/api/v1/certificates/"+serial, nil, "Authorization", "Bearer "+st.env.APIKey)
	var c server.CertificateResponse
	if a.status != 200 || jsonInto(a.body, &c) != nil {
		t.Fatalf("certificate %s: %d %s", serial, a.status, a.body)
	}
	return c.Status
}

// TestRevokeWithCode: lifting a token certificate hands over a revocation
// code once (stored as an argon2id hash); with it the holder revokes without
// the key; wrong codes and certificates without one answer alike, are
// audited and are limited per certificate, and that limit never holds back
// the right code (issue 12 item 6).
func TestRevokeWithCode(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		o := lifttest.ReadyOrder(t, st.reg, st.outbox, "qualified-sign", selo.DeliveryToken)
		step := func(method, name string, body any) answer {
			t.Helper()
			a := send(t, st.srv, method, "/api/v1/lift/"+o.Number+"/"+name, body, server.LiftCodeHeader, o.LiftCode)
			if a.status != 200 {
				t.Fatalf("lift %s: %d %s", name, a.status, a.body)
			}
			return a
		}
		step("POST", "start", nil)
		step("POST", "verify-email", server.LiftVerifyEmailRequest{Code: lifttest.EmailCode(t, st.outbox, o.Email)})
		csr, _ := testenv.CSR(t, "qualified-sign", "ecdsa-p256")
		step("POST", "key", server.LiftKeyRequest{CSR: string(csr)})
		var issued, again, fetched server.LiftCertificate
		if err := jsonInto(step("POST", "issue", nil).body, &issued); err != nil || len(issued.RevocationCode) < 20 {
			t.Fatalf("issue answer has no revocation code: %+v %v", issued, err)
		}
		_ = jsonInto(step("POST", "issue", nil).body, &again)
		_ = jsonInto(step("GET", "certificate", nil).body, &fetched)
		if again.RevocationCode != "" || fetched.RevocationCode != "" {
			t.Fatalf("the revocation code is shown again: %q %q", again.RevocationCode, fetched.RevocationCode)
		}
		hash, err := st.env.Store.FindRevocationCode(context.Background(), issued.Serial)
		if err != nil || !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, strings.ReplaceAll(issued.RevocationCode, "-", "")) {
			t.Fatalf("stored revocation code %q, %v: want an argon2id hash only", hash, err)
		}

		revoke := func(serial, code string) answer {
			return send(t, st.srv, "POST", "/api/v1/holder/revoke-with-code",
				server.HolderRevokeWithCodeRequest{Serial: serial, Reason: "keyCompromise", RevocationCode: code})
		}
		wrong, none := revoke(issued.Serial, "AAAAA-BBBBB-CCCCC-DDDDD"), revoke("0badc0ffee", issued.RevocationCode)
		if wrong.status != 401 || none.status != 401 || wrong.message() != none.message() {
			t.Fatalf("wrong code %d %s; certificate without a code %d %s: want the same 401", wrong.status, wrong.body, none.status, none.body)
		}
		for i := 0; i < 4; i++ {
			if a := revoke(issued.Serial, "AAAAA-BBBBB-CCCCC-DDDDD"); a.status != 401 {
				t.Fatalf("wrong code %d: %d %s", i+2, a.status, a.body)
			}
		}
		// Five wrong codes in the window: the next wrong one waits...
		wantLimited(t, revoke(issued.Serial, "AAAAA-BBBBB-CCCCC-DDDDD"), "too_many_requests", 15*time.Minute)
		if st.certificateStatus(t, issued.Serial) != "valid" {
			t.Fatal("revoked by wrong codes")
		}
		if n := st.audited(t, "certificate.revoke", selo.OutcomeFailure, "certificate/"+issued.Serial); n != 6 {
			t.Fatalf("%d refused revocations audited, want 6", n)
		}
		// ... but the right one does not: whoever knows the serial (the thief
		// of the token) cannot keep the holder from revoking by sending wrong
		// codes. Typed in lower case without dashes, as people do.
		ok := revoke(issued.Serial, strings.ToLower(strings.ReplaceAll(issued.RevocationCode, "-", "")))
		if ok.status != http.StatusCreated {
			t.Fatalf("revoke with the code: %d %s", ok.status, ok.body)
		}
		if s := st.certificateStatus(t, issued.Serial); s != "revoked" {
			t.Fatalf("certificate is %s after the revocation", s)
		}
		if n := st.audited(t, "certificate.revoke", selo.OutcomeSuccess, "certificate/"+issued.Serial); n != 1 {
			t.Fatalf("%d revocations audited, want 1", n)
		}
	})
}

// TestRevokeFromAccount: the holder revokes a credential's certificate from
// the account with the password and the texted one-time code; a wrong
// password or code is refused, audited and counted (issue 12 item 6).
func TestRevokeFromAccount(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		ctx := context.Background()
		a, ids, _ := st.holderWithSMS(t, "ana@example.pt", 1)
		c, err := st.env.Store.FindCredential(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		_, _, other := st.holderWithSMS(t, "rui@example.pt", 0)
		login := send(t, st.srv, "POST", "/api/v1/account/login", server.LoginRequest{Email: a.Email, Password: "correct horse battery"})
		var tok server.LoginResponse
		if login.status != 200 || jsonInto(login.body, &tok) != nil {
			t.Fatalf("login: %d %s", login.status, login.body)
		}
		path := "/api/v1/account/certificates/" + c.CertificateSerial + "/revoke"
		call := func(token, p string, body any) answer {
			return send(t, st.srv, "POST", p, body, "Authorization", "Bearer "+token)
		}
		// Another holder cannot even ask for the code.
		if r := call(other, path+"/code", nil); r.status == http.StatusNoContent {
			t.Fatalf("another account's holder got a revocation code sent: %s", r.body)
		}
		if r := call(tok.AccessToken, path+"/code", nil); r.status != http.StatusNoContent {
			t.Fatalf("revocation code: %d %s", r.status, r.body)
		}
		code := smsCode(t, st.sms.texts(t))
		if r := call(tok.AccessToken, path, server.AccountRevokeRequest{Password: "wrong password!!", OTP: code, Reason: "keyCompromise"}); r.status != 401 {
			t.Fatalf("wrong password: %d %s", r.status, r.body)
		}
		if r := call(tok.AccessToken, path, server.AccountRevokeRequest{Password: "correct horse battery", OTP: "000000", Reason: "keyCompromise"}); r.status != 401 {
			t.Fatalf("wrong code: %d %s", r.status, r.body)
		}
		if st.certificateStatus(t, c.CertificateSerial) != "valid" {
			t.Fatal("revoked without the password and code")
		}
		// A wrong code killed nothing the holder needs: a new code is sent after 30 s.
		st.clock.Add(30 * time.Second)
		if r := call(tok.AccessToken, path+"/code", nil); r.status != http.StatusNoContent {
			t.Fatalf("second revocation code: %d %s", r.status, r.body)
		}
		code = smsCode(t, st.sms.texts(t))
		r := call(tok.AccessToken, path, server.AccountRevokeRequest{Password: "correct horse battery", OTP: code, Reason: "keyCompromise"})
		if r.status != http.StatusCreated {
			t.Fatalf("revoke from the account: %d %s", r.status, r.body)
		}
		if s := st.certificateStatus(t, c.CertificateSerial); s != "revoked" {
			t.Fatalf("certificate is %s", s)
		}
		if n := st.audited(t, "certificate.revoke", selo.OutcomeFailure, "certificate/"+c.CertificateSerial); n != 2 {
			t.Fatalf("%d refused revocations audited, want 2", n)
		}
		_ = signing.MaxFailures
	})
}

// smsCode returns the code of the last text (a word of 6 to 8 digits).
func smsCode(t *testing.T, texts []string) string {
	t.Helper()
	if len(texts) == 0 {
		t.Fatal("no text was sent")
	}
	for _, f := range strings.Fields(texts[len(texts)-1]) {
		f = strings.TrimRight(f, ".,")
		if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	t.Fatalf("no code in %q", texts[len(texts)-1])
	return ""
}
