package csc

import (
	"encoding/json"
	"strconv"

	"github.com/selo-qtsp/selo/csc/internal/flatjson"
)

// The hot path of the CSC API is signatures/signHash: a flat JSON object
// with a handful of short strings and an array of up to a thousand base64
// hashes, answered by an array of as many base64 signatures. encoding/json
// spends more on reflection and copies there than the rest of the handler
// does, so both ends have a fast path for that one shape, written to be
// obviously conservative. The scanner and the base64 array encoder are
// csc/internal/flatjson, shared with the server handlers; this file is the
// client's end (the request encoder, the answer decoder) and
// csc/cscserver/fastjson.go the server's:
//
//   - a decoder accepts only what it is sure about (the exact field names,
//     each at most once, string values of printable ASCII with no escape,
//     and for the array fields arrays of such strings) and answers "not
//     mine" for everything else, which then goes to encoding/json. It never
//     reports an error itself, so every error message, and the meaning of
//     every unusual but valid body (escapes, other field spellings that
//     encoding/json folds, unknown fields, null), stays encoding/json's;
//   - fuzz tests (FuzzSignatureListDecoder here, FuzzFastSignHashDecoder
//     in cscserver) check that whatever a fast path accepts, encoding/json
//     decodes to exactly the same value.
//
// Base64 has no character that JSON must escape, so the encoders append
// the values between quotes as they are.

// decodeSignatureList decodes the usual signatures/signHash answer,
// {"signatures": ["base64", ...]}, into one backing array. false means the
// answer has another shape (or a bad value), for encoding/json to judge.
func decodeSignatureList(body []byte) ([][]byte, bool) {
	p := flatjson.NewScanner(string(body))
	var list [][2]int
	seen := false
	ok := p.Object(func(key string) bool {
		if key != "signatures" || seen {
			return false
		}
		seen = true
		var ok bool
		list, ok = p.StringArray()
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

// appendSignHashRequest appends the JSON of a signatures/signHash request
// with the hashes encoded straight from bytes; the short string fields go
// through appendJSONString.
func appendSignHashRequest(dst []byte, credentialID, sad, hashAlgorithmOID, signAlgo string, params []byte, hashes [][]byte) []byte {
	dst = append(dst, `{"credentialID":`...)
	dst = appendJSONString(dst, credentialID)
	dst = append(dst, `,"SAD":`...)
	dst = appendJSONString(dst, sad)
	dst = append(dst, `,"hashes":`...)
	dst = flatjson.AppendBase64Array(dst, hashes)
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
