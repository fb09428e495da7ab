package cscserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/csc"
)

// signHashBodies are request bodies of many shapes: the fast path must
// take the usual ones and leave every other one to encoding/json.
var signHashBodies = []struct {
	body string
	fast bool
}{
	{`{"credentialID":"c1","SAD":"s","hashes":["AAAA","BBBB"],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}`, true},
	{" {\n\t\"credentialID\" : \"c1\" ,\r\n \"hashes\" : [ \"AAAA\" , \"BBBB\" ] } \n", true},
	{`{"hashes":[]}`, true},
	{`{}`, true},
	{`{"credentialID":"c1","clientData":"x","operationMode":"S","signAlgoParams":"AA=="}`, true},
	{``, false},                                          // empty: decodeJSON reads it as {}
	{`{"credentialid":"c1"}`, false},                     // encoding/json folds case
	{`{"credentialID":"c\u0031"}`, false},                // an escape
	{`{"credentialID":"c1","credentialID":"c2"}`, false}, // a repeated field: the last wins there
	{`{"credentialID":"caf\u00e9"}`, false},
	{"{\"credentialID\":\"caf\xc3\xa9\"}", false}, // non-ASCII
	{"{\"credentialID\":\"\xff\"}", false},        // invalid UTF-8: replaced there
	{`{"credentialID":null}`, false},
	{`{"hashes":null}`, false},
	{`{"hashes":["AAAA",]}`, false},
	{`{"hashes":"AAAA"}`, false},
	{`{"numSignatures":2}`, false}, // an unknown field: tolerated there
	{`{"credentialID":"c1"} {}`, false},
	{`{"credentialID":"c1"`, false},
	{`[]`, false},
	{`{"hashes":["A]A"]}`, true},
}

func TestDecodeSignHashFastAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range signHashBodies {
		var fast csc.SignaturesSignHashRequest
		got := decodeSignHashFast(tc.body, &fast)
		if got != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.body, got, tc.fast)
		}
		if !got {
			if !reflect.DeepEqual(fast, csc.SignaturesSignHashRequest{}) {
				t.Errorf("%q: a refused body left fields set: %+v", tc.body, fast)
			}
			continue
		}
		var slow csc.SignaturesSignHashRequest
		if e := decodeJSON([]byte(tc.body), &slow); e != nil {
			t.Errorf("%q: fast path accepted what encoding/json refuses: %v", tc.body, e)
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q: fast %+v, encoding/json %+v", tc.body, fast, slow)
		}
	}
}

// FuzzFastSignHashDecoder is the differential check of the fast path:
// whatever it accepts, encoding/json accepts too and decodes to the same
// request; whatever it leaves, it leaves untouched.
func FuzzFastSignHashDecoder(f *testing.F) {
	for _, tc := range signHashBodies {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fast csc.SignaturesSignHashRequest
		if !decodeSignHashFast(body, &fast) {
			if !reflect.DeepEqual(fast, csc.SignaturesSignHashRequest{}) {
				t.Fatalf("%q: a refused body left fields set: %+v", body, fast)
			}
			return
		}
		var slow csc.SignaturesSignHashRequest
		if e := decodeJSON([]byte(body), &slow); e != nil {
			t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", body, e)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, slow)
		}
	})
}

// FuzzSignHashWire round-trips the handler's hand-written answer encoder
// through encoding/json, and checks the fast request decoder against
// encoding/json on requests as the client writes them (the client's end:
// csc.FuzzSignHashWire).
func FuzzSignHashWire(f *testing.F) {
	f.Add("cred-1", "sad", "2.16.840.1.101.3.4.2.1", "1.2.840.10045.4.3.2", []byte{}, []byte("0123456789abcdef0123456789abcdef"), 3)
	f.Add("c\"<\u2028>\\", "s\x00\xff", "", "x", []byte{1, 2}, []byte{}, 0)
	f.Fuzz(func(t *testing.T, cred, sad, hashOID, signAlgo string, params, seed []byte, n int) {
		n = max(0, min(n, 50))
		items := make([][]byte, n)
		for i := range items {
			items[i] = append([]byte{byte(i)}, seed[:min(len(seed), i*7%65)]...)
		}
		reqJSON, err := json.Marshal(csc.SignaturesSignHashRequest{CredentialID: cred, SAD: sad, HashAlgorithmOID: hashOID,
			SignAlgo: signAlgo, SignAlgoParams: b64.EncodeToString(params), Hashes: encodeAll(items)})
		if err != nil {
			t.Fatal(err)
		}
		var req csc.SignaturesSignHashRequest
		if err := json.Unmarshal(reqJSON, &req); err != nil {
			t.Fatalf("request %q is not JSON: %v", reqJSON, err)
		}
		var fast csc.SignaturesSignHashRequest
		if decodeSignHashFast(string(reqJSON), &fast) && !reflect.DeepEqual(fast, req) {
			t.Fatalf("request %q: fast %+v, encoding/json %+v", reqJSON, fast, req)
		}

		answer := appendSignatureList(make([]byte, 0, signatureListSize(items)), items)
		if len(answer) != signatureListSize(items) {
			t.Fatalf("answer of %d bytes, size said %d", len(answer), signatureListSize(items))
		}
		var resp csc.SignaturesSignHashResponse
		if err := json.Unmarshal(answer, &resp); err != nil || len(resp.Signatures) != n {
			t.Fatalf("answer %q: %v, %d signatures", answer, err, len(resp.Signatures))
		}
		for i := range resp.Signatures {
			if resp.Signatures[i] != b64.EncodeToString(items[i]) {
				t.Fatalf("signature %d: %q", i, resp.Signatures[i])
			}
		}
	})
}

func TestDecodeHashesSharesNoCapacity(t *testing.T) {
	in := []string{b64.EncodeToString(bytes.Repeat([]byte{1}, 32)), b64.EncodeToString(bytes.Repeat([]byte{2}, 32))}
	out, e := decodeHashes("hashes", in, csc.OIDSHA256, 10)
	if e != nil {
		t.Fatal(e)
	}
	_ = append(out[0], 9) // must not write into out[1]
	if out[1][0] != 2 || len(out[0]) != 32 || cap(out[0]) != 32 {
		t.Fatalf("hash 0 len %d cap %d, hash 1 starts %d", len(out[0]), cap(out[0]), out[1][0])
	}
	long := strings.Repeat("QUFB", 40) // 160 characters: past the stack copy
	if _, e := decodeHashes("hashes", []string{long}, csc.OIDSHA256, 10); e == nil || !strings.Contains(e.Description, "120 bytes") {
		t.Fatalf("a 120-byte entry: %v", e)
	}
	if _, e := decodeHashes("hashes", []string{"AAB="}, csc.OIDSHA256, 10); e == nil || !strings.Contains(e.Description, "not base64") {
		t.Fatalf("stray bits: %v", e)
	}
}

// TestReadBodyHoldsToContentLength: a body read by its announced length is
// whole or an error, never a silently truncated request.
func TestReadBodyHoldsToContentLength(t *testing.T) {
	req := func(body string, length int64) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/signatures/signHash", strings.NewReader(body))
		r.ContentLength = length
		return r
	}
	if b, e := readBody(req(`{"SAD":"s"}`, 11), 100); e != nil || string(b) != `{"SAD":"s"}` {
		t.Fatalf("exact length: %q, %v", b, e)
	}
	if b, e := readBody(req(`{"SAD":"s"}`, -1), 100); e != nil || string(b) != `{"SAD":"s"}` {
		t.Fatalf("unknown length: %q, %v", b, e)
	}
	if b, e := readBody(req(`{"SAD":"s"}`, 20), 100); e == nil {
		t.Fatalf("a body shorter than its Content-Length was read as %q", b)
	}
	if _, e := readBody(req(`{"SAD":"s"}`, 200), 100); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("an announced length over the limit: %v", e)
	}
	if _, e := readBody(req(strings.Repeat(" ", 150), -1), 100); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("an unannounced body over the limit: %v", e)
	}
}

// encodeAll is each item in base64, as the client sends hashes.
func encodeAll(items [][]byte) []string {
	out := make([]string, len(items))
	for i, b := range items {
		out[i] = b64.EncodeToString(b)
	}
	return out
}
