package pades

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// maxReachable bounds the objects collected while following references.
const maxReachable = 100000

// dss is the document security store (ETSI EN 319 142-1, 5.4.2): the
// validation data a B-LT signature relies on.
type dss struct {
	certs       []*x509.Certificate
	ocsps, crls [][]byte
}

// readDSS decodes the /DSS of the catalog, nil when there is none.
func readDSS(ctx *model.Context) *dss {
	catalog, err := ctx.Catalog()
	if err != nil {
		return nil
	}
	d, err := ctx.DereferenceDict(catalog["DSS"])
	if err != nil || d == nil {
		return nil
	}
	out := &dss{}
	streams := func(key string) [][]byte {
		arr, err := ctx.DereferenceArray(d[key])
		if err != nil {
			return nil
		}
		var data [][]byte
		for _, o := range arr {
			sd, _, err := ctx.DereferenceStreamDict(o)
			if err != nil || sd == nil {
				continue
			}
			c := *sd
			if err := c.DecodeWithLimit(maxDSSStream); err != nil {
				continue
			}
			data = append(data, c.Content)
		}
		return data
	}
	for _, der := range streams("Certs") {
		if c, err := x509.ParseCertificate(der); err == nil {
			out.certs = append(out.certs, c)
		}
	}
	out.ocsps, out.crls = streams("OCSPs"), streams("CRLs")
	return out
}

// laterChanges compares the document as it stood at revision rev with the
// whole file and says what the later updates did, and whether that was only
// adding signatures, signature fields and their appearances, validation data
// and document timestamps (what ISO 32000 and PAdES allow after signing).
func laterChanges(in []byte, final *model.Context, ends []int64, rev int, cache map[int]*model.Context) ([]string, bool) {
	old, ok := cache[rev]
	if !ok {
		var err error
		old, err = parseForVerify(in[:ends[rev-1]])
		if err != nil {
			old = nil
		}
		cache[rev] = old
	}
	later := len(ends) - rev
	if old == nil {
		return []string{fmt.Sprintf("%d later update(s) that could not be compared: the signed revision alone does not parse", later)}, false
	}
	allowed := map[int]bool{} // new objects a signature or the DSS brings
	if cat, err := final.Catalog(); err == nil {
		collect(final, cat["DSS"], allowed)
	}
	// An object of the signed revision may change as validation data only
	// if it already was validation data then (an earlier DSS extended):
	// otherwise a new DSS or appearance pointing at the page's content
	// would let any content change pass.
	wasValidationData := map[int]bool{}
	if cat, err := old.Catalog(); err == nil {
		collect(old, cat["DSS"], wasValidationData)
	}
	var counts = map[string]int{}
	var other []string
	nums := slices.Sorted(maps.Keys(final.Table))
	// First pass: signature dictionaries and fields bring their appearances.
	for _, n := range nums {
		e := final.Table[n]
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		if d := dictOf(e.Object); d != nil && isSignatureField(d) {
			if oe, ok := old.Table[n]; !ok || oe.Object == nil || oe.Object.PDFString() != e.Object.PDFString() {
				collect(final, d["AP"], allowed)
				collect(final, d["V"], allowed)
			}
		}
	}
	for _, n := range nums {
		e := final.Table[n]
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		oe, existed := old.Table[n]
		if existed && oe != nil && !oe.Free && oe.Object != nil && sameObject(oe.Object, e.Object) {
			continue
		}
		kind := kindOf(e.Object)
		d := dictOf(e.Object)
		existed = existed && oe != nil && !oe.Free && oe.Object != nil
		// A type that marks signature data counts only for a new object or
		// one that already had that type: a page's content stream given a
		// /Type /XRef or /Sig is still the page's content.
		structural := !existed || kindOf(oe.Object) == kind
		switch {
		case (kind == "XRef" || kind == "ObjStm") && structural:
			// Structure of the update itself.
		case kind == "Sig" && structural:
			counts["signature"]++
		case kind == "DocTimeStamp" && structural:
			counts["document timestamp"]++
		case d != nil && isSignatureField(d) && (!existed || sigFieldOnlyFilled(dictOf(oe.Object), d)):
			counts["signature field"]++
		case (kind == "DSS" || kind == "VRI") && structural,
			allowed[n] && (!existed || wasValidationData[n]):
			counts["validation data or signature appearance"]++
		case existed && allowedChange(final, old, oe.Object, e.Object, kind):
			counts["form and page entries pointing to new signatures"]++
		case !existed:
			other = append(other, fmt.Sprintf("new object %d%s", n, typeSuffix(kind)))
		default:
			other = append(other, fmt.Sprintf("object %d%s changed", n, typeSuffix(kind)))
		}
	}
	// An object the signed revision used and a later update freed is a
	// change too: a freed content stream blanks its page.
	oldNums := slices.Sorted(maps.Keys(old.Table))
	for _, n := range oldNums {
		oe := old.Table[n]
		if n == 0 || oe == nil || oe.Free || oe.Object == nil {
			continue
		}
		if kind := kindOf(oe.Object); kind == "XRef" || kind == "ObjStm" {
			continue
		}
		if e, ok := final.Table[n]; !ok || e == nil || e.Free || e.Object == nil {
			other = append(other, fmt.Sprintf("object %d%s deleted", n, typeSuffix(kindOf(oe.Object))))
		}
	}
	var out []string
	for _, k := range []string{"signature", "document timestamp", "signature field", "validation data or signature appearance", "form and page entries pointing to new signatures"} {
		if counts[k] > 0 {
			out = append(out, fmt.Sprintf("%s (%d)", k, counts[k]))
		}
	}
	const maxListed = 10
	if len(other) > maxListed {
		other = append(other[:maxListed], fmt.Sprintf("and %d more", len(other)-maxListed))
	}
	out = append(out, other...)
	if len(out) == 0 {
		out = []string{fmt.Sprintf("%d later update(s) with no change to any object", later)}
	}
	return out, len(other) == 0
}

// kindOf returns the /Type of a dictionary or stream, "" for anything else.
func kindOf(o types.Object) string {
	if d := dictOf(o); d != nil {
		if t := d.Type(); t != nil {
			return *t
		}
	}
	return ""
}

func typeSuffix(kind string) string {
	if kind == "" {
		return ""
	}
	return " (/" + kind + ")"
}

func dictOf(o types.Object) types.Dict {
	switch v := o.(type) {
	case types.Dict:
		return v
	case types.StreamDict:
		return v.Dict
	case *types.StreamDict:
		return v.Dict
	}
	return nil
}

// sameObject compares two versions of an object; streams by their raw bytes too.
func sameObject(a, b types.Object) bool {
	if a.PDFString() != b.PDFString() {
		return false
	}
	sa, okA := a.(types.StreamDict)
	sb, okB := b.(types.StreamDict)
	if okA != okB {
		return false
	}
	return !okA || bytes.Equal(sa.Raw, sb.Raw)
}

func isSignatureField(d types.Dict) bool {
	ft, ok := d["FT"].(types.Name)
	return ok && ft == "Sig"
}

// sigFieldOnlyFilled: an empty signature field got its value (and appearance).
func sigFieldOnlyFilled(old, cur types.Dict) bool {
	if old == nil || old["V"] != nil {
		return false
	}
	return onlyKeysDiffer(old, cur, "V", "AP", "F")
}

// allowedChange: a catalog, form, page, field list or annotation list that
// changed only to point at new signatures or the DSS.
func allowedChange(final, old *model.Context, before, after types.Object, kind string) bool {
	if ba, ok := before.(types.Array); ok {
		aa, ok := after.(types.Array)
		return ok && onlyAddsSignatures(final, ba, aa)
	}
	bd, ad := dictOf(before), dictOf(after)
	if bd == nil || ad == nil {
		return false
	}
	if _, stream := after.(types.StreamDict); stream {
		return false
	}
	switch {
	case kind == "Catalog":
		if !onlyKeysDiffer(bd, ad, "AcroForm", "DSS", "Extensions", "Perms") {
			return false
		}
		// An AcroForm inside the catalog must itself only gain signatures.
		bf, af := dictOf(bd["AcroForm"]), dictOf(ad["AcroForm"])
		return af == nil || bf == nil && onlySignatureForm(final, af) || bf != nil && formOnlyGains(final, bf, af)
	case kind == "Page":
		if !onlyKeysDiffer(bd, ad, "Annots") {
			return false
		}
		ba, _ := bd["Annots"].(types.Array)
		aa, okA := ad["Annots"].(types.Array)
		return !okA || onlyAddsSignatures(final, ba, aa)
	case ad["Fields"] != nil || ad["SigFlags"] != nil:
		return formOnlyGains(final, bd, ad)
	}
	return false
}

func formOnlyGains(final *model.Context, before, after types.Dict) bool {
	if !onlyKeysDiffer(before, after, "Fields", "SigFlags", "DR", "DA") {
		return false
	}
	bf, _ := before["Fields"].(types.Array)
	af, ok := after["Fields"].(types.Array)
	return !ok || onlyAddsSignatures(final, bf, af)
}

func onlySignatureForm(final *model.Context, form types.Dict) bool {
	fields, _ := form["Fields"].(types.Array)
	return onlyAddsSignatures(final, nil, fields)
}

// onlyKeysDiffer reports whether a and b differ only in the given keys.
func onlyKeysDiffer(a, b types.Dict, keys ...string) bool {
	for k, v := range b {
		if slices.Contains(keys, k) {
			continue
		}
		if w, ok := a[k]; !ok || !sameEntry(v, w) {
			return false
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok && !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

func sameEntry(a, b types.Object) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.PDFString() == b.PDFString()
}

// onlyAddsSignatures: after keeps every element of before, in order, and
// each element it adds is a signature field or widget.
func onlyAddsSignatures(final *model.Context, before, after types.Array) bool {
	i := 0
	for _, o := range after {
		if i < len(before) && sameEntry(before[i], o) {
			i++
			continue
		}
		d, err := final.DereferenceDict(o)
		if err != nil || d == nil || !isSignatureField(d) {
			// A widget of a signature field whose parent holds the FT.
			p, err := final.DereferenceDict(d["Parent"])
			if d == nil || err != nil || p == nil || !isSignatureField(p) {
				return false
			}
		}
	}
	return i == len(before)
}

// collect adds the object numbers reachable from o to set.
func collect(ctx *model.Context, o types.Object, set map[int]bool) {
	stack := []types.Object{o}
	for len(stack) > 0 && len(set) < maxReachable {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch v := o.(type) {
		case types.IndirectRef:
			n := v.ObjectNumber.Value()
			if set[n] {
				continue
			}
			set[n] = true
			if e, ok := ctx.Table[n]; ok && e != nil && e.Object != nil {
				stack = append(stack, e.Object)
			}
		case types.Dict:
			for _, w := range v {
				stack = append(stack, w)
			}
		case types.StreamDict:
			for _, w := range v.Dict {
				stack = append(stack, w)
			}
		case types.Array:
			stack = append(stack, v...)
		}
	}
}
