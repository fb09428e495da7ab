package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// The tests of this file run the CA's status features on SQLite and on
// PostgreSQL (when SELO_TEST_POSTGRES is set): bulk re-issue of TSA
// certificates, key-compromise twins, CA revocation.

// onBackends runs fn on a fresh data directory initialized on each store.
func onBackends(t *testing.T, fn func(t *testing.T, data, apiKey string)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "sqlite" {
				_, out := templateDataDir(t)
				fn(t, dataDir(t), out.APIKey)
				return
			}
			dsn := postgresTestDSN(t)
			data := filepath.Join(t.TempDir(), "data")
			var out initResult
			decodeJSON(t, mustRunSelo(t, "init", "--data", data, "--database", dsn, "--json"), &out)
			fn(t, data, out.APIKey)
		})
	}
}

// caCertificate reads a CA's certificate as relying parties fetch it.
func caCertificate(t *testing.T, data, caID string) *x509.Certificate {
	t.Helper()
	file := filepath.Join(t.TempDir(), caID+".pem")
	mustRunSelo(t, "ca", "chain", caID, "--format", "pem", "--out", file, "--data", data)
	return parsePEMCertificates(t, readFile(t, file))[0]
}

// certificateOf reads an issued certificate.
func certificateOf(t *testing.T, data, serial string) *x509.Certificate {
	t.Helper()
	file := filepath.Join(t.TempDir(), serial+".pem")
	mustRunSelo(t, "cert", "get", serial, "--out", file, "--data", data)
	return parsePEMCertificates(t, readFile(t, file))[0]
}

// ocspAsk posts an OCSP request for cert to the server and returns the
// response, whose signature (by issuer or its delegated responder) it checks.
func ocspAsk(t *testing.T, base string, cert, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		t.Fatalf("OCSP response for %x (%s): %v", cert.SerialNumber, cert.Subject.CommonName, err)
	}
	return r
}

var ocspStatusNames = map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}

// wantOCSP fails unless OCSP says status for cert.
func wantOCSP(t *testing.T, base string, cert, issuer *x509.Certificate, status int) *ocsp.Response {
	t.Helper()
	r := ocspAsk(t, base, cert, issuer)
	if r.Status != status {
		t.Fatalf("OCSP for %x (%s) says %s, want %s", cert.SerialNumber, cert.Subject.CommonName, ocspStatusNames[r.Status], ocspStatusNames[status])
	}
	return r
}

// reissueOne re-issues serial under caID and returns the new serial.
func reissueOne(t *testing.T, data, serial, caID string) string {
	t.Helper()
	r := mustRunSelo(t, "cert", "reissue", serial, "--ca", caID, "--data", data)
	m := regexp.MustCompile(`as ([0-9a-f]+) under`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("cert reissue said:\n%s", r)
	}
	return m[1]
}

// showCert returns what cert show --json says of serial.
func showCert(t *testing.T, data, serial string) certOutput {
	t.Helper()
	var c certOutput
	decodeJSON(t, mustRunSelo(t, "cert", "show", serial, "--json", "--data", data), &c)
	return c
}

// tlsWithKey issues a tls-server certificate under caID for a CSR of key.
func tlsWithKey(t *testing.T, data, caID, host string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: host}, DNSNames: []string{host}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := writeFile(t, filepath.Join(t.TempDir(), host+".csr"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	return issueCert(t, data, host, "--profile", "tls-server", "--ca", caID, "--csr", csr).serial
}

// auditObjects returns how many successful audit entries of action name each object.
func auditObjects(t *testing.T, data, action string) map[string]int {
	t.Helper()
	var entries []struct {
		Action  string `json:"action"`
		Object  string `json:"object"`
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(mustRunSelo(t, "audit", "list", "--json", "--limit", "0", "--data", data).stdout), &entries); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		if e.Action == action && e.Outcome == selo.OutcomeSuccess {
			out[e.Object]++
		}
	}
	return out
}

// TestBulkReissueMovesTSA: a bulk re-issue of a CA that issued a TSA
// certificate completes (it used to fail on it with "no profile named
// timestamping" on every run): the TSA certificate is re-issued with the
// timestamping profile (critical timeStamping EKU, same key), serve with the
// old --tsa-certificate serial stamps with the new one, the new CA answers
// OCSP through its own delegated responder, and a second run says there is
// nothing left.
func TestBulkReissueMovesTSA(t *testing.T) {
	onBackends(t, func(t *testing.T, data, _ string) {
		mustRunSelo(t, "tsa", "init", "--ca", "qualified-ecc-v1", "--data", data)
		var v1 []certOutput
		decodeJSON(t, mustRunSelo(t, "cert", "list", "--json", "--ca", "qualified-ecc-v1", "--data", data), &v1)
		tsaSerial := ""
		for _, c := range v1 {
			if c.Profile == "timestamping" {
				tsaSerial = c.Serial
			}
		}
		if tsaSerial == "" {
			t.Fatalf("no TSA certificate under qualified-ecc-v1: %+v", v1)
		}
		seal := issueSeal(t, data, "Exemplo Lda")
		mustRunSelo(t, "ca", "create", "--data", data, "--id", "qualified-ecc-v2", "--name", "Selo Demo Qualified CA ECC V2",
			"--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
		mustRunSelo(t, "ca", "retire", "qualified-ecc-v1", "--data", data)

		r := runSelo(t, "cert", "reissue", "--all-from", "qualified-ecc-v1", "--ca", "qualified-ecc-v2", "--data", data)
		if r.code != 0 || !strings.Contains(r.stdout, "The re-issue is complete: qualified-ecc-v1 has no valid certificate left.") {
			t.Fatalf("bulk re-issue with a TSA certificate:\n%s", r)
		}
		if left := listSerials(t, data, "--ca", "qualified-ecc-v1", "--status", "valid"); len(left) != 0 {
			t.Fatalf("valid certificates left under qualified-ecc-v1: %v", left)
		}
		again := runSelo(t, "cert", "reissue", "--all-from", "qualified-ecc-v1", "--ca", "qualified-ecc-v2", "--data", data)
		if again.code != 0 || !strings.HasPrefix(again.stdout, "Nothing left to re-issue") || strings.Contains(again.stdout+again.stderr, "failed") {
			t.Fatalf("second bulk re-issue:\n%s", again)
		}

		old := showCert(t, data, tsaSerial)
		if old.Status != "superseded" || old.SupersededBy == "" {
			t.Fatalf("old TSA certificate: %+v", old)
		}
		moved := showCert(t, data, old.SupersededBy)
		if moved.Profile != "timestamping" || moved.CA != "qualified-ecc-v2" || !moved.KeyHeld {
			t.Fatalf("re-issued TSA certificate: %+v", moved)
		}
		oldX, newX := certificateOf(t, data, tsaSerial), certificateOf(t, data, moved.Serial)
		if !bytes.Equal(oldX.RawSubjectPublicKeyInfo, newX.RawSubjectPublicKeyInfo) || !newX.NotAfter.Equal(oldX.NotAfter) {
			t.Error("the re-issued TSA certificate has another key or end")
		}
		critical := false
		for _, e := range newX.Extensions {
			if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
				critical = e.Critical
			}
		}
		if len(newX.ExtKeyUsage) != 1 || newX.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || !critical {
			t.Errorf("re-issued TSA certificate EKU %v (critical %v), want timeStamping only, critical (RFC 3161 2.3)", newX.ExtKeyUsage, critical)
		}
		newFile := writeFile(t, filepath.Join(t.TempDir(), "tsa.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newX.Raw})))
		opensslVerify(t, data, "qualified-ecc-v2", newFile, "-purpose", "timestampsign")

		// serve still names the old serial (selo.yaml from tsa init): it
		// answers with the re-issued certificate.
		base, _ := serveInProcess(t, data)
		digest := sha256.Sum256([]byte("fatura FT 2026/1"))
		der, err := (&timestamp.Client{URL: base + "/tsa"}).Timestamp(t.Context(), crypto.SHA256, digest[:])
		if err != nil {
			t.Fatalf("timestamp after the re-issue: %v", err)
		}
		tok, err := timestamp.ParseToken(der)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := tok.Verify(crypto.SHA256, digest[:], timestamp.VerifyOptions{})
		if err != nil || rep.Certificate == nil || fmt.Sprintf("%x", rep.Certificate.SerialNumber) != moved.Serial {
			t.Fatalf("timestamp signed by %v (%v), want the re-issued TSA certificate %s", rep, err, moved.Serial)
		}

		// Every moved certificate is answered for by the new CA's responder.
		v2 := caCertificate(t, data, "qualified-ecc-v2")
		sealMoved := showCert(t, data, seal).SupersededBy
		resp := wantOCSP(t, base, certificateOf(t, data, sealMoved), v2, ocsp.Good)
		if resp.Certificate == nil || !bytes.Equal(resp.Certificate.RawIssuer, v2.RawSubject) {
			t.Errorf("OCSP for a re-issued certificate is not signed by a responder of qualified-ecc-v2")
		}
		wantOCSP(t, base, newX, v2, ocsp.Good)
		wantOCSP(t, base, oldX, caCertificate(t, data, "qualified-ecc-v1"), ocsp.Good) // superseded, not revoked
		mustRunSelo(t, "audit", "verify", "--data", data)
	})
}

// TestKeyCompromiseRevokesTwins: after a certificate update (re-issue under
// a new CA with the same key), a keyCompromise revocation of either
// certificate revokes both, by the officer's command and by the holder's
// key-signed request, each with its audit entry; OCSP says revoked for all.
// Another key's certificate is left alone.
func TestKeyCompromiseRevokesTwins(t *testing.T) {
	onBackends(t, func(t *testing.T, data, _ string) {
		for _, id := range []string{"tls-ecc-v1", "tls-ecc-v2"} {
			mustRunSelo(t, "ca", "create", "--data", data, "--id", id, "--name", "Selo Demo TLS CA "+id, "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
		}
		key1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key3, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		a1 := tlsWithKey(t, data, "tls-ecc-v1", "a.example.pt", key1)
		a2 := reissueOne(t, data, a1, "tls-ecc-v2")
		b1 := tlsWithKey(t, data, "tls-ecc-v1", "b.example.pt", key2)
		b2 := reissueOne(t, data, b1, "tls-ecc-v2")
		other := tlsWithKey(t, data, "tls-ecc-v2", "c.example.pt", key3)

		// The officer revokes the new certificate: the superseded twin goes too.
		mustRunSelo(t, "revoke", a2, "--reason", "keyCompromise", "--data", data)
		for _, s := range []string{a1, a2} {
			if c := showCert(t, data, s); c.Status != "revoked" {
				t.Fatalf("after keyCompromise of %s, %s is %s, want revoked", a2, s, c.Status)
			}
		}

		base, _ := serveInProcess(t, data)
		// The holder revokes the superseded one with the key: the new one goes too.
		now := time.Now().UTC().Truncate(time.Second)
		digest := sha256.Sum256([]byte(authority.HolderRevokeMessage(b1, selo.ReasonKeyCompromise, now)))
		sig, err := ecdsa.SignASN1(rand.Reader, key2, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"serial": b1, "reason": "keyCompromise", "time": now, "signature": base64.StdEncoding.EncodeToString(sig)})
		resp, err := http.Post(base+"/api/v1/holder/revoke", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("holder revoke: %d %s", resp.StatusCode, rb)
		}

		v1, v2 := caCertificate(t, data, "tls-ecc-v1"), caCertificate(t, data, "tls-ecc-v2")
		for _, c := range []struct {
			serial string
			issuer *x509.Certificate
		}{{a1, v1}, {a2, v2}, {b1, v1}, {b2, v2}} {
			r := wantOCSP(t, base, certificateOf(t, data, c.serial), c.issuer, ocsp.Revoked)
			if r.RevocationReason != ocsp.KeyCompromise {
				t.Errorf("OCSP reason for %s: %d, want keyCompromise", c.serial, r.RevocationReason)
			}
		}
		wantOCSP(t, base, certificateOf(t, data, other), v2, ocsp.Good)
		revoked := auditObjects(t, data, "certificate.revoke")
		for _, s := range []string{a1, a2, b1, b2} {
			if revoked["certificate/"+s] != 1 {
				t.Errorf("%d audit entries for the revocation of %s, want 1", revoked["certificate/"+s], s)
			}
		}
		mustRunSelo(t, "audit", "verify", "--data", data)
	})
}

// TestCARevoke: selo ca revoke revokes a subordinate CA's certificate: the
// root's CRL (an ARL) lists it and openssl refuses the CA with it, OCSP
// signed by the root's responder says revoked (and good for the other CAs,
// where it used to say unknown), the CA issues nothing more, and the REST API
// does the same; each is audited. A root cannot be revoked this way.
func TestCARevoke(t *testing.T) {
	onBackends(t, func(t *testing.T, data, apiKey string) {
		for _, id := range []string{"tls-ecc-v1", "tls-ecc-v3"} {
			mustRunSelo(t, "ca", "create", "--data", data, "--id", id, "--name", "Selo Demo TLS CA "+id, "--parent", "root-ecc-v1", "--key-type", "ecdsa-p256")
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tlsWithKey(t, data, "tls-ecc-v1", "www.example.pt", key)

		wantExit(t, runSelo(t, "ca", "revoke", "root-ecc-v1", "--reason", "cACompromise", "--data", data), 1, "root")
		wantExit(t, runSelo(t, "ca", "revoke", "tls-ecc-v1", "--data", data), 2, "--reason")
		wantExit(t, runSelo(t, "ca", "revoke", "tls-ecc-v1", "--reason", "certificateHold", "--data", data), 1, "not put on hold")
		r := mustRunSelo(t, "ca", "revoke", "tls-ecc-v1", "--reason", "cACompromise", "--data", data)
		if !strings.Contains(r.stdout, "CA tls-ecc-v1 is revoked (cACompromise)") {
			t.Fatalf("ca revoke said:\n%s", r)
		}
		if r := mustRunSelo(t, "ca", "revoke", "tls-ecc-v1", "--reason", "keyCompromise", "--data", data); !strings.Contains(r.stdout, "already revoked") {
			t.Fatalf("second ca revoke said:\n%s", r)
		}
		var cas []caOutput
		decodeJSON(t, mustRunSelo(t, "ca", "list", "--json", "--data", data), &cas)
		for _, ca := range cas {
			if (ca.ID == "tls-ecc-v1") != (ca.Status == "revoked") {
				t.Errorf("ca list: %s is %s", ca.ID, ca.Status)
			}
		}
		csr := writeFile(t, filepath.Join(t.TempDir(), "x.csr"), newCSRPEM(t, "x.example.pt"))
		wantExit(t, runSelo(t, "cert", "issue", "--profile", "tls-server", "--ca", "tls-ecc-v1", "--csr", csr, "--data", data), 1, "revoked")
		wantExit(t, runSelo(t, "tsa", "init", "--ca", "tls-ecc-v1", "--data", data), 1, "revoked")

		// The root's CRL lists the CA certificate; openssl refuses the CA.
		caX, root := caCertificate(t, data, "tls-ecc-v1"), caCertificate(t, data, "root-ecc-v1")
		arl := filepath.Join(t.TempDir(), "root.crl")
		mustRunSelo(t, "crl", "root-ecc-v1", "--format", "pem", "--out", arl, "--data", data)
		rl := readFile(t, arl)
		block, _ := pem.Decode(rl)
		list, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range list.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(caX.SerialNumber) == 0 && e.ReasonCode == int(selo.ReasonCACompromise) {
				found = true
			}
		}
		if !found {
			t.Fatalf("the root's CRL does not list the revoked CA certificate %x", caX.SerialNumber)
		}
		dir := t.TempDir()
		rootFile := writeFile(t, filepath.Join(dir, "root.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})))
		caFile := writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caX.Raw})))
		if out, _ := openssl(t, "verify", "-crl_check", "-CAfile", rootFile, "-CRLfile", arl, caFile); !strings.Contains(out, "certificate revoked") {
			t.Errorf("openssl verify -crl_check of the revoked CA:\n%s", out)
		}

		base, _ := serveInProcess(t, data)
		resp := wantOCSP(t, base, caX, root, ocsp.Revoked)
		if resp.RevocationReason != ocsp.CACompromise {
			t.Errorf("OCSP reason %d, want cACompromise", resp.RevocationReason)
		}
		wantOCSP(t, base, caCertificate(t, data, "qualified-ecc-v1"), root, ocsp.Good)

		// The REST API.
		post := func(caID, body string) (int, string) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/api/v1/cas/"+caID+"/revoke", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		var got struct {
			CA      string `json:"ca"`
			Reason  string `json:"reason"`
			Created bool   `json:"created"`
		}
		code, body := post("tls-ecc-v3", `{"reason":"keyCompromise"}`)
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusCreated || got.Reason != "keyCompromise" || !got.Created {
			t.Fatalf("POST /api/v1/cas/tls-ecc-v3/revoke: %d %s", code, body)
		}
		code, body = post("tls-ecc-v3", `{"reason":"cACompromise"}`)
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK || got.Reason != "keyCompromise" || got.Created {
			t.Fatalf("second POST /api/v1/cas/tls-ecc-v3/revoke: %d %s", code, body)
		}
		if code, _ := post("root-ecc-v1", `{"reason":"cACompromise"}`); code != http.StatusBadRequest {
			t.Fatalf("revoking the root through the API: %d, want 400", code)
		}
		wantOCSP(t, base, caCertificate(t, data, "tls-ecc-v3"), root, ocsp.Revoked)
		audited := auditObjects(t, data, "ca.revoke")
		if audited["ca/tls-ecc-v1"] != 1 || audited["ca/tls-ecc-v3"] != 1 {
			t.Errorf("ca.revoke audit entries: %v", audited)
		}
		mustRunSelo(t, "audit", "verify", "--data", data)
	})
}

// TestSignRefusedUnderRevokedCA: once the CA that issued a credential's
// certificate is revoked, the credential signs nothing, though its own
// certificate was never revoked; the audit log holds the refusal as one
// entry, decided in the transaction that used the SAD (it once held a
// success followed by a failure).
func TestSignRefusedUnderRevokedCA(t *testing.T) {
	t.Parallel()
	s := newCSCServer(t)
	cred := s.credential(t, selo.ApprovalSMS, selo.KeyECDSAP256)
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	doc := writeFile(t, filepath.Join(dir, "contract.txt"), "Contrato n.º 8\n")
	mustRunSelo(t, "sign", "file", doc, "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))

	// The credential's certificate comes from the qualified-sign profile's CA.
	if _, _, err := s.ca.RevokeCA(context.Background(), "operator", authority.RevokeCARequest{CAID: testenv.QualifiedID, Reason: selo.ReasonCACompromise}); err != nil {
		t.Fatal(err)
	}
	r := runSelo(t, "sign", "file", doc, "--out", filepath.Join(dir, "again.p7s"), "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))
	if r.code == 0 || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("signing under a revoked CA:\n%s", r)
	}
	entries, err := s.env.Store.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range entries {
		if e.Action == "signature.sign" && e.Object == "credential/"+cred {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if want := []string{selo.OutcomeSuccess, selo.OutcomeFailure}; !slices.Equal(outcomes, want) {
		t.Fatalf("signature.sign entries of %s: %v, want %v (one signature, one refusal)", cred, outcomes, want)
	}
}
