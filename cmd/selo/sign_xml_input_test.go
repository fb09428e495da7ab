package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo/docsign/xades"
)

// badXMLInput is an XML document 'selo sign xml' must refuse, with the
// words its error must hold.
type badXMLInput struct {
	name, content, want string
}

// badXMLInputs writes hostile and broken documents into dir: malformed,
// DTD-laden (entity expansion, external entities), too deep, in another
// encoding, already signed, and one byte over the size limit (a sparse
// file, so the test stays cheap).
func badXMLInputs(t *testing.T, dir, signed string) []badXMLInput {
	t.Helper()
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>`
	inputs := []badXMLInput{
		{"unclosed.xml", "<Invoice><ID>1</Invoice>", "not well-formed"},
		{"truncated.xml", invoiceXML[:len(invoiceXML)/2], "not well-formed"},
		{"empty.xml", "  \n", "empty"},
		{"binary.xml", "\x00\x01\x02\xff<", "not well-formed"},
		{"two-roots.xml", "<a>1</a><b>2</b>", "more than one root"},
		{"laughs.xml", laughs, "DTD"},
		{"xxe.xml", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>`, "DTD"},
		{"param-entity.xml", `<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><a>x</a>`, "DTD"},
		{"latin1.xml", `<?xml version="1.0" encoding="ISO-8859-1"?><a>x</a>`, "ISO-8859-1"},
		{"deep.xml", strings.Repeat("<a>", 2000) + "x" + strings.Repeat("</a>", 2000), "deeper than"},
		{"signed.xml", signed, "already signed"},
	}
	for _, in := range inputs {
		writeFile(t, filepath.Join(dir, in.name), in.content)
	}
	huge := filepath.Join(dir, "huge.xml")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(xades.MaxInputSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return append(inputs, badXMLInput{"huge.xml", "", "larger than"})
}

// TestSignXMLRefusesBadInput: every malformed, hostile or oversized XML
// document gets a clear error naming it and exit status 1, and nothing is
// written: the folder holds exactly what it held before.
func TestSignXMLRefusesBadInput(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	src := t.TempDir()
	good := writeFile(t, filepath.Join(src, "good.xml"), invoiceXML)
	signed := filepath.Join(t.TempDir(), "signed.xml")
	key := []string{"--pfx", pfx, "--password-file", pw, "--data", data}
	mustRunSelo(t, append([]string{"sign", "xml", good, signed}, key...)...)
	os.Remove(good)

	inputs := badXMLInputs(t, src, string(readFile(t, signed)))
	before := listDir(t, src)
	outDir := t.TempDir()
	for _, in := range inputs {
		path := filepath.Join(src, in.name)
		// OUT.xml defaulted (beside the input) and named (in another folder).
		r := runSelo(t, append([]string{"sign", "xml", path}, key...)...)
		wantExit(t, r, 1, in.want)
		if !strings.Contains(r.stderr, in.name) {
			t.Errorf("%s: the error does not name the file:\n%s", in.name, r)
		}
		wantExit(t, runSelo(t, append([]string{"sign", "xml", path, filepath.Join(outDir, in.name), "--json"}, key...)...), 1, in.want)
	}
	if after := listDir(t, src); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("refused documents changed %s: %v -> %v", src, before, after)
	}
	if after := listDir(t, outDir); len(after) != 0 {
		t.Fatalf("refused documents left output behind: %v", after)
	}
}

// TestSignBatchXAdESRefusesBadInput: in a folder of broken and hostile XML
// documents beside good ones, each bad one is reported with its reason and
// leaves no output, the good ones are signed, and the exit status is 1; a
// folder of bad ones only leaves the output folder as it was.
func TestSignBatchXAdESRefusesBadInput(t *testing.T) {
	data := dataDir(t)
	pfx, pw := signerPFX(t, data)
	key := []string{"--pfx", pfx, "--password-file", pw, "--data", data}
	signedDir := t.TempDir()
	mustRunSelo(t, append([]string{"sign", "xml", writeFile(t, filepath.Join(signedDir, "i.xml"), invoiceXML), filepath.Join(signedDir, "s.xml")}, key...)...)

	src := t.TempDir()
	inputs := badXMLInputs(t, src, string(readFile(t, filepath.Join(signedDir, "s.xml"))))
	out := t.TempDir()
	writeFile(t, filepath.Join(out, "unrelated.txt"), "kept")
	r := runSelo(t, append([]string{"sign", "batch", src, "--out", out, "--format", "xades", "--json"}, key...)...)
	n := len(inputs)
	wantExit(t, r, 1, "were not signed")
	var sum batchOutput
	decodeJSON(t, r, &sum)
	if sum.Signed != 0 || sum.Failed != n || len(sum.Files) != n {
		t.Fatalf("summary: %+v\n%s", sum, r)
	}
	reasons := map[string]string{}
	for _, f := range sum.Files {
		reasons[filepath.Base(f.File)] = f.Error
	}
	for _, in := range inputs {
		if !strings.Contains(reasons[in.name], in.want) {
			t.Errorf("%s: reason %q, want %q", in.name, reasons[in.name], in.want)
		}
	}
	if got := listDir(t, out); strings.Join(got, ",") != "unrelated.txt" {
		t.Fatalf("a batch of bad documents changed the output folder: %v", got)
	}

	// With good documents beside them: those are signed, only those.
	writeFile(t, filepath.Join(src, "a-good.xml"), invoiceXML)
	writeFile(t, filepath.Join(src, "z-good.xml"), strings.Replace(invoiceXML, "0042", "0043", 1))
	r = runSelo(t, append([]string{"sign", "batch", src, "--out", out, "--format", "xades"}, key...)...)
	wantExit(t, r, 1, "were not signed")
	if !strings.Contains(r.stdout, "Signed 2 of") || !strings.Contains(r.stdout, "laughs.xml: ") {
		t.Fatalf("mixed batch:\n%s", r)
	}
	if got := listDir(t, out); strings.Join(got, ",") != "a-good.xml,unrelated.txt,z-good.xml" {
		t.Fatalf("outputs: %v", got)
	}
	v, vr := verifyJSON(t, filepath.Join(out, "z-good.xml"), "--offline", "--data", data)
	if vr.code != 0 || !v.Valid || v.Report.Format != "XAdES" {
		t.Fatalf("verify a batch output:\n%s", vr)
	}
}
