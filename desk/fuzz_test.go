package desk

import (
	"bytes"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
)

// FuzzParseIdentityForm feeds the holder's identity form parser any body
// under any multipart boundary: it never panics, never returns more than
// one photo of a kind or a photo past the limit, refuses with EINVALID, and
// what it accepts has a document type and an MRZ of valid UTF-8 within the
// field limit.
func FuzzParseIdentityForm(f *testing.F) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("fuzzboundary")
	_ = mw.WriteField("document_type", "id-card")
	_ = mw.WriteField("mrz", "I<PRT123456789<ZZ41<<<<<<<<<<<\n7408122F3012073PRT<<<<<<<<<<<0\nSILVA<<ANA<MARIA<<<<<<<<<<<<<<")
	w, _ := mw.CreateFormFile("selfie", "selfie.jpg")
	_, _ = w.Write([]byte("\xff\xd8\xff\xe0 not really a jpeg"))
	w, _ = mw.CreateFormFile("document-back", "")
	_ = w
	_ = mw.Close()
	f.Add("fuzzboundary", b.Bytes())
	f.Add("fuzzboundary", []byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"mrz\"\r\n\r\n\xff\xfe\r\n--fuzzboundary--\r\n"))
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"a\"\r\n\r\n"+strings.Repeat("A", 300)+"\r\n--x--\r\n"))
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=\"mrz\"\r\n\r\na\r\n--x\r\nContent-Disposition: form-data; name=\"mrz\"\r\n\r\nb\r\n--x--\r\n"))
	f.Add("", []byte{})
	const maxPhoto = 256
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		r := httptest.NewRequest("POST", "/account/orders/o/identity", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=\""+strings.ReplaceAll(boundary, `"`, "")+"\"")
		sub, err := ParseIdentityForm(r, httptest.NewRecorder(), 4096, maxPhoto)
		if err != nil {
			if selo.ErrorCode(err) != selo.EINVALID {
				t.Fatalf("refusal %v is not EINVALID", err)
			}
			return
		}
		if sub.DocumentType == "" || sub.MRZ == "" || len(sub.MRZ) > maxFieldLength || !utf8.ValidString(sub.MRZ) || !utf8.ValidString(sub.DocumentType) {
			t.Fatalf("accepted %q / %q", sub.DocumentType, sub.MRZ)
		}
		seen := map[selo.EvidenceKind]bool{}
		for _, p := range sub.Photos {
			if seen[p.Kind] || !p.Kind.Valid() || len(p.Data) > maxPhoto {
				t.Fatalf("photo %s (%d bytes) accepted", p.Kind, len(p.Data))
			}
			seen[p.Kind] = true
		}
	})
}

// FuzzNormalizeMRZ: the MRZ as typed becomes upper-case lines without
// blanks, joined by single line breaks, and normalising twice changes
// nothing.
func FuzzNormalizeMRZ(f *testing.F) {
	f.Add("i<prt123456789<zz41<<<<<<<<<<<\r\n\r\n 7408122f3012073prt<<<<<<<<<<<0 \n")
	f.Add("\n\n\t")
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeMRZ(s)
		if normalizeMRZ(n) != n || strings.Contains(n, "\n\n") || strings.ContainsAny(n, " \t\r") ||
			strings.HasPrefix(n, "\n") || strings.HasSuffix(n, "\n") {
			t.Fatalf("normalizeMRZ(%q) = %q", s, n)
		}
	})
}
