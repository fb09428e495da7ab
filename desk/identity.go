package desk

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/registration"
)

// Limits of the officer's forms.
const (
	maxReasonLength = 1000
	queuePage       = 50
)

// queue lists the identity checks waiting for an officer, oldest first.
func (d *Desk) queue(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	checks, err := d.reg.ListPendingIdentityChecks(r.Context(), truncate(after, 64), queuePage+1)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	next := ""
	if len(checks) > queuePage {
		checks, next = checks[:queuePage], checks[queuePage-1].ID
	}
	type row struct {
		Check *selo.IdentityCheck
		Order *selo.Order
	}
	rows := make([]row, 0, len(checks))
	for _, c := range checks {
		o, err := d.reg.FindOrderByID(r.Context(), c.OrderID)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		rows = append(rows, row{c, o})
	}
	p := d.page(w, r, "desk.queue.title")
	p.Data = map[string]any{"Rows": rows, "Next": next}
	d.render.Render(w, http.StatusOK, "queue", p)
}

// review shows one check: the photos side by side, the MRZ as typed and as
// read, the catalogue's entry and what the officer must judge, and the
// decision form (officers only).
func (d *Desk) review(w http.ResponseWriter, r *http.Request) {
	rv, err := d.reg.ReviewIdentityCheck(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	var mrz *idcheck.MRZ
	if rv.Check.MRZResult != "" {
		mrz = new(idcheck.MRZ)
		if json.Unmarshal([]byte(rv.Check.MRZResult), mrz) != nil {
			mrz = nil
		}
	}
	op := officerFrom(r.Context())
	p := d.page(w, r, "desk.review.title")
	p.Data = map[string]any{
		"R": rv, "MRZ": mrz, "Holder": rv.Order.Holder,
		"CanDecide": selo.HasRole(op.Roles, selo.RoleOfficer) && rv.Check.Status == selo.IdentityPending,
		"Kinds":     selo.EvidenceKinds,
	}
	d.render.Render(w, http.StatusOK, "review", p)
}

// officerPhoto sends one photo (the service audits each opening).
func (d *Desk) officerPhoto(w http.ResponseWriter, r *http.Request) {
	ph, err := d.reg.OfficerPhoto(r.Context(), actor(officerFrom(r.Context())), r.PathValue("id"), selo.EvidenceKind(r.PathValue("kind")))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writePhoto(w, ph)
}

// writePhoto sends an image as the sniffed type it was stored as, never
// cached, never sniffed again by the browser.
func writePhoto(w http.ResponseWriter, ph *registration.Photo) {
	h := w.Header()
	h.Set("Content-Type", ph.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(ph.Data)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", "inline")
	_, _ = w.Write(ph.Data)
}

// decide records the officer's approval or rejection with its reason.
func (d *Desk) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.form.bad"))
		return
	}
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var approve bool
	switch r.PostForm.Get("decision") {
	case "approve":
		approve = true
	case "reject":
	default:
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.decision.choose"))
		return
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxReasonLength || !utf8.ValidString(reason) {
		d.errorPage(w, r, http.StatusBadRequest, d.text(r, "desk.decision.reason", maxReasonLength))
		return
	}
	o, err := d.reg.DecideIdentityCheck(r.Context(), actor(officerFrom(r.Context())), id, approve, reason)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	p := d.page(w, r, "desk.queue.title")
	if approve {
		p.Flash = d.text(r, "desk.decision.approved", o.Number, string(o.State))
	} else {
		p.Flash = d.text(r, "desk.decision.rejected", o.Number)
	}
	checks, err := d.reg.ListPendingIdentityChecks(r.Context(), "", queuePage)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	type row struct {
		Check *selo.IdentityCheck
		Order *selo.Order
	}
	rows := make([]row, 0, len(checks))
	for _, c := range checks {
		if o, err := d.reg.FindOrderByID(r.Context(), c.OrderID); err == nil {
			rows = append(rows, row{c, o})
		}
	}
	p.Data = map[string]any{"Rows": rows}
	d.render.Render(w, http.StatusOK, "queue", p)
}
