package pades

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// PAdES baseline levels a verifier reports beyond CAdES's B-B and B-T.
const (
	LevelBLT  = "B-LT"
	LevelBLTA = "B-LTA"
)

// Limits of the verifier's reader.
const (
	// maxSignatures bounds the signature fields examined in one document.
	maxSignatures = 256
	// maxFieldDepth bounds the walk down the form field tree.
	maxFieldDepth = 32
	// maxDSSStream bounds one decoded certificate, OCSP response or CRL of a DSS.
	maxDSSStream = 32 << 20
)

// Report is what Verify found in a PDF: one entry per signature field that
// holds a signature, oldest revision first.
type Report struct {
	Format     string             `json:"format"` // "PAdES"
	Revisions  int                `json:"revisions"`
	DSS        bool               `json:"dss"` // the document has a /DSS
	Signatures []*SignatureReport `json:"signatures"`
}

// Valid reports whether every signature is valid.
func (r *Report) Valid() bool {
	for _, s := range r.Signatures {
		if s.Status != cades.StatusValid {
			return false
		}
	}
	return len(r.Signatures) > 0
}

// SignatureReport describes one PDF signature: the CAdES report of its CMS
// (flattened into the same JSON object) plus what only a PDF has.
type SignatureReport struct {
	*cades.SignatureReport
	Field     string `json:"field"`
	SubFilter string `json:"subfilter"`
	// DocumentTimestamp is true for an ETSI.RFC3161 document timestamp.
	DocumentTimestamp bool    `json:"document_timestamp,omitempty"`
	ByteRange         []int64 `json:"byte_range"`
	// Revision is the revision the signature covers, 1 for the original file.
	Revision int `json:"revision"`
	// CoversRevision: the byte ranges cover every byte of that revision but
	// the signature itself.
	CoversRevision bool `json:"covers_revision"`
	// CoversDocument: the signed revision is the whole file.
	CoversDocument bool `json:"covers_document"`
	// LaterChanges lists what the later incremental updates did.
	LaterChanges []string `json:"later_changes,omitempty"`
	// OnlySignaturesAdded: the later updates only added signatures,
	// validation data (DSS) and document timestamps.
	OnlySignaturesAdded bool `json:"only_signatures_added"`
}

// VerifyOptions is cades.VerifyOptions: roots, intermediates, time and
// revocation checker; Content and ContentDigests are set by Verify.
type VerifyOptions = cades.VerifyOptions

// signatureField is one signature as the reader found it.
type signatureField struct {
	name      string
	subFilter string
	docTS     bool
	claimed   *time.Time
	byteRange []int64
	cmsDER    []byte
	problem   string // the signature cannot be checked, and why
}

// Verify checks every signature of a PDF. The error is only for a file that
// is not a readable PDF; a signature that fails its checks is reported with
// status invalid or indeterminate and the reasons.
func Verify(in []byte, opts VerifyOptions) (rep *Report, err error) {
	ctx, err := parseForVerify(in)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, selo.Errorf(selo.EINVALID, "cannot read the PDF: malformed (%v)", r)
		}
	}()
	fields, err := signatureFields(ctx, in)
	if err != nil {
		return nil, err
	}
	ends := revisionEnds(in)
	rep = &Report{Format: "PAdES", Revisions: len(ends)}
	dss := readDSS(ctx)
	rep.DSS = dss != nil
	if dss != nil {
		opts.Revocation = opts.Revocation.WithEmbedded(dss.ocsps, dss.crls)
		opts.Intermediates = append(slices.Clone(opts.Intermediates), dss.certs...)
	}
	prefixes := map[int]*model.Context{}
	for _, f := range fields {
		rep.Signatures = append(rep.Signatures, verifyField(in, ctx, f, ends, dss, prefixes, opts))
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool { return rep.Signatures[i].Revision < rep.Signatures[j].Revision })
	// A document timestamp after a signature lifts it to B-LTA.
	for _, s := range rep.Signatures {
		if s.DocumentTimestamp || s.Level != LevelBLT {
			continue
		}
		for _, t := range rep.Signatures {
			if t.DocumentTimestamp && t.Revision > s.Revision && t.TimestampOK {
				s.Level = LevelBLTA
			}
		}
	}
	return rep, nil
}

// parseForVerify reads a PDF with pdfcpu, leniently: any PDF a reader opens,
// cross-reference streams included. pdfcpu panics on some malformed input.
func parseForVerify(in []byte) (ctx *model.Context, err error) {
	if !bytes.HasPrefix(in, []byte("%PDF-")) {
		return nil, selo.Errorf(selo.EINVALID, "not a PDF file: it does not start with %%PDF-")
	}
	disableConfigOnce.Do(func() { model.ConfigPath = "disable" })
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, selo.Errorf(selo.EINVALID, "cannot read the PDF: malformed (%v)", r)
		}
	}()
	ctx, err = pdfcpu.Read(bytes.NewReader(in), model.NewDefaultConfiguration())
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) || errors.Is(err, pdfcpu.ErrOwnerPasswordRequired) {
			return nil, selo.Errorf(selo.EINVALID, "the PDF is encrypted: this verifier reads unencrypted PDFs only")
		}
		return nil, selo.Errorf(selo.EINVALID, "cannot read the PDF: %v", err)
	}
	if ctx.Root == nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF has no document catalog (/Root)")
	}
	return ctx, nil
}

// signatureFields walks the AcroForm field tree for signature fields that
// hold a value.
func signatureFields(ctx *model.Context, in []byte) ([]*signatureField, error) {
	catalog, err := ctx.Catalog()
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	form, err := ctx.DereferenceDict(catalog["AcroForm"])
	if err != nil || form == nil {
		return nil, nil
	}
	top, err := ctx.DereferenceArray(form["Fields"])
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's form fields are broken: %v", err)
	}
	var out []*signatureField
	seen := map[int]bool{}
	var walk func(arr types.Array, parent string, depth int) error
	walk = func(arr types.Array, parent string, depth int) error {
		if depth > maxFieldDepth {
			return selo.Errorf(selo.EINVALID, "the PDF's form field tree is deeper than %d levels", maxFieldDepth)
		}
		for _, o := range arr {
			if ref, ok := o.(types.IndirectRef); ok {
				if seen[ref.ObjectNumber.Value()] {
					continue
				}
				seen[ref.ObjectNumber.Value()] = true
			}
			d, err := ctx.DereferenceDict(o)
			if err != nil || d == nil {
				continue
			}
			name := parent
			if t, err := ctx.DereferenceText(d["T"]); err == nil && t != "" {
				if name != "" {
					name += "."
				}
				name += t
			}
			if kids, err := ctx.DereferenceArray(d["Kids"]); err == nil && len(kids) > 0 {
				if err := walk(kids, name, depth+1); err != nil {
					return err
				}
			}
			if ft, ok := d["FT"].(types.Name); !ok || ft != "Sig" {
				continue
			}
			v, err := ctx.DereferenceDict(d["V"])
			if err != nil || v == nil {
				continue // an empty signature field: nothing to verify
			}
			if len(out) == maxSignatures {
				return selo.Errorf(selo.EINVALID, "the PDF holds more than %d signatures", maxSignatures)
			}
			out = append(out, readSignature(ctx, in, name, v))
		}
		return nil
	}
	if err := walk(top, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// readSignature reads a signature dictionary. The CMS is taken from the
// file's bytes in the gap of the byte range, not from the parsed /Contents,
// so what is checked is exactly what the byte range leaves out.
func readSignature(ctx *model.Context, in []byte, name string, v types.Dict) *signatureField {
	f := &signatureField{name: name}
	if sf, ok := v["SubFilter"].(types.Name); ok {
		f.subFilter = string(sf)
	}
	if t, ok := v["Type"].(types.Name); ok && t == "DocTimeStamp" || f.subFilter == "ETSI.RFC3161" {
		f.docTS = true
	}
	if m, err := ctx.DereferenceText(v["M"]); err == nil && m != "" {
		if t, ok := types.DateTime(m, true); ok {
			t = t.UTC()
			f.claimed = &t
		}
	}
	arr, err := ctx.DereferenceArray(v["ByteRange"])
	if err != nil || len(arr) != 4 {
		f.problem = "the signature has no valid /ByteRange (four numbers)"
		return f
	}
	for _, o := range arr {
		n, err := ctx.DereferenceInteger(o)
		if err != nil || n == nil || *n < 0 {
			f.problem = "the signature's /ByteRange holds something other than non-negative integers"
			return f
		}
		f.byteRange = append(f.byteRange, int64(*n))
	}
	a, b, c, d := f.byteRange[0], f.byteRange[1], f.byteRange[2], f.byteRange[3]
	size := int64(len(in))
	if a != 0 || b <= 0 || c <= a+b+1 || d < 0 || c > size || d > size-c {
		f.problem = fmt.Sprintf("the byte range [%d %d %d %d] does not start at the first byte or lies outside the file", a, b, c, d)
		return f
	}
	gap := in[b:c]
	if gap[0] != '<' || gap[len(gap)-1] != '>' {
		f.problem = "the byte range's gap is not exactly the /Contents hex string"
		return f
	}
	raw := make([]byte, hex.DecodedLen(len(gap)-2))
	if _, err := hex.Decode(raw, gap[1:len(gap)-1]); err != nil {
		f.problem = "the signature's /Contents is not a hex string"
		return f
	}
	// The CMS is padded with zeros: its outer length says where it ends.
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(raw, &rv); err != nil {
		f.problem = "the signature's /Contents holds no CMS signature"
		return f
	}
	f.cmsDER = rv.FullBytes
	return f
}

// verifyField checks one signature: its CMS over the byte ranges (through
// the CAdES verifier), then what the PDF adds.
func verifyField(in []byte, ctx *model.Context, f *signatureField, ends []int64, dss *dss, prefixes map[int]*model.Context, opts VerifyOptions) *SignatureReport {
	r := &SignatureReport{SignatureReport: &cades.SignatureReport{Level: cades.LevelBB, Status: cades.StatusInvalid},
		Field: f.name, SubFilter: f.subFilter, DocumentTimestamp: f.docTS, ByteRange: f.byteRange}
	r.ClaimedTime = f.claimed
	if f.problem != "" {
		r.Problems = append(r.Problems, f.problem)
		return r
	}
	switch f.subFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached", "ETSI.RFC3161":
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("signature type /SubFilter/%s is not supported (want ETSI.CAdES.detached, adbe.pkcs7.detached or ETSI.RFC3161)", f.subFilter))
		return r
	}
	end := f.byteRange[2] + f.byteRange[3]
	r.Revision = revisionOf(in, ends, end)
	if r.Revision == 0 {
		r.Problems = append(r.Problems, "the byte range does not end where a revision of the document ends")
	} else {
		r.CoversRevision = true
		r.CoversDocument = r.Revision == len(ends)
	}
	signed := func(h crypto.Hash) []byte {
		d := h.New()
		d.Write(in[:f.byteRange[1]])
		d.Write(in[f.byteRange[2]:end])
		return d.Sum(nil)
	}
	if f.docTS {
		verifyDocumentTimestamp(r, f, signed, opts)
	} else {
		hashes, err := cades.Hashes(f.cmsDER)
		if err != nil {
			r.Problems = append(r.Problems, selo.ErrorMessage(err))
			return r
		}
		co := opts
		co.Content = nil
		co.ContentDigests = map[crypto.Hash][]byte{}
		for _, h := range hashes {
			co.ContentDigests[h] = signed(h)
		}
		crep, err := cades.Verify(f.cmsDER, co)
		if err != nil {
			r.Problems = append(r.Problems, selo.ErrorMessage(err))
			return r
		}
		if len(crep.Signatures) != 1 {
			r.Problems = append(r.Problems, fmt.Sprintf("the CMS holds %d signers: PAdES wants exactly one", len(crep.Signatures)))
			return r
		}
		s := crep.Signatures[0]
		s.ClaimedTime = f.claimed
		if !s.DigestOK {
			s.Problems = append([]string{"the document was changed after signing: the signed bytes do not match the signature's message digest"}, s.Problems...)
		}
		r.SignatureReport = s
		if dss != nil && s.Revocation != nil && strings.Contains(s.Revocation.Source, "embedded") {
			r.Level = LevelBLT
		}
	}
	if r.Revision > 0 && !r.CoversDocument {
		r.LaterChanges, r.OnlySignaturesAdded = laterChanges(in, ctx, ends, r.Revision, prefixes)
		if !r.OnlySignaturesAdded && r.Status == cades.StatusValid {
			r.Status = cades.StatusIndeterminate
			r.Problems = append(r.Problems, "later incremental updates changed the document beyond adding signatures")
		}
	} else if r.Revision > 0 {
		r.OnlySignaturesAdded = true
	}
	if r.Revision == 0 && r.Status == cades.StatusValid {
		r.Status = cades.StatusInvalid
	}
	return r
}

// verifyDocumentTimestamp checks an ETSI.RFC3161 document timestamp: a
// timestamp token whose imprint is the hash of the byte ranges.
func verifyDocumentTimestamp(r *SignatureReport, f *signatureField, signed func(crypto.Hash) []byte, opts VerifyOptions) {
	r.Level = "document timestamp"
	tok, err := timestamp.ParseToken(f.cmsDER)
	if err != nil {
		r.Problems = append(r.Problems, selo.ErrorMessage(err))
		return
	}
	h := tok.Info.Hash
	r.Hash = h.String()
	trep, err := tok.Verify(h, signed(h), timestamp.VerifyOptions{Roots: opts.Roots, Certificates: opts.Intermediates})
	if err != nil {
		r.Problems = append(r.Problems, "the document was changed after it was timestamped, or the token is not valid: "+selo.ErrorMessage(err))
		return
	}
	r.DigestOK, r.SignatureOK, r.CertificateBound = true, true, true
	t := tok.Time().UTC()
	r.Timestamp, r.ValidatedAt = &t, t
	if trep.Certificate != nil {
		r.Signer = trep.Certificate.Subject.String()
		r.TSA = r.Signer
	}
	if opts.Roots == nil {
		r.Status = cades.StatusIndeterminate
		r.Problems = append(r.Problems, "no trusted roots given: the TSA was not checked")
		return
	}
	r.TimestampOK, r.ChainOK = true, true
	r.Status = cades.StatusValid
}

// revisionEnds returns the offset just past each %%EOF marker (and its end
// of line): where each revision of the file ends.
func revisionEnds(in []byte) []int64 {
	var ends []int64
	for i := 0; ; {
		j := bytes.Index(in[i:], []byte("%%EOF"))
		if j < 0 {
			break
		}
		e := i + j + len("%%EOF")
		if e < len(in) && in[e] == '\r' {
			e++
		}
		if e < len(in) && in[e] == '\n' {
			e++
		}
		ends = append(ends, int64(e))
		i = e
	}
	if len(ends) == 0 || ends[len(ends)-1] < int64(len(in)) {
		// Trailing bytes after the last %%EOF count as a revision of their
		// own, so a signature cannot claim to cover them.
		if len(bytes.TrimSpace(in[max(0, int(lastOr(ends, 0))):])) > 0 {
			ends = append(ends, int64(len(in)))
		}
	}
	return ends
}

func lastOr(s []int64, def int64) int64 {
	if len(s) == 0 {
		return def
	}
	return s[len(s)-1]
}

// revisionOf returns the 1-based revision that ends at end (allowing the
// end-of-line after %%EOF to be outside the range), or 0.
func revisionOf(in []byte, ends []int64, end int64) int {
	for i, e := range ends {
		if end > e || end < e-2 {
			continue
		}
		if end == e || bytes.HasSuffix(in[:end], []byte("%%EOF")) || bytes.HasSuffix(in[:end], []byte("%%EOF\r")) {
			return i + 1
		}
	}
	return 0
}
