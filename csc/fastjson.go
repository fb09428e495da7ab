package csc

import (
	"encoding/json"
	"strconv"
)

// The hot path of the CSC API is signatures/signHash: a flat JSON object
// with a handful of short strings and an array of up to a thousand base64
// hashes, answered by an array of as many base64 signatures. encoding/json
// spends more on reflection and copies there than the rest of the handler
// does, so both ends have a fast path for that one shape, written to be
// obviously conservative:
//
//   - the decoder accepts only what it is sure about (the exact field names,
//     each at most once, string values of printable ASCII with no escape,
//     and for the array fields arrays of such strings) and answers "not
//     mine" for everything else, which then goes to encoding/json. It never
//     reports an error itself, so every error message, and the meaning of
//     every unusual but valid body (escapes, other field spellings that
//     encoding/json folds, unknown fields, null), stays encoding/json's;
//   - FuzzFastSignHashDecoder checks that whatever the fast path accepts,
//     encoding/json decodes to exactly the same request.
//
// Base64 has no character that JSON must escape, so the encoders append
// the values between quotes as they are.

// flatScanner walks a JSON object of string and string-array values.
type flatScanner struct {
	s string
	i int
}

func (p *flatScanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c (after white space) and says whether it was there.
func (p *flatScanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainSpan reads a string of printable ASCII without escapes and returns
// where its contents start and end in the input.
func (p *flatScanner) plainSpan() (int, int, bool) {
	if !p.byte('"') {
		return 0, 0, false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return start, p.i - 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return 0, 0, false
		}
		p.i++
	}
	return 0, 0, false
}

// plainString is plainSpan as a substring of the input (no copy).
func (p *flatScanner) plainString() (string, bool) {
	start, end, ok := p.plainSpan()
	return p.s[start:end], ok
}

// stringArray reads an array of plain strings and returns their spans,
// allocated once: a plain string holds no '"', so the number of '"' up to
// the first ']' is twice the number of entries when the array is well
// formed (which reading it then checks).
func (p *flatScanner) stringArray() ([][2]int, bool) {
	if !p.byte('[') {
		return nil, false
	}
	n := 0
	for j := p.i; j < len(p.s) && p.s[j] != ']'; j++ {
		if p.s[j] == '"' {
			n++
		}
	}
	out := make([][2]int, 0, n/2)
	if p.byte(']') {
		return out, true
	}
	for {
		start, end, ok := p.plainSpan()
		if !ok {
			return nil, false
		}
		out = append(out, [2]int{start, end})
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// object reads {"key": value, ...} to the end of the input, calling field
// for each key with the scanner placed before its value; field reads the
// value and says whether it could. Trailing white space is allowed,
// anything else after the object is not.
func (p *flatScanner) object(field func(key string) bool) bool {
	if !p.byte('{') {
		return false
	}
	if !p.byte('}') {
		for {
			key, ok := p.plainString()
			if !ok || !p.byte(':') || !field(key) {
				return false
			}
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return false
			}
		}
	}
	p.space()
	return p.i == len(p.s)
}

// decodeSignHashFast decodes the usual signatures/signHash body into req.
// false means "not this fast path's to decide": req is then left for
// encoding/json to fill from scratch.
func decodeSignHashFast(body string, req *SignaturesSignHashRequest) bool {
	p := flatScanner{s: body}
	var seen uint8
	once := func(bit uint8) bool {
		if seen&bit != 0 {
			return false // a repeated field: encoding/json's rule (the last wins) applies
		}
		seen |= bit
		return true
	}
	str := func(bit uint8, dst *string) bool {
		if !once(bit) {
			return false
		}
		v, ok := p.plainString()
		*dst = v
		return ok
	}
	ok := p.object(func(key string) bool {
		switch key {
		case "credentialID":
			return str(1<<0, &req.CredentialID)
		case "SAD":
			return str(1<<1, &req.SAD)
		case "hashAlgorithmOID":
			return str(1<<2, &req.HashAlgorithmOID)
		case "signAlgo":
			return str(1<<3, &req.SignAlgo)
		case "signAlgoParams":
			return str(1<<4, &req.SignAlgoParams)
		case "operationMode":
			return str(1<<5, &req.OperationMode)
		case "clientData":
			return str(1<<6, &req.ClientData)
		case "hashes":
			if !once(1 << 7) {
				return false
			}
			spans, ok := p.stringArray()
			if !ok {
				return false
			}
			req.Hashes = make([]string, len(spans))
			for i, sp := range spans {
				req.Hashes[i] = body[sp[0]:sp[1]]
			}
			return true
		}
		return false // unknown or differently spelt: encoding/json decides
	})
	if !ok {
		*req = SignaturesSignHashRequest{}
	}
	return ok
}

// decodeSignatureList decodes the usual signatures/signHash answer,
// {"signatures": ["base64", ...]}, into one backing array. false means the
// answer has another shape (or a bad value), for encoding/json to judge.
func decodeSignatureList(body []byte) ([][]byte, bool) {
	p := flatScanner{s: string(body)}
	var list [][2]int
	seen := false
	ok := p.object(func(key string) bool {
		if key != "signatures" || seen {
			return false
		}
		seen = true
		var ok bool
		list, ok = p.stringArray()
		return ok
	})
	if !ok || !seen {
		return nil, false
	}
	size := 0
	for _, sp := range list {
		size += b64.DecodedLen(sp[1] - sp[0])
	}
	arena := make([]byte, size)
	out := make([][]byte, len(list))
	for i, sp := range list {
		n, err := b64.Decode(arena, body[sp[0]:sp[1]])
		if err != nil {
			return nil, false
		}
		out[i], arena = arena[:n:n], arena[n:]
	}
	return out, true
}

// appendSignatureList appends {"signatures":["base64",...]} and a newline.
func appendSignatureList(dst []byte, sigs [][]byte) []byte {
	dst = append(dst, `{"signatures":`...)
	dst = appendBase64Array(dst, sigs)
	return append(dst, "}\n"...)
}

// signatureListSize is the exact length appendSignatureList writes.
func signatureListSize(sigs [][]byte) int {
	return len(`{"signatures":`) + base64ArraySize(sigs) + len("}\n")
}

// appendBase64Array appends ["base64",...]: base64 needs no JSON escape.
func appendBase64Array(dst []byte, items [][]byte) []byte {
	dst = append(dst, '[')
	for i, b := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = b64.AppendEncode(dst, b)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// base64ArraySize is the exact length appendBase64Array writes.
func base64ArraySize(items [][]byte) int {
	n := len("[]")
	for i, b := range items {
		n += b64.EncodedLen(len(b)) + len(`""`)
		if i > 0 {
			n++ // the comma
		}
	}
	return n
}

// appendSignHashRequest appends the JSON of a signatures/signHash request
// with the hashes encoded straight from bytes; the short string fields go
// through appendJSONString.
func appendSignHashRequest(dst []byte, credentialID, sad, hashAlgorithmOID, signAlgo string, params []byte, hashes [][]byte) []byte {
	dst = append(dst, `{"credentialID":`...)
	dst = appendJSONString(dst, credentialID)
	dst = append(dst, `,"SAD":`...)
	dst = appendJSONString(dst, sad)
	dst = append(dst, `,"hashes":`...)
	dst = appendBase64Array(dst, hashes)
	if hashAlgorithmOID != "" {
		dst = append(dst, `,"hashAlgorithmOID":`...)
		dst = appendJSONString(dst, hashAlgorithmOID)
	}
	dst = append(dst, `,"signAlgo":`...)
	dst = appendJSONString(dst, signAlgo)
	if len(params) > 0 {
		dst = append(dst, `,"signAlgoParams":"`...)
		dst = b64.AppendEncode(dst, params)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string: plain printable ASCII as it
// is, anything else as encoding/json writes it.
func appendJSONString(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string; keep the output valid JSON anyway
		return strconv.AppendQuote(dst, s)
	}
	return append(dst, b...)
}
