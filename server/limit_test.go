package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// holderWithSMS creates an account and n SMS credentials and logs in
// through the CSC API; it returns the credential IDs and the access token.
func (st *abuseStack) holderWithSMS(t *testing.T, email string, n int) (*selo.Account, []string, string) {
	t.Helper()
	ctx := context.Background()
	a, err := st.svc.CreateAccount(ctx, "operator", signing.CreateAccountRequest{Email: email, Name: "Ana", Mobile: "+351912345678", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < n; i++ {
		// Qualified credentials come only from an order.
		oc := st.env.OrderCredential(t, email, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
		oc.Mobile = a.Mobile
		att, err := st.svc.AttachOrderCredential(ctx, "operator", oc)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, att.CredentialID)
	}
	login := send(t, st.srv, "POST", "/csc/v2/auth/login", "{}", "Authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte(email+":correct horse battery")))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if login.status != 200 || jsonInto(login.body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("csc login: %d %s", login.status, login.body)
	}
	return a, ids, out.AccessToken
}

// wantLimited fails unless a is a 429 with Retry-After of want seconds and
// the error code (or CSC name) code.
func wantLimited(t *testing.T, a answer, code string, want time.Duration) {
	t.Helper()
	if a.status != http.StatusTooManyRequests || a.errorCode() != code {
		t.Fatalf("answer %d %s, want 429 %s", a.status, a.body, code)
	}
	if got := a.header.Get("Retry-After"); got != strconv.Itoa(int(want/time.Second)) {
		t.Fatalf("Retry-After %q, want %d (%s)", got, int(want/time.Second), a.body)
	}
}

// TestSendOTPRateLimited: credentials/sendOTP texts at most one code per
// credential every 30 s and 5 an hour, and 10 an hour per account; a refusal
// texts nothing, answers 429 with the CSC error and Retry-After, is audited,
// and holds on another replica over the same store (issue 13 item 3).
func TestSendOTPRateLimited(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		_, ids, token := st.holderWithSMS(t, "ana@example.pt", 3)
		_, _, other := st.replica(t)
		sendOTP := func(srvIdx int, id string) answer {
			srv := st.srv
			if srvIdx == 1 {
				srv = other
			}
			return send(t, srv, "POST", "/csc/v2/credentials/sendOTP", map[string]string{"credentialID": id}, "Authorization", "Bearer "+token)
		}
		t0 := st.clock.Now()
		if a := sendOTP(0, ids[0]); a.status != http.StatusNoContent {
			t.Fatalf("first sendOTP: %d %s", a.status, a.body)
		}
		// Thirty calls in the same second text nothing more, on either replica.
		for i := 0; i < 30; i++ {
			wantLimited(t, sendOTP(i%2, ids[0]), "access_denied", 30*time.Second)
		}
		if len(st.sms.texts(t)) != 1 {
			t.Fatalf("%d texts sent, want 1", len(st.sms.texts(t)))
		}
		if n := st.audited(t, "approval.send", selo.OutcomeFailure, "too_many_requests", ids[0]); n != 30 {
			t.Fatalf("%d refusals audited, want 30", n)
		}
		// One every 30 s, five an hour.
		for i := 1; i < 5; i++ {
			st.clock.Add(30 * time.Second)
			if a := sendOTP(i%2, ids[0]); a.status != http.StatusNoContent {
				t.Fatalf("sendOTP %d after 30 s: %d %s", i+1, a.status, a.body)
			}
		}
		st.clock.Add(30 * time.Second)
		wantLimited(t, sendOTP(0, ids[0]), "access_denied", t0.Add(time.Hour).Sub(st.clock.Now()))
		// Ten an hour per account: five more for the second credential, then
		// the third is refused although it has sent nothing.
		for i := 0; i < 5; i++ {
			if a := sendOTP(1, ids[1]); a.status != http.StatusNoContent {
				t.Fatalf("second credential, code %d: %d %s", i+1, a.status, a.body)
			}
			st.clock.Add(30 * time.Second)
		}
		wantLimited(t, sendOTP(0, ids[2]), "access_denied", t0.Add(time.Hour).Sub(st.clock.Now()))
		if len(st.sms.texts(t)) != 10 {
			t.Fatalf("%d texts sent, want 10", len(st.sms.texts(t)))
		}
	})
}

// TestLoginLockoutSameForUnknownEmail: five wrong passwords lock an e-mail
// that has an account and one that has none alike (same status, body and
// Retry-After, on the REST and the CSC login); failures are throttled per
// client address first; the holder gets past the lock with the password and
// an authenticator code; the right password alone waits (issue 13 item 4).
func TestLoginLockoutSameForUnknownEmail(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		ctx := context.Background()
		a, err := st.svc.CreateAccount(ctx, "operator", signing.CreateAccountRequest{Email: "ana@example.pt", Name: "Ana", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		login := func(email, password, otp string) answer {
			return send(t, st.srv, "POST", "/api/v1/account/login", server.LoginRequest{Email: email, Password: password, OTP: otp})
		}
		cscLogin := func(email, password string) answer {
			return send(t, st.srv, "POST", "/csc/v2/auth/login", "{}", "Authorization",
				"Basic "+base64.StdEncoding.EncodeToString([]byte(email+":"+password)))
		}
		var locked, cscLocked [2]answer
		for i, email := range []string{"ana@example.pt", "nobody@example.pt"} {
			for j := 0; j < signing.MaxFailures; j++ {
				if a := login(email, "guess "+strconv.Itoa(j), ""); a.status != 401 || a.message() != "invalid e-mail or password" {
					t.Fatalf("%s, guess %d: %d %s", email, j, a.status, a.body)
				}
			}
			locked[i] = login(email, "correct horse battery", "")
			cscLocked[i] = cscLogin(email, "correct horse battery")
		}
		for i, set := range [][2]answer{locked, cscLocked} {
			wantLimited(t, set[0], []string{"too_many_requests", "access_denied"}[i], 15*time.Minute)
			if set[1].status != set[0].status || set[1].message() != set[0].message() || set[1].header.Get("Retry-After") != set[0].header.Get("Retry-After") {
				t.Fatalf("locked account: %d %s; locked unknown e-mail: %d %s: must be the same", set[0].status, set[0].body, set[1].status, set[1].body)
			}
		}
		if n := st.audited(t, "account.login", selo.OutcomeFailure, "account/unknown"); n != signing.MaxFailures+2 {
			t.Fatalf("%d failures audited for the unknown e-mail, want %d", n, signing.MaxFailures+2)
		}

		// The holder: password and a code of the authenticator app.
		enr, err := st.svc.EnrollAuthenticator(ctx, a.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
		if err != nil {
			t.Fatal(err)
		}
		secret, p := otpSecretOf(t, enr.URI)
		if err := st.svc.ConfirmAuthenticator(ctx, a.ID, enr.Authenticator.ID, approval.TOTP(secret, st.clock.Now(), p)); err != nil {
			t.Fatal(err)
		}
		st.clock.Add(30 * time.Second)
		if a := login("ana@example.pt", "correct horse battery", approval.TOTP(secret, st.clock.Now(), p)); a.status != 200 {
			t.Fatalf("password and authenticator code on a locked e-mail: %d %s", a.status, a.body)
		}

		// From this address: 5+1+5+1 REST and 2 CSC failures so far, 20 allowed in 15 minutes.
		for i := 0; i < 6; i++ {
			if a := login("someone"+strconv.Itoa(i)+"@example.pt", "guess", ""); a.status != 401 {
				t.Fatalf("failure %d: %d %s", 14+i, a.status, a.body)
			}
		}
		a21 := login("fresh@example.pt", "guess", "")
		if a21.status != 429 || !strings.Contains(a21.message(), "from your address") {
			t.Fatalf("21st failure from one address: %d %s", a21.status, a21.body)
		}
		if n := st.audited(t, "account.login", selo.OutcomeFailure, "address/"); n != 1 {
			t.Fatalf("%d address refusals audited, want 1", n)
		}
		st.clock.Add(15 * time.Minute)
		if a := login("ana@example.pt", "correct horse battery", ""); a.status != 200 {
			t.Fatalf("login after the window: %d %s", a.status, a.body)
		}
	})
}

// TestFactorCodeRateLimited: POST /api/v1/account/factor-code texts at most
// one code every 30 s and 5 an hour per account, like every other code
// Selo texts; a refusal texts nothing, answers 429 with Retry-After and is
// audited (issue 13 item 3: a holder session must not pump SMS).
func TestFactorCodeRateLimited(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		a, _, _ := st.holderWithSMS(t, "ana@example.pt", 1)
		login := send(t, st.srv, "POST", "/api/v1/account/login", server.LoginRequest{Email: a.Email, Password: "correct horse battery"})
		var tok server.LoginResponse
		if login.status != 200 || jsonInto(login.body, &tok) != nil {
			t.Fatalf("login: %d %s", login.status, login.body)
		}
		factorCode := func() answer {
			return send(t, st.srv, "POST", "/api/v1/account/factor-code", nil, "Authorization", "Bearer "+tok.AccessToken)
		}
		before := len(st.sms.texts(t))
		if r := factorCode(); r.status != http.StatusAccepted {
			t.Fatalf("first factor code: %d %s", r.status, r.body)
		}
		for i := 0; i < 30; i++ {
			wantLimited(t, factorCode(), "too_many_requests", 30*time.Second)
		}
		if n := len(st.sms.texts(t)) - before; n != 1 {
			t.Fatalf("%d factor codes texted, want 1", n)
		}
		if n := st.audited(t, "approval.send", selo.OutcomeFailure, "too_many_requests", "account/"+a.ID); n != 30 {
			t.Fatalf("%d refusals audited, want 30", n)
		}
		for i := 1; i < 5; i++ {
			st.clock.Add(30 * time.Second)
			if r := factorCode(); r.status != http.StatusAccepted {
				t.Fatalf("factor code %d after 30 s: %d %s", i+1, r.status, r.body)
			}
		}
		st.clock.Add(30 * time.Second)
		if r := factorCode(); r.status != http.StatusTooManyRequests {
			t.Fatalf("sixth factor code in an hour: %d %s, want 429", r.status, r.body)
		}
		if n := len(st.sms.texts(t)) - before; n != 5 {
			t.Fatalf("%d factor codes texted in an hour, want 5", n)
		}
	})
}

// TestLoginSecondFactorCountsAgainstAuthenticator: past the e-mail lock, a
// wrong authenticator code with the right password counts against the
// authenticator like a wrong code anywhere else: five lock it, and then
// even its right code does not log in (issue 13 item 4 and "count per
// authenticator secret").
func TestLoginSecondFactorCountsAgainstAuthenticator(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		ctx := context.Background()
		a, err := st.svc.CreateAccount(ctx, "operator", signing.CreateAccountRequest{Email: "ana@example.pt", Name: "Ana", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		enr, err := st.svc.EnrollAuthenticator(ctx, a.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
		if err != nil {
			t.Fatal(err)
		}
		secret, p := otpSecretOf(t, enr.URI)
		if err := st.svc.ConfirmAuthenticator(ctx, a.ID, enr.Authenticator.ID, approval.TOTP(secret, st.clock.Now(), p)); err != nil {
			t.Fatal(err)
		}
		st.clock.Add(30 * time.Second)
		login := func(password, otp string) answer {
			return send(t, st.srv, "POST", "/api/v1/account/login", server.LoginRequest{Email: a.Email, Password: password, OTP: otp})
		}
		for j := 0; j < signing.MaxFailures; j++ {
			if r := login("guess "+strconv.Itoa(j), ""); r.status != 401 {
				t.Fatalf("guess %d: %d %s", j, r.status, r.body)
			}
		}
		right := approval.TOTP(secret, st.clock.Now(), p)
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		for j := 0; j < signing.MaxFailures; j++ {
			if r := login("correct horse battery", wrong); r.status != http.StatusTooManyRequests {
				t.Fatalf("password with a wrong code %d: %d %s", j+1, r.status, r.body)
			}
		}
		if r := login("correct horse battery", right); r.status == http.StatusOK {
			t.Fatalf("five wrong authenticator codes at login did not lock the authenticator: the right code still logs in")
		}
		if n := st.audited(t, "authenticator.lock", selo.OutcomeSuccess, "account/"+a.ID); n != 1 {
			t.Fatalf("%d authenticator locks audited, want 1", n)
		}
	})
}
