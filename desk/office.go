package desk

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

const (
	ordersPage = 50
	auditRows  = 50
)

// orders lists orders with their state, identity status and payment.
func (d *Desk) orders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := selo.OrderState(q.Get("state"))
	if state != "" && !state.Valid() {
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.orders.badstate"))
		return
	}
	list, err := d.reg.ListOrders(r.Context(), selo.OrderFilter{State: state, AfterID: truncate(q.Get("after"), 64), Limit: ordersPage + 1})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	next := ""
	if len(list) > ordersPage {
		list, next = list[:ordersPage], list[ordersPage-1].ID
	}
	p := d.page(w, r, "desk.orders.title")
	p.Data = map[string]any{"Orders": list, "Next": next, "State": state, "States": selo.OrderStates}
	d.render.Render(w, http.StatusOK, "orders", p)
}

// revocationReasons are the reasons an officer may choose, as RFC 5280
// names them.
var revocationReasons = []selo.RevocationReason{selo.ReasonUnspecified, selo.ReasonKeyCompromise,
	selo.ReasonAffiliationChanged, selo.ReasonSuperseded, selo.ReasonCessationOfOperation, selo.ReasonPrivilegeWithdrawn}

// revokePage finds a certificate by serial and shows the revocation form.
func (d *Desk) revokePage(w http.ResponseWriter, r *http.Request) {
	d.showRevoke(w, r, http.StatusOK, strings.TrimSpace(r.URL.Query().Get("serial")), "", "")
}

func (d *Desk) showRevoke(w http.ResponseWriter, r *http.Request, status int, serial, flash, errMsg string) {
	p := d.page(w, r, "desk.revoke.title")
	p.Flash, p.Error = flash, errMsg
	data := map[string]any{"Serial": serial, "Reasons": revocationReasons}
	if serial != "" {
		cert, err := d.auth.FindCertificate(r.Context(), strings.ToLower(truncate(serial, 80)))
		switch {
		case selo.ErrorCode(err) == selo.ENOTFOUND:
			if p.Error == "" {
				p.Error = d.text(r, "desk.revoke.unknown", serial)
			}
			status = http.StatusNotFound
		case err != nil:
			d.fail(w, r, err)
			return
		default:
			data["Cert"] = cert
		}
	}
	p.Data = data
	d.render.Render(w, status, "revoke", p)
}

// revoke revokes a certificate with the reason chosen, after the officer
// confirmed that it cannot be undone.
func (d *Desk) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.form.bad"))
		return
	}
	serial := strings.ToLower(strings.TrimSpace(r.PostForm.Get("serial")))
	code, err := strconv.Atoi(r.PostForm.Get("reason"))
	reason := selo.RevocationReason(code)
	if err != nil || !slices.Contains(revocationReasons, reason) {
		d.showRevoke(w, r, http.StatusBadRequest, serial, "", d.text(r, "desk.revoke.reason"))
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		d.showRevoke(w, r, http.StatusBadRequest, serial, "", d.text(r, "desk.revoke.confirm"))
		return
	}
	rev, created, err := d.auth.Revoke(r.Context(), actor(officerFrom(r.Context())), authority.RevokeRequest{Serial: serial, Reason: reason})
	if err != nil {
		if selo.ErrorCode(err) == selo.EINVALID || selo.ErrorCode(err) == selo.ECONFLICT || selo.ErrorCode(err) == selo.ENOTFOUND {
			d.showRevoke(w, r, http.StatusBadRequest, serial, "", selo.ErrorMessage(err))
			return
		}
		d.fail(w, r, err)
		return
	}
	msg := d.text(r, "desk.revoke.done", rev.Serial, rev.Reason.String())
	if !created {
		msg = d.text(r, "desk.revoke.already", rev.Serial, rev.Reason.String())
	}
	d.showRevoke(w, r, http.StatusOK, serial, msg, "")
}

// auditLog shows a page of the audit log: the latest entries, or those
// after ?after=.
func (d *Desk) auditLog(w http.ResponseWriter, r *http.Request) {
	d.showAudit(w, r, "", "")
}

func (d *Desk) showAudit(w http.ResponseWriter, r *http.Request, flash, errMsg string) {
	after := int64(-1)
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.audit.badpage"))
			return
		}
		after = n
	}
	entries, err := d.auth.AuditPage(r.Context(), after, auditRows)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	data := map[string]any{"Entries": entries}
	if len(entries) > 0 {
		first, last := entries[0].Seq, entries[len(entries)-1].Seq
		if first > 1 {
			data["Prev"] = strconv.FormatInt(max(first-1-auditRows, 0), 10)
		}
		if len(entries) == auditRows {
			data["Next"] = strconv.FormatInt(last, 10)
		}
	}
	p := d.page(w, r, "desk.audit.title")
	p.Flash, p.Error = flash, errMsg
	p.Data = data
	d.render.Render(w, http.StatusOK, "audit", p)
}

// verifyAudit walks the whole chain (authority.VerifyAudit) and says
// whether it is intact, or where it breaks.
func (d *Desk) verifyAudit(w http.ResponseWriter, r *http.Request) {
	n, problem, err := d.auth.VerifyAudit(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	op := officerFrom(r.Context())
	outcome, details := selo.OutcomeSuccess, `{"entries":`+strconv.FormatInt(n, 10)+`}`
	if problem != nil {
		outcome = selo.OutcomeFailure
	}
	if err := d.auth.RecordDecision(r.Context(), &selo.AuditEntry{Time: d.now().UTC(), Actor: actor(op), Action: "audit.verify",
		Object: "audit", Outcome: outcome, Details: details}); err != nil {
		d.log.Error("append audit entry", "action", "audit.verify", "err", err)
	}
	if problem != nil {
		d.showAudit(w, r, "", d.text(r, "desk.audit.broken", problem.Seq, problem.Reason))
		return
	}
	d.showAudit(w, r, d.text(r, "desk.audit.intact", n), "")
}

// admin shows the CAs, the profiles and the operator accounts.
func (d *Desk) admin(w http.ResponseWriter, r *http.Request) {
	cas, err := d.auth.ListCAs(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	ops, err := d.ctl.ListOperators(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	profiles := d.auth.Profiles()
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	list := make([]*pki.Profile, len(names))
	for i, n := range names {
		list[i] = profiles[n]
	}
	p := d.page(w, r, "desk.admin.title")
	p.Data = map[string]any{"CAs": cas, "Profiles": list, "Operators": ops}
	d.render.Render(w, http.StatusOK, "admin", p)
}
