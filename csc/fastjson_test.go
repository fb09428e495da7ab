package csc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzSignHashWire round-trips the client's hand-written request encoder
// through encoding/json, and checks the client's fast answer decoder against
// encoding/json's answers (the server's end: cscserver.FuzzSignHashWire).
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
		answer, err := json.Marshal(SignaturesSignHashResponse{Signatures: encodeAll(items)})
		if err != nil {
			t.Fatal(err)
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
