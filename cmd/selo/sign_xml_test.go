package main

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/internal/signtest"
)

const invoiceXML = `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>FT 2026/0042</cbc:ID>
  <cbc:PayableAmount currencyID="EUR">1230.00</cbc:PayableAmount>
</Invoice>
`

func TestSignXMLAndVerify(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "invoice.xml"), invoiceXML)

	r := mustRunSelo(t, "sign", "xml", in, "--pfx", pfx, "--password-file", pw, "--data", data)
	out := filepath.Join(dir, "invoice-signed.xml")
	if !strings.Contains(r.stdout, "XAdES B-B") || !strings.Contains(r.stdout, "Maria Silva") || !strings.Contains(r.stdout, out) {
		t.Fatalf("sign xml output:\n%s", r)
	}
	signed, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(signed, []byte("<xades:SignedProperties")) {
		t.Fatalf("signed XML: %v\n%s", err, signed)
	}

	v, r := verifyJSON(t, out, "--data", data)
	if r.code != 0 || !v.Valid || v.Report.Format != "XAdES" || v.Report.Signatures[0].Level != "B-B" || !strings.Contains(v.Report.Signatures[0].Signer, "Maria Silva") {
		t.Fatalf("verify --json:\n%s", r)
	}
	text := mustRunSelo(t, "verify", out, "--data", data)
	for _, want := range []string{"XAdES signature (enveloped)", "VALID", "Maria Silva", "unchanged since signing", "leads to a trusted root"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("verify text lacks %q:\n%s", want, text)
		}
	}

	// Signing it again would break the first signature: refused.
	wantExit(t, runSelo(t, "sign", "xml", out, filepath.Join(dir, "twice.xml"), "--pfx", pfx, "--password-file", pw, "--data", data), 1, "already signed")

	// One changed byte: invalid, exit 1, said plainly.
	tampered := filepath.Join(dir, "tampered.xml")
	os.WriteFile(tampered, bytes.Replace(signed, []byte("1230.00"), []byte("1230.01"), 1), 0o600)
	r = runSelo(t, "verify", tampered, "--data", data)
	wantExit(t, r, 1, "not every signature is valid")
	if !strings.Contains(r.stdout, "INVALID") || !strings.Contains(r.stdout, "CHANGED after signing") {
		t.Fatalf("tampered:\n%s", r)
	}

	// xmlsec1, the peer, accepts it with the data directory's chain.
	signtest.Tool(t, "xmlsec1", "")
	chain := filepath.Join(dir, "chain.pem")
	mustRunSelo(t, "ca", "chain", issuingCA(t), "--out", chain, "--data", data)
	// xmlsec1 reads one certificate per --trusted-pem/--untrusted-pem file:
	// the root is trusted, the issuing CA only helps build the path.
	pemData, _ := os.ReadFile(chain)
	var blocks [][]byte
	for rest := pemData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(b))
	}
	if len(blocks) != 2 {
		t.Fatalf("chain holds %d certificates, want the issuing CA and the root", len(blocks))
	}
	issuing := writeFile(t, filepath.Join(dir, "issuing.pem"), string(blocks[0]))
	root := writeFile(t, filepath.Join(dir, "root.pem"), string(blocks[1]))
	xmlsec := func(file string) ([]byte, error) {
		return exec.Command("xmlsec1", "--verify", "--trusted-pem", root, "--untrusted-pem", issuing,
			"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", file).CombinedOutput()
	}
	if res, err := xmlsec(out); err != nil {
		t.Fatalf("xmlsec1 refused the signature: %v\n%s", err, res)
	}
	if res, err := xmlsec(tampered); err == nil {
		t.Fatalf("xmlsec1 accepted a tampered copy:\n%s", res)
	}
}

func TestSignXMLCommandErrors(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.xml"), invoiceXML)
	dtd := writeFile(t, filepath.Join(dir, "dtd.xml"), `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>`)
	garbage := writeFile(t, filepath.Join(dir, "garbage.xml"), "<a><b></a>")
	out := filepath.Join(dir, "out.xml")
	key := []string{"--pfx", pfx, "--password-file", pw, "--data", data}
	wantExit(t, runSelo(t, "sign", "xml", good, out, "--data", data), 2, "exactly one of --pfx, --pkcs11-key and --credential")
	wantExit(t, runSelo(t, "sign", "xml", good, out, "extra", "--data", data), 2, "sign xml needs")
	wantExit(t, runSelo(t, append([]string{"sign", "xml", good, good}, key...)...), 2, "must differ")
	wantExit(t, runSelo(t, append([]string{"sign", "xml", good, out, "--hash", "md5"}, key...)...), 2, "--hash must be")
	wantExit(t, runSelo(t, append([]string{"sign", "xml", dtd, out}, key...)...), 1, "DTD")
	wantExit(t, runSelo(t, append([]string{"sign", "xml", garbage, out}, key...)...), 1, "not well-formed")
	// An unreachable TSA fails the signature and leaves no output behind.
	wantExit(t, runSelo(t, append([]string{"sign", "xml", good, out, "--tsa", "http://127.0.0.1:1/tsa"}, key...)...), 1, "TSA")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a failed signature left its output behind")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("stray files in %s: %v", dir, entries)
	}
	// verify: an unsigned XML document is an error, not a report.
	wantExit(t, runSelo(t, "verify", good, "--data", data), 1, "no XML signature")
	wantExit(t, runSelo(t, "verify", good, "--content", good, "--data", data), 2, "--content is not used")
}

// TestSignXMLBT: a XAdES B-T signature with a timestamp from Selo's own TSA.
func TestSignXMLBT(t *testing.T) {
	data := dataDir(t)
	mustRunSelo(t, "tsa", "init", "--ca", issuingCA(t), "--data", data)
	base, _ := serveInProcess(t, data)
	pfx, pw := signerPFX(t, data)
	in := writeFile(t, filepath.Join(t.TempDir(), "invoice.xml"), invoiceXML)
	out := filepath.Join(filepath.Dir(in), "signed.xml")
	r := mustRunSelo(t, "sign", "xml", in, out, "--pfx", pfx, "--password-file", pw, "--tsa", base+"/tsa", "--data", data)
	if !strings.Contains(r.stdout, "XAdES B-T") {
		t.Fatalf("sign xml --tsa:\n%s", r)
	}
	v, r := verifyJSON(t, out, "--data", data)
	s := v.Report.Signatures[0]
	if r.code != 0 || s.Level != "B-T" || !s.TimestampOK || s.Timestamp == "" {
		t.Fatalf("verify B-T:\n%s", r)
	}
}
