package desk

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/registration"
)

// Limits of the holder's identity form besides the photos'.
const (
	maxFieldLength = 200 // document type, MRZ (an MRZ is at most 92 characters with its line breaks)
	formOverhead   = 64 << 10
)

// holderKey is the context key of the signed-in holder's account ID.
type holderKey struct{}

func holderFrom(ctx context.Context) string {
	id, _ := ctx.Value(holderKey{}).(string)
	return id
}

// holder lets a fully signed-in holder through (the portal's session); any
// other request is sent to the portal's sign-in.
func (d *Desk) holder(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := d.holders.Get(r)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		if s == nil || s.Stage != selo.WebStageSignedIn {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/account/signin", http.StatusSeeOther)
				return
			}
			d.holderError(w, r, http.StatusUnauthorized, d.text(r, "desk.signin.needed"))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), holderKey{}, s.Subject)))
	}
}

// holderPage returns a page of the holder's portal.
func (d *Desk) holderPage(w http.ResponseWriter, r *http.Request, title string) *web.Page {
	p := d.render.NewPage(w, r, title)
	p.Brand, p.Assets = "desk.account.brand", "/desk/assets/"
	p.Nav = holderNav
	return p
}

func (d *Desk) holderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := d.holderPage(w, r, "desk.error.title")
	p.Error = msg
	d.render.Render(w, status, "message", p)
}

func (d *Desk) holderFail(w http.ResponseWriter, r *http.Request, err error) {
	switch selo.ErrorCode(err) {
	case selo.ENOTFOUND:
		d.holderError(w, r, http.StatusNotFound, d.text(r, "web.notfound"))
	case selo.EINVALID:
		d.holderError(w, r, http.StatusBadRequest, selo.ErrorMessage(err))
	case selo.ECONFLICT:
		d.holderError(w, r, http.StatusConflict, selo.ErrorMessage(err))
	case selo.EFORBIDDEN:
		d.holderError(w, r, http.StatusForbidden, selo.ErrorMessage(err))
	default:
		d.log.Error("identity page", "path", r.URL.Path, "err", err)
		d.holderError(w, r, http.StatusInternalServerError, d.text(r, "web.internal"))
	}
}

// documentChoice is one document type the holder may choose.
type documentChoice struct {
	Type  string
	Names []string
}

// documentChoices groups the catalogue's entries by type, in file order.
func documentChoices(cat *idcheck.Catalogue) []documentChoice {
	if cat == nil {
		return []documentChoice{{Type: "passport"}, {Type: "id-card"}}
	}
	var out []documentChoice
	index := map[string]int{}
	for _, doc := range cat.Documents() {
		i, ok := index[doc.Type]
		if !ok {
			i = len(out)
			index[doc.Type] = i
			out = append(out, documentChoice{Type: doc.Type})
		}
		out[i].Names = append(out[i].Names, doc.Name)
	}
	return out
}

// identityPage shows the holder's order, its checks so far and, while the
// order waits for one, the form.
func (d *Desk) identityPage(w http.ResponseWriter, r *http.Request) {
	d.showIdentity(w, r, http.StatusOK, "", "", nil)
}

func (d *Desk) showIdentity(w http.ResponseWriter, r *http.Request, status int, flash, errMsg string, form *registration.HolderSubmission) {
	o, checks, err := d.reg.HolderIdentityChecks(r.Context(), holderFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		d.holderFail(w, r, err)
		return
	}
	p := d.holderPage(w, r, "desk.identity.title")
	p.Flash, p.Error = flash, errMsg
	open := o.State == selo.OrderCreated && o.IdentityStatus != selo.IdentityPending
	if form == nil {
		form = &registration.HolderSubmission{}
	}
	p.Data = map[string]any{
		"Order": o, "Checks": checks, "Open": open, "Documents": documentChoices(d.reg.Catalogue()),
		"Form": form, "MaxMB": d.reg.MaxPhotoSize() >> 20, "RetentionDays": int(d.reg.Retention().Hours() / 24),
		"Kinds": selo.EvidenceKinds,
	}
	d.render.Render(w, status, "identity", p)
}

// submitIdentity reads the multipart form and submits it. A bad photo or
// form is shown again with its message; a machine refusal shows the reason
// and lets the holder try again.
func (d *Desk) submitIdentity(w http.ResponseWriter, r *http.Request) {
	limit := int64(len(selo.EvidenceKinds)*d.reg.MaxPhotoSize() + formOverhead)
	sub, err := ParseIdentityForm(r, w, limit, d.reg.MaxPhotoSize())
	if err != nil {
		d.showIdentity(w, r, http.StatusBadRequest, "", selo.ErrorMessage(err), &sub)
		return
	}
	c, err := d.reg.SubmitHolderIdentityCheck(r.Context(), holderFrom(r.Context()), r.PathValue("id"), sub)
	switch {
	case selo.ErrorCode(err) == selo.EINVALID:
		d.showIdentity(w, r, http.StatusBadRequest, "", selo.ErrorMessage(err), &sub)
	case err != nil:
		d.holderFail(w, r, err)
	case c.Status == selo.IdentityRefused:
		d.showIdentity(w, r, http.StatusOK, "", d.text(r, "desk.identity.refused", c.MachineReason), &sub)
	default:
		d.showIdentity(w, r, http.StatusOK, d.text(r, "desk.identity.sent"), "", nil)
	}
}

// holderPhoto sends one of the holder's own photos.
func (d *Desk) holderPhoto(w http.ResponseWriter, r *http.Request) {
	if _, err := d.reg.HolderOrder(r.Context(), holderFrom(r.Context()), r.PathValue("id")); err != nil {
		d.holderFail(w, r, err)
		return
	}
	ph, err := d.reg.HolderPhoto(r.Context(), holderFrom(r.Context()), r.PathValue("check"), selo.EvidenceKind(r.PathValue("kind")))
	if err != nil {
		d.holderFail(w, r, err)
		return
	}
	writePhoto(w, ph)
}

// ParseIdentityForm reads the holder's identity form: a multipart body of
// at most limit bytes with the fields document_type and mrz and a file per
// photo kind (document-front, document-back, selfie), each of at most
// maxPhoto bytes; an empty file input is skipped. Every refusal is EINVALID
// with a message for the holder; the text fields read so far are returned
// either way, to fill the form again.
func ParseIdentityForm(r *http.Request, w http.ResponseWriter, limit int64, maxPhoto int) (registration.HolderSubmission, error) {
	var sub registration.HolderSubmission
	if w != nil {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	} else {
		r.Body = io.NopCloser(io.LimitReader(r.Body, limit))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return sub, selo.Errorf(selo.EINVALID, "the form must be sent as multipart/form-data")
	}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return sub, selo.Errorf(selo.EINVALID, "the form is larger than %d bytes: send smaller photos", limit)
		}
		if err != nil {
			return sub, selo.Errorf(selo.EINVALID, "the form is damaged: send it again")
		}
		name := part.FormName()
		if seen[name] {
			part.Close()
			return sub, selo.Errorf(selo.EINVALID, "the field %q was sent twice", truncate(name, 40))
		}
		seen[name] = true
		switch name {
		case "document_type", "mrz":
			v, err := readField(part, maxFieldLength)
			part.Close()
			if err != nil {
				return sub, selo.Errorf(selo.EINVALID, "%s: %s", name, selo.ErrorMessage(err))
			}
			if name == "mrz" {
				sub.MRZ = normalizeMRZ(v)
			} else {
				sub.DocumentType = strings.TrimSpace(v)
			}
		case string(selo.EvidenceDocumentFront), string(selo.EvidenceDocumentBack), string(selo.EvidenceSelfie):
			data, err := readField(part, maxPhoto)
			part.Close()
			if err != nil {
				return sub, selo.Errorf(selo.EINVALID, "the %s photo: %s", name, selo.ErrorMessage(err))
			}
			if len(data) == 0 && part.FileName() == "" {
				continue // an empty file input: the back of a passport
			}
			sub.Photos = append(sub.Photos, registration.Photo{Kind: selo.EvidenceKind(name), Data: []byte(data)})
		default:
			part.Close()
			return sub, selo.Errorf(selo.EINVALID, "unknown field %q", truncate(name, 40))
		}
	}
	if sub.DocumentType == "" {
		return sub, selo.Errorf(selo.EINVALID, "choose the type of your document")
	}
	if sub.MRZ == "" {
		return sub, selo.Errorf(selo.EINVALID, "type the machine-readable zone (MRZ) of your document")
	}
	return sub, nil
}

// readField reads a part of at most max bytes; text must be valid UTF-8
// (photos are checked by the registration desk).
func readField(part *multipart.Part, max int) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, int64(max)+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "", selo.Errorf(selo.EINVALID, "the form is too large")
	case err != nil:
		return "", selo.Errorf(selo.EINVALID, "the form is damaged: send it again")
	case len(b) > max:
		return "", selo.Errorf(selo.EINVALID, "at most %d bytes", max)
	}
	if part.FileName() == "" && !utf8.Valid(b) {
		return "", selo.Errorf(selo.EINVALID, "not valid UTF-8 text")
	}
	return string(b), nil
}

// normalizeMRZ upper-cases what the holder typed, drops spaces inside lines
// and blank lines, and joins the lines with "\n".
func normalizeMRZ(s string) string {
	var lines []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, strings.ToUpper(line))
		if line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// holderNav links the identity page back to the holder's portal.
var holderNav = []web.NavLink{{Href: "/account/orders", Label: "desk.account.orders"}}
