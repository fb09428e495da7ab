package portal

import (
	"net/http"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/web"
)

// The sign-in: e-mail and password (a session at the password stage), then
// a code texted or from an authenticator (the session, under a new token,
// signed in). Password reset: an e-mailed link (a reset session of its own,
// in a cookie once the link is opened) and a texted code.

type signInData struct {
	Email string
	// Locked: too many failures locked the e-mail; the form asks for an
	// authenticator code with the password.
	Locked bool
}

func (p *Portal) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, http.StatusOK, "signin", "signin.title", signInData{}, "")
}

func (p *Portal) handleSignIn(w http.ResponseWriter, r *http.Request) {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	code := r.PostFormValue("locked_code") // only while the e-mail is locked: the form shows it then
	acct, complete, err := p.signing.CheckSignInPasswordLocked(r.Context(), email, password, code)
	if err != nil {
		if selo.ErrorCode(err) == selo.EINTERNAL {
			p.fail(w, r, err)
			return
		}
		d := signInData{Email: email, Locked: selo.ErrorCode(err) == selo.ETOOMANYREQUESTS}
		p.page(w, r, status(err), "signin", "signin.title", d, p.errorText(r, err))
		return
	}
	old, _ := p.sessions.Get(r)
	if old != nil {
		_ = p.sessions.End(r.Context(), w, old)
	}
	stage := selo.WebStagePassword
	if complete {
		stage = selo.WebStageSignedIn // the authenticator code was the second factor
	}
	if _, err := p.sessions.Start(r.Context(), w, acct.ID, stage, acct.Email); err != nil {
		p.fail(w, r, err)
		return
	}
	if complete {
		redirect(w, r, Prefix+"certificates")
		return
	}
	redirect(w, r, Prefix+"signin/code")
}

// pending returns the session waiting for its second factor, or nil.
func (p *Portal) pending(w http.ResponseWriter, r *http.Request) *selo.WebSession {
	s, err := p.sessions.Get(r)
	if err != nil || s == nil || s.Stage != selo.WebStagePassword {
		return nil
	}
	return s
}

func (p *Portal) handleCodeForm(w http.ResponseWriter, r *http.Request) {
	if p.pending(w, r) == nil {
		redirect(w, r, Prefix+"signin")
		return
	}
	p.page(w, r, http.StatusOK, "code", "code.title", nil, "")
}

func (p *Portal) handleSendSignInCode(w http.ResponseWriter, r *http.Request) {
	s := p.pending(w, r)
	if s == nil {
		redirect(w, r, Prefix+"signin")
		return
	}
	if err := p.signing.SendSignInCode(r.Context(), s.Subject); err != nil {
		p.page(w, r, status(err), "code", "code.title", nil, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"signin/code?done=sms")
}

func (p *Portal) handleCode(w http.ResponseWriter, r *http.Request) {
	s := p.pending(w, r)
	if s == nil {
		redirect(w, r, Prefix+"signin")
		return
	}
	if _, err := p.signing.CompleteSignIn(r.Context(), s.Subject, r.PostFormValue("code")); err != nil {
		if selo.ErrorCode(err) == selo.EINTERNAL {
			p.fail(w, r, err)
			return
		}
		s.Failures++
		if s.Failures >= MaxSecondFactorFailures {
			_ = p.sessions.End(r.Context(), w, s)
			p.page(w, r, http.StatusUnauthorized, "signin", "signin.title", signInData{}, p.text(r, "code.toomany"))
			return
		}
		if err := p.sessions.Save(r.Context(), s); err != nil {
			p.fail(w, r, err)
			return
		}
		p.page(w, r, status(err), "code", "code.title", nil, p.errorText(r, err))
		return
	}
	if _, err := p.sessions.Rotate(r.Context(), w, s, selo.WebStageSignedIn); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, Prefix+"certificates")
}

func (p *Portal) handleSignOut(w http.ResponseWriter, r *http.Request) {
	s, _ := p.sessions.Get(r)
	_ = p.sessions.End(r.Context(), w, s)
	redirect(w, r, Prefix+"signin?done=signedout")
}

func (p *Portal) handlePasswordForm(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, http.StatusOK, "password", "password.title", nil, "")
}

// handlePassword changes the password and ends the holder's other sessions.
func (p *Portal) handlePassword(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	next := r.PostFormValue("new")
	if next != r.PostFormValue("repeat") {
		p.page(w, r, http.StatusUnprocessableEntity, "password", "password.title", nil, p.text(r, "password.mismatch"))
		return
	}
	if err := p.signing.ChangePassword(r.Context(), s.Subject, r.PostFormValue("current"), next); err != nil {
		p.page(w, r, status(err), "password", "password.title", nil, p.errorText(r, err))
		return
	}
	if _, err := p.sessions.EndOthers(r.Context(), s.Subject, s); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, Prefix+"certificates?done=password")
}

func (p *Portal) handleResetRequestForm(w http.ResponseWriter, r *http.Request) {
	p.page(w, r, http.StatusOK, "reset-request", "reset.title", nil, "")
}

// handleResetRequest answers the same whether or not the e-mail has an
// account.
func (p *Portal) handleResetRequest(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	err := p.signing.StartPasswordReset(r.Context(), email, func(accountID string) (string, error) {
		token, _, err := p.resets.Issue(r.Context(), accountID, selo.WebStagePassword, "")
		if err != nil {
			return "", err
		}
		// In the query, not the path: the access log writes paths, never
		// query strings.
		return p.baseURL + Prefix + "reset/open?token=" + token, nil
	})
	if err != nil && selo.ErrorCode(err) != selo.ETOOMANYREQUESTS {
		p.fail(w, r, err)
		return
	}
	p.page(w, r, http.StatusOK, "message", "reset.title", p.text(r, "reset.sent"), "")
}

// handleResetLink trades the link's token for a cookie, so the token leaves
// the address bar (and the history) at once.
func (p *Portal) handleResetLink(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	s, err := p.resets.Lookup(r.Context(), token)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if s == nil {
		p.page(w, r, http.StatusNotFound, "message", "reset.title", nil, p.text(r, "reset.expired"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName + "_reset", Value: token, Path: Prefix, HttpOnly: true,
		Secure: web.SecureBaseURL(p.baseURL), SameSite: http.SameSiteLaxMode, Expires: s.ExpiresAt})
	redirect(w, r, Prefix+"reset/password")
}

func (p *Portal) resetSession(r *http.Request) *selo.WebSession {
	s, err := p.resets.Get(r)
	if err != nil {
		return nil
	}
	return s
}

func (p *Portal) handleResetForm(w http.ResponseWriter, r *http.Request) {
	if p.resetSession(r) == nil {
		p.page(w, r, http.StatusNotFound, "message", "reset.title", nil, p.text(r, "reset.expired"))
		return
	}
	p.page(w, r, http.StatusOK, "reset", "reset.title", nil, "")
}

func (p *Portal) handleResetSMS(w http.ResponseWriter, r *http.Request) {
	s := p.resetSession(r)
	if s == nil {
		p.page(w, r, http.StatusNotFound, "message", "reset.title", nil, p.text(r, "reset.expired"))
		return
	}
	if err := p.signing.SendPasswordResetCode(r.Context(), s.Subject); err != nil {
		p.page(w, r, status(err), "reset", "reset.title", nil, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"reset/password?done=sms")
}

// handleReset sets the new password, ends the reset link and every session
// of the account.
func (p *Portal) handleReset(w http.ResponseWriter, r *http.Request) {
	s := p.resetSession(r)
	if s == nil {
		p.page(w, r, http.StatusNotFound, "message", "reset.title", nil, p.text(r, "reset.expired"))
		return
	}
	next := r.PostFormValue("new")
	if next != r.PostFormValue("repeat") {
		p.page(w, r, http.StatusUnprocessableEntity, "reset", "reset.title", nil, p.text(r, "password.mismatch"))
		return
	}
	if err := p.signing.ResetPassword(r.Context(), s.Subject, r.PostFormValue("code"), next); err != nil {
		if selo.ErrorCode(err) == selo.EUNAUTHORIZED {
			s.Failures++
			if s.Failures >= MaxSecondFactorFailures {
				_ = p.resets.End(r.Context(), w, s)
				p.page(w, r, http.StatusUnauthorized, "message", "reset.title", nil, p.text(r, "code.toomany"))
				return
			}
			_ = p.resets.Save(r.Context(), s)
		}
		p.page(w, r, status(err), "reset", "reset.title", nil, p.errorText(r, err))
		return
	}
	_ = p.resets.End(r.Context(), w, s)
	if _, err := p.sessions.EndOthers(r.Context(), s.Subject, nil); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, Prefix+"signin?done=reset")
}
