package cscserver

import (
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/csc/internal/flatjson"
)

// The handler's end of signatures/signHash's fast path: the request decoder
// and the answer encoder, over csc/internal/flatjson. The rules that keep
// it conservative are in csc/fastjson.go: the decoder accepts only what it
// is sure about and leaves every other body, and every error message, to
// encoding/json; FuzzFastSignHashDecoder checks it against encoding/json.

// decodeSignHashFast decodes the usual signatures/signHash body into req.
// false means "not this fast path's to decide": req is then left for
// encoding/json to fill from scratch.
func decodeSignHashFast(body string, req *csc.SignaturesSignHashRequest) bool {
	p := flatjson.NewScanner(body)
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
		v, ok := p.PlainString()
		*dst = v
		return ok
	}
	ok := p.Object(func(key string) bool {
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
			spans, ok := p.StringArray()
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
		*req = csc.SignaturesSignHashRequest{}
	}
	return ok
}

// appendSignatureList appends {"signatures":["base64",...]} and a newline.
func appendSignatureList(dst []byte, sigs [][]byte) []byte {
	dst = append(dst, `{"signatures":`...)
	dst = flatjson.AppendBase64Array(dst, sigs)
	return append(dst, "}\n"...)
}

// signatureListSize is the exact length appendSignatureList writes.
func signatureListSize(sigs [][]byte) int {
	return len(`{"signatures":`) + flatjson.Base64ArraySize(sigs) + len("}\n")
}
