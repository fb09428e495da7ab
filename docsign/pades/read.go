package pades

import (
	"bytes"
	"errors"
	"strconv"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/selo-qtsp/selo"
)

// document is what the incremental update needs to know about the input.
type document struct {
	ctx       *model.Context
	root      types.IndirectRef
	size      int   // the first free object number
	startxref int64 // offset of the last cross-reference section
	// xrefStream says the last cross-reference section is a stream (PDF
	// 1.5+), so the update must end with one too.
	xrefStream bool
	page       types.IndirectRef
	pageDict   types.Dict
}

// disableConfigOnce keeps pdfcpu from creating a configuration directory in
// the user's home on its first use: Selo passes its settings in code.
var disableConfigOnce sync.Once

// readPDF parses in with pdfcpu and checks that Selo can append a signature
// to it. pdfcpu panics on some malformed input; that is turned into an error.
func readPDF(in []byte) (doc *document, err error) {
	if !bytes.HasPrefix(in, []byte("%PDF-")) {
		return nil, selo.Errorf(selo.EINVALID, "not a PDF file: it does not start with %%PDF-")
	}
	startxref, err := lastStartXRef(in)
	if err != nil {
		return nil, err
	}
	disableConfigOnce.Do(func() { model.ConfigPath = "disable" })
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, selo.Errorf(selo.EINVALID, "cannot read the PDF: malformed (%v)", r)
		}
	}()
	conf := model.NewDefaultConfiguration()
	ctx, err := pdfcpu.Read(bytes.NewReader(in), conf)
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) || errors.Is(err, pdfcpu.ErrOwnerPasswordRequired) {
			return nil, selo.Errorf(selo.EINVALID, "the PDF is encrypted: remove the password protection before signing")
		}
		return nil, selo.Errorf(selo.EINVALID, "cannot read the PDF: %v", err)
	}
	if ctx.Encrypt != nil || ctx.E != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF is encrypted: remove the password protection before signing")
	}
	if ctx.Root == nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF has no document catalog (/Root)")
	}
	size := ctx.MaxObjNr + 1
	if ctx.Size != nil && *ctx.Size > size {
		size = *ctx.Size
	}
	classic := bytes.HasPrefix(bytes.TrimLeft(in[startxref:], " \t\r\n\f\x00"), []byte("xref"))
	if !classic && !ctx.Read.UsingXRefStreams {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's startxref offset %d does not point to a cross-reference section: repair the file (for example: qpdf in.pdf out.pdf) first", startxref)
	}
	doc = &document{ctx: ctx, root: *ctx.Root, size: size, startxref: startxref, xrefStream: !classic}
	if doc.page, doc.pageDict, err = firstPage(ctx); err != nil {
		return nil, err
	}
	return doc, nil
}

// maxPageTreeDepth bounds the walk down the page tree (a loop in a hostile
// file must not hang the signer).
const maxPageTreeDepth = 64

// firstPage finds the first page, which carries the invisible signature
// widget.
func firstPage(ctx *model.Context) (types.IndirectRef, types.Dict, error) {
	catalog, err := ctx.Catalog()
	if err != nil {
		return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	node, ok := catalog["Pages"].(types.IndirectRef)
	if !ok {
		return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF's catalog has no page tree")
	}
	for range maxPageTreeDepth {
		d, err := ctx.DereferenceDict(node)
		if err != nil || d == nil {
			return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF's page tree is broken")
		}
		if t := d.Type(); t != nil && *t == "Page" {
			return node, d, nil
		}
		kids, err := ctx.DereferenceArray(d["Kids"])
		if err != nil || len(kids) == 0 {
			return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF has no pages")
		}
		if node, ok = kids[0].(types.IndirectRef); !ok {
			return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF's page tree is broken")
		}
	}
	return types.IndirectRef{}, nil, selo.Errorf(selo.EINVALID, "the PDF's page tree is deeper than %d levels", maxPageTreeDepth)
}

// lastStartXRef returns the offset after the last startxref keyword, where
// the newest cross-reference section starts.
func lastStartXRef(in []byte) (int64, error) {
	tail := in[max(0, len(in)-2048):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 || !bytes.Contains(tail[i:], []byte("%%EOF")) {
		return 0, selo.Errorf(selo.EINVALID, "the PDF is truncated: no startxref and %%%%EOF at its end")
	}
	fields := bytes.Fields(tail[i+len("startxref"):])
	if len(fields) == 0 {
		return 0, selo.Errorf(selo.EINVALID, "the PDF is truncated: startxref has no offset")
	}
	off, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil || off <= 0 || off >= int64(len(in)) {
		return 0, selo.Errorf(selo.EINVALID, "the PDF's startxref offset %q is not inside the file", fields[0])
	}
	return off, nil
}
