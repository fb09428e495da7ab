package cscserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/selo-qtsp/selo/csc"
)

// decodeBody reads one JSON object from r's body (at most limit bytes) into
// v. An empty body is an empty object: several CSC requests have no
// required field. Unknown fields are tolerated, trailing data is not.
// Every failure is an invalid_request (413 when the body is too large).
func decodeBody(r *http.Request, limit int64, v any) *csc.Error {
	body, e := readBody(r, limit)
	if e != nil {
		return e
	}
	return decodeJSON(body, v)
}

// readBody reads r's body, at most limit bytes, after checking that it is
// JSON (or untyped). A body that announces its length is read into one
// buffer of that size.
func readBody(r *http.Request, limit int64) ([]byte, *csc.Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			e := newError(csc.ErrInvalidRequest, "the request body must be JSON (Content-Type: application/json)")
			e.Status = http.StatusUnsupportedMediaType
			return nil, e
		}
	}
	tooLarge := func() *csc.Error {
		e := newError(csc.ErrInvalidRequest, "the request body is larger than %d bytes", limit)
		e.Status = http.StatusRequestEntityTooLarge
		return e
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength > 0 {
		// The announced length, and one byte more to catch a body that
		// says less than it sends (net/http stops at the length anyway).
		body = make([]byte, r.ContentLength+1)
		var n int
		n, err = io.ReadFull(r.Body, body)
		body = body[:n]
		if (err == io.ErrUnexpectedEOF || err == io.EOF) && int64(n) >= r.ContentLength {
			err = nil // the whole announced body, and nothing more
		} else if err == nil || err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.ErrUnexpectedEOF // shorter than announced
		}
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	}
	if err != nil {
		return nil, newError(csc.ErrInvalidRequest, "cannot read the request body")
	}
	if int64(len(body)) > limit {
		return nil, tooLarge()
	}
	return body, nil
}

// decodeJSON is decodeBody's parser, apart so that it can be fuzzed.
func decodeJSON(body []byte, v any) *csc.Error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return newError(csc.ErrInvalidRequest, "the request body is not valid JSON at offset %d", syntax.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return newError(csc.ErrInvalidRequest, "Invalid parameter %s: wrong type", truncate(typ.Field, 64))
		case errors.As(err, &typ):
			return newError(csc.ErrInvalidRequest, "the request body must be a JSON object")
		default:
			return newError(csc.ErrInvalidRequest, "the request body is not valid JSON")
		}
	}
	if dec.More() {
		return newError(csc.ErrInvalidRequest, "the request body must hold exactly one JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return newError(csc.ErrInvalidRequest, "the request body must hold exactly one JSON object")
	}
	return nil
}

// strictBase64 is standard base64 with padding, refusing stray bits and
// newlines, so that one value has exactly one encoding.
var strictBase64 = base64.StdEncoding.Strict()

// decodeHashes decodes base64 hashes and checks their count and length
// against hashAlg (an OID csc.OIDHash knows). name is the parameter name for
// error messages.
func decodeHashes(name string, in []string, hashAlg string, maxHashes int) ([][]byte, *csc.Error) {
	if len(in) == 0 {
		return nil, newError(csc.ErrInvalidRequest, "Missing (or invalid type) array parameter %s", name)
	}
	if len(in) > maxHashes {
		e := newError(csc.ErrInvalidRequest, "Invalid parameter %s: %d hashes, at most %d in one request", name, len(in), maxHashes)
		e.Status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	h := csc.OIDHash(hashAlg)
	if h == 0 {
		return nil, newError(csc.ErrInvalidRequest, "Invalid parameter hashAlgorithmOID: want SHA-256, SHA-384 or SHA-512 (%s, %s, %s)", csc.OIDSHA256, csc.OIDSHA384, csc.OIDSHA512)
	}
	// One backing array for all the hashes; each entry gets its own
	// capacity so that no append can spill into the next.
	size := 0
	for _, s := range in {
		size += strictBase64.DecodedLen(len(s))
	}
	arena := make([]byte, size)
	out := make([][]byte, len(in))
	var buf [128]byte // base64 of a SHA-512 hash is 88 characters
	for i, s := range in {
		var n int
		var err error
		if len(s) <= len(buf) {
			// Decode from a copy on the stack: []byte(s) would allocate.
			n, err = strictBase64.Decode(arena, buf[:copy(buf[:], s)])
		} else {
			var b []byte
			b, err = strictBase64.DecodeString(s)
			n = copy(arena, b) // too long for any hash: refused below
		}
		if err != nil {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter %s: entry %d is not base64", name, i)
		}
		if n != h.Size() {
			return nil, newError(csc.ErrInvalidRequest, "Invalid parameter %s: entry %d has %d bytes; a %s hash has %d", name, i, n, h, h.Size())
		}
		out[i], arena = arena[:n:n], arena[n:]
	}
	return out, nil
}

// truncate shortens s to about n bytes for an error message, on a UTF-8
// boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
