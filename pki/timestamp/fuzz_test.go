package timestamp_test

import (
	"crypto"
	"math/big"
	"testing"

	"github.com/selo-qtsp/selo/pki/timestamp"
)

// FuzzParseTimeStampReq feeds arbitrary bytes to the request parser that
// POST /tsa runs on every body: no panic, and a request it accepts encodes
// back to a request it accepts with the same fields.
func FuzzParseTimeStampReq(f *testing.F) {
	for _, r := range []*timestamp.Request{
		{Hash: crypto.SHA256, HashedMessage: make([]byte, 32)},
		{Hash: crypto.SHA512, HashedMessage: make([]byte, 64), Nonce: big.NewInt(42), CertReq: true},
	} {
		der, _ := r.Marshal()
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := timestamp.ParseRequest(der)
		if err != nil {
			if _, ok := err.(*timestamp.RequestError); !ok {
				t.Fatalf("error %T is not a *RequestError", err)
			}
			return
		}
		if req.Extensions {
			return // not re-encoded
		}
		again, err := req.Marshal()
		if err != nil {
			t.Fatalf("marshal accepted request: %v", err)
		}
		back, err := timestamp.ParseRequest(again)
		if err != nil || back.Hash != req.Hash || string(back.HashedMessage) != string(req.HashedMessage) || back.CertReq != req.CertReq {
			t.Fatalf("round trip changed the request: %v", err)
		}
	})
}
