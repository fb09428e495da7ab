package trustlist

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

var now = pkitest.Now.Add(time.Hour)

// listSigner makes a self-signed P-256 certificate for signing lists.
func listSigner(t testing.TB, cn string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Country: []string{"PT"}, Organization: []string{"Supervisor"}},
		NotBefore: pkitest.Now.AddDate(-1, 0, 0), NotAfter: pkitest.Now.AddDate(3, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// qualifications is what Selo's export says of its qualified CA.
func qualifications() []QualificationElement {
	return []QualificationElement{
		PolicyQualification(QCForESig, "0.4.0.194112.1.0", "0.4.0.194112.1.2"),
		PolicyQualification(QCForESeal, "0.4.0.194112.1.1", "0.4.0.194112.1.3"),
		PolicyQualification(QCWithQSCD, "0.4.0.194112.1.2", "0.4.0.194112.1.3"),
		PolicyQualification(QCNoQSCD, "0.4.0.194112.1.0", "0.4.0.194112.1.1"),
	}
}

type fixture struct {
	dir              string
	lotl             string
	lotlCert, tlCert *x509.Certificate
	tlKey            crypto.Signer
	chains           map[string][]*x509.Certificate // qes, pfx, seal, invoice, tls
}

// buildLists writes a signed TL listing the test hierarchy's issuing CA as
// CA/QC with changes, and a signed LOTL pointing at it, into a new folder.
func buildLists(t testing.TB, changes []StatusChange) *fixture {
	t.Helper()
	h := pkitest.NewHierarchy(t)
	f := &fixture{dir: t.TempDir(), chains: map[string][]*x509.Certificate{}}
	var lotlKey crypto.Signer
	lotlKey, f.lotlCert = listSigner(t, "LOTL signer")
	f.tlKey, f.tlCert = listSigner(t, "TL signer")
	p, err := NewProvider(ProviderInfo{Name: "Selo Test Trust Services", Street: "Rua 1", Locality: "Lisboa", Country: "PT", InformationURI: "https://selo.example/tsp"},
		[]ServiceSpec{{Type: ServiceTypeCAQC, Name: h.Issuing.Cert.Subject.CommonName, Certificate: h.Issuing.Cert, Changes: changes,
			Qualifications: qualifications(), Additional: []string{ForESignatures, ForESeals}}})
	if err != nil {
		t.Fatal(err)
	}
	tl := NewList(ListOptions{Type: TypeEUGeneric, SequenceNumber: 3, Territory: "PT", OperatorName: "Supervisor", SchemeName: "PT: trusted list",
		InformationURI: "https://supervisor.example/tl", IssueDate: pkitest.Now, NextUpdate: pkitest.Now.AddDate(0, 6, 0), Providers: []*Provider{p}})
	lotl := NewList(ListOptions{Type: TypeEULOTL, SequenceNumber: 9, Territory: "EU", OperatorName: "European Commission", SchemeName: "EU: LOTL",
		InformationURI: "https://ec.example/lotl", IssueDate: pkitest.Now, NextUpdate: pkitest.Now.AddDate(0, 6, 0),
		Pointers: []PointerSpec{{Location: "tl-PT.xml", Type: TypeEUGeneric, Territory: "PT", OperatorName: "Supervisor", Signers: []*x509.Certificate{f.tlCert}}}})
	f.lotl = filepath.Join(f.dir, "lotl.xml")
	writeSigned(t, tl, f.tlKey, f.tlCert, filepath.Join(f.dir, "tl-PT.xml"))
	writeSigned(t, lotl, lotlKey, f.lotlCert, f.lotl)

	issue := func(name, profile string, qscd bool) {
		key := pkitest.NewKey(t, "ecdsa-p256")
		req := pkitest.Request(profile, key.Public())
		req.KeyInQSCD = qscd
		serial, _ := pki.RandomSerial()
		ca := h.IssuerFor(profile)
		issued, err := ca.Issuer.Issue(pki.BuiltinProfiles()[profile], req, serial, pkitest.Now, h.Linter)
		if err != nil {
			t.Fatal(err)
		}
		f.chains[name] = []*x509.Certificate{issued.Cert, ca.Cert, h.Root.Cert}
	}
	issue("qes", "qualified-sign", true)
	issue("pfx", "qualified-sign", false)
	issue("seal", "qualified-seal", true)
	issue("invoice", "advanced-invoice", false)
	issue("tls", "tls-server", false)
	return f
}

func writeSigned(t testing.TB, l *List, key crypto.Signer, cert *x509.Certificate, path string) {
	t.Helper()
	data, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(context.Background(), data, key, cert, pkitest.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, signed, 0o600); err != nil {
		t.Fatal(err)
	}
}

var granted = []StatusChange{{StatusGranted, pkitest.Now.AddDate(-1, 0, 0)}}

// TestListStructure checks the element order, namespaces and URIs of a
// built list against TS 119 612 v2.1.1 (clause 5 and its schema), read as
// XML tokens rather than through this package's own model.
func TestListStructure(t *testing.T) {
	f := buildLists(t, []StatusChange{{StatusGranted, pkitest.Now.AddDate(-1, 0, 0)}, {StatusWithdrawn, pkitest.Now.AddDate(0, -1, 0)}})
	data, _ := os.ReadFile(filepath.Join(f.dir, "tl-PT.xml"))
	root := parseTree(t, data)
	if root.name != (xml.Name{Space: NS, Local: "TrustServiceStatusList"}) || root.attr["TSLTag"] != TSLTag {
		t.Fatalf("root %v, TSLTag %q", root.name, root.attr["TSLTag"])
	}
	wantChildren(t, root, NS, "SchemeInformation", "TrustServiceProviderList")
	if last := root.children[len(root.children)-1]; last.name != (xml.Name{Space: NSDS, Local: "Signature"}) {
		t.Fatalf("the signature is not the list's last element: %v", last.name)
	}
	si := root.child(NS, "SchemeInformation")
	wantChildren(t, si, NS, "TSLVersionIdentifier", "TSLSequenceNumber", "TSLType", "SchemeOperatorName", "SchemeOperatorAddress",
		"SchemeName", "SchemeInformationURI", "StatusDeterminationApproach", "SchemeTypeCommunityRules", "SchemeTerritory",
		"HistoricalInformationPeriod", "ListIssueDateTime", "NextUpdate")
	if si.child(NS, "TSLVersionIdentifier").text != "5" || si.child(NS, "TSLType").text != "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric" {
		t.Fatalf("version %q type %q", si.child(NS, "TSLVersionIdentifier").text, si.child(NS, "TSLType").text)
	}
	if name := si.child(NS, "SchemeOperatorName").child(NS, "Name"); name.attr["{http://www.w3.org/XML/1998/namespace}lang"] != "en" {
		t.Fatalf("Name has no xml:lang: %v", name.attr)
	}
	for _, el := range []string{"ListIssueDateTime"} {
		if _, err := time.Parse("2006-01-02T15:04:05Z", si.child(NS, el).text); err != nil {
			t.Fatalf("%s %q is not a UTC time to the second", el, si.child(NS, el).text)
		}
	}
	if si.child(NS, "NextUpdate").child(NS, "dateTime") == nil {
		t.Fatal("NextUpdate has no dateTime")
	}
	tsp := root.child(NS, "TrustServiceProviderList").child(NS, "TrustServiceProvider")
	wantChildren(t, tsp, NS, "TSPInformation", "TSPServices")
	wantChildren(t, tsp.child(NS, "TSPInformation"), NS, "TSPName", "TSPAddress", "TSPInformationURI")
	svc := tsp.child(NS, "TSPServices").child(NS, "TSPService")
	wantChildren(t, svc, NS, "ServiceInformation", "ServiceHistory")
	info := svc.child(NS, "ServiceInformation")
	wantChildren(t, info, NS, "ServiceTypeIdentifier", "ServiceName", "ServiceDigitalIdentity", "ServiceStatus", "StatusStartingTime", "ServiceInformationExtensions")
	if info.child(NS, "ServiceTypeIdentifier").text != "http://uri.etsi.org/TrstSvc/Svctype/CA/QC" ||
		info.child(NS, "ServiceStatus").text != "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn" {
		t.Fatalf("type %q status %q", info.child(NS, "ServiceTypeIdentifier").text, info.child(NS, "ServiceStatus").text)
	}
	wantChildren(t, info.child(NS, "ServiceDigitalIdentity"), NS, "DigitalId", "DigitalId", "DigitalId")
	hist := svc.child(NS, "ServiceHistory").child(NS, "ServiceHistoryInstance")
	wantChildren(t, hist, NS, "ServiceTypeIdentifier", "ServiceName", "ServiceDigitalIdentity", "ServiceStatus", "StatusStartingTime", "ServiceInformationExtensions")
	if hist.child(NS, "ServiceStatus").text != "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted" {
		t.Fatalf("history status %q", hist.child(NS, "ServiceStatus").text)
	}
	exts := info.child(NS, "ServiceInformationExtensions").children
	if len(exts) != 3 || exts[0].attr["Critical"] != "true" {
		t.Fatalf("extensions %d, first critical %q", len(exts), exts[0].attr["Critical"])
	}
	quals := exts[0].child(NSSie, "Qualifications")
	if quals == nil {
		t.Fatalf("no Qualifications in %s: %v", NSSie, exts[0].children[0].name)
	}
	el := quals.child(NSSie, "QualificationElement")
	wantChildren(t, el, NSSie, "Qualifiers", "CriteriaList")
	if q := el.child(NSSie, "Qualifiers").child(NSSie, "Qualifier"); q.attr["uri"] != "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/QCForESig" {
		t.Fatalf("qualifier %v", q.attr)
	}
	crit := el.child(NSSie, "CriteriaList")
	if crit.attr["assert"] != "atLeastOne" {
		t.Fatalf("assert %q", crit.attr["assert"])
	}
	if id := crit.child(NSSie, "PolicySet").child(NSSie, "PolicyIdentifier").child(NSXAdES, "Identifier"); id == nil || id.text != "0.4.0.194112.1.0" {
		t.Fatalf("policy identifier %+v", id)
	}
	if asi := exts[1].child(NS, "AdditionalServiceInformation"); asi == nil || asi.child(NS, "URI").text != "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/ForeSignatures" {
		t.Fatal("no AdditionalServiceInformation ForeSignatures")
	}

	// The LOTL's pointer: certificates, location, then the additional
	// information with the MIME type in the additional types namespace.
	lotl := parseTree(t, mustRead(t, f.lotl))
	lsi := lotl.child(NS, "SchemeInformation")
	wantChildren(t, lsi, NS, "TSLVersionIdentifier", "TSLSequenceNumber", "TSLType", "SchemeOperatorName", "SchemeOperatorAddress",
		"SchemeName", "SchemeInformationURI", "StatusDeterminationApproach", "SchemeTypeCommunityRules", "SchemeTerritory",
		"HistoricalInformationPeriod", "PointersToOtherTSL", "ListIssueDateTime", "NextUpdate")
	ptr := lsi.child(NS, "PointersToOtherTSL").child(NS, "OtherTSLPointer")
	wantChildren(t, ptr, NS, "ServiceDigitalIdentities", "TSLLocation", "AdditionalInformation")
	if ptr.child(NS, "ServiceDigitalIdentities").child(NS, "ServiceDigitalIdentity").child(NS, "DigitalId").child(NS, "X509Certificate") == nil {
		t.Fatal("the pointer names no certificate")
	}
	var mime string
	for _, oi := range ptr.child(NS, "AdditionalInformation").children {
		if m := oi.child(NSAdditional, "MimeType"); m != nil {
			mime = m.text
		}
	}
	if mime != "application/vnd.etsi.tsl+xml" {
		t.Fatalf("pointer MimeType %q", mime)
	}
}

type node struct {
	name     xml.Name
	attr     map[string]string
	text     string
	children []*node
}

func (n *node) child(ns, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name.Space == ns && c.name.Local == local {
			return c
		}
	}
	return nil
}

func parseTree(t *testing.T, data []byte) *node {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name, attr: map[string]string{}}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				key := a.Name.Local
				if a.Name.Space != "" {
					key = "{" + a.Name.Space + "}" + key
				}
				n.attr[key] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += strings.TrimSpace(string(tok))
			}
		}
	}
	if root == nil {
		t.Fatal("no XML")
	}
	return root
}

// wantChildren fails unless n's element children in namespace ns are
// exactly want, in that order.
func wantChildren(t *testing.T, n *node, ns string, want ...string) {
	t.Helper()
	if n == nil {
		t.Fatalf("missing element, want children %v", want)
	}
	var got []string
	for _, c := range n.children {
		if c.name.Space == ns {
			got = append(got, c.name.Local)
		} else if c.name.Space != NSDS {
			t.Fatalf("%s: child %v in an unexpected namespace", n.name.Local, c.name)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s children:\n got %v\nwant %v", n.name.Local, got, want)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestXmlsec1AcceptsLists: xmlsec1 verifies both signed lists with the
// signer's certificate as trusted, and refuses a copy with one byte changed.
func TestXmlsec1AcceptsLists(t *testing.T) {
	bin := signtest.Tool(t, "xmlsec1", "xmlsec1")
	f := buildLists(t, granted)
	for _, c := range []struct {
		file string
		cert *x509.Certificate
	}{{filepath.Join(f.dir, "tl-PT.xml"), f.tlCert}, {f.lotl, f.lotlCert}} {
		pem := signtest.WritePEM(t, f.dir, "signer.pem", c.cert)
		xmlsec := func(file string) (string, error) {
			return signtest.Run(bin, "--verify", "--trusted-pem", pem, "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
				"--verification-time", now.Format(time.DateTime), file)
		}
		if out, err := xmlsec(c.file); err != nil || !strings.Contains(out, "OK") {
			t.Fatalf("xmlsec1 refused %s: %v\n%s", c.file, err, out)
		}
		data := mustRead(t, c.file)
		tampered := filepath.Join(f.dir, "tampered.xml")
		os.WriteFile(tampered, bytes.Replace(data, []byte(">65535<"), []byte(">65534<"), 1), 0o600)
		if out, err := xmlsec(tampered); err == nil {
			t.Fatalf("xmlsec1 accepted %s with a changed byte:\n%s", c.file, out)
		}
	}
}

// TestLoadAndGrade loads the LOTL and its TL and grades the signers'
// chains: QES for a QSCD key, QESeal for a seal, AdES-QC for a software
// key, AdES for an advanced certificate and for a CA on no list.
func TestLoadAndGrade(t *testing.T) {
	f := buildLists(t, granted)
	set := (&Loader{Now: now}).LoadLOTL(context.Background(), f.lotl, []*x509.Certificate{f.lotlCert})
	if !set.Usable() || len(set.Lists) != 2 || set.Lists[1].Services != 1 || set.Lists[1].Territory != "PT" {
		t.Fatalf("lists: %+v %+v", set.Lists[0], set.Lists[len(set.Lists)-1])
	}
	for name, want := range map[string]string{"qes": LevelQES, "seal": LevelQESeal, "pfx": LevelAdESQC, "invoice": LevelAdES, "tls": LevelAdES} {
		chain := f.chains[name]
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: set.Roots(), Intermediates: pool(chain[1]), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil && name != "tls" {
			t.Fatalf("%s does not chain to the list's services: %v", name, err)
		}
		q := set.Grade(chain, now)
		if q.Level != want {
			t.Fatalf("%s: level %s, want %s: %v", name, q.Level, want, q.Reasons)
		}
		if name == "tls" && !strings.Contains(strings.Join(q.Reasons, " "), "on no list") {
			t.Fatalf("tls reasons %v", q.Reasons)
		}
		if name == "qes" && (!slices.Contains(q.Qualifiers, "QCWithQSCD") || !slices.Contains(q.Qualifiers, "QCForESig") || q.TrustedList == "" || q.Status != "granted") {
			t.Fatalf("qes: %+v", q)
		}
		if name == "pfx" && !slices.Contains(q.Qualifiers, "QCNoQSCD") {
			t.Fatalf("pfx: %+v", q)
		}
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// TestGradeWithdrawn: a service withdrawn before the signing time vouches
// for nothing after; before the withdrawal its history still counts.
func TestGradeWithdrawn(t *testing.T) {
	withdrawn := pkitest.Now.Add(-time.Minute)
	f := buildLists(t, []StatusChange{{StatusGranted, pkitest.Now.AddDate(-1, 0, 0)}, {StatusWithdrawn, withdrawn}})
	set := (&Loader{Now: now}).LoadLOTL(context.Background(), f.lotl, []*x509.Certificate{f.lotlCert})
	q := set.Grade(f.chains["qes"], now)
	if q.Level != LevelAdES || q.Status != "withdrawn" || !strings.Contains(strings.Join(q.Reasons, " "), "withdrawn since") {
		t.Fatalf("after withdrawal: %+v", q)
	}
	if q := set.Grade(f.chains["qes"], withdrawn.Add(-time.Hour)); q.Level != LevelQES {
		t.Fatalf("before withdrawal: %+v", q)
	}
	if q := set.Grade(f.chains["qes"], pkitest.Now.AddDate(-2, 0, 0)); q.Level != LevelAdES || q.Status != "" {
		t.Fatalf("before the service was listed: %+v", q)
	}
}

// TestLoadRefusesBadLists: a changed byte, a signer the pointer does not
// name and a stale list are reported and never used.
func TestLoadRefusesBadLists(t *testing.T) {
	f := buildLists(t, granted)
	ctx := context.Background()
	// A stale list.
	set := (&Loader{Now: pkitest.Now.AddDate(0, 7, 0)}).LoadLOTL(ctx, f.lotl, []*x509.Certificate{f.lotlCert})
	if set.Usable() || set.Lists[0].Status != ListStale || set.Services() != 0 {
		t.Fatalf("stale: %+v", set.Lists[0])
	}
	// The wrong LOTL signer.
	_, other := listSigner(t, "someone else")
	set = (&Loader{Now: now}).LoadLOTL(ctx, f.lotl, []*x509.Certificate{other})
	if set.Lists[0].Status != ListBadSignature || set.Services() != 0 {
		t.Fatalf("wrong signer: %+v", set.Lists[0])
	}
	// A changed byte in the TL: the LOTL loads, the TL is refused.
	tl := filepath.Join(f.dir, "tl-PT.xml")
	os.WriteFile(tl, bytes.Replace(mustRead(t, tl), []byte("Rua 1"), []byte("Rua 2"), 1), 0o600)
	set = (&Loader{Now: now}).LoadLOTL(ctx, f.lotl, []*x509.Certificate{f.lotlCert})
	if set.Lists[0].Status != ListOK || set.Lists[1].Status != ListBadSignature || set.Services() != 0 {
		t.Fatalf("changed TL: %+v", set.Lists[1])
	}
	if q := set.Grade(f.chains["qes"], now); q.Level != LevelAdES {
		t.Fatalf("graded from a badly signed list: %+v", q)
	}
}

// TestLoadCachesDownloads: a downloaded list is kept until its next update;
// a stale cached copy is not used when the server fails.
func TestLoadCachesDownloads(t *testing.T) {
	f := buildLists(t, granted)
	var hits, fail atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() != 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		http.ServeFile(w, r, filepath.Join(f.dir, filepath.Base(r.URL.Path)))
	}))
	defer srv.Close()
	cache := t.TempDir()
	ctx := context.Background()
	load := func(at time.Time) *Set {
		return (&Loader{Now: at, CacheDir: cache}).LoadTL(ctx, srv.URL+"/tl-PT.xml", []*x509.Certificate{f.tlCert})
	}
	if s := load(now); !s.Usable() || s.Lists[0].Source != "download" {
		t.Fatalf("first load: %+v", s.Lists[0])
	}
	fail.Store(1)
	if s := load(now); !s.Usable() || s.Lists[0].Source != "cache" || hits.Load() != 1 {
		t.Fatalf("second load: %+v, %d requests", s.Lists[0], hits.Load())
	}
	if s := load(pkitest.Now.AddDate(0, 7, 0)); s.Usable() || s.Lists[0].Status != ListUnavailable {
		t.Fatalf("stale cache, server down: %+v", s.Lists[0])
	}
}

// TestParseLimits: the bounds of Parse.
func TestParseLimits(t *testing.T) {
	f := buildLists(t, granted)
	data := mustRead(t, f.lotl)
	for name, in := range map[string][]byte{
		"too large":   append(data, bytes.Repeat([]byte(" "), MaxListSize)...),
		"DTD":         []byte(`<!DOCTYPE x [<!ENTITY a "b">]>` + string(data[len(xml.Header):])),
		"version 4":   bytes.Replace(data, []byte(">5</TSLVersionIdentifier>"), []byte(">4</TSLVersionIdentifier>"), 1),
		"no TSLTag":   bytes.Replace(data, []byte(TSLTag), []byte("x"), 1),
		"not XML":     []byte("%PDF-1.7"),
		"no pointers": nil,
	} {
		if name == "no pointers" {
			continue
		}
		if _, err := Parse(in); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	var many bytes.Buffer
	for range MaxPointers + 1 {
		many.WriteString("<OtherTSLPointer><TSLLocation>x</TSLLocation></OtherTSLPointer>")
	}
	over := bytes.Replace(data, []byte("<OtherTSLPointer"), append(many.Bytes(), []byte("<OtherTSLPointer")...), 1)
	if _, err := Parse(over); err == nil || !strings.Contains(err.Error(), "pointers") {
		t.Fatalf("%d pointers: %v", MaxPointers+2, err)
	}
}

// TestLoadFollowsOnlyXMLLists: the LOTL's pointer to itself and pointers to
// PDF copies are not followed; the XML national list is.
func TestLoadFollowsOnlyXMLLists(t *testing.T) {
	f := buildLists(t, granted)
	lotlKey, lotlCert := listSigner(t, "LOTL signer 2")
	lotl := NewList(ListOptions{Type: TypeEULOTL, SequenceNumber: 1, Territory: "EU", IssueDate: pkitest.Now, NextUpdate: pkitest.Now.AddDate(0, 6, 0),
		Pointers: []PointerSpec{
			{Location: "lotl2.xml", Type: TypeEULOTL, Signers: []*x509.Certificate{lotlCert}},
			{Location: "tl-PT.xml", Type: TypeEUGeneric, Territory: "PT", Signers: []*x509.Certificate{f.tlCert}},
			{Location: "tl-PT.pdf", Type: TypeEUGeneric, Territory: "PT", Signers: []*x509.Certificate{f.tlCert}},
		}})
	lotl.Scheme.Pointers.Pointers[2].Info[3].MimeType = "application/pdf"
	path := filepath.Join(f.dir, "lotl2.xml")
	writeSigned(t, lotl, lotlKey, lotlCert, path)
	set := (&Loader{Now: now}).LoadLOTL(context.Background(), path, []*x509.Certificate{lotlCert})
	if len(set.Lists) != 2 || set.Lists[1].Location != "tl-PT.xml" || !set.Usable() {
		for _, l := range set.Lists {
			t.Logf("%+v", l)
		}
		t.Fatalf("want the LOTL and the XML TL only: %d lists", len(set.Lists))
	}
}

// TestLoadRemoteLOTL: a LOTL downloaded over HTTP resolves a relative
// pointer against its own URL, and never reads a local file because a
// remote list points at one.
func TestLoadRemoteLOTL(t *testing.T) {
	f := buildLists(t, granted)
	srv := httptest.NewServer(http.FileServer(http.Dir(f.dir)))
	defer srv.Close()
	ctx := context.Background()
	set := (&Loader{Now: now}).LoadLOTL(ctx, srv.URL+"/lotl.xml", []*x509.Certificate{f.lotlCert})
	if !set.Usable() || len(set.Lists) != 2 || set.Lists[1].Location != srv.URL+"/tl-PT.xml" || set.Lists[1].Source != "download" {
		t.Fatalf("remote LOTL: %+v", set.Lists[len(set.Lists)-1])
	}
	// The same LOTL pointing at a local file, by path and by file URL.
	for _, location := range []string{"file://" + filepath.Join(f.dir, "tl-PT.xml"), filepath.Join(f.dir, "tl-PT.xml")} {
		lotlKey, lotlCert := listSigner(t, "LOTL signer 3")
		l := NewList(ListOptions{Type: TypeEULOTL, SequenceNumber: 1, Territory: "EU", IssueDate: pkitest.Now, NextUpdate: pkitest.Now.AddDate(0, 6, 0),
			Pointers: []PointerSpec{{Location: location, Type: TypeEUGeneric, Territory: "PT", Signers: []*x509.Certificate{f.tlCert}}}})
		writeSigned(t, l, lotlKey, lotlCert, filepath.Join(f.dir, "lotl-local.xml"))
		set := (&Loader{Now: now}).LoadLOTL(ctx, srv.URL+"/lotl-local.xml", []*x509.Certificate{lotlCert})
		if set.Lists[0].Status != ListOK || set.Lists[1].Status == ListOK || set.Services() != 0 {
			t.Fatalf("%s: %+v", location, set.Lists[1])
		}
	}
}

// TestGradeSieOverrides: the list's qualifiers override the certificate's
// QC statements, for the certificates their criteria select.
func TestGradeSieOverrides(t *testing.T) {
	f := buildLists(t, granted)
	issuing := f.chains["qes"][1]
	ku := func(assert string, bits ...KeyUsageBit) Criteria {
		return Criteria{Assert: assert, KeyUsages: []KeyUsage{{Bits: bits}}}
	}
	el := func(c Criteria, qualifiers ...string) QualificationElement {
		e := QualificationElement{Criteria: c}
		for _, q := range qualifiers {
			e.Qualifiers = append(e.Qualifiers, Qualifier{URI: q})
		}
		return e
	}
	ncp := PolicyQualification(QCStatement, "0.4.0.2042.1.1")
	for _, c := range []struct {
		name  string
		quals []QualificationElement
		chain string
		want  string
	}{
		{"NotQualified removes QcCompliance", []QualificationElement{PolicyQualification(QCNotQualified, "0.4.0.194112.1.2")}, "qes", LevelAdES},
		{"QCStatement makes an NCP certificate qualified", []QualificationElement{ncp}, "invoice", LevelAdESQC},
		{"QCStatement + QCForESeal + QCWithQSCD", []QualificationElement{ncp, el(ncp.Criteria, QCForESeal, QCWithQSCD)}, "invoice", LevelQESeal},
		{"QCNoQSCD overrides QcSSCD", []QualificationElement{el(ku("all", KeyUsageBit{"nonRepudiation", true}), QCNoQSCD)}, "qes", LevelAdESQC},
		{"criteria not met: as the certificate says", []QualificationElement{el(ku("all", KeyUsageBit{"keyCertSign", true}), QCNoQSCD)}, "qes", LevelQES},
		{"assert none", []QualificationElement{el(ku("none", KeyUsageBit{"keyCertSign", true}), QCNoQSCD)}, "qes", LevelAdESQC},
		{"QCWithQSCD lifts a software key", []QualificationElement{PolicyQualification(QCWithQSCD, "0.4.0.194112.1.0")}, "pfx", LevelQES},
		{"QCForESeal turns a signature certificate into a seal", []QualificationElement{PolicyQualification(QCForESeal, "0.4.0.194112.1.2")}, "qes", LevelQESeal},
	} {
		p, err := NewProvider(ProviderInfo{Name: "TSP"}, []ServiceSpec{{Type: ServiceTypeCAQC, Name: "CA", Certificate: issuing, Changes: granted, Qualifications: c.quals}})
		if err != nil {
			t.Fatal(err)
		}
		set := newSet()
		set.add(NewList(ListOptions{Type: TypeEUGeneric, IssueDate: now, NextUpdate: now, Providers: []*Provider{p}}), &ListReport{Location: "test"})
		if q := set.Grade(f.chains[c.chain], now); q.Level != c.want {
			t.Errorf("%s: %s, want %s: %v", c.name, q.Level, c.want, q.Reasons)
		}
	}
	// A service granted for signatures only grades a seal certificate AdES.
	p, _ := NewProvider(ProviderInfo{Name: "TSP"}, []ServiceSpec{{Type: ServiceTypeCAQC, Name: "CA", Certificate: issuing, Changes: granted, Additional: []string{ForESignatures}}})
	set := newSet()
	set.add(NewList(ListOptions{Type: TypeEUGeneric, IssueDate: now, NextUpdate: now, Providers: []*Provider{p}}), &ListReport{Location: "test"})
	if q := set.Grade(f.chains["seal"], now); q.Level != LevelAdES {
		t.Errorf("seal under a ForeSignatures service: %s %v", q.Level, q.Reasons)
	}
	if q := set.Grade(f.chains["qes"], now); q.Level != LevelQES {
		t.Errorf("signature under a ForeSignatures service: %s %v", q.Level, q.Reasons)
	}
}
