package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// firstCertificate parses the first PEM certificate of a file.
func firstCertificate(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(readFile(t, path))
	if b == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestVerifyXMLRevocation: selo verify reports the signer certificate's
// revocation status for XAdES as for CAdES and PAdES. Offline with nothing
// embedded it is "not checked"; with the OCSP response of Selo's own
// responder embedded (xades:RevocationValues) a signature timestamped after
// the revocation is invalid, and the report names the source.
func TestVerifyXMLRevocation(t *testing.T) {
	data := dataDir(t)
	mustRunSelo(t, "tsa", "init", "--ca", issuingCA(t), "--data", data)
	base, _ := serveInProcess(t, data)
	dir := t.TempDir()
	q := issueNaturalPerson(t, data)
	pw := writeFile(t, filepath.Join(dir, "pw"), "sign-test-pass-1")
	pfx := filepath.Join(dir, "maria.pfx")
	mustRunSelo(t, "cert", "pfx", q.Serial, "--out", pfx, "--data", data, "--password-file", pw)
	in := writeFile(t, filepath.Join(dir, "invoice.xml"), invoiceXML)
	key := []string{"--pfx", pfx, "--password-file", pw, "--tsa", base + "/tsa", "--data", data}

	good := filepath.Join(dir, "good.xml")
	mustRunSelo(t, append([]string{"sign", "xml", in, good}, key...)...)
	r := mustRunSelo(t, "verify", good, "--offline", "--data", data)
	if !strings.Contains(r.stdout, "VALID") || !strings.Contains(r.stdout, "revocation    not checked (--offline, and the document embeds no answer for this certificate); not counted against the signature") {
		t.Fatalf("offline verify:\n%s", r)
	}
	// The qualified CA between the signer and the root is checked too.
	if !regexp.MustCompile(`(?m)^  CA revocation CN=[^\n]*Qualified[^\n]*: not checked \(--offline`).MatchString(r.stdout) || strings.Count(r.stdout, "CA revocation") != 1 {
		t.Fatalf("offline verify lacks the CA's revocation line:\n%s", r)
	}

	// The key was compromised; a signature made after that, with the key
	// still at hand, carries a timestamp later than the revocation.
	mustRunSelo(t, "revoke", q.Serial, "--reason", "keyCompromise", "--data", data)
	late := filepath.Join(dir, "late.xml")
	mustRunSelo(t, append([]string{"sign", "xml", in, late}, key...)...)

	chain := filepath.Join(dir, "chain.pem")
	mustRunSelo(t, "ca", "chain", issuingCA(t), "--out", chain, "--data", data)
	cert := firstCertificate(t, writeFile(t, filepath.Join(dir, "cert.pem"), q.PEM))
	req, err := ocsp.CreateRequest(cert, firstCertificate(t, chain), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	values := "<xades:RevocationValues><xades:OCSPValues><xades:EncapsulatedOCSPValue>" + base64.StdEncoding.EncodeToString(answer) +
		"</xades:EncapsulatedOCSPValue></xades:OCSPValues></xades:RevocationValues></xades:UnsignedSignatureProperties>"
	withOCSP := writeFile(t, filepath.Join(dir, "late-lt.xml"), strings.Replace(string(readFile(t, late)), "</xades:UnsignedSignatureProperties>", values, 1))

	r = runSelo(t, "verify", withOCSP, "--offline", "--data", data)
	wantExit(t, r, 1, "not every signature is valid")
	for _, want := range []string{"INVALID", "revocation    REVOKED at", "(keyCompromise), from OCSP (embedded in the document)", "problem       the signer's certificate was revoked at"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify of a signature made after the revocation lacks %q:\n%s", want, r)
		}
	}
	var v struct {
		Report struct {
			Signatures []struct {
				Status     string `json:"status"`
				Revocation struct {
					Status string `json:"status"`
					Source string `json:"source"`
				} `json:"revocation"`
				ChainRevocation []struct {
					Subject    string `json:"subject"`
					Serial     string `json:"serial"`
					Revocation struct {
						Status string `json:"status"`
					} `json:"revocation"`
				} `json:"chain_revocation"`
			} `json:"signatures"`
		} `json:"report"`
	}
	r = runSelo(t, "verify", withOCSP, "--offline", "--json", "--data", data)
	if err := jsonDecodeLoose(strings.NewReader(r.stdout), &v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, r)
	}
	if s := v.Report.Signatures[0]; r.code != 1 || s.Status != "invalid" || s.Revocation.Status != "revoked" || s.Revocation.Source != "OCSP (embedded in the document)" ||
		len(s.ChainRevocation) != 1 || s.ChainRevocation[0].Serial == "" || !strings.Contains(s.ChainRevocation[0].Subject, "Qualified") ||
		s.ChainRevocation[0].Revocation.Status != "not checked" {
		t.Fatalf("verify --json:\n%s", r)
	}
}
