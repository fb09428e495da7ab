package portal

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// handleRegisterAuthorizer names a new authorizer; the service texts the
// code that confirms it to the certificate's phone.
func (p *Portal) handleRegisterAuthorizer(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	a, err := p.signing.RegisterAuthorizer(r.Context(), account(r), c.Credential.ID, strings.TrimSpace(r.PostFormValue("name")))
	if err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"?done=sms&confirm="+a.ID+"#authorizers")
}

// authorizer checks that the authorizer in the URL belongs to the
// certificate in the URL (and so to the holder).
func (p *Portal) authorizer(w http.ResponseWriter, r *http.Request, c *selo.CredentialInfo) (*signing.AuthorizerInfo, bool) {
	as, err := p.signing.ListAuthorizers(r.Context(), account(r), c.Credential.ID)
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	for _, a := range as {
		if a.Authorizer.ID == r.PathValue("aid") {
			return a, true
		}
	}
	p.notFound(w, r)
	return nil, false
}

// credentialAuthorizer reads the holder's credential and its authorizer
// named in the URL ({id}, {aid}); either missing or another holder's is not
// found.
func (p *Portal) credentialAuthorizer(w http.ResponseWriter, r *http.Request) (*selo.CredentialInfo, *signing.AuthorizerInfo, bool) {
	c, ok := p.credential(w, r)
	if !ok {
		return nil, nil, false
	}
	a, ok := p.authorizer(w, r, c)
	return c, a, ok
}

// handleConfirmAuthorizer shows the ERP's setup data once.
func (p *Portal) handleConfirmAuthorizer(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	if _, ok := p.authorizer(w, r, c); !ok {
		return
	}
	setup, err := p.signing.ConfirmAuthorizer(r.Context(), account(r), r.PathValue("aid"), strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), func(d *certificatePage) { d.PendingAuthorizer = r.PathValue("aid") })
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	p.showCertificate(w, r, http.StatusOK, c, "", func(d *certificatePage) {
		d.Setup = &authorizerSetup{Name: setup.Authorizer.Name, URI: setup.URI, JSON: string(setup.JSON), QR: qr(setup.URI)}
	})
}

type authorizerPage struct {
	Cert       certRow
	Authorizer authorizerRow
	Renewing   bool
}

func (p *Portal) showAuthorizer(w http.ResponseWriter, r *http.Request, status int, c *selo.CredentialInfo, a *signing.AuthorizerInfo, renewing bool, errMsg string) {
	now := p.now()
	ar := authorizerRow{ID: a.Authorizer.ID, Name: a.Authorizer.Name, Confirmed: a.Authorizer.Confirmed, Enabled: a.Authorizer.Enabled}
	for _, z := range a.Authorizations {
		ar.Authorizations = append(ar.Authorizations, authorizationRow{NotBefore: z.NotBefore, NotAfter: z.NotAfter, DaysLeft: daysLeft(now, z.NotAfter)})
	}
	p.page(w, r, status, "authorizer", "authorizer.title", authorizerPage{Cert: row(c), Authorizer: ar, Renewing: renewing}, errMsg)
}

// handleAuthorizer is "Show": the authorizations with their days left.
func (p *Portal) handleAuthorizer(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.credentialAuthorizer(w, r)
	if !ok {
		return
	}
	p.showAuthorizer(w, r, http.StatusOK, c, a, r.URL.Query().Get("renew") == "1", "")
}

func (p *Portal) handleAuthorizerEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, a, ok := p.credentialAuthorizer(w, r)
		if !ok {
			return
		}
		if err := p.signing.SetAuthorizerEnabled(r.Context(), account(r), a.Authorizer.ID, enabled); err != nil {
			p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
			return
		}
		done := "disabled"
		if enabled {
			done = "enabled"
		}
		redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"?done="+done+"#authorizers")
	}
}

// handleRenewCode texts (or, with via=email, e-mails) the code that renews
// an authorization.
func (p *Portal) handleRenewCode(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.credentialAuthorizer(w, r)
	if !ok {
		return
	}
	request := p.signing.RequestAuthorizationRenewal
	if r.PostFormValue("via") == "email" {
		request = p.signing.RequestAuthorizationRenewalByEmail
	}
	if err := request(r.Context(), account(r), a.Authorizer.ID); err != nil {
		p.showAuthorizer(w, r, status(err), c, a, false, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"/authorizers/"+a.Authorizer.ID+"?renew=1&done="+map[bool]string{true: "email", false: "sms"}[r.PostFormValue("via") == "email"])
}

func (p *Portal) handleRenew(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.credentialAuthorizer(w, r)
	if !ok {
		return
	}
	if _, err := p.signing.RenewAuthorization(r.Context(), account(r), a.Authorizer.ID, strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		p.showAuthorizer(w, r, status(err), c, a, true, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"/authorizers/"+a.Authorizer.ID+"?done=renewed")
}

// The reasons a holder may give for a revocation, with their message keys.
var revocationReasons = []struct {
	Reason selo.RevocationReason
	Key    string
}{
	{selo.ReasonKeyCompromise, "revoke.reason.keyCompromise"},
	{selo.ReasonAffiliationChanged, "revoke.reason.affiliationChanged"},
	{selo.ReasonSuperseded, "revoke.reason.superseded"},
	{selo.ReasonCessationOfOperation, "revoke.reason.cessationOfOperation"},
	{selo.ReasonUnspecified, "revoke.reason.unspecified"},
}

type revokePage struct {
	Cert    certRow
	Reasons any
}

func (p *Portal) showRevoke(w http.ResponseWriter, r *http.Request, status int, c *selo.CredentialInfo, errMsg string) {
	p.page(w, r, status, "revoke", "revoke.title", revokePage{Cert: row(c), Reasons: revocationReasons}, errMsg)
}

func (p *Portal) handleRevokeForm(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	p.showRevoke(w, r, http.StatusOK, c, "")
}

func (p *Portal) handleRevokeCode(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	if err := p.signing.SendRevocationCode(r.Context(), account(r), c.Credential.CertificateSerial); err != nil {
		p.showRevoke(w, r, status(err), c, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"/revoke?done=sms")
}

func (p *Portal) handleRevoke(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PostFormValue("reason"))
	if err != nil || r.PostFormValue("confirm") != "yes" {
		p.showRevoke(w, r, http.StatusUnprocessableEntity, c, p.text(r, "revoke.confirm.needed"))
		return
	}
	_, _, err = p.signing.RevokeCertificate(r.Context(), account(r), c.Credential.CertificateSerial, r.PostFormValue("password"),
		strings.TrimSpace(r.PostFormValue("code")), selo.RevocationReason(n))
	if err != nil {
		p.showRevoke(w, r, status(err), c, p.errorText(r, err))
		return
	}
	redirect(w, r, Prefix+"certificates?done=revoked")
}

// approvalRow is a signature waiting for the wallet, with the QR code the
// wallet scans when the push does not arrive.
type approvalRow struct {
	ID, CredentialID, Description string
	Hashes                        int
	ExpiresAt                     time.Time
	URI                           string
	QR                            any
}

func (p *Portal) handleApprovals(w http.ResponseWriter, r *http.Request) {
	as, err := p.signing.ListApprovals(r.Context(), account(r), selo.ApprovalPending)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := p.now()
	var rows []approvalRow
	for _, a := range as {
		if a.Type != selo.ApprovalWallet || !now.Before(a.ExpiresAt) || a.AccountID != account(r) {
			continue
		}
		uri := p.signing.Challenge(a).URI()
		rows = append(rows, approvalRow{ID: a.ID, CredentialID: a.CredentialID, Description: a.Description, Hashes: len(a.Hashes),
			ExpiresAt: a.ExpiresAt, URI: uri, QR: qr(uri)})
	}
	p.page(w, r, http.StatusOK, "approvals", "approvals.title", rows, "")
}

// handleApprovalStatus answers poll.js: done once the approval is no longer
// pending (approved, denied or expired).
func (p *Portal) handleApprovalStatus(w http.ResponseWriter, r *http.Request) {
	as, err := p.signing.ListApprovals(r.Context(), account(r), "")
	if err != nil {
		http.Error(w, `{"done":false}`, http.StatusInternalServerError)
		return
	}
	done, found := false, false
	for _, a := range as {
		if a.ID == r.PathValue("aid") && a.AccountID == account(r) {
			found = true
			done = a.Status != selo.ApprovalPending || !p.now().Before(a.ExpiresAt)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"done":false}`))
		return
	}
	if done {
		_, _ = w.Write([]byte(`{"done":true,"redirect":"` + Prefix + `approvals?done=decided"}`))
		return
	}
	_, _ = w.Write([]byte(`{"done":false}`))
}
