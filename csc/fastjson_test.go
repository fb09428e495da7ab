package csc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
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
		var fast SignaturesSignHashRequest
		got := decodeSignHashFast(tc.body, &fast)
		if got != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.body, got, tc.fast)
		}
		if !got {
			if !reflect.DeepEqual(fast, SignaturesSignHashRequest{}) {
				t.Errorf("%q: a refused body left fields set: %+v", tc.body, fast)
			}
			continue
		}
		var slow SignaturesSignHashRequest
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
		var fast SignaturesSignHashRequest
		if !decodeSignHashFast(body, &fast) {
			if !reflect.DeepEqual(fast, SignaturesSignHashRequest{}) {
				t.Fatalf("%q: a refused body left fields set: %+v", body, fast)
			}
			return
		}
		var slow SignaturesSignHashRequest
		if e := decodeJSON([]byte(body), &slow); e != nil {
			t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", body, e)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, slow)
		}
	})
}

// FuzzSignHashWire round-trips both hand-written encoders through
// encoding/json, and checks the client's fast answer decoder against it.
func FuzzSignHashWire(f *testing.F) {
	f.Add("cred-1", "sad", "2.16.840.1.101.3.4.2.1", "1.2.840.10045.4.3.2", []byte{}, []byte("0123456789abcdef0123456789abcdef"), 3)
	f.Add("c\"<\u2028>\\", "s\x00\xff", "", "x", []byte{1, 2}, []byte{}, 0)
	f.Fuzz(func(t *testing.T, cred, sad, hashOID, signAlgo string, params, seed []byte, n int) {
		n = max(0, min(n, 50))
		items := make([][]byte, n)
		for i := range items {
			items[i] = append([]byte{byte(i)}, seed[:min(len(seed), i*7%65)]...)
		}
		reqJSON := appendSignHashRequest(nil, cred, sad, hashOID, signAlgo, params, items)
		var req SignaturesSignHashRequest
		if err := json.Unmarshal(reqJSON, &req); err != nil {
			t.Fatalf("request %q is not JSON: %v", reqJSON, err)
		}
		// encoding/json replaces invalid UTF-8 on the way in and out alike.
		want := func(s string) string {
			b, _ := json.Marshal(s)
			var back string
			_ = json.Unmarshal(b, &back)
			return back
		}
		if req.CredentialID != want(cred) || req.SAD != want(sad) || req.HashAlgorithmOID != want(hashOID) || req.SignAlgo != want(signAlgo) {
			t.Fatalf("request %q decodes to %+v", reqJSON, req)
		}
		if (len(params) > 0) != (req.SignAlgoParams != "") || len(req.Hashes) != n {
			t.Fatalf("request %q decodes to %+v", reqJSON, req)
		}
		for i, h := range req.Hashes {
			if h != b64.EncodeToString(items[i]) {
				t.Fatalf("hash %d: %q", i, h)
			}
		}
		var fast SignaturesSignHashRequest
		if decodeSignHashFast(string(reqJSON), &fast) && !reflect.DeepEqual(fast, req) {
			t.Fatalf("request %q: fast %+v, encoding/json %+v", reqJSON, fast, req)
		}

		answer := appendSignatureList(make([]byte, 0, signatureListSize(items)), items)
		if len(answer) != signatureListSize(items) {
			t.Fatalf("answer of %d bytes, size said %d", len(answer), signatureListSize(items))
		}
		var resp SignaturesSignHashResponse
		if err := json.Unmarshal(answer, &resp); err != nil || len(resp.Signatures) != n {
			t.Fatalf("answer %q: %v, %d signatures", answer, err, len(resp.Signatures))
		}
		sigs, ok := decodeSignatureList(answer)
		if !ok || len(sigs) != n {
			t.Fatalf("answer %q: fast decoder %v, %d signatures", answer, ok, len(sigs))
		}
		for i := range sigs {
			if !bytes.Equal(sigs[i], items[i]) || resp.Signatures[i] != b64.EncodeToString(items[i]) {
				t.Fatalf("signature %d: %x", i, sigs[i])
			}
		}
	})
}

// FuzzSignatureListDecoder: the client's fast decoder of signHash answers
// agrees with encoding/json and base64 on anything it accepts.
func FuzzSignatureListDecoder(f *testing.F) {
	f.Add([]byte(`{"signatures":["AAAA","MEUCIQ=="]}`))
	f.Add([]byte(`{"signatures":[]}` + "\n"))
	f.Add([]byte(`{"signatures":["AAAA"],"signatures":[]}`))
	f.Add([]byte(`{"signatures":["AA AA"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sigs, ok := decodeSignatureList(body)
		if !ok {
			return
		}
		var resp SignaturesSignHashResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("%q: fast decoder accepted what encoding/json refuses: %v", body, err)
		}
		if len(resp.Signatures) != len(sigs) {
			t.Fatalf("%q: %d signatures, encoding/json %d", body, len(sigs), len(resp.Signatures))
		}
		for i, s := range resp.Signatures {
			b, err := b64.DecodeString(s)
			if err != nil || !bytes.Equal(b, sigs[i]) {
				t.Fatalf("%q: signature %d: fast %x, base64 %x (%v)", body, i, sigs[i], b, err)
			}
		}
	})
}

func TestDecodeHashesSharesNoCapacity(t *testing.T) {
	in := []string{b64.EncodeToString(bytes.Repeat([]byte{1}, 32)), b64.EncodeToString(bytes.Repeat([]byte{2}, 32))}
	out, e := decodeHashes("hashes", in, OIDSHA256, 10)
	if e != nil {
		t.Fatal(e)
	}
	_ = append(out[0], 9) // must not write into out[1]
	if out[1][0] != 2 || len(out[0]) != 32 || cap(out[0]) != 32 {
		t.Fatalf("hash 0 len %d cap %d, hash 1 starts %d", len(out[0]), cap(out[0]), out[1][0])
	}
	long := strings.Repeat("QUFB", 40) // 160 characters: past the stack copy
	if _, e := decodeHashes("hashes", []string{long}, OIDSHA256, 10); e == nil || !strings.Contains(e.Description, "120 bytes") {
		t.Fatalf("a 120-byte entry: %v", e)
	}
	if _, e := decodeHashes("hashes", []string{"AAB="}, OIDSHA256, 10); e == nil || !strings.Contains(e.Description, "not base64") {
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

// TestClientRefusesTruncatedAnswer: an answer cut short of its
// Content-Length is an error, not a shorter answer.
func TestClientRefusesTruncatedAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"signatures\":[]}")
		buf.Flush()
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if sigs, err := c.SignHash(t.Context(), "cred", "sad", OIDSHA256, OIDECDSAWithSHA256, nil, nil); err == nil {
		t.Fatalf("a truncated answer gave %d signatures and no error", len(sigs))
	}
}
