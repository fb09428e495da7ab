package pades

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/encoding/charmap"

	"github.com/selo-qtsp/selo"
)

// Visible places a visible signature box on a page: a framed rectangle with
// the signer's name and the signing time in Helvetica.
type Visible struct {
	// Page is the page number, from 1.
	Page int
	// X, Y, Width and Height place the box, in points (1/72 inch), from the
	// bottom-left corner of the page as stored, before its /Rotate: the
	// PDF's own default user space. On a rotated page the text is turned
	// with the page so that it reads upright on screen.
	X, Y, Width, Height float64
	// Name is the signer's name shown in the box; empty means the
	// certificate subject's common name.
	Name string
}

// ParseVisible reads "PAGE:x,y,w,h" (numbers in points), the form of the
// command line's --visible.
func ParseVisible(s string) (*Visible, error) {
	bad := func(why string) error {
		return selo.Errorf(selo.EINVALID, "visible signature %q: %s (want PAGE:x,y,width,height in points, e.g. 1:360,60,200,60)", s, why)
	}
	pageText, rect, ok := strings.Cut(s, ":")
	if !ok {
		return nil, bad("no ':' after the page number")
	}
	page, err := strconv.Atoi(strings.TrimSpace(pageText))
	if err != nil || page < 1 {
		return nil, bad("the page must be a number from 1")
	}
	parts := strings.Split(rect, ",")
	if len(parts) != 4 {
		return nil, bad("four numbers are needed after the page")
	}
	var n [4]float64
	for i, p := range parts {
		if n[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil || math.IsNaN(n[i]) || math.IsInf(n[i], 0) {
			return nil, bad(fmt.Sprintf("%q is not a number", p))
		}
	}
	v := &Visible{Page: page, X: n[0], Y: n[1], Width: n[2], Height: n[3]}
	if err := v.check(); err != nil {
		return nil, err
	}
	return v, nil
}

// Bounds of a visible box: big enough for three lines of small text, small
// enough for any page (14,400 pt is the PDF page size limit).
const (
	minBoxSide   = 10
	maxPageUnits = 14400
)

func (v *Visible) check() error {
	switch {
	case v.Page < 1:
		return selo.Errorf(selo.EINVALID, "visible signature: the page must be a number from 1")
	case v.Width < minBoxSide || v.Height < minBoxSide:
		return selo.Errorf(selo.EINVALID, "visible signature: the box must be at least %d by %d points", minBoxSide, minBoxSide)
	case math.Abs(v.X) > maxPageUnits || math.Abs(v.Y) > maxPageUnits || v.Width > maxPageUnits || v.Height > maxPageUnits:
		return selo.Errorf(selo.EINVALID, "visible signature: the box is larger than any PDF page")
	}
	return nil
}

// visibleBox is a Visible placed on its page.
type visibleBox struct {
	Visible
	rotate int // the page's /Rotate, normalized to 0, 90, 180 or 270
}

// selectPage makes page n the one that receives the signature widget and
// checks that the box lies on its media box.
func (doc *document) selectPage(v *Visible) (*visibleBox, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	page, err := nthPage(doc.ctx, v.Page)
	if err != nil {
		return nil, err
	}
	doc.page, doc.pageDict = page.ref, page.dict
	if mb := page.mediaBox; mb != nil {
		if v.X < mb.LL.X || v.Y < mb.LL.Y || v.X+v.Width > mb.UR.X || v.Y+v.Height > mb.UR.Y {
			return nil, selo.Errorf(selo.EINVALID, "visible signature: the box %g,%g,%g,%g is not inside page %d (%g,%g to %g,%g)",
				v.X, v.Y, v.Width, v.Height, v.Page, mb.LL.X, mb.LL.Y, mb.UR.X, mb.UR.Y)
		}
	}
	r := page.rotate % 360
	if r < 0 {
		r += 360
	}
	if r%90 != 0 {
		r = 0 // not allowed by ISO 32000; readers ignore it
	}
	return &visibleBox{Visible: *v, rotate: r}, nil
}

// pageInfo is a page found in the page tree, with what it inherits.
type pageInfo struct {
	ref      types.IndirectRef
	dict     types.Dict
	mediaBox *types.Rectangle
	rotate   int
}

// nthPage walks the page tree down to page n (from 1), skipping subtrees
// by their /Count, with the depth bounded (a loop in a hostile file must
// neither hang nor overflow the stack), and collects the inheritable
// /MediaBox and /Rotate on the way.
func nthPage(ctx *model.Context, n int) (*pageInfo, error) {
	broken := func() error { return selo.Errorf(selo.EINVALID, "the PDF's page tree is broken") }
	catalog, err := ctx.Catalog()
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's catalog is unreadable: %v", err)
	}
	node, ok := catalog["Pages"].(types.IndirectRef)
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "the PDF's catalog has no page tree")
	}
	root, err := ctx.DereferenceDict(node)
	if err != nil || root == nil {
		return nil, broken()
	}
	if total := root.IntEntry("Count"); total != nil && n > *total {
		return nil, selo.Errorf(selo.EINVALID, "visible signature on page %d, but the PDF has %d page(s)", n, *total)
	}
	info := &pageInfo{}
	inherit := func(d types.Dict) {
		if a, err := ctx.DereferenceArray(d["MediaBox"]); err == nil && len(a) == 4 {
			if r, err := ctx.RectForArray(a); err == nil {
				info.mediaBox = r
			}
		}
		if o, err := ctx.DereferenceNumber(d["Rotate"]); err == nil && d["Rotate"] != nil {
			info.rotate = int(o)
		}
	}
	d := root
	for range maxPageTreeDepth {
		inherit(d)
		if t := d.Type(); t != nil && *t == "Page" {
			if n != 1 {
				return nil, broken()
			}
			info.ref, info.dict = node, d
			return info, nil
		}
		kids, err := ctx.DereferenceArray(d["Kids"])
		if err != nil {
			return nil, broken()
		}
		found := false
		for _, k := range kids {
			ref, ok := k.(types.IndirectRef)
			if !ok {
				return nil, broken()
			}
			kd, err := ctx.DereferenceDict(ref)
			if err != nil || kd == nil {
				return nil, broken()
			}
			count := 1
			if t := kd.Type(); t == nil || *t != "Page" {
				c := kd.IntEntry("Count")
				if c == nil || *c < 0 {
					return nil, broken()
				}
				count = *c
			}
			if n <= count {
				node, d, found = ref, kd, true
				break
			}
			n -= count
		}
		if !found {
			return nil, selo.Errorf(selo.EINVALID, "the PDF's page tree has fewer pages than its /Count says")
		}
	}
	return nil, selo.Errorf(selo.EINVALID, "the PDF's page tree is deeper than %d levels", maxPageTreeDepth)
}

// appearance returns the normal appearance of the box (a form XObject
// dictionary and its content stream) for a signature by name at when.
func (b *visibleBox) appearance(name string, when time.Time) string {
	// The form is drawn upright in a w×h box; /Matrix turns it with the page
	// so it reads upright on screen, and the reader fits the turned box to
	// the widget's /Rect.
	w, h := b.Width, b.Height
	matrix := "[1 0 0 1 0 0]"
	switch b.rotate {
	case 90:
		w, h, matrix = h, w, "[0 1 -1 0 0 0]"
	case 180:
		matrix = "[-1 0 0 -1 0 0]"
	case 270:
		w, h, matrix = h, w, "[0 -1 1 0 0 0]"
	}
	lines := []string{"Digitally signed by", name, "Date: " + when.UTC().Format("2006-01-02 15:04:05 UTC")}
	const lead = 1.25 // line height in font sizes
	pad := math.Min(4, math.Min(w, h)/10)
	size := (h - 2*pad) / (float64(len(lines)) * lead)
	for _, l := range lines {
		if width := helveticaWidth(l); width > 0 {
			size = math.Min(size, (w-2*pad)/width)
		}
	}
	size = math.Min(size, 14)

	var c strings.Builder
	fmt.Fprintf(&c, "q 0 0 %s %s re W n\n", num(w), num(h))
	fmt.Fprintf(&c, "0.96 0.97 1 rg 0 0 %s %s re f\n", num(w), num(h))
	fmt.Fprintf(&c, "0.1 0.2 0.55 RG 1 w 0.5 0.5 %s %s re S\n", num(w-1), num(h-1))
	fmt.Fprintf(&c, "BT 0 0 0 rg /F1 %s Tf %s TL %s %s Td\n", num(size), num(size*lead), num(pad), num(h-pad-size))
	for i, l := range lines {
		if i > 0 {
			c.WriteString("T* ")
		}
		c.WriteString(winAnsiString(l) + " Tj\n")
	}
	c.WriteString("ET Q\n")
	content := c.String()
	return fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox[0 0 %s %s]/Matrix%s/Resources<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>>>>>/Length %d>>\nstream\n%s\nendstream",
		num(w), num(h), matrix, len(content), content)
}

// rect returns the widget's /Rect.
func (b *visibleBox) rect() string {
	return fmt.Sprintf("[%s %s %s %s]", num(b.X), num(b.Y), num(b.X+b.Width), num(b.Y+b.Height))
}

// num formats a coordinate with at most two decimals.
func num(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

// helveticaWidth estimates the width of s in Helvetica at size 1, from
// rough glyph classes (the box is clipped, so an estimate only risks a
// slightly smaller or clipped text, never a broken PDF).
func helveticaWidth(s string) float64 {
	var w float64
	for _, r := range s {
		switch {
		case r == ' ' || r == 'i' || r == 'l' || r == 'j' || r == '.' || r == ',' || r == ':' || r == 'I':
			w += 0.28
		case r == 'm' || r == 'M' || r == 'W' || r == 'w':
			w += 0.85
		case r >= 'A' && r <= 'Z':
			w += 0.70
		default:
			w += 0.56
		}
	}
	return w
}

// winAnsiString returns s as a PDF literal string in WinAnsiEncoding, the
// standard fonts' encoding; characters it lacks become '?'.
func winAnsiString(s string) string {
	var enc []byte
	for _, r := range s {
		c, ok := charmap.Windows1252.EncodeRune(r)
		if !ok {
			c = '?'
		}
		enc = append(enc, c)
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := 0; i < len(enc); i++ {
		switch c := enc[i]; {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}
