package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
)

// IssueRequest is the JSON body of POST /api/v1/certificates.
type IssueRequest struct {
	// Profile names the certificate profile, e.g. "tls-server".
	Profile string `json:"profile"`
	// CA names the issuing CA; empty uses the CA configured for the profile.
	CA string `json:"ca,omitempty"`
	// CSR is a PKCS#10 request in PEM, or its DER in base64.
	CSR string `json:"csr"`
}

// maxNameLength bounds profile and CA names; real ones are short slugs, and
// a bound keeps error messages that quote them short too.
const maxNameLength = 64

// checkJSONContentType refuses bodies that do not say they are JSON, so that
// a form post or a file upload is not half-understood.
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return selo.Errorf(EUNSUPPORTEDMEDIA, "the request body must be JSON: set Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return selo.Errorf(EUNSUPPORTEDMEDIA, "the request body must be JSON (Content-Type: application/json), not %q", truncate(ct, 64))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return selo.Errorf(EUNSUPPORTEDMEDIA, "the request body must be UTF-8 JSON, not charset %q", truncate(cs, 32))
	}
	return nil
}

// decodeJSON reads exactly one JSON value from body into v, refusing unknown
// fields and trailing data, and names the problem in an EINVALID (or
// ETOOLARGE, when body is an http.MaxBytesReader that ran out) error. Strict
// decoding means a misspelt field is an error rather than silently ignored.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// A second value, or garbage after the first, is a client bug worth
	// reporting: the client may believe the server read it.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
		return nil
	case err == nil:
		return selo.Errorf(selo.EINVALID, "the request body must hold exactly one JSON value; found more after offset %d", dec.InputOffset()-int64(len(extra)))
	default:
		if e := jsonError(err); selo.ErrorCode(e) == selo.ETOOLARGE {
			return e
		}
		return selo.Errorf(selo.EINVALID, "the request body must hold exactly one JSON value; found trailing data after offset %d", dec.InputOffset())
	}
}

// jsonError turns an encoding/json error into an application error whose
// message says what is wrong and where, without echoing the body.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return selo.Errorf(selo.ETOOLARGE, "the request body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return selo.Errorf(selo.EINVALID, "the request body is empty; it must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return selo.Errorf(selo.EINVALID, "the request body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return selo.Errorf(selo.EINVALID, "the request body is not valid JSON at offset %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		got, _, _ := strings.Cut(typ.Value, " ") // "number 1.5" names the literal too
		if typ.Field == "" {
			return selo.Errorf(selo.EINVALID, "the request body must be a JSON object, not %s", jsonTypeName(got))
		}
		return selo.Errorf(selo.EINVALID, "field %q must be %s, not %s", truncate(typ.Field, maxNameLength), jsonTypeName(typ.Type.Kind().String()), jsonTypeName(got))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this one; its message is stable.
		return selo.Errorf(selo.EINVALID, "unknown field %s in the request body", truncate(strings.TrimPrefix(err.Error(), "json: unknown field "), maxNameLength))
	default:
		return selo.Errorf(selo.EINVALID, "the request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "struct", "map", "object":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// decodeIssueRequest reads and checks the body of POST /api/v1/certificates.
// It returns the CSR as bytes for authority.IssueRequest. Every failure is an
// application error (EINVALID or ETOOLARGE) with a message naming the problem;
// it never panics, whatever body holds.
func decodeIssueRequest(body io.Reader) (*IssueRequest, []byte, error) {
	var req IssueRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, nil, err
	}
	switch {
	case req.Profile == "":
		return nil, nil, selo.Errorf(selo.EINVALID, `field "profile" is required`)
	case len(req.Profile) > maxNameLength || !utf8.ValidString(req.Profile):
		return nil, nil, selo.Errorf(selo.EINVALID, `field "profile" is not a profile name`)
	case len(req.CA) > maxNameLength || !utf8.ValidString(req.CA):
		return nil, nil, selo.Errorf(selo.EINVALID, `field "ca" is not a CA ID`)
	case strings.TrimSpace(req.CSR) == "":
		return nil, nil, selo.Errorf(selo.EINVALID, `field "csr" is required: a PKCS#10 request in PEM`)
	}
	csr := []byte(req.CSR)
	if !strings.Contains(req.CSR, "-----BEGIN") {
		// Not PEM: accept base64 DER, which is what some clients produce
		// when they strip the armour; the parser judges the content.
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(req.CSR), ""))
		if err != nil {
			return nil, nil, selo.Errorf(selo.EINVALID, `field "csr" must be a PKCS#10 request in PEM ("-----BEGIN CERTIFICATE REQUEST-----") or base64 DER`)
		}
		csr = der
	}
	return &req, csr, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...", strings.ToValidUTF8(s[:n], ""))
}
