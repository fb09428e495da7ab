package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/trustlist"
)

// tlVerifyOutput is what verify --json prints with trusted lists.
type tlVerifyOutput struct {
	Valid        bool                       `json:"valid"`
	Trust        string                     `json:"trust"`
	TrustedLists []*trustlist.ListReport    `json:"trusted_lists"`
	Grades       []*trustlist.Qualification `json:"qualifications"`
}

func verifyTL(t *testing.T, args ...string) (tlVerifyOutput, result) {
	t.Helper()
	r := runSelo(t, append([]string{"verify", "--json", "--offline"}, args...)...)
	var v tlVerifyOutput
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(&v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, r)
	}
	return v, r
}

// TestTLExportBuildVerify: 'selo tl export' lists the qualified CA as
// CA/QC with its Sie qualifications; 'selo tl build' signs a TL and a LOTL
// that xmlsec1 accepts; 'selo verify --lotl' grades a .pfx qualified
// signature AdES-QC; after the CA is retired the service is withdrawn and
// the grade drops to AdES with the reason; a changed byte in a list is
// reported and the list not used.
func TestTLExportBuildVerify(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()

	// The provider's entry.
	tsp := filepath.Join(dir, "tsp.xml")
	mustRunSelo(t, "tl", "export", "--out", tsp, "--data", data, "--tsp-email", "pki@example.eu")
	var p trustlist.Provider
	if err := xml.Unmarshal(readFile(t, tsp), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 1 {
		t.Fatalf("want the qualified CA only (not the root, not the TLS CA): %d services", len(p.Services))
	}
	svc := p.Services[0].Information
	if svc.Type != trustlist.ServiceTypeCAQC || svc.Status != trustlist.StatusGranted || p.Services[0].History != nil {
		t.Fatalf("service %s %s", svc.Type, svc.Status)
	}
	var qualifiers []string
	for _, x := range svc.Extensions.Extensions {
		if x.Qualifications != nil {
			for _, el := range x.Qualifications.Elements {
				qualifiers = append(qualifiers, el.Qualifiers[0].URI)
			}
		}
	}
	for _, q := range []string{trustlist.QCForESig, trustlist.QCForESeal, trustlist.QCWithQSCD, trustlist.QCNoQSCD} {
		if !slices.Contains(qualifiers, q) {
			t.Fatalf("no %s in %v", q, qualifiers)
		}
	}

	// The signed lists.
	lists := filepath.Join(dir, "lists")
	var built tlBuildResult
	decodeJSON(t, mustRunSelo(t, "tl", "build", "--out", lists, "--data", data, "--json"), &built)
	if built.Sequence != 1 || built.Services != 1 || !built.NextUpdate.After(time.Now().AddDate(0, 5, 0)) {
		t.Fatalf("build: %+v", built)
	}
	if bin := signtest.Tool(t, "xmlsec1", "xmlsec1"); bin != "" {
		for file, signer := range map[string]string{built.TL: "tl-signer.pem", built.LOTL: "lotl-signer.pem"} {
			out, err := signtest.Run(bin, "--verify", "--trusted-pem", filepath.Join(lists, signer),
				"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", file)
			if err != nil || !strings.Contains(out, "OK") {
				t.Fatalf("xmlsec1 refused %s: %v\n%s", file, err, out)
			}
		}
	}

	// A qualified certificate in a .pfx (a software key): AdES-QC.
	pfx, pw := signerPFX(t, data)
	in := writeFile(t, filepath.Join(dir, "contract.pdf"), string(onePagePDF()))
	signed := filepath.Join(dir, "contract-signed.pdf")
	mustRunSelo(t, "sign", "pdf", in, signed, "--pfx", pfx, "--password-file", pw, "--data", data)
	lotlArgs := []string{signed, "--lotl", built.LOTL, "--lotl-cert", built.LOTLSigner, "--tl-cache", t.TempDir()}
	v, r := verifyTL(t, lotlArgs...)
	if !v.Valid || len(v.Grades) != 1 || v.Grades[0].Level != trustlist.LevelAdESQC || !slices.Contains(v.Grades[0].Qualifiers, "QCNoQSCD") ||
		len(v.TrustedLists) != 2 || v.TrustedLists[1].Status != trustlist.ListOK || !strings.Contains(v.Trust, "trusted list") {
		t.Fatalf("pfx signature:\n%s", r)
	}
	text := mustRunSelo(t, append([]string{"verify", "--offline"}, lotlArgs...)...)
	if !strings.Contains(text.stdout, "Qualification of signature 1") || !strings.Contains(text.stdout, "AdES-QC") || !strings.Contains(text.stdout, "QCNoQSCD") {
		t.Fatalf("text report:\n%s", text)
	}

	// One national list on its own (--tl), trusted through its signer.
	v, r = verifyTL(t, signed, "--tl", built.TL, "--tl-cert", filepath.Join(lists, "tl-signer.pem"))
	if !v.Valid || len(v.TrustedLists) != 1 || v.Grades[0].Level != trustlist.LevelAdESQC {
		t.Fatalf("--tl:\n%s", r)
	}
	wantExit(t, runSelo(t, "verify", signed, "--tl", built.TL, "--tl-cert", built.LOTLSigner), 1, "bad-signature")

	// A second build raises the sequence number.
	decodeJSON(t, mustRunSelo(t, "tl", "build", "--out", lists, "--data", data, "--json"), &built)
	if built.Sequence != 2 {
		t.Fatalf("second build sequence %d", built.Sequence)
	}

	// A changed byte in the national list: reported, not used; the
	// signature no longer chains to a listed service.
	tl := readFile(t, built.TL)
	writeFile(t, built.TL, string(bytes.Replace(tl, []byte("Selo sandbox"), []byte("Selo sandbaх"), 1)))
	v, r = verifyTL(t, lotlArgs...)
	if r.code != 1 || v.TrustedLists[1].Status != trustlist.ListBadSignature || v.Grades[0].Level != trustlist.LevelAdES {
		t.Fatalf("tampered TL:\n%s", r)
	}
	writeFile(t, built.TL, string(tl))
	// A changed LOTL is refused outright.
	lotl := readFile(t, built.LOTL)
	writeFile(t, built.LOTL, string(bytes.Replace(lotl, []byte("65535"), []byte("65534"), 1)))
	wantExit(t, runSelo(t, append([]string{"verify", "--offline"}, lotlArgs...)...), 1, "bad-signature")
	writeFile(t, built.LOTL, string(lotl))
	// The LOTL's signer is required.
	wantExit(t, runSelo(t, "verify", signed, "--lotl", built.LOTL), 2, "--lotl-cert")

	// The CA retired: withdrawn since then, granted before (history).
	mustRunSelo(t, "ca", "retire", "qualified-ecc-v1", "--data", data)
	mustRunSelo(t, "tl", "export", "--out", tsp, "--data", data)
	p = trustlist.Provider{}
	if err := xml.Unmarshal(readFile(t, tsp), &p); err != nil {
		t.Fatal(err)
	}
	s := p.Services[0]
	if s.Information.Status != trustlist.StatusWithdrawn || s.History == nil || s.History.Instances[0].Status != trustlist.StatusGranted {
		t.Fatalf("retired CA: %+v", s.Information)
	}
	mustRunSelo(t, "tl", "build", "--out", lists, "--data", data)
	v, r = verifyTL(t, lotlArgs...)
	if v.Grades[0].Level != trustlist.LevelAdES || v.Grades[0].Status != "withdrawn" || !strings.Contains(strings.Join(v.Grades[0].Reasons, " "), "withdrawn since") {
		t.Fatalf("after retirement:\n%s", r)
	}
}

// qscdCredential makes a cloud credential whose key is taken to be in a
// QSCD, as an HSM key store makes one (the soft key store never is one):
// its qualified-sign certificate states QcSSCD under QCP-n-qscd.
func qscdCredential(t *testing.T, s *cscServer) string {
	t.Helper()
	ctx := context.Background()
	keyID := "order/qscd-" + strings.ReplaceAll(t.Name(), "/", "-")
	signer, err := s.env.Keys.GenerateKey(ctx, keyID, selo.KeyECDSAP256, selo.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := pkitest.Request("qualified-sign", signer.Public())
	cert, err := s.env.Authority.Issue(ctx, testenv.Actor, authority.IssueRequest{Profile: "qualified-sign", PublicKey: signer.Public(), KeyID: keyID,
		Subject: req.Subject, EmailAddresses: req.EmailAddresses, KeyInQSCD: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.svc.AttachOrderCredential(ctx, "operator", selo.OrderCredential{ID: "qscd1", OrderNumber: "SO-TEST-QSCD1", Email: s.acct.Email,
		KeyID: keyID, KeyAlgorithm: selo.KeyECDSAP256, CertificateSerial: cert.Serial, Profile: "qualified-sign", Approval: selo.ApprovalSMS})
	if err != nil {
		t.Fatal(err)
	}
	return c.CredentialID
}

// softwarePFX issues profile for a key made here (not in a QSCD) and
// writes it with its chain as a .pfx; it returns the file and its password file.
func softwarePFX(t *testing.T, env *testenv.Env, profile string) (string, string) {
	t.Helper()
	csr, key := testenv.CSR(t, profile, "ecdsa-p256")
	rec, err := env.Authority.Issue(context.Background(), testenv.Actor, authority.IssueRequest{Profile: profile, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(rec.DER)
	issuing, _ := x509.ParseCertificate(env.Qualified.CertDER)
	der, err := pkcs12.Modern.Encode(key.(crypto.PrivateKey), cert, []*x509.Certificate{issuing}, "pfx-pass-123")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, profile+".pfx")
	if err := os.WriteFile(path, der, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, writeFile(t, filepath.Join(dir, "pw"), "pfx-pass-123\n")
}

// writeLists builds and signs a TL listing env's qualified CA (ended at
// ended unless zero) and a LOTL pointing at it; it returns the LOTL and the
// LOTL signer's PEM file.
func writeLists(t *testing.T, env *testenv.Env, ended time.Time) (string, string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	var profiles []*pki.Profile
	for _, name := range []string{"qualified-sign", "qualified-seal", "advanced-invoice", "advanced-email"} {
		profiles = append(profiles, env.Profiles[name])
	}
	// The CA as it would be after a year in service, so that a withdrawal
	// a minute ago comes after its grant.
	qualified := *env.Qualified
	qualified.CreatedAt = time.Now().AddDate(-1, 0, 0)
	p, err := trustlist.ExportProvider(trustlist.ProviderInfo{Name: "Selo Test Trust Services", Country: "PT"},
		[]trustlist.ExportCA{{CA: env.Root}, {CA: &qualified, Profiles: profiles, Ended: ended}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tlKey, tlCert, _ := trustlist.NewListSigner("TL signer", "PT", now)
	lotlKey, lotlCert, _ := trustlist.NewListSigner("LOTL signer", "EU", now)
	tl := trustlist.NewList(trustlist.ListOptions{Type: trustlist.TypeEUGeneric, SequenceNumber: 1, Territory: "PT", OperatorName: "Supervisor",
		SchemeName: "PT", IssueDate: now, NextUpdate: now.AddDate(0, 1, 0), Providers: []*trustlist.Provider{p}})
	lotl := trustlist.NewList(trustlist.ListOptions{Type: trustlist.TypeEULOTL, SequenceNumber: 1, Territory: "EU", OperatorName: "EC",
		SchemeName: "EU", IssueDate: now, NextUpdate: now.AddDate(0, 1, 0),
		Pointers: []trustlist.PointerSpec{{Location: "tl.xml", Type: trustlist.TypeEUGeneric, Territory: "PT", Signers: []*x509.Certificate{tlCert}}}})
	for _, l := range []struct {
		list *trustlist.List
		key  crypto.Signer
		cert *x509.Certificate
		name string
	}{{tl, tlKey, tlCert, "tl.xml"}, {lotl, lotlKey, lotlCert, "lotl.xml"}} {
		data, _ := trustlist.Marshal(l.list)
		signed, err := trustlist.Sign(ctx, data, l.key, l.cert, now)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, l.name), string(signed))
	}
	return filepath.Join(dir, "lotl.xml"), signtest.WritePEM(t, dir, "lotl-signer.pem", lotlCert)
}

// TestVerifyLOTLGrades is the relying party's end to end: a qualified
// cloud credential (key in a QSCD) signs a PDF through the CSC API, and
// 'selo verify --lotl' says QES; with the CA/QC service withdrawn before
// the signing time it says AdES with the reason; a qualified certificate
// with a software key (.pfx) is AdES-QC; an advanced-invoice one is AdES.
func TestVerifyLOTLGrades(t *testing.T) {
	s := newCSCServer(t)
	cred := qscdCredential(t, s)
	dir := t.TempDir()
	tf := filepath.Join(dir, "token.json")
	mustRunSelo(t, "csc", "login", "--server", s.url, "--email", "maria@example.pt", "--password-file", s.pwFile, "--token-file", tf)
	in := writeFile(t, filepath.Join(dir, "lease.pdf"), string(onePagePDF()))
	cloud := filepath.Join(dir, "cloud.pdf")
	mustRunSelo(t, "sign", "pdf", in, cloud, "--credential", cred, "--token-file", tf, "--otp-file", s.sendOTP(t, tf, cred))
	signedWith := func(profile string) string {
		pfx, pw := softwarePFX(t, s.env, profile)
		out := filepath.Join(dir, profile+".pdf")
		mustRunSelo(t, "sign", "pdf", in, out, "--pfx", pfx, "--password-file", pw)
		return out
	}
	pfxQualified, invoice := signedWith("qualified-sign"), signedWith("advanced-invoice")

	lotl, lotlCert := writeLists(t, s.env, time.Time{})
	for file, want := range map[string]string{cloud: trustlist.LevelQES, pfxQualified: trustlist.LevelAdESQC, invoice: trustlist.LevelAdES} {
		v, r := verifyTL(t, file, "--lotl", lotl, "--lotl-cert", lotlCert)
		if !v.Valid || len(v.Grades) != 1 || v.Grades[0].Level != want {
			t.Fatalf("%s: want %s\n%s", filepath.Base(file), want, r)
		}
		g := v.Grades[0]
		switch want {
		case trustlist.LevelQES:
			if !g.QCCompliance || !g.QCSSCD || g.QCType != "esign" || !slices.Contains(g.Qualifiers, "QCWithQSCD") || !slices.Contains(g.Qualifiers, "QCForESig") ||
				g.Status != "granted" || !strings.Contains(g.TrustedList, "PT TL #1") {
				t.Fatalf("QES reasons: %+v", g)
			}
		case trustlist.LevelAdES:
			if g.QCCompliance || !strings.Contains(strings.Join(g.Reasons, " "), "no QcCompliance") {
				t.Fatalf("invoice reasons: %+v", g)
			}
		}
	}

	// The service withdrawn a minute before the signature was checked
	// (no timestamp: the signing time is now).
	lotl, lotlCert = writeLists(t, s.env, time.Now().Add(-time.Minute))
	v, r := verifyTL(t, cloud, "--lotl", lotl, "--lotl-cert", lotlCert)
	if g := v.Grades[0]; g.Level != trustlist.LevelAdES || g.Status != "withdrawn" || !strings.Contains(strings.Join(g.Reasons, " "), "withdrawn since") {
		t.Fatalf("withdrawn service:\n%s", r)
	}
}

// TestTLTimestampedSignature: the TSA that 'selo tsa init' made is on the
// exported list as TSA/QTST, and a B-T signature is graded at the time its
// timestamp proves, not at the present.
func TestTLTimestampedSignature(t *testing.T) {
	addr := freePort(t)
	base := "http://" + addr
	data := filepath.Join(t.TempDir(), "data")
	var initOut initResult
	decodeJSON(t, mustRunSelo(t, "init", "--data", data, "--base-url", base, "--json"), &initOut)
	ca := ""
	for _, c := range initOut.CAs {
		if strings.Contains(c.ID, "qualified") {
			ca = c.ID
		}
	}
	mustRunSelo(t, "tsa", "init", "--ca", ca, "--data", data)
	serveAt(t, data, addr)
	pfx, pw := signerPFX(t, data)
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "contract.pdf"), string(onePagePDF()))
	signed := filepath.Join(dir, "contract-bt.pdf")
	mustRunSelo(t, "sign", "pdf", in, signed, "--pfx", pfx, "--password-file", pw, "--tsa", base+"/tsa", "--data", data)

	lists := filepath.Join(dir, "lists")
	var built tlBuildResult
	decodeJSON(t, mustRunSelo(t, "tl", "build", "--out", lists, "--data", data, "--json"), &built)
	var tl trustlist.List
	if err := xml.Unmarshal(readFile(t, built.TL), &tl); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, s := range tl.Providers.Providers[0].Services {
		types = append(types, s.Information.Type)
	}
	if !slices.Equal(types, []string{trustlist.ServiceTypeCAQC, trustlist.ServiceTypeQTST}) {
		t.Fatalf("services %v", types)
	}

	r := runSelo(t, "verify", "--json", "--offline", signed, "--lotl", built.LOTL, "--lotl-cert", built.LOTLSigner, "--tl-cache", t.TempDir())
	var v struct {
		tlVerifyOutput
		Report struct {
			Signatures []struct {
				Timestamp   time.Time `json:"timestamp"`
				TimestampOK bool      `json:"timestamp_ok"`
			} `json:"signatures"`
		} `json:"report"`
	}
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if !v.Valid || len(v.Grades) != 1 || !v.Report.Signatures[0].TimestampOK {
		t.Fatalf("B-T signature:\n%s", r)
	}
	if g := v.Grades[0]; g.Level != trustlist.LevelAdESQC || !g.At.Equal(v.Report.Signatures[0].Timestamp) || !strings.Contains(g.Reasons[0], "timestamp proves") {
		t.Fatalf("graded %s at %s, want AdES-QC at the timestamp's %s", g.Level, g.At, v.Report.Signatures[0].Timestamp)
	}
}

// TestTLExportRevokedCA: a CA whose certificate its root revoked is
// withdrawn on the exported entry since the revocation, granted before.
func TestTLExportRevokedCA(t *testing.T) {
	data := dataDir(t)
	mustRunSelo(t, "ca", "revoke", "qualified-ecc-v1", "--reason", "cACompromise", "--data", data)
	var p trustlist.Provider
	if err := xml.Unmarshal([]byte(mustRunSelo(t, "tl", "export", "--data", data).stdout), &p); err != nil {
		t.Fatal(err)
	}
	s := p.Services[0]
	if s.Information.Status != trustlist.StatusWithdrawn || s.History == nil || s.History.Instances[0].Status != trustlist.StatusGranted ||
		!s.History.Instances[0].StatusStarting.Before(s.Information.StatusStarting.Add(time.Second)) {
		t.Fatalf("revoked CA: %+v %+v", s.Information, s.History)
	}
}
