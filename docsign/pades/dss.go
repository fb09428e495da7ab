package pades

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/selo-qtsp/selo"
)

// maxFormFields bounds the walk over a PDF's form fields.
const maxFormFields = 10000

// AddValidationData makes the newest signature of signed PAdES B-LT (from
// B-T): it appends a second incremental update with a document security
// store (ISO 32000-2 12.8.4.3, ETSI EN 319 142-1 5.4.2): /DSS in the
// catalog with vd's certificates (/Certs), OCSP answers (/OCSPs) and CRLs
// (/CRLs), and a /VRI entry for the signature keyed by the uppercase hex
// SHA-1 of its /Contents (the whole hex-decoded value, padding included,
// as Acrobat, iText and PDFBox compute it). An existing DSS, from an
// earlier LT signature, is kept and extended. The signature's byte range is
// untouched, so it stays valid; it no longer covers the whole file, as for
// any later incremental update.
func AddValidationData(signed []byte, vd *ValidationData) ([]byte, error) {
	if vd == nil || len(vd.Certificates) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "no validation data to add")
	}
	doc, contents, err := readSigned(signed)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(contents)
	vriKey := strings.ToUpper(hex.EncodeToString(sum[:]))

	catalog, err := doc.ctx.Catalog()
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	dss := types.Dict{"Type": types.Name("DSS")}
	if v := catalog["DSS"]; v != nil {
		old, err := doc.ctx.DereferenceDict(v)
		if err != nil || old == nil {
			return nil, selo.Errorf(selo.EINVALID, "the PDF's existing /DSS is broken")
		}
		dss = old.Clone().(types.Dict)
	}

	next := doc.size
	var objs []object
	stream := func(data []byte) types.IndirectRef {
		ref := *types.NewIndirectRef(next, 0)
		objs = append(objs, object{num: next, body: fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(data), data)})
		next++
		return ref
	}
	vri := types.Dict{"Type": types.Name("VRI")}
	for _, e := range []struct {
		dssKey, vriKey string
		items          [][]byte
	}{
		{"Certs", "Cert", certsDER(vd)},
		{"OCSPs", "OCSP", vd.OCSPs},
		{"CRLs", "CRL", vd.CRLs},
	} {
		if len(e.items) == 0 {
			continue
		}
		all, err := doc.ctx.DereferenceArray(dss[e.dssKey])
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "the PDF's /DSS /%s is broken: %v", e.dssKey, err)
		}
		all = slices.Clone(all)
		var refs types.Array
		for _, item := range e.items {
			ref := stream(item)
			refs = append(refs, ref)
			all = append(all, ref)
		}
		dss[e.dssKey] = all
		vri[e.vriKey] = refs
	}
	vris := types.NewDict()
	if v := dss["VRI"]; v != nil {
		old, err := doc.ctx.DereferenceDict(v)
		if err != nil || old == nil {
			return nil, selo.Errorf(selo.EINVALID, "the PDF's /DSS /VRI is broken")
		}
		vris = old.Clone().(types.Dict)
	}
	vris[vriKey] = vri
	dss["VRI"] = vris
	dssNum := next
	next++
	objs = append(objs, object{num: dssNum, body: dss.PDFString()})

	cat := catalog.Clone().(types.Dict)
	cat["DSS"] = *types.NewIndirectRef(dssNum, 0)
	// The extension that introduced the DSS into PDF 1.7 (ETSI EN 319 142-1
	// 5.4.1), as Acrobat writes it.
	ext, err := doc.ctx.DereferenceDict(cat["Extensions"])
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's /Extensions is broken: %v", err)
	}
	if ext == nil {
		ext = types.NewDict()
	} else {
		ext = ext.Clone().(types.Dict)
	}
	if _, ok := ext["ESIC"]; !ok {
		ext["ESIC"] = types.Dict{"BaseVersion": types.Name("1.7"), "ExtensionLevel": types.Integer(5)}
	}
	cat["Extensions"] = ext
	objs = append(objs, refObject(doc.root, cat.PDFString()))

	slices.SortFunc(objs, func(a, b object) int { return a.num - b.num })
	out, _ := writeUpdate(signed, doc, objs, next, 0)
	return out, nil
}

func certsDER(vd *ValidationData) [][]byte {
	var out [][]byte
	for _, c := range vd.Certificates {
		out = append(out, c.Raw)
	}
	return out
}

// readSigned reads a signed PDF of at most DefaultMaxInputSize bytes and
// the hex-decoded /Contents of its newest signature.
func readSigned(signed []byte) (*document, []byte, error) {
	if int64(len(signed)) > DefaultMaxInputSize {
		return nil, nil, selo.Errorf(selo.ETOOLARGE, "the PDF is %d bytes, larger than the limit of %d", len(signed), DefaultMaxInputSize)
	}
	doc, err := readPDF(signed)
	if err != nil {
		return nil, nil, err
	}
	contents, err := newestSignatureContents(doc.ctx)
	if err != nil {
		return nil, nil, err
	}
	return doc, contents, nil
}

// newestSignatureContents returns the hex-decoded /Contents of the
// signature whose byte range ends last: the newest one.
func newestSignatureContents(ctx *model.Context) ([]byte, error) {
	catalog, err := ctx.Catalog()
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	form, err := ctx.DereferenceDict(catalog["AcroForm"])
	if err != nil || form == nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF has no signature to add validation data for")
	}
	fields, err := ctx.DereferenceArray(form["Fields"])
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's form fields are broken: %v", err)
	}
	var newest []byte
	end := int64(-1)
	seen := 0
	var walk func(fields types.Array, depth int)
	walk = func(fields types.Array, depth int) {
		for _, f := range fields {
			if seen++; seen > maxFormFields || depth > maxPageTreeDepth {
				return
			}
			fd, err := ctx.DereferenceDict(f)
			if err != nil || fd == nil {
				continue
			}
			if kids, err := ctx.DereferenceArray(fd["Kids"]); err == nil && len(kids) > 0 {
				walk(kids, depth+1)
			}
			v, err := ctx.DereferenceDict(fd["V"])
			if err != nil || v == nil {
				continue
			}
			br, err := ctx.DereferenceArray(v["ByteRange"])
			if err != nil || len(br) != 4 {
				continue
			}
			a, ok1 := br[2].(types.Integer)
			b, ok2 := br[3].(types.Integer)
			if !ok1 || !ok2 || int64(a)+int64(b) <= end {
				continue
			}
			var data []byte
			switch c := v["Contents"].(type) {
			case types.HexLiteral:
				data, err = c.Bytes()
			case types.StringLiteral:
				data, err = types.Unescape(c.Value())
			default:
				continue
			}
			if err != nil || len(data) == 0 {
				continue
			}
			newest, end = data, int64(a)+int64(b)
		}
	}
	walk(fields, 0)
	if newest == nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF has no signature to add validation data for")
	}
	return newest, nil
}
