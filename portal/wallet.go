package portal

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// Sign-in with the wallet: the browser gets a session at the stage
// stageWallet and a one-time challenge (a session of kind walletChallenge
// whose Data is the browser session's token hash), shown as a QR code. The
// wallet signs the challenge with its device key and posts it to
// WalletSignInPath; the browser's session then holds the account, and the
// page (polling, or "Continue") finishes the sign-in under a new token.

// WalletSignInPath is where a wallet posts its signed sign-in challenge:
// form or JSON fields wallet_id, challenge and signature (base64 ASN.1
// ECDSA over signing.WalletSignInBytes).
const WalletSignInPath = Prefix + "signin/wallet/approve"

// WalletChallengeLifetime is how long a sign-in QR code works.
const WalletChallengeLifetime = 2 * time.Minute

const (
	walletChallengeKind = "wallet-signin"
	stageWallet         = "wallet"          // waiting for the wallet
	stageWalletApproved = "wallet-approved" // the wallet signed the account in
)

type walletPage struct {
	URI string
	QR  any
}

// handleWalletSignIn starts a sign-in with the wallet: a fresh browser
// session and a challenge bound to it.
func (p *Portal) handleWalletSignIn(w http.ResponseWriter, r *http.Request) {
	if old, _ := p.sessions.Get(r); old != nil {
		_ = p.sessions.End(r.Context(), w, old)
	}
	s, err := p.sessions.Start(r.Context(), w, "", stageWallet, "")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	challenge, _, err := p.walletChallenges.Issue(r.Context(), "", "pending", s.TokenHash)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	uri := "selo-wallet://signin?" + url.Values{"challenge": {challenge}, "url": {p.baseURL + WalletSignInPath}}.Encode()
	p.page(w, r, http.StatusOK, "wallet", "wallet.title", walletPage{URI: uri, QR: qr(uri)}, "")
}

// handleWalletApprove takes the wallet's signed challenge. It answers the
// wallet app, not a browser: 204, or 401 for anything wrong.
func (p *Portal) handleWalletApprove(w http.ResponseWriter, r *http.Request) {
	var req struct {
		WalletID  string `json:"wallet_id"`
		Challenge string `json:"challenge"`
		Signature string `json:"signature"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
	} else {
		req.WalletID, req.Challenge, req.Signature = r.PostFormValue("wallet_id"), r.PostFormValue("challenge"), r.PostFormValue("signature")
	}
	refuse := func() { http.Error(w, "invalid or expired sign-in challenge", http.StatusUnauthorized) }
	ch, err := p.walletChallenges.Lookup(r.Context(), req.Challenge)
	if err != nil || ch == nil {
		refuse()
		return
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil {
		refuse()
		return
	}
	acct, err := p.signing.SignInWithWallet(r.Context(), req.WalletID, req.Challenge, sig)
	if err != nil {
		refuse()
		return
	}
	// One use, whatever happens next.
	if err := p.walletChallenges.End(r.Context(), noCookie{}, ch); err != nil {
		p.log.Error("end wallet challenge", "err", err)
	}
	browser, err := p.sessions.LookupHash(r.Context(), ch.Data)
	if err != nil || browser == nil || browser.Stage != stageWallet {
		refuse()
		return
	}
	browser.Subject, browser.Stage, browser.Data = acct.ID, stageWalletApproved, acct.Email
	if err := p.sessions.Save(r.Context(), browser); err != nil {
		p.log.Error("save wallet sign-in", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleWalletStatus finishes a wallet sign-in once the wallet approved it:
// JSON for poll.js, a redirect for the "Continue" link.
func (p *Portal) handleWalletStatus(w http.ResponseWriter, r *http.Request) {
	s, err := p.sessions.Get(r)
	js := strings.Contains(r.Header.Get("Accept"), "application/json")
	done := err == nil && s != nil && s.Stage == stageWalletApproved && s.Subject != ""
	if done {
		if _, err := p.sessions.Rotate(r.Context(), w, s, selo.WebStageSignedIn); err != nil {
			done = false
		}
	}
	if js {
		w.Header().Set("Content-Type", "application/json")
		if done {
			_, _ = w.Write([]byte(`{"done":true,"redirect":"` + Prefix + `certificates"}`))
			return
		}
		_, _ = w.Write([]byte(`{"done":false}`))
		return
	}
	if done {
		redirect(w, r, Prefix+"certificates")
		return
	}
	redirect(w, r, Prefix+"signin")
}

// noCookie is a ResponseWriter for ending a session that has no cookie in
// this exchange (the wallet's challenge).
type noCookie struct{}

func (noCookie) Header() http.Header       { return http.Header{} }
func (noCookie) Write([]byte) (int, error) { return 0, nil }
func (noCookie) WriteHeader(int)           {}
