package trustlist

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// prefixes are the namespace prefixes the lists are written with, declared
// once on the root element (encoding/xml would repeat a default namespace
// declaration on every element, which doubles a list's size).
var prefixes = map[string]string{
	NS:           "", // the default namespace
	NSAdditional: "tslx",
	NSSie:        "ecc",
	NSXAdES:      "xades",
	NSDS:         "ds",
}

// compactNamespaces rewrites an XML document as encoding/xml wrote it with
// the namespaces above declared once, on the root, and each element named
// with its prefix. Everything else (text, attributes, order) is kept.
func compactNamespaces(in []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(in))
	var out bytes.Buffer
	out.Grow(len(in))
	root := true
	var stack []string   // the prefixes of the open elements
	var nsStack []string // the default namespace each declares or inherits
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			ns := ""
			var attrs []xml.Attr
			for _, a := range tok.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					ns = a.Value
				case a.Name.Space == "xmlns":
					// encoding/xml declares prefixes only for attributes in
					// other namespaces: xml:lang needs none.
				default:
					attrs = append(attrs, a)
				}
			}
			if ns == "" && len(nsStack) > 0 {
				ns = nsStack[len(nsStack)-1] // the default namespace in scope
			}
			if tok.Name.Space != "" || ns == "" {
				return nil, fmt.Errorf("element %s: unexpected namespace form", tok.Name.Local)
			}
			prefix, ok := prefixes[ns]
			if !ok {
				return nil, fmt.Errorf("element %s: namespace %s has no prefix", tok.Name.Local, ns)
			}
			out.WriteByte('<')
			writeName(&out, prefix, tok.Name.Local)
			if root {
				for _, n := range []string{NS, NSAdditional, NSSie, NSXAdES} {
					out.WriteString(" xmlns")
					if p := prefixes[n]; p != "" {
						out.WriteString(":" + p)
					}
					out.WriteString(`="` + n + `"`)
				}
				root = false
			}
			for _, a := range attrs {
				out.WriteByte(' ')
				if a.Name.Space != "" {
					// RawToken leaves the prefix encoding/xml chose; only
					// the xml namespace is used for attributes here.
					out.WriteString("xml:")
				}
				out.WriteString(a.Name.Local + `="` + attrEscaper.Replace(a.Value) + `"`)
			}
			out.WriteByte('>')
			stack, nsStack = append(stack, prefix), append(nsStack, ns)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced end element %s", tok.Name.Local)
			}
			out.WriteString("</")
			writeName(&out, stack[len(stack)-1], tok.Name.Local)
			out.WriteByte('>')
			stack, nsStack = stack[:len(stack)-1], nsStack[:len(nsStack)-1]
		case xml.CharData:
			out.WriteString(textEscaper.Replace(string(tok)))
		case xml.ProcInst:
			out.WriteString("<?" + tok.Target + " " + string(tok.Inst) + "?>")
		}
	}
	return out.Bytes(), nil
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;")
)

func writeName(b *bytes.Buffer, prefix, local string) {
	if prefix != "" {
		b.WriteString(prefix + ":")
	}
	b.WriteString(local)
}
