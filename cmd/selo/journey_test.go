package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/server"
)

// apiJSON sends body (nil: none) as JSON to base+path with the bearer
// token (when not empty) and decodes the answer into out; it returns the
// HTTP status.
func apiJSON(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode the answer: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// TestHolderJourney is issue 12's journey, driven as the officer, the holder
// and the integrator would, on SQLite and PostgreSQL: a cloud qualified-seal
// order from creation to a credential on the holder's account; an
// authorizer registered by the holder signs an XAdES e-invoice through the
// CSC API; the CA changes (new CA, profiles pointed at it, old CA retired,
// every certificate re-issued) and the same authorizer signs again with no
// action from the holder; a keyCompromise revocation of the credential's
// certificate stops the next signature with a clear error. Peers check what
// comes out: xmlsec1 the invoices, openssl verify the new chain, openssl
// ocsp the revocation.
func TestHolderJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole journey runs a server and every step; skipped in -short")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) { runHolderJourney(t, backend) })
	}
}

func runHolderJourney(t *testing.T, backend string) {
	data := dataDirOn(t, backend)
	d := []string{"--data", data}
	base, serveErr := serveInProcess(t, data)
	dir := t.TempDir()
	const email, mobile = "faturas@exemplo.pt", "+351931234567"
	holder := selo.Holder{GivenNames: "Rui", Surname: "Costa", BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC)}

	// 1. The officer creates a cloud qualified-seal order approved by authorizers.
	var created server.CreateOrderResponse
	decodeJSON(t, mustRunSelo(t, append(d, "--json", "order", "create", "--given-names", "Rui", "--surname", "Costa",
		"--birth-date", "1980-05-17", "--email", email, "--mobile", mobile, "--profile", "qualified-seal",
		"--delivery", "cloud", "--approval", "authorizer", "--org", "Exemplo Lda", "--org-id", "VATPT-500000000", "--country", "PT")...), &created)
	number := created.Order.Number
	if created.Order.Approval != "authorizer" {
		t.Fatalf("the order's approval is %q, want authorizer", created.Order.Approval)
	}

	// 2. Identity check (a real ID card MRZ), the officer's decision, payment.
	validateAndPay(t, data, base, number, created.AccessCode, holder)
	ready := outboxMail(t, data, email, "Your certificate is ready: order "+number)
	if !strings.Contains(ready, "selo lift --server") || !strings.Contains(ready, "selo csc login") {
		t.Fatalf("the ready e-mail of a cloud order does not say how to lift and sign:\n%s", ready)
	}

	// 3. The holder lifts: the key is made in Selo's key store, the
	// credential lands on a new account, the holder chooses its password.
	t.Setenv(envLiftCode, lifttest.Find(t, ready, `Code: ([A-Z0-9]+)`))
	pw := writeFile(t, filepath.Join(dir, "pw"), "a long account password\n")
	liftArgs := []string{"lift", "--server", base, "--order", number, "--state-dir", filepath.Join(dir, "lift"), "--password-file", pw}
	wantExit(t, runSelo(t, liftArgs...), 1, envEmailCode)
	t.Setenv(envEmailCode, lifttest.Find(t, outboxMail(t, data, email, "Verification code for order "+number), `is ([0-9]{6})`))
	var lifted map[string]any
	decodeJSON(t, mustRunSelo(t, append([]string{"--json"}, liftArgs...)...), &lifted)
	cred, _ := lifted["credential"].(string)
	if cred == "" || lifted["account_password_set"] != true {
		t.Fatalf("selo lift of a cloud order: %v", lifted)
	}
	if how := outboxMail(t, data, email, "Your signing credential is ready"); !strings.Contains(how, cred) {
		t.Fatalf("the credential e-mail does not name credential %s:\n%s", cred, how)
	}

	// 4. The holder logs in and registers an authorizer for the ERP,
	// confirmed by an SMS code; the ERP keeps its secret.
	tf := filepath.Join(dir, "token.json")
	csc := func(args ...string) []string { return append(append([]string{"csc"}, args...), "--token-file", tf) }
	mustRunSelo(t, csc("login", "--server", base, "--email", email, "--password-file", pw)...)
	var login server.LoginResponse
	if st := apiJSON(t, http.MethodPost, base+"/api/v1/account/login", "", server.LoginRequest{Email: email, Password: "a long account password"}, &login); st != http.StatusOK {
		t.Fatalf("holder login: HTTP %d", st)
	}
	var reg server.HolderAuthorizer
	if st := apiJSON(t, http.MethodPost, base+"/api/v1/account/authorizers", login.AccessToken,
		server.RegisterAuthorizerRequest{CredentialID: cred, Name: "ERP Faturas"}, &reg); st != http.StatusAccepted {
		t.Fatalf("register authorizer: HTTP %d\n%s", st, serveErr)
	}
	var setup struct {
		Setup struct {
			Secret string `json:"secret"`
		} `json:"setup"`
	}
	if st := apiJSON(t, http.MethodPost, base+"/api/v1/account/authorizers/"+reg.ID+"/confirm", login.AccessToken,
		server.CodeRequest{Code: outboxSMSCode(t, data, mobile)}, &setup); st != http.StatusOK {
		t.Fatalf("confirm authorizer: HTTP %d\n%s", st, serveErr)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(setup.Setup.Secret)
	if err != nil {
		t.Fatalf("authorizer secret: %v", err)
	}
	// The ERP's signature codes: one step each, never one used twice.
	step := time.Now().Unix() / 30
	erpCode := func(n int64) string {
		return writeFile(t, filepath.Join(dir, fmt.Sprintf("code%d", n)), approval.HOTP(secret, uint64(step+n), approval.AlgSHA256, 8))
	}
	smsBefore := smsCount(t, data, mobile)

	// 5. The ERP signs an e-invoice (XAdES) through the CSC API.
	invoice1 := writeFile(t, filepath.Join(dir, "invoice1.xml"), invoiceXML)
	mustRunSelo(t, "sign", "xml", invoice1, "--credential", cred, "--token-file", tf, "--otp-file", erpCode(0))
	chainV1 := credentialChainOf(t, data, csc, cred, "qualified-ecc-v1")
	checkXAdES(t, filepath.Join(dir, "invoice1-signed.xml"), chainV1, xades.LevelBB)
	if out, err := xmlsecVerifier(t, chainV1)(filepath.Join(dir, "invoice1-signed.xml")); err != nil || !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("xmlsec1 --verify of the first invoice: %v\n%s", err, out)
	}

	// 6. The CA change: new CA, the profiles pointed at it, the old CA
	// retired, every certificate of the old CA re-issued.
	mustRunSelo(t, append(d, "ca", "create", "--id", "qualified-ecc-v2", "--name", "Selo Demo Qualified CA ECC V2",
		"--parent", "root-ecc-v1", "--key-type", "ecdsa-p384")...)
	pointProfiles(t, data, "qualified-ecc-v1", "qualified-ecc-v2")
	mustRunSelo(t, append(d, "ca", "retire", "qualified-ecc-v1")...)
	r := runSelo(t, append(d, "cert", "reissue", "--all-from", "qualified-ecc-v1", "--ca", "qualified-ecc-v2")...)
	if r.code != 0 || !strings.Contains(r.stdout, "The re-issue is complete: qualified-ecc-v1 has no valid certificate left.") {
		t.Fatalf("bulk re-issue:\n%s", r)
	}

	// 7. The same authorizer signs again: no holder action, no SMS; the
	// invoice carries the re-issued certificate, whose chain openssl and
	// xmlsec1 verify under the new CA.
	invoice2 := writeFile(t, filepath.Join(dir, "invoice2.xml"), invoiceXML)
	r = runSelo(t, "sign", "xml", invoice2, "--credential", cred, "--token-file", tf, "--otp-file", erpCode(1))
	if r.code != 0 {
		t.Fatalf("the authorizer's signature after the CA change:\n%s\n%s", r, serveErr)
	}
	chainV2 := credentialChainOf(t, data, csc, cred, "qualified-ecc-v2")
	if !bytes.Equal(chainV2[0].RawSubjectPublicKeyInfo, chainV1[0].RawSubjectPublicKeyInfo) || chainV2[0].Equal(chainV1[0]) {
		t.Fatal("after the CA change the credential has another key, or the same certificate")
	}
	leaf := writeFile(t, filepath.Join(dir, "leaf-v2.pem"), string(pemCertificate(chainV2[0].Raw)))
	opensslVerify(t, data, "qualified-ecc-v2", leaf)
	checkXAdES(t, filepath.Join(dir, "invoice2-signed.xml"), chainV2, xades.LevelBB)
	if out, err := xmlsecVerifier(t, chainV2)(filepath.Join(dir, "invoice2-signed.xml")); err != nil || !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("xmlsec1 --verify of the invoice signed after the CA change: %v\n%s", err, out)
	}
	if n := smsCount(t, data, mobile); n != smsBefore {
		t.Fatalf("%d texts were sent to the holder while the ERP signed; want none", n-smsBefore)
	}

	// 8. The key is compromised: the officer revokes the credential's
	// certificate; the next signature is refused, clearly, before any
	// approval is checked, and OCSP says revoked (keyCompromise).
	serial := fmt.Sprintf("%x", chainV2[0].SerialNumber)
	mustRunSelo(t, append(d, "revoke", serial, "--reason", "keyCompromise")...)
	invoice3 := writeFile(t, filepath.Join(dir, "invoice3.xml"), invoiceXML)
	r = runSelo(t, "sign", "xml", invoice3, "--credential", cred, "--token-file", tf, "--otp-file", erpCode(2))
	wantExit(t, r, 1, "revoked")
	if _, err := os.Stat(filepath.Join(dir, "invoice3-signed.xml")); !os.IsNotExist(err) {
		t.Fatalf("a refused signature wrote the invoice (%v)", err)
	}
	issuing, root := chainFiles(t, data, "qualified-ecc-v2")
	issuerFile := writeFile(t, filepath.Join(dir, "issuer-v2.pem"), string(pemCertificate(chainV2[1].Raw)))
	out := mustOpenSSL(t, "ocsp", "-issuer", issuerFile, "-cert", leaf, "-url", base+"/ocsp", "-CAfile", root, "-verify_other", issuing)
	if !strings.Contains(out, leaf+": revoked") || !strings.Contains(out, "Reason: keyCompromise") || !strings.Contains(out, "Response verify OK") {
		t.Fatalf("openssl ocsp after the revocation:\n%s", out)
	}
	// The superseded certificate under the old CA holds the same key: the
	// key-compromise revocation took it too.
	leafV1 := writeFile(t, filepath.Join(dir, "leaf-v1.pem"), string(pemCertificate(chainV1[0].Raw)))
	issuingV1, _ := chainFiles(t, data, "qualified-ecc-v1")
	issuerV1 := writeFile(t, filepath.Join(dir, "issuer-v1.pem"), string(pemCertificate(chainV1[1].Raw)))
	out = mustOpenSSL(t, "ocsp", "-issuer", issuerV1, "-cert", leafV1, "-url", base+"/ocsp", "-CAfile", root, "-verify_other", issuingV1)
	if !strings.Contains(out, leafV1+": revoked") || !strings.Contains(out, "Reason: keyCompromise") || !strings.Contains(out, "Response verify OK") {
		t.Fatalf("openssl ocsp of the superseded twin after the key-compromise revocation:\n%s", out)
	}
	mustRunSelo(t, append(d, "audit", "verify")...)
}

// validateAndPay walks an order through the holder's identity check (a
// real ID card MRZ, through the API), the officer's approval and the
// payment, to ready.
func validateAndPay(t *testing.T, data, base, number, accessCode string, holder selo.Holder) {
	t.Helper()
	card := lifttest.IDCard(holder, lifttest.CardNumber, lifttest.Expiry())
	var check server.IdentityCheckResponse
	if st := apiJSON(t, http.MethodPost, base+"/api/v1/orders/"+number+"/identity-check", "", server.IdentityCheckRequest{
		AccessCode: accessCode, DocumentType: card.DocumentType, Country: card.Country, DocumentNumber: card.DocumentNumber,
		ExpiryDate: card.ExpiryDate.Format(time.DateOnly), MRZ: card.MRZ}, &check); st != http.StatusOK {
		t.Fatalf("identity check: HTTP %d", st)
	}
	mustRunSelo(t, "--data", data, "order", "decide", check.ID, "--approve", "--reason", "photo and liveness video match the card")
	mustRunSelo(t, "--data", data, "order", "pay", number, "--reference", "TPA-"+number, "--amount", "89.90")
}

// credentialChainOf returns the credential's certificate chain as the CSC
// API lists it (leaf first), after checking that the leaf is issued by caID.
func credentialChainOf(t *testing.T, data string, csc func(...string) []string, cred, caID string) []*x509.Certificate {
	t.Helper()
	var infos []cscCredentialOutput
	decodeJSON(t, mustRunSelo(t, csc("credentials", cred, "--json")...), &infos)
	if len(infos) != 1 || infos[0].CertStatus != "valid" {
		t.Fatalf("csc credentials %s: %+v", cred, infos)
	}
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	mustRunSelo(t, "cert", "get", infos[0].Serial, "--out", leafFile, "--data", data)
	leaf := parsePEMCertificates(t, readFile(t, leafFile))[0]
	cas := parsePEMCertificates(t, []byte(mustRunSelo(t, "ca", "chain", caID, "--data", data).stdout))
	if err := leaf.CheckSignatureFrom(cas[0]); err != nil {
		t.Fatalf("credential %s's certificate %s is not issued by %s: %v", cred, infos[0].Serial, caID, err)
	}
	return append([]*x509.Certificate{leaf}, cas...)
}

// smsCount returns how many texts DATA's outbox holds for mobile.
func smsCount(t *testing.T, data, mobile string) int {
	t.Helper()
	r := mustRunSelo(t, "--data", data, "--json", "outbox", "--channel", "sms", "--to", mobile)
	n := 0
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var m selo.OutboxMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
