package registration

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg" // image.DecodeConfig reads JPEG headers
	_ "image/png"  // and PNG headers
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
	"github.com/selo-qtsp/selo/worker"
)

// Limits of the photos of an identity check.
const (
	// DefaultEvidenceRetention keeps photos 90 days after they were sent:
	// long enough for an officer to decide and for a complaint about the
	// decision, and no longer.
	DefaultEvidenceRetention = 90 * 24 * time.Hour
	// DefaultMaxPhotoSize bounds each photo: a phone camera's JPEG of an
	// ID card is well under it.
	DefaultMaxPhotoSize = 5 << 20
	// MaxPhotoPixels bounds width × height, so that a small file cannot
	// claim a huge image for whoever decodes it later.
	MaxPhotoPixels = 40_000_000
	// evidencePurgeBatch is how many checks EvidenceTask reads at a time.
	evidencePurgeBatch = 100
)

// Photo is one image a holder sends with an identity check.
type Photo struct {
	Kind        selo.EvidenceKind
	ContentType string // sniffed from the bytes: "image/jpeg" or "image/png"
	Data        []byte
}

// HolderSubmission is an identity check as the holder's portal sends it:
// the document type chosen from the catalogue, the MRZ as typed (the
// issuing country, number and expiry are read from it), and the photos.
type HolderSubmission struct {
	DocumentType string
	MRZ          string
	Photos       []Photo
}

// SniffImage returns "image/jpeg" or "image/png" when data is one (its
// signature and a header that decodes), or EINVALID with what was found.
func SniffImage(data []byte, maxPixels int) (string, error) {
	var ct string
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		ct = "image/jpeg"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		ct = "image/png"
	default:
		return "", selo.Errorf(selo.EINVALID, "the photo is not a JPEG or PNG image")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "the photo is a damaged %s image", strings.TrimPrefix(ct, "image/"))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPixels/cfg.Height {
		return "", selo.Errorf(selo.EINVALID, "the photo is %d × %d pixels: at most %d pixels in all", cfg.Width, cfg.Height, maxPixels)
	}
	return ct, nil
}

// checkPhotos checks the photos of a submission: each kind once, the
// document's front and a selfie present, each a JPEG or PNG of at most
// MaxPhotoSize bytes. It sets each photo's ContentType.
func (s *Service) checkPhotos(photos []Photo) error {
	seen := map[selo.EvidenceKind]bool{}
	for i := range photos {
		p := &photos[i]
		switch {
		case !p.Kind.Valid():
			return selo.Errorf(selo.EINVALID, "unknown photo %q: send document-front, document-back and selfie", truncateText(string(p.Kind), 40))
		case seen[p.Kind]:
			return selo.Errorf(selo.EINVALID, "the %s photo was sent twice", p.Kind)
		case len(p.Data) == 0:
			return selo.Errorf(selo.EINVALID, "the %s photo is empty", p.Kind)
		case len(p.Data) > s.cfg.MaxPhotoSize:
			return selo.Errorf(selo.EINVALID, "the %s photo is %d bytes: at most %d", p.Kind, len(p.Data), s.cfg.MaxPhotoSize)
		}
		seen[p.Kind] = true
		ct, err := SniffImage(p.Data, MaxPhotoPixels)
		if err != nil {
			return selo.Errorf(selo.EINVALID, "%s: %s", p.Kind, selo.ErrorMessage(err))
		}
		p.ContentType = ct
	}
	switch {
	case !seen[selo.EvidenceDocumentFront]:
		return selo.Errorf(selo.EINVALID, "a photo of the document's front (the page with the MRZ of a passport) is needed")
	case !seen[selo.EvidenceSelfie]:
		return selo.Errorf(selo.EINVALID, "a selfie is needed, so that an officer can compare your face with the document's photo")
	}
	return nil
}

// sealPhotos seals each photo for the check.
func (s *Service) sealPhotos(checkID string, photos []Photo, now time.Time) ([]*selo.IdentityEvidence, error) {
	out := make([]*selo.IdentityEvidence, 0, len(photos))
	for _, p := range photos {
		sealed, err := s.cfg.Secrets.Seal(p.Data, selo.EvidenceAssociatedData(checkID, p.Kind))
		if err != nil {
			return nil, err
		}
		out = append(out, &selo.IdentityEvidence{CheckID: checkID, Kind: p.Kind, ContentType: p.ContentType, Size: len(p.Data),
			Sealed: sealed, CreatedAt: now, ExpiresAt: now.Add(s.cfg.EvidenceRetention)})
	}
	return out, nil
}

// Catalogue returns the accepted-documents catalogue the machine checks
// use, or nil when the desk was given another DocumentChecker.
func (s *Service) Catalogue() *idcheck.Catalogue {
	if c, ok := s.cfg.Documents.(*CatalogueChecker); ok {
		return c.Catalogue
	}
	return nil
}

// Retention returns how long identity photos are kept.
func (s *Service) Retention() time.Duration { return s.cfg.EvidenceRetention }

// MaxPhotoSize returns the largest photo accepted, in bytes.
func (s *Service) MaxPhotoSize() int { return s.cfg.MaxPhotoSize }

// HolderOrder returns the order with this ID when it belongs to the signed-in
// holder (its holder's e-mail is the account's). Any other order, existing
// or not, is ENOTFOUND with the same message, and the attempt is audited.
func (s *Service) HolderOrder(ctx context.Context, accountID, orderID string) (*selo.Order, error) {
	notFound := selo.Errorf(selo.ENOTFOUND, "no order %s in your account", truncateText(orderID, 64))
	acct, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	o, err := s.store.FindOrder(ctx, orderID)
	switch {
	case selo.ErrorCode(err) == selo.ENOTFOUND:
		return nil, notFound
	case err != nil:
		return nil, err
	case selo.NormalizeEmail(o.Holder.Email) != selo.NormalizeEmail(acct.Email):
		s.auditFailure(ctx, "account:"+acct.ID, "order.read", orderObject(o), selo.Errorf(selo.EFORBIDDEN, "the order belongs to another holder"))
		return nil, notFound
	}
	return o, nil
}

// HolderIdentityChecks returns the identity checks of the holder's order,
// oldest first.
func (s *Service) HolderIdentityChecks(ctx context.Context, accountID, orderID string) (*selo.Order, []*selo.IdentityCheck, error) {
	o, err := s.HolderOrder(ctx, accountID, orderID)
	if err != nil {
		return nil, nil, err
	}
	checks, err := s.store.ListIdentityChecks(ctx, selo.IdentityCheckFilter{OrderID: o.ID})
	return o, checks, err
}

// SubmitHolderIdentityCheck is the portal's identity check: the signed-in
// holder of the order sends the document type, the MRZ as typed and the
// photos (document front, back when the document has one, selfie). The
// photos are checked (kind, size, JPEG or PNG) before anything is recorded;
// a bad photo is EINVALID and counts no attempt. The MRZ then goes through
// the same machine checks as SubmitIdentityCheck, reading the issuing
// country, number and expiry from it; a check that passes joins the
// officers' queue with its photos sealed.
func (s *Service) SubmitHolderIdentityCheck(ctx context.Context, accountID, orderID string, sub HolderSubmission) (*selo.IdentityCheck, error) {
	o, err := s.HolderOrder(ctx, accountID, orderID)
	if err != nil {
		return nil, err
	}
	actor := "account:" + accountID
	if err := s.checkPhotos(sub.Photos); err != nil {
		s.auditFailure(ctx, actor, "identity.submit", orderObject(o), err)
		return nil, err
	}
	is := IdentitySubmission{DocumentType: sub.DocumentType, MRZ: sub.MRZ}
	var refusal error
	if m, err := idcheck.ParseMRZ(sub.MRZ, s.clock.Now()); err == nil {
		is.Country, is.DocumentNumber, is.ExpiryDate = m.IssuingState, m.DocumentNumber, m.ExpiryDate.Time()
	} else {
		var bad *idcheck.Error
		if !errors.As(err, &bad) {
			return nil, err
		}
		refusal = selo.Errorf(selo.EINVALID, "%s", bad.Message)
	}
	return s.submitCheck(ctx, actor, o, is, sub.Photos, refusal)
}

// HolderPhoto returns a photo of an identity check of the holder's own
// order; ENOTFOUND for anyone else's.
func (s *Service) HolderPhoto(ctx context.Context, accountID, checkID string, kind selo.EvidenceKind) (*Photo, error) {
	c, err := s.store.FindIdentityCheck(ctx, checkID)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, selo.Errorf(selo.ENOTFOUND, "no such photo in your account")
	} else if err != nil {
		return nil, err
	}
	if _, err := s.HolderOrder(ctx, accountID, c.OrderID); err != nil {
		if selo.ErrorCode(err) == selo.ENOTFOUND {
			return nil, selo.Errorf(selo.ENOTFOUND, "no such photo in your account")
		}
		return nil, err
	}
	return s.openPhoto(ctx, checkID, kind)
}

// IdentityCheckReview is what an officer sees of one identity check.
type IdentityCheckReview struct {
	Check  *selo.IdentityCheck
	Order  *selo.Order
	Photos []*selo.IdentityEvidence // sealed; their images come from OfficerPhoto
	// Document is the catalogue entry the MRZ matched (nil when refused or
	// without a catalogue); OfficerChecks is what the officer must judge.
	Document      *idcheck.Document
	OfficerChecks []string
}

// ReviewIdentityCheck returns one check with its order, its photos' list
// and the catalogue's rules for it. Role checks are the caller's: only
// officers and auditors reach it.
func (s *Service) ReviewIdentityCheck(ctx context.Context, checkID string) (*IdentityCheckReview, error) {
	c, err := s.store.FindIdentityCheck(ctx, checkID)
	if err != nil {
		return nil, err
	}
	o, err := s.store.FindOrder(ctx, c.OrderID)
	if err != nil {
		return nil, err
	}
	photos, err := s.store.ListIdentityEvidence(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	r := &IdentityCheckReview{Check: c, Order: o, Photos: photos, OfficerChecks: c.Pending}
	if cat := s.Catalogue(); cat != nil && c.MRZResult != "" {
		if m, err := idcheck.ParseMRZ(c.MRZ, c.SubmittedAt); err == nil {
			if d := cat.DocumentFor(m); d != nil {
				r.Document = d
			}
		}
	}
	return r, nil
}

// OfficerPhoto opens a photo of an identity check for an officer; every
// opening is audited (identity.photo.view), so who looked at a holder's
// face and document stays on record.
func (s *Service) OfficerPhoto(ctx context.Context, actor, checkID string, kind selo.EvidenceKind) (*Photo, error) {
	p, err := s.openPhoto(ctx, checkID, kind)
	if err != nil {
		return nil, err
	}
	entry := s.audit(actor, "identity.photo.view", "identity_check/"+checkID, selo.OutcomeSuccess, map[string]string{"kind": string(kind)})
	if err := s.store.AppendAudit(ctx, entry); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Service) openPhoto(ctx context.Context, checkID string, kind selo.EvidenceKind) (*Photo, error) {
	if !kind.Valid() {
		return nil, selo.Errorf(selo.ENOTFOUND, "no photo %q", truncateText(string(kind), 40))
	}
	if s.cfg.Secrets == nil {
		return nil, selo.Errorf(selo.ENOTIMPLEMENTED, "identity photos need the master key: this server has none")
	}
	e, err := s.store.FindIdentityEvidence(ctx, checkID, kind)
	if err != nil {
		return nil, err
	}
	if !e.ExpiresAt.After(s.clock.Now()) {
		return nil, selo.Errorf(selo.ENOTFOUND, "the %s photo of identity check %s has passed its retention and is deleted", kind, checkID)
	}
	data, err := s.cfg.Secrets.Open(e.Sealed, selo.EvidenceAssociatedData(checkID, kind))
	if err != nil {
		return nil, err
	}
	return &Photo{Kind: kind, ContentType: e.ContentType, Data: data}, nil
}

// PurgeExpiredEvidence deletes the photos whose retention has passed, one
// check at a time, each deletion audited (identity.photo.delete). It
// returns how many checks lost their photos.
func (s *Service) PurgeExpiredEvidence(ctx context.Context) (int, error) {
	done := 0
	for {
		ids, err := s.store.ExpiredIdentityEvidence(ctx, s.clock.Now(), evidencePurgeBatch)
		if err != nil || len(ids) == 0 {
			return done, err
		}
		for _, id := range ids {
			entry := s.audit("system", "identity.photo.delete", "identity_check/"+id, selo.OutcomeSuccess,
				map[string]string{"why": "retention", "retention": s.cfg.EvidenceRetention.String()})
			if _, err := s.store.DeleteIdentityEvidence(ctx, id, entry); err != nil {
				return done, err
			}
			done++
		}
		if len(ids) < evidencePurgeBatch {
			return done, nil
		}
	}
}

// EvidenceTask is PurgeExpiredEvidence as a task of the worker role.
func (s *Service) EvidenceTask() worker.Task {
	return worker.Task{Name: "identity photo retention", Run: func(ctx context.Context) error {
		n, err := s.PurgeExpiredEvidence(ctx)
		if n > 0 {
			s.log.Info("deleted identity photos past their retention", "checks", n)
		}
		return err
	}}
}
