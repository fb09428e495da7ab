package registration

import (
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/idcheck"
)

// CatalogueChecker is the production DocumentChecker: the machine checks of
// idcheck against an accepted-documents catalogue. Every refusal becomes an
// EINVALID error whose message tells the holder what is wrong.
type CatalogueChecker struct {
	Catalogue *idcheck.Catalogue
}

// NewCatalogueChecker returns a checker over the catalogue file at path, or
// over the catalogue shipped with Selo when path is empty.
func NewCatalogueChecker(path string) (*CatalogueChecker, error) {
	var (
		c   *idcheck.Catalogue
		err error
	)
	if path == "" {
		c, err = idcheck.DefaultCatalogue()
	} else {
		c, err = idcheck.LoadCatalogue(path)
	}
	if err != nil {
		return nil, err
	}
	return &CatalogueChecker{Catalogue: c}, nil
}

// CheckDocument implements DocumentChecker. The verdict's MRZ is the parsed
// *idcheck.MRZ.
func (c *CatalogueChecker) CheckDocument(sub IdentitySubmission, holder selo.Holder, now time.Time) (*DocumentVerdict, error) {
	if c == nil || c.Catalogue == nil {
		return nil, fmt.Errorf("identity check: no document catalogue")
	}
	v, err := c.Catalogue.Check(idcheck.Submission{
		DocumentType: sub.DocumentType, Country: sub.Country, DocumentNumber: sub.DocumentNumber,
		ExpiryDate: sub.ExpiryDate, MRZ: sub.MRZ, Copy: sub.Copy,
	}, idcheck.Holder{Surname: holder.Surname, GivenNames: holder.GivenNames, BirthDate: holder.BirthDate}, now)
	var refusal *idcheck.Error
	switch {
	case errors.As(err, &refusal):
		return nil, selo.Errorf(selo.EINVALID, "%s", refusal.Message)
	case err != nil:
		return nil, fmt.Errorf("identity check: %w", err)
	}
	return &DocumentVerdict{MRZ: v.MRZ, Pending: v.Pending}, nil
}
