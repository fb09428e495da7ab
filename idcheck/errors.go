// Package idcheck runs the machine checks of a remote identity validation:
// it parses ICAO 9303 machine-readable zones (TD1 ID cards, TD2 cards, TD3
// passports) and verifies every check digit, then checks the document
// against Selo's accepted-documents catalogue, the data the holder typed and
// the order's holder. What a machine cannot judge (the photo, the live video)
// is listed for an officer.
package idcheck

import (
	"errors"
	"fmt"
)

// Classes of refusal. Every refusal returned by this package is an *Error
// whose Kind is one of these, so callers tell them apart with errors.Is and
// show the holder the Error's message.
var (
	ErrMalformed       = errors.New("malformed MRZ")
	ErrCheckDigit      = errors.New("wrong MRZ check digit")
	ErrCountry         = errors.New("issuing country not accepted")
	ErrExpired         = errors.New("document expired")
	ErrTypeNotAccepted = errors.New("document type not accepted")
	ErrResidencePermit = errors.New("residence permit")
	ErrCopy            = errors.New("copy of a document")
	ErrMismatch        = errors.New("MRZ does not match the typed data")
	ErrNameMismatch    = errors.New("name does not match the order's holder")
	ErrMissing         = errors.New("required data missing")
)

// Error is a refusal: what is wrong (Kind), where (Field, such as
// "document number" or "line 2"), and a message the holder may read. It
// never holds a secret: everything in it came from the holder's own
// submission or from the catalogue.
type Error struct {
	Kind    error
	Field   string
	Message string
}

// Error returns the message for the holder.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the refusal class, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func refuse(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}
