// Package csctest is a strict stand-in for another provider's CSC API v2
// service in tests: one credential, held in memory, that signs only with
// the signAlgo values it lists in key/algo, as the specification requires
// (signatures/signHash: "signAlgo SHALL be one of the values allowed by the
// credential as returned in keyAlgo by credentials/info").
package csctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/csc"
)

// CredentialID is the stub's only credential.
const CredentialID = "stub-credential"

// OTP is the code that approves a batch of a code credential.
const OTP = "123456"

// Stub is the service. Set its fields before the first request.
type Stub struct {
	URL string // base URL, ending in /csc/v2
	// Algos is the credential's key/algo.
	Algos []string
	// Multisign is the credential's multisign.
	Multisign int
	// Wallet makes the credential a wallet one: authorize answers with a
	// responseID, and authorizeCheck approves on the second poll.
	Wallet bool
	// CertStatus is cert/status ("valid" when empty).
	CertStatus string
	// Corrupt makes signHash return signatures over other hashes.
	Corrupt bool

	Key  crypto.Signer
	Cert *x509.Certificate

	mu         sync.Mutex
	authorized int
	signAlgos  []string
	checks     int
	sads       map[string]int // SAD → hashes it covers
}

// New starts a stub with a fresh key: "rsa" or "ecdsa".
func New(t testing.TB, kind string) *Stub {
	t.Helper()
	s := &Stub{Multisign: 10, sads: map[string]int{}}
	var err error
	switch kind {
	case "rsa":
		s.Key, err = rsa.GenerateKey(rand.Reader, 2048)
		s.Algos = []string{csc.OIDRSAEncryption}
	default:
		s.Key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s.Algos = []string{csc.OIDECDSAWithSHA256, csc.OIDECDSAWithSHA384}
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Stub Signer"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Key.Public(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/csc/v2", http.HandlerFunc(s.serve)))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/csc/v2"
	return s
}

// Authorizations counts the credentials/authorize calls (the approvals asked for).
func (s *Stub) Authorizations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorized
}

// SignAlgos lists the signAlgo of every signatures/signHash call.
func (s *Stub) SignAlgos() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signAlgos)
}

func fail(w http.ResponseWriter, status int, name, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(csc.Error{Name: name, Description: desc})
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	switch r.URL.Path {
	case "/credentials/info":
		status := s.CertStatus
		if status == "" {
			status = "valid"
		}
		d := csc.CredentialDetail{Key: csc.KeyInfo{Status: "enabled", Algo: s.Algos, Len: 2048},
			Cert: csc.CertInfo{Status: status, Certificates: []string{base64.StdEncoding.EncodeToString(s.Cert.Raw)}, SubjectDN: "CN=Stub Signer"},
			Auth: csc.AuthInfo{Mode: "explicit", Approval: "authenticator", Objects: []csc.AuthObject{{Type: "OTP", ID: "OTP", Format: "N"}}},
			SCAL: "2", Multisign: s.Multisign}
		if s.Wallet {
			d.Auth = csc.AuthInfo{Mode: "explicit", Approval: "wallet"}
		}
		out = d
	case "/credentials/authorize":
		var req csc.CredentialsAuthorizeRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.NumSignatures != len(req.Hashes) || len(req.Hashes) > s.Multisign {
			fail(w, 400, csc.ErrInvalidRequest, "bad authorize request")
			return
		}
		s.authorized++
		sad := "sad-" + strconv.Itoa(s.authorized)
		s.sads[sad] = len(req.Hashes)
		if s.Wallet {
			out = csc.AuthorizeResponse{ResponseID: sad, ExpiresIn: 300}
			break
		}
		if len(req.AuthData) != 1 || req.AuthData[0].Value != OTP {
			fail(w, 400, csc.ErrInvalidOTP, "wrong code")
			return
		}
		out = csc.AuthorizeResponse{SAD: sad, ExpiresIn: 300}
	case "/credentials/authorizeCheck":
		var req csc.AuthorizeCheckRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if s.checks++; s.checks%2 == 1 {
			out = csc.AuthorizeResponse{ResponseID: req.ResponseID}
		} else {
			out = csc.AuthorizeResponse{SAD: req.ResponseID}
		}
	case "/signatures/signHash":
		var req csc.SignaturesSignHashRequest
		if json.NewDecoder(r.Body).Decode(&req) != nil || s.sads[req.SAD] != len(req.Hashes) {
			fail(w, 400, csc.ErrInvalidRequest, "bad signHash request")
			return
		}
		delete(s.sads, req.SAD)
		s.signAlgos = append(s.signAlgos, req.SignAlgo)
		if !slices.Contains(s.Algos, req.SignAlgo) {
			fail(w, 400, csc.ErrInvalidRequest, "Invalid parameter signAlgo: not one of the credential's key/algo")
			return
		}
		h := map[string]crypto.Hash{csc.OIDSHA256: crypto.SHA256, csc.OIDSHA384: crypto.SHA384, csc.OIDSHA512: crypto.SHA512}[req.HashAlgorithmOID]
		if implied, ok := map[string]crypto.Hash{csc.OIDSHA256WithRSA: crypto.SHA256, csc.OIDSHA384WithRSA: crypto.SHA384,
			csc.OIDECDSAWithSHA256: crypto.SHA256, csc.OIDECDSAWithSHA384: crypto.SHA384}[req.SignAlgo]; ok && implied != h {
			fail(w, 400, csc.ErrInvalidRequest, "Invalid parameter hashAlgorithmOID")
			return
		}
		var sigs []string
		for _, hb := range req.Hashes {
			digest, err := base64.StdEncoding.DecodeString(hb)
			if err != nil || h == 0 || len(digest) != h.Size() {
				fail(w, 400, csc.ErrInvalidRequest, "bad hash")
				return
			}
			if s.Corrupt {
				digest[0] ^= 1
			}
			sig, err := s.Key.Sign(rand.Reader, digest, h)
			if err != nil {
				fail(w, 500, csc.ErrServerError, err.Error())
				return
			}
			sigs = append(sigs, base64.StdEncoding.EncodeToString(sig))
		}
		out = csc.SignaturesSignHashResponse{Signatures: sigs}
	default:
		fail(w, 404, csc.ErrInvalidRequest, "no such method")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
