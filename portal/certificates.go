package portal

import (
	"crypto/x509"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

// certRow is one certificate of the Certificates page.
type certRow struct {
	ID, Serial, Subject, Profile, CA, Approval, Status string
	NotBefore, NotAfter                                time.Time
	Authorizers                                        bool // an e-seal with authorizer approval
}

func row(c *selo.CredentialInfo) certRow {
	r := certRow{ID: c.Credential.ID, Serial: c.Credential.CertificateSerial, Profile: c.Credential.Profile,
		Approval: string(c.Credential.ApprovalType), Status: c.CertificateStatus}
	if c.Certificate != nil {
		r.Subject, r.CA = pki.NameString(c.Certificate.Subject), c.Certificate.Issuer.CommonName
		r.NotBefore, r.NotAfter = c.Certificate.NotBefore, c.Certificate.NotAfter
	}
	if c.Credential.Status != selo.CredentialActive && r.Status == "valid" {
		r.Status = string(c.Credential.Status)
	}
	r.Authorizers = c.Credential.ApprovalType == selo.ApprovalAuthorizer
	return r
}

// CertificatesPageSize is how many certificates a page of the list shows.
const CertificatesPageSize = 25

type certificatesPage struct {
	Rows []certRow
	Next string // the next page's URL, "" on the last
	// Kept are the token and software certificates of the holder's
	// orders, on the first page.
	Kept []keptRow
}

// handleCertificates lists the holder's certificates, newest first, a page
// at a time (?after=<credential ID>).
func (p *Portal) handleCertificates(w http.ResponseWriter, r *http.Request) {
	cs, next, err := p.signing.ListCredentialsPage(r.Context(), account(r), r.URL.Query().Get("after"), CertificatesPageSize)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := certificatesPage{Rows: make([]certRow, 0, len(cs))}
	for _, c := range cs {
		d.Rows = append(d.Rows, row(c))
	}
	if next != "" {
		d.Next = Prefix + "certificates?after=" + url.QueryEscape(next)
	}
	if p.reg != nil && r.URL.Query().Get("after") == "" {
		acct, err := p.signing.Account(r.Context(), account(r))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		kept, err := p.reg.HolderCertificates(r.Context(), acct.Email)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, hc := range kept {
			d.Kept = append(d.Kept, p.keptRow(hc))
		}
	}
	p.page(w, r, http.StatusOK, "certificates", "certificates.title", d, "")
}

// credential reads the holder's credential named in the URL: another
// holder's is not found, like one that does not exist.
func (p *Portal) credential(w http.ResponseWriter, r *http.Request) (*selo.CredentialInfo, bool) {
	c, err := p.signing.CredentialInfo(r.Context(), account(r), r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return c, true
}

// certificatePage is the "Change" page of one certificate.
type certificatePage struct {
	Cert           certRow
	Authenticators []*selo.Authenticator
	Wallets        []*selo.Wallet
	Authorizers    []authorizerRow
	// Shown once, right after an enrolment or a registration.
	Enrolment *enrolment
	Setup     *authorizerSetup
	// PendingAuthorizer is an authorizer waiting for its SMS code.
	PendingAuthorizer string
	// Methods are the approval methods the holder may choose.
	Methods []string
}

type enrolment struct {
	Kind            string // "authenticator" or "wallet"
	ID              string
	URI             string
	QR              template.URL
	AuthenticatorID string
}

type authorizerSetup struct {
	Name, URI, JSON string
	QR              template.URL
}

type authorizerRow struct {
	ID, Name           string
	Confirmed, Enabled bool
	Authorizations     []authorizationRow
}

type authorizationRow struct {
	NotBefore, NotAfter time.Time
	DaysLeft            int
}

func qr(uri string) template.URL {
	png, err := approval.QRPNG(uri, 256)
	if err != nil {
		return ""
	}
	// A data: image: the CSP allows img-src data:, and the PNG is ours.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

func (p *Portal) certificatePage(r *http.Request, c *selo.CredentialInfo) (*certificatePage, error) {
	ctx, acct := r.Context(), account(r)
	d := &certificatePage{Cert: row(c), Methods: []string{"sms", "authenticator", "wallet"}}
	if c.Credential.Profile == "qualified-seal" {
		d.Methods = append(d.Methods, "authorizer")
	}
	var err error
	if d.Authenticators, err = p.signing.ListAuthenticators(ctx, acct); err != nil {
		return nil, err
	}
	if d.Wallets, err = p.signing.ListWallets(ctx, acct); err != nil {
		return nil, err
	}
	if d.Cert.Authorizers {
		as, err := p.signing.ListAuthorizers(ctx, acct, c.Credential.ID)
		if err != nil {
			return nil, err
		}
		now := p.now()
		for _, a := range as {
			ar := authorizerRow{ID: a.Authorizer.ID, Name: a.Authorizer.Name, Confirmed: a.Authorizer.Confirmed, Enabled: a.Authorizer.Enabled}
			for _, z := range a.Authorizations {
				ar.Authorizations = append(ar.Authorizations, authorizationRow{NotBefore: z.NotBefore, NotAfter: z.NotAfter, DaysLeft: daysLeft(now, z.NotAfter)})
			}
			d.Authorizers = append(d.Authorizers, ar)
		}
	}
	return d, nil
}

// daysLeft counts the days until t, a part day as a day; 0 once past.
func daysLeft(now, t time.Time) int {
	if !now.Before(t) {
		return 0
	}
	return int((t.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
}

func (p *Portal) showCertificate(w http.ResponseWriter, r *http.Request, status int, c *selo.CredentialInfo, errMsg string, fill func(*certificatePage)) {
	d, err := p.certificatePage(r, c)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if fill != nil {
		fill(d)
	}
	p.page(w, r, status, "certificate", "certificate.title", d, errMsg)
}

func (p *Portal) handleCertificate(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	p.showCertificate(w, r, http.StatusOK, c, "", func(d *certificatePage) { d.PendingAuthorizer = r.URL.Query().Get("confirm") })
}

// handleDownload serves the certificate or its chain as PEM or PKCS#7.
func (p *Portal) handleDownload(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	if c.Certificate == nil {
		p.notFound(w, r)
		return
	}
	p.serveCertificate(w, r, r.PathValue("file"), c.Credential.CertificateSerial, c.Certificate, c.Chain)
}

// serveCertificate answers a download of a certificate (file
// certificate.pem or .p7b) or of it with its chain (chain.pem, chain.p7b),
// named after its serial.
func (p *Portal) serveCertificate(w http.ResponseWriter, r *http.Request, file, serial string, cert *x509.Certificate, chain []*x509.Certificate) {
	certs := append([]*x509.Certificate{cert}, chain...)
	var body []byte
	var media string
	var err error
	switch file {
	case "certificate.pem":
		body, media = pki.EncodePEM(cert), "application/x-pem-file"
	case "certificate.p7b":
		body, err = pki.EncodeP7B(cert)
		media = "application/pkcs7-mime"
	case "chain.pem":
		body, media = pki.EncodePEM(certs...), "application/x-pem-file"
	case "chain.p7b":
		body, err = pki.EncodeP7B(certs...)
		media = "application/pkcs7-mime"
	default:
		p.notFound(w, r)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	name := strings.ToLower(serial)
	base, ext, _ := strings.Cut(file, ".")
	w.Header().Set("Content-Type", media)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+base+"."+ext+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// keptRow is a certificate whose key the holder keeps (a token or a
// software certificate delivered by one of the holder's orders).
type keptRow struct {
	OrderID, Order, Serial, Subject, Profile, CA, Delivery, Status string
	NotBefore, NotAfter                                            time.Time
}

func (p *Portal) keptRow(hc *registration.HolderCertificate) keptRow {
	c := hc.Certificate
	k := keptRow{OrderID: hc.Order.ID, Order: hc.Order.Number, Serial: c.Serial, Subject: pki.NameString(hc.Parsed.Subject),
		Profile: c.Profile, CA: hc.Parsed.Issuer.CommonName, Delivery: string(hc.Order.Delivery), Status: string(c.Status),
		NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	if now := p.now(); c.Status == selo.CertValid && now.After(c.NotAfter) {
		k.Status = "expired"
	} else if c.Status == selo.CertValid && now.Before(c.NotBefore) {
		k.Status = "not_yet_valid"
	}
	return k
}

// handleOrderDownload serves the certificate of one of the holder's orders
// (a token or software certificate, or the current one after a re-issue)
// and its chain; another holder's order is not found.
func (p *Portal) handleOrderDownload(w http.ResponseWriter, r *http.Request) {
	if p.reg == nil {
		p.notFound(w, r)
		return
	}
	acct, err := p.signing.Account(r.Context(), account(r))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	hc, err := p.reg.HolderOrderCertificate(r.Context(), acct.Email, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.serveCertificate(w, r, r.PathValue("file"), hc.Certificate.Serial, hc.Parsed, hc.Chain)
}

// handleFactorCode texts the code that proves the holder may change an
// approval factor (to the certificate's phone).
func (p *Portal) handleFactorCode(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	if err := p.signing.RequestFactorCode(r.Context(), account(r), c.Credential.ID); err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"?done=sms#factors")
}

func (p *Portal) handleEnrollAuthenticator(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	e, err := p.signing.EnrollAuthenticator(r.Context(), account(r), r.PostFormValue("name"), signing.FactorProof{Code: strings.TrimSpace(r.PostFormValue("code"))})
	if err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	p.showCertificate(w, r, http.StatusOK, c, "", func(d *certificatePage) {
		d.Enrolment = &enrolment{Kind: "authenticator", ID: e.Authenticator.ID, URI: e.URI, QR: qr(e.URI)}
	})
}

func (p *Portal) handleConfirmAuthenticator(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	if err := p.signing.ConfirmAuthenticator(r.Context(), account(r), r.PathValue("aid"), strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"?done=authenticator#factors")
}

func (p *Portal) handleEnrollWallet(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	o, err := p.signing.StartWalletEnrollment(r.Context(), account(r), signing.FactorProof{Code: strings.TrimSpace(r.PostFormValue("code"))})
	if err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	p.showCertificate(w, r, http.StatusOK, c, "", func(d *certificatePage) {
		d.Enrolment = &enrolment{Kind: "wallet", ID: o.EnrollmentID, URI: o.URI, QR: qr(o.URI)}
	})
}

// handleApprovalMethod changes the certificate's approval method, with the
// proof of a factor the holder already has.
func (p *Portal) handleApprovalMethod(w http.ResponseWriter, r *http.Request) {
	c, ok := p.credential(w, r)
	if !ok {
		return
	}
	method := selo.ApprovalType(r.PostFormValue("method"))
	if err := p.signing.SetApprovalMethod(r.Context(), account(r), c.Credential.ID, method,
		signing.FactorProof{Code: strings.TrimSpace(r.PostFormValue("code"))}); err != nil {
		p.showCertificate(w, r, status(err), c, p.errorText(r, err), nil)
		return
	}
	redirect(w, r, Prefix+"certificates/"+c.Credential.ID+"?done=method#factors")
}
