package pades

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/selo-qtsp/selo"
)

// sigDict holds what goes into the signature dictionary besides the CMS.
type sigDict struct {
	when                      time.Time
	reason, location, contact string
	size                      int // bytes reserved for the CMS
	visible                   *visibleBox
	name                      string // the signer's name, for the visible box
}

// object is one indirect object of the incremental update.
type object struct {
	num, gen int
	body     string
}

// byteRangeSlot is the room left for the ByteRange numbers, patched in place
// once every offset is known: "0 a b c" with three numbers of up to 10 digits.
const byteRangeSlot = 36

// appendSignature returns in followed by an incremental update that adds a
// signature field (invisible on the first page, or sd.visible) and its signature dictionary
// with /Contents zeroed, the ByteRange already filled in, and the offset of
// the first hex digit of /Contents.
func appendSignature(in []byte, doc *document, sd sigDict) ([]byte, int, error) {
	ctx := doc.ctx
	next := doc.size
	widgetNum, sigNum, appearanceNum := next, next+1, next+2
	next += 2
	if sd.visible != nil {
		next++
	}
	widgetRef := *types.NewIndirectRef(widgetNum, 0)
	var objs []object

	// The widget goes into the page's /Annots: rewrite the array where
	// it is its own object, the page otherwise.
	page := doc.pageDict.Clone().(types.Dict)
	switch a := page["Annots"].(type) {
	case types.IndirectRef:
		arr, err := ctx.DereferenceArray(a)
		if err != nil {
			return nil, 0, selo.Errorf(selo.EINVALID, "the page's /Annots is broken: %v", err)
		}
		objs = append(objs, object{a.ObjectNumber.Value(), a.GenerationNumber.Value(), append(slices.Clone(arr), widgetRef).PDFString()})
	case types.Array:
		page["Annots"] = append(slices.Clone(a), widgetRef)
		objs = append(objs, refObject(doc.page, page.PDFString()))
	case nil:
		page["Annots"] = types.Array{widgetRef}
		objs = append(objs, refObject(doc.page, page.PDFString()))
	default:
		return nil, 0, selo.Errorf(selo.EINVALID, "the page's /Annots is not an array")
	}

	// The field goes into the AcroForm, which says the document is signed.
	catalog, err := ctx.Catalog()
	if err != nil {
		return nil, 0, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	form := types.NewDict()
	if v := catalog["AcroForm"]; v != nil {
		d, err := ctx.DereferenceDict(v)
		if err != nil || d == nil {
			return nil, 0, selo.Errorf(selo.EINVALID, "the PDF's /AcroForm is broken")
		}
		form = d.Clone().(types.Dict)
	}
	fields, err := ctx.DereferenceArray(form["Fields"])
	if err != nil {
		return nil, 0, selo.Errorf(selo.EINVALID, "the PDF's form fields are broken: %v", err)
	}
	taken := map[string]bool{}
	for _, f := range fields {
		if fd, err := ctx.DereferenceDict(f); err == nil && fd != nil {
			if t, err := fd.StringOrHexLiteralEntry("T"); err == nil && t != nil {
				taken[*t] = true
			}
		}
	}
	name := ""
	for i := 1; name == "" || taken[name]; i++ {
		name = fmt.Sprintf("Signature%d", i)
	}
	form["Fields"] = append(slices.Clone(fields), widgetRef)
	form["SigFlags"] = types.Integer(3) // SignaturesExist | AppendOnly
	if ref, ok := catalog["AcroForm"].(types.IndirectRef); ok {
		objs = append(objs, refObject(ref, form.PDFString()))
	} else {
		cat := catalog.Clone().(types.Dict)
		cat["AcroForm"] = form
		objs = append(objs, refObject(doc.root, cat.PDFString()))
	}

	// The widget merged with its signature field (Print | Locked): invisible
	// (an empty /Rect), or a box with its normal appearance.
	rect, ap := "[0 0 0 0]", ""
	if v := sd.visible; v != nil {
		rect, ap = v.rect(), fmt.Sprintf("/AP<</N %d 0 R>>", appearanceNum)
		objs = append(objs, object{num: appearanceNum, body: v.appearance(sd.name, sd.when)})
	}
	objs = append(objs, object{num: widgetNum, body: fmt.Sprintf("<</Type/Annot/Subtype/Widget/FT/Sig/T%s/V %d 0 R/P %s/Rect%s%s/F 132>>",
		pdfText(name), sigNum, doc.page.PDFString(), rect, ap)})

	var sig strings.Builder
	sig.WriteString("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/M")
	sig.WriteString(pdfText(pdfDate(sd.when)))
	for _, e := range []struct{ key, value string }{{"Reason", sd.reason}, {"Location", sd.location}, {"ContactInfo", sd.contact}} {
		if e.value != "" {
			sig.WriteString("/" + e.key + pdfText(e.value))
		}
	}
	sig.WriteString("/ByteRange[" + strings.Repeat(" ", byteRangeSlot) + "]/Contents<")
	sig.WriteString(strings.Repeat("0", 2*sd.size))
	sig.WriteString(">>>")
	objs = append(objs, object{num: sigNum, body: sig.String()})

	slices.SortFunc(objs, func(a, b object) int { return a.num - b.num })
	for i := 1; i < len(objs); i++ {
		if objs[i].num == objs[i-1].num {
			return nil, 0, selo.Errorf(selo.EINVALID, "the PDF reuses object %d for its catalog, page or form", objs[i].num)
		}
	}

	out, offsets := writeUpdate(in, doc, objs, next, 2*sd.size)
	sigStart := offsets[slices.IndexFunc(objs, func(o object) bool { return o.num == sigNum })]
	slot := sigStart + bytes.Index(out[sigStart:], []byte("/ByteRange[")) + len("/ByteRange[")
	contentsStart := sigStart + bytes.Index(out[sigStart:], []byte("/Contents<")) + len("/Contents<")
	contentsEnd := contentsStart + 2*sd.size + 1
	ranges := fmt.Sprintf("0 %d %d %d", contentsStart-1, contentsEnd, len(out)-contentsEnd)
	if len(ranges) > byteRangeSlot {
		return nil, 0, selo.Errorf(selo.ETOOLARGE, "the signed PDF would be too large for its byte range")
	}
	copy(out[slot:], ranges)
	return out, contentsStart, nil
}

// writeUpdate returns in followed by objs (sorted by number, none repeated)
// and a cross-reference section for them of the same kind as the input's
// last one: a classic table with a trailer, or a cross-reference stream
// (ISO 32000-1 7.5.8; a PDF whose last section is a stream must not get a
// classic table after it). next is the first free object number after objs;
// the stream, when there is one, takes it. It also returns where each object
// starts.
func writeUpdate(in []byte, doc *document, objs []object, next, extra int) ([]byte, []int) {
	var b bytes.Buffer
	b.Grow(len(in) + extra + 4096)
	b.Write(in)
	if last := in[len(in)-1]; last != '\n' && last != '\r' {
		b.WriteByte('\n')
	}
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d %d obj\n%s\nendobj\n", o.num, o.gen, o.body)
	}
	trailer := types.Dict{"Size": types.Integer(next), "Root": doc.root, "Prev": types.Integer(int(doc.startxref))}
	if doc.ctx.Info != nil {
		trailer["Info"] = *doc.ctx.Info
	}
	if len(doc.ctx.ID) == 2 {
		trailer["ID"] = doc.ctx.ID
	}
	xref := b.Len()
	if doc.xrefStream {
		writeXRefStream(&b, objs, offsets, next, trailer)
	} else {
		b.WriteString("xref\n")
		for i := 0; i < len(objs); {
			j := i + 1
			for j < len(objs) && objs[j].num == objs[j-1].num+1 {
				j++
			}
			fmt.Fprintf(&b, "%d %d\n", objs[i].num, j-i)
			for k := i; k < j; k++ {
				fmt.Fprintf(&b, "%010d %05d n\r\n", offsets[k], objs[k].gen)
			}
			i = j
		}
		fmt.Fprintf(&b, "trailer\n%s\n", trailer.PDFString())
	}
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes(), offsets
}

// writeXRefStream writes, at b's end, cross-reference stream object number
// next covering objs and itself, uncompressed, with the trailer's entries.
// Each entry is 1 byte of type (1: in use at an offset), 4 bytes of offset
// and 2 bytes of generation, so a PDF up to 4 GiB fits (the input is far
// smaller, see MaxInputSize).
func writeXRefStream(b *bytes.Buffer, objs []object, offsets []int, next int, trailer types.Dict) {
	self := b.Len()
	type entry struct{ num, offset, gen int }
	entries := make([]entry, 0, len(objs)+1)
	for i, o := range objs {
		entries = append(entries, entry{o.num, offsets[i], o.gen})
	}
	entries = append(entries, entry{next, self, 0})
	var index types.Array
	var data []byte
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].num == entries[j-1].num+1 {
			j++
		}
		index = append(index, types.Integer(entries[i].num), types.Integer(j-i))
		for _, e := range entries[i:j] {
			data = append(data, 1, byte(e.offset>>24), byte(e.offset>>16), byte(e.offset>>8), byte(e.offset), byte(e.gen>>8), byte(e.gen))
		}
		i = j
	}
	trailer["Size"] = types.Integer(next + 1)
	trailer["Type"] = types.Name("XRef")
	trailer["W"] = types.Array{types.Integer(1), types.Integer(4), types.Integer(2)}
	trailer["Index"] = index
	trailer["Length"] = types.Integer(len(data))
	fmt.Fprintf(b, "%d 0 obj\n%s\nstream\n", next, trailer.PDFString())
	b.Write(data)
	b.WriteString("\nendstream\nendobj\n")
}

func refObject(ref types.IndirectRef, body string) object {
	return object{num: ref.ObjectNumber.Value(), gen: ref.GenerationNumber.Value(), body: body}
}

// pdfDate formats t as a PDF date (ISO 32000-1 7.9.4) in UTC.
func pdfDate(t time.Time) string { return t.UTC().Format("D:20060102150405Z") }

// pdfText encodes s as a PDF text string: a literal string when it is
// printable ASCII, UTF-16BE with a byte order mark otherwise.
func pdfText(s string) string {
	ascii := true
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
		return "(" + r.Replace(s) + ")"
	}
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}
