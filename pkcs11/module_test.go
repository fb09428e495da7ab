package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/csc"
)

// fakeCSC is the edge of these unit tests: a CSC service with one P-256
// SMS credential whose code is always 123456. The module against Selo's
// real server is tested in cmd/selo (TestPKCS11*).
type fakeCSC struct {
	key                     *ecdsa.PrivateKey
	cert                    []byte
	sendOTP, authorize, sig atomic.Int32
}

func newFakeCSC(t *testing.T) (*fakeCSC, *httptest.Server) {
	f := &fakeCSC{}
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Maria"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	f.cert, _ = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &f.key.PublicKey, f.key)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	mux.HandleFunc("/csc/v2/credentials/list", func(w http.ResponseWriter, r *http.Request) {
		reply(w, csc.CredentialsListResponse{CredentialIDs: []string{"c1"}, CredentialInfos: []csc.CredentialDetail{{
			CredentialID: "c1", Description: "Maria's seal", Key: csc.KeyInfo{Status: "enabled", Algo: []string{csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384}},
			Cert: csc.CertInfo{Status: "valid", Certificates: []string{base64.StdEncoding.EncodeToString(f.cert)}},
			Auth: csc.AuthInfo{Mode: "explicit", Approval: "sms"}, Multisign: 1,
		}}})
	})
	mux.HandleFunc("/csc/v2/credentials/sendOTP", func(w http.ResponseWriter, r *http.Request) {
		f.sendOTP.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/csc/v2/credentials/authorize", func(w http.ResponseWriter, r *http.Request) {
		f.authorize.Add(1)
		var req csc.CredentialsAuthorizeRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if len(req.AuthData) != 1 || req.AuthData[0].Value != "123456" {
			w.WriteHeader(http.StatusBadRequest)
			reply(w, csc.Error{Name: csc.ErrInvalidOTP})
			return
		}
		reply(w, csc.AuthorizeResponse{SAD: "sad", ExpiresIn: 60})
	})
	mux.HandleFunc("/csc/v2/signatures/signHash", func(w http.ResponseWriter, r *http.Request) {
		f.sig.Add(1)
		var req struct {
			Hashes []string `json:"hashes"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		var out csc.SignaturesSignHashResponse
		for _, h := range req.Hashes {
			d, _ := base64.StdEncoding.DecodeString(h)
			s, _ := ecdsa.SignASN1(rand.Reader, f.key, d)
			out.Signatures = append(out.Signatures, base64.StdEncoding.EncodeToString(s))
		}
		reply(w, out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

// newTestModule returns a module logged in to srv with a token file.
func newTestModule(t *testing.T, srv *httptest.Server) *Module {
	t.Helper()
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	b, _ := json.Marshal(tokenFile{Server: srv.URL + "/csc/v2", AccessToken: "tok", ExpiresAt: time.Now().Add(time.Hour)})
	if err := os.WriteFile(tf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(`{"accounts":[{"server":"` + srv.URL + `","email":"maria@example.pt","token_file":"` + tf + `"}],"log_file":"off","timeout":"5s"}`))
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg)
	t.Cleanup(m.Close)
	return m
}

// privateKey opens a session and returns it with the private key's handle.
func privateKey(t *testing.T, m *Module) (uint, uint) {
	t.Helper()
	h, rv := m.OpenSession(0, CKF_SERIAL_SESSION)
	if rv != CKR_OK {
		t.Fatalf("OpenSession: %v", rv)
	}
	if rv := m.FindObjectsInit(h, []Attribute{{Type: CKA_CLASS, Value: ulong(CKO_PRIVATE_KEY)}}); rv != CKR_OK {
		t.Fatalf("FindObjectsInit: %v", rv)
	}
	objs, rv := m.FindObjects(h, 10)
	if rv != CKR_OK || len(objs) != 1 {
		t.Fatalf("FindObjects: %v %v", objs, rv)
	}
	m.FindObjectsFinal(h)
	return h, objs[0]
}

// TestModuleSign: one code, one signature; a size query or a short buffer
// spends no approval, and the code is not reused.
func TestModuleSign(t *testing.T) {
	f, srv := newFakeCSC(t)
	m := newTestModule(t, srv)
	h, key := privateKey(t, m)
	if _, rv := m.AttributeValue(h, key, CKA_VALUE); rv != CKR_ATTRIBUTE_SENSITIVE {
		t.Fatalf("CKA_VALUE of the private key: %v", rv)
	}
	if v, rv := m.AttributeValue(h, key, CKA_ALWAYS_AUTHENTICATE); rv != CKR_OK || v[0] != 1 {
		t.Fatalf("CKA_ALWAYS_AUTHENTICATE of an SMS key: %v %v", v, rv)
	}
	if v, _ := m.AttributeValue(h, key, CKA_LABEL); string(v) != "Maria's seal" {
		t.Fatalf("label %q", v)
	}
	if rv := m.SignInit(h, CKM_RSA_PKCS, nil, key); rv != CKR_KEY_TYPE_INCONSISTENT {
		t.Fatalf("RSA on an EC key: %v", rv)
	}
	if rv := m.SignInit(h, CKM_ECDSA_SHA512, nil, key); rv != CKR_MECHANISM_INVALID {
		t.Fatalf("a hash the credential does not list: %v", rv)
	}
	if f.sendOTP.Load() != 0 {
		t.Fatal("a refused mechanism sent a code")
	}
	if rv := m.SignInit(h, CKM_ECDSA_SHA256, nil, key); rv != CKR_OK || f.sendOTP.Load() != 1 {
		t.Fatalf("SignInit: %v, %d codes sent", rv, f.sendOTP.Load())
	}
	if rv := m.SignInit(h, CKM_ECDSA_SHA256, nil, key); rv != CKR_OPERATION_ACTIVE {
		t.Fatalf("a second SignInit: %v", rv)
	}
	data := []byte("invoice 12")
	if _, rv := m.Sign(h, data, make([]byte, 64), false); rv != CKR_USER_NOT_LOGGED_IN {
		t.Fatalf("Sign before the code: %v", rv)
	}
	if rv := m.Login(h, CKU_CONTEXT_SPECIFIC, []byte("123456")); rv != CKR_OK {
		t.Fatalf("context-specific login: %v", rv)
	}
	if n, rv := m.Sign(h, data, nil, true); rv != CKR_OK || n != 64 {
		t.Fatalf("size query: %d %v", n, rv)
	}
	if n, rv := m.Sign(h, data, make([]byte, 10), false); rv != CKR_BUFFER_TOO_SMALL || n != 64 {
		t.Fatalf("short buffer: %d %v", n, rv)
	}
	if f.authorize.Load() != 0 {
		t.Fatal("a size query or a short buffer asked for an approval")
	}
	sig := make([]byte, 64)
	if n, rv := m.Sign(h, data, sig, false); rv != CKR_OK || n != 64 {
		t.Fatalf("Sign: %d %v", n, rv)
	}
	sum := sha256.Sum256(data)
	if !ecdsa.Verify(&f.key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the signature does not verify")
	}
	if _, rv := m.Sign(h, data, sig, false); rv != CKR_OPERATION_NOT_INITIALIZED {
		t.Fatalf("Sign after the signature: %v", rv)
	}

	// Multi-part, and the code is not remembered from the last signature.
	if rv := m.SignInit(h, CKM_ECDSA_SHA256, nil, key); rv != CKR_OK {
		t.Fatal(rv)
	}
	m.SignUpdate(h, data[:4])
	m.SignUpdate(h, data[4:])
	if _, rv := m.SignFinal(h, sig, false); rv != CKR_USER_NOT_LOGGED_IN {
		t.Fatalf("SignFinal with the last signature's code: %v", rv)
	}
	m.Login(h, CKU_CONTEXT_SPECIFIC, []byte("123456"))
	if _, rv := m.SignFinal(h, sig, false); rv != CKR_OK {
		t.Fatalf("SignFinal: %v", rv)
	}
	if !ecdsa.Verify(&f.key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the multi-part signature does not verify")
	}

	// A wrong code ends the operation.
	m.SignInit(h, CKM_ECDSA, nil, key)
	m.Login(h, CKU_CONTEXT_SPECIFIC, []byte("000000"))
	if _, rv := m.Sign(h, sum[:], sig, false); rv != CKR_PIN_INCORRECT {
		t.Fatalf("a wrong code: %v", rv)
	}
	if _, rv := m.Sign(h, sum[:], sig, false); rv != CKR_OPERATION_NOT_INITIALIZED {
		t.Fatalf("after a wrong code: %v", rv)
	}
	// CKM_ECDSA takes a hash of a SHA-2 size only.
	m.SignInit(h, CKM_ECDSA, nil, key)
	m.Login(h, CKU_CONTEXT_SPECIFIC, []byte("123456"))
	if _, rv := m.Sign(h, sum[:20], sig, false); rv != CKR_DATA_LEN_RANGE {
		t.Fatalf("a 20-byte hash: %v", rv)
	}
}

// TestModuleReadOnly: nothing on the token can be written.
func TestModuleReadOnly(t *testing.T) {
	_, srv := newFakeCSC(t)
	m := newTestModule(t, srv)
	if _, rv := m.OpenSession(0, CKF_SERIAL_SESSION|CKF_RW_SESSION); rv != CKR_TOKEN_WRITE_PROTECTED {
		t.Fatalf("a read/write session: %v", rv)
	}
	if _, rv := m.OpenSession(0, CKF_RW_SESSION); rv != CKR_SESSION_PARALLEL_NOT_SUPPORTED {
		t.Fatalf("a session without CKF_SERIAL_SESSION: %v", rv)
	}
	h, key := privateKey(t, m)
	if rv := m.WriteRV(h); rv != CKR_TOKEN_WRITE_PROTECTED {
		t.Fatalf("create: %v", rv)
	}
	if rv := m.ObjectWriteRV(h, key); rv != CKR_ACTION_PROHIBITED {
		t.Fatalf("destroy: %v", rv)
	}
	if rv := m.ObjectWriteRV(h, key+1000); rv != CKR_OBJECT_HANDLE_INVALID {
		t.Fatalf("destroy an unknown object: %v", rv)
	}
	if rv := m.Login(h, CKU_SO, []byte("x")); rv != CKR_USER_TYPE_INVALID {
		t.Fatalf("SO login: %v", rv)
	}
	if rv := m.Login(h, CKU_USER, make([]byte, maxPIN+1)); rv != CKR_PIN_LEN_RANGE {
		t.Fatalf("a PIN over %d bytes: %v", maxPIN, rv)
	}
	info, _ := m.TokenInfo(0)
	if info.Flags&CKF_WRITE_PROTECTED == 0 || info.Flags&CKF_LOGIN_REQUIRED != 0 {
		t.Fatalf("token flags %#x", info.Flags)
	}
}

// TestModuleConcurrentSessions: sessions sign at once (run with -race).
func TestModuleConcurrentSessions(t *testing.T) {
	f, srv := newFakeCSC(t)
	m := newTestModule(t, srv)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, key := privateKey(t, m)
			defer m.CloseSession(h)
			for j := 0; j < 3; j++ {
				sum := sha256.Sum256([]byte{byte(i), byte(j)})
				if rv := m.SignInit(h, CKM_ECDSA, nil, key); rv != CKR_OK {
					t.Error(rv)
					return
				}
				m.Login(h, CKU_CONTEXT_SPECIFIC, []byte("123456"))
				sig := make([]byte, 64)
				if _, rv := m.Sign(h, sum[:], sig, false); rv != CKR_OK {
					t.Error(rv)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := f.sig.Load(); n != 24 {
		t.Fatalf("%d signatures, want 24", n)
	}
}
