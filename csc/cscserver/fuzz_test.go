package cscserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// fuzzBackend is a Backend that answers like the signing service for one
// account and one credential, and records any request the handlers should
// have refused before it got here.
type fuzzBackend struct {
	mu        sync.Mutex
	violation string
}

const (
	fuzzToken      = "good-token"
	fuzzAccount    = "acct-1"
	fuzzCredential = "cred-1"
	fuzzOTP        = "123456"
	fuzzSAD        = "sad-1"
)

func (b *fuzzBackend) violate(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.violation == "" {
		b.violation = fmt.Sprintf(format, args...)
	}
}

func (b *fuzzBackend) Login(_ context.Context, email, password string) (string, *selo.Session, error) {
	if email == "maria@example.pt" && password == "pw" {
		return fuzzToken, &selo.Session{AccountID: fuzzAccount, ExpiresAt: time.Now().Add(time.Hour)}, nil
	}
	return "", nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid e-mail or password")
}

func (b *fuzzBackend) Authenticate(_ context.Context, token string) (*selo.Session, error) {
	if token == fuzzToken {
		return &selo.Session{AccountID: fuzzAccount, ExpiresAt: time.Now().Add(time.Hour)}, nil
	}
	return nil, selo.Errorf(selo.ENOTFOUND, "no session")
}

func (b *fuzzBackend) Logout(context.Context, string) error { return nil }

func (b *fuzzBackend) info() *selo.CredentialInfo {
	return &selo.CredentialInfo{Credential: &selo.Credential{ID: fuzzCredential, AccountID: fuzzAccount, Status: selo.CredentialActive,
		ApprovalType: selo.ApprovalSMS, Profile: "qualified-sign"}, KeyBits: 256, SignAlgorithms: []string{csc.OIDECDSAWithSHA256}, MaxHashes: 1000}
}

func (b *fuzzBackend) ListCredentials(_ context.Context, accountID string) ([]*selo.CredentialInfo, error) {
	if accountID != fuzzAccount {
		b.violate("ListCredentials for account %q", accountID)
	}
	return []*selo.CredentialInfo{b.info()}, nil
}

func (b *fuzzBackend) CredentialInfo(_ context.Context, accountID, credentialID string) (*selo.CredentialInfo, error) {
	b.checkID(accountID, credentialID)
	if credentialID != fuzzCredential {
		return nil, selo.Errorf(selo.ENOTFOUND, "no credential")
	}
	return b.info(), nil
}

func (b *fuzzBackend) checkID(accountID, credentialID string) {
	if accountID != fuzzAccount || credentialID == "" || len(credentialID) > 256 {
		b.violate("credential request for account %q, credential of %d bytes", accountID, len(credentialID))
	}
}

func (b *fuzzBackend) SendOTP(_ context.Context, accountID, credentialID string) error {
	b.checkID(accountID, credentialID)
	if credentialID != fuzzCredential {
		return selo.Errorf(selo.ENOTFOUND, "no credential")
	}
	return nil
}

// checkHashes records hashes the handler should not have passed on.
func (b *fuzzBackend) checkHashes(op, oid string, hashes [][]byte) {
	h := csc.OIDHash(oid)
	if h == 0 || len(hashes) == 0 || len(hashes) > DefaultMaxHashes {
		b.violate("%s with hash algorithm %q and %d hashes", op, oid, len(hashes))
		return
	}
	for i, x := range hashes {
		if len(x) != h.Size() {
			b.violate("%s: hash %d has %d bytes for %s", op, i, len(x), h)
		}
	}
}

func (b *fuzzBackend) Authorize(_ context.Context, req selo.AuthorizeRequest) (*selo.AuthorizeResult, error) {
	b.checkID(req.AccountID, req.CredentialID)
	b.checkHashes("Authorize", req.HashAlgorithmOID, req.Hashes)
	if req.NumSignatures != len(req.Hashes) || len(req.OTP) > maxOTPLength {
		b.violate("Authorize: numSignatures %d for %d hashes, OTP of %d bytes", req.NumSignatures, len(req.Hashes), len(req.OTP))
	}
	switch {
	case req.CredentialID != fuzzCredential:
		return nil, selo.Errorf(selo.ENOTFOUND, "no credential")
	case req.OTP == "":
		return &selo.AuthorizeResult{Pending: &selo.Approval{ID: "resp-1", CredentialID: fuzzCredential, ExpiresAt: time.Now().Add(time.Minute)}}, nil
	case req.OTP == fuzzOTP:
		return &selo.AuthorizeResult{SAD: fuzzSAD, ExpiresIn: 5 * time.Minute}, nil
	}
	return nil, selo.Errorf(selo.EUNAUTHORIZED, "wrong code")
}

func (b *fuzzBackend) AuthorizeCheck(_ context.Context, accountID, approvalID string) (*selo.AuthorizeResult, error) {
	if accountID != fuzzAccount || approvalID == "" {
		b.violate("AuthorizeCheck for account %q, approval %q", accountID, approvalID)
	}
	if approvalID != "resp-1" {
		return nil, selo.Errorf(selo.ENOTFOUND, "no approval")
	}
	return &selo.AuthorizeResult{SAD: fuzzSAD, ExpiresIn: 5 * time.Minute}, nil
}

func (b *fuzzBackend) SignHash(_ context.Context, req selo.SignHashRequest) ([][]byte, error) {
	b.checkID(req.AccountID, req.CredentialID)
	b.checkHashes("SignHash", req.HashAlgorithmOID, req.Hashes)
	if req.SAD != fuzzSAD {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid SAD")
	}
	if req.SignAlgo != csc.OIDECDSAWithSHA256 {
		return nil, selo.Errorf(selo.EINVALID, "Invalid parameter signAlgo")
	}
	sigs := make([][]byte, len(req.Hashes))
	for i := range sigs {
		sigs[i] = []byte{0x30, 0x00}
	}
	return sigs, nil
}

// fuzzPaths are the endpoints the fuzzer picks from, and one that is none.
var fuzzPaths = append(append([]string{}, methodList...), "no/such/method")

// cscErrorNames are the error names an answer may carry.
var cscErrorNames = map[string]bool{csc.ErrInvalidRequest: true, csc.ErrInvalidToken: true, csc.ErrInvalidOTP: true,
	csc.ErrAccessDenied: true, csc.ErrAuthenticationError: true, csc.ErrServerError: true}

// FuzzDecodeRequests sends arbitrary bodies (and Authorization headers) to
// every CSC endpoint: no panic, never a 5xx, every refusal an OAuth-style
// JSON error, a body that is not JSON always invalid_request, and nothing
// unchecked reaching the backend.
func FuzzDecodeRequests(f *testing.F) {
	h256 := sha256.Sum256([]byte("x"))
	hash := `"` + b64.EncodeToString(h256[:]) + `"`
	seeds := map[string][]string{
		"info":                       {`{}`, `{"lang":"pt-PT"}`, ``},
		"auth/login":                 {`{"rememberMe":true}`, `{"rememberMe":"yes"}`},
		"auth/revoke":                {`{}`, `{"token":"other","token_type_hint":"refresh_token"}`},
		"credentials/list":           {`{"credentialInfo":true,"certificates":"chain","certInfo":true,"authInfo":true}`, `{"userID":"someone-else"}`, `{"certificates":"all"}`},
		"credentials/info":           {`{"credentialID":"cred-1","certificates":"chain","certInfo":true}`, `{"credentialID":1}`},
		"credentials/sendOTP":        {`{"credentialID":"cred-1"}`, `{"credentialID":""}`},
		"credentials/authorize":      {`{"credentialID":"cred-1","numSignatures":1,"hashes":[` + hash + `],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","authData":[{"id":"OTP","value":"123456"}]}`, `{"credentialID":"cred-1","numSignatures":2,"hashes":[` + hash + `],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}`, `{"credentialID":"cred-1","numSignatures":1,"hashes":["AAAA"],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.3","OTP":"1"}`},
		"credentials/authorizeCheck": {`{"credentialID":"cred-1","responseID":"resp-1"}`, `{"responseID":null}`},
		"signatures/signHash":        {`{"credentialID":"cred-1","SAD":"sad-1","hashes":[` + hash + `],"signAlgo":"1.2.840.10045.4.3.2"}`, `{"credentialID":"cred-1","SAD":"sad-1","hashes":[` + hash + `],"signAlgo":"1.2.840.113549.1.1.10","signAlgoParams":"!!"}`, `{"credentialID":"cred-1","SAD":"sad-1","hashes":[],"signAlgo":"1.2.840.10045.4.3.2","operationMode":"A"}`},
	}
	for i, p := range fuzzPaths {
		for _, s := range seeds[p] {
			f.Add(uint8(i), []byte(s), "")
		}
	}
	f.Add(uint8(0), []byte(`{`), "")
	f.Add(uint8(3), []byte(`{} {}`), "")
	f.Add(uint8(3), []byte(`[]`), "Bearer nope")
	f.Add(uint8(1), []byte(`{}`), "Basic bWFyaWFAZXhhbXBsZS5wdDpwdw==")
	f.Add(uint8(5), []byte("\xff\xfe"), "Bearer good-token")

	be := &fuzzBackend{}
	handler := NewHandler(Config{Backend: be, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 64 << 10})
	f.Fuzz(func(t *testing.T, which uint8, body []byte, authz string) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		req := httptest.NewRequest(http.MethodPost, "/"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		switch {
		case authz != "":
			req.Header["Authorization"] = []string{authz}
		case path == "auth/login":
			req.SetBasicAuth("maria@example.pt", "pw")
		default:
			req.Header.Set("Authorization", "Bearer "+fuzzToken)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)

		be.mu.Lock()
		v := be.violation
		be.mu.Unlock()
		if v != "" {
			t.Fatalf("%s %q reached the backend unchecked: %s", path, body, v)
		}
		status := w.Code
		if status >= 500 {
			t.Fatalf("%s %q: status %d %s", path, body, status, w.Body)
		}
		if status == http.StatusNoContent {
			return
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		if status < 300 {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: success answer is not JSON: %s", path, w.Body)
			}
			return
		}
		if status < 400 {
			t.Fatalf("%s: status %d", path, status)
		}
		var e csc.Error
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !cscErrorNames[e.Name] || e.Description == "" {
			t.Fatalf("%s %q: status %d with %q: not an OAuth-style error", path, body, status, w.Body)
		}
		if authz == "" && path != "no/such/method" && len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) && e.Name != csc.ErrInvalidRequest {
			t.Fatalf("%s %q: invalid JSON answered %s, want invalid_request", path, body, e.Name)
		}
		if strings.Contains(w.Body.String(), fuzzToken) && path != "auth/login" {
			t.Fatalf("%s: the answer holds the access token", path)
		}
	})
}
