package xades

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"

	"github.com/selo-qtsp/selo"
)

// MaxInputSize bounds an XML document Prepare and Verify accept: e-invoices
// are far smaller, and the whole tree is held in memory.
const MaxInputSize = 64 << 20

// maxDepth bounds element nesting: canonicalization recurses over the tree.
const maxDepth = 512

// document is a parsed XML document with where its root element closes in
// the original bytes, so a signature can be put there without rewriting the
// rest of the document.
type document struct {
	raw     []byte
	tree    *etree.Document
	rootEnd int // offset of the root's end tag
}

// parse reads an XML document, refusing what a signature must not rely on:
// DTDs (and with them entity expansion and external entities), encodings
// other than UTF-8, nesting deeper than maxDepth, and inputs over
// MaxInputSize.
func parse(data []byte) (*document, error) {
	if len(data) > MaxInputSize {
		return nil, selo.Errorf(selo.ETOOLARGE, "the XML document is larger than %d bytes", MaxInputSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "the XML document is empty")
	}
	rootEnd, fixes, err := scan(data)
	if err != nil {
		return nil, err
	}
	tree := etree.NewDocument()
	tree.ReadSettings = etree.ReadSettings{}
	if err := tree.ReadFromBytes(data); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "not well-formed XML: %v", err)
	}
	if tree.Root() == nil {
		return nil, selo.Errorf(selo.EINVALID, "the XML document has no root element")
	}
	if len(fixes) > 0 {
		normalizeAttributes(tree.Root(), fixes)
	}
	return &document{raw: data, tree: tree, rootEnd: rootEnd}, nil
}

// attributeFix is the value an attribute has after XML attribute-value
// normalization (XML 1.0 section 3.3.3), which encoding/xml leaves out: a
// raw tab or line break in a quoted value is a space, while &#10; stays a
// line break. Canonical XML, and so every other verifier, sees the
// normalized value.
type attributeFix struct {
	element int    // index of the element in document order
	name    string // qualified name as written
	value   string
}

// scan checks the token stream with encoding/xml and returns the offset of
// the root element's end tag and the attributes whose values need
// normalizing.
func scan(data []byte) (int, []attributeFix, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported (only UTF-8)", charset)
	}
	depth, roots, rootEnd, elements := 0, 0, -1, 0
	var fixes []attributeFix
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, selo.Errorf(selo.EINVALID, "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return 0, nil, selo.Errorf(selo.EINVALID, "the XML document has a DTD or other <!...> declaration: refused (entities and DTDs are not allowed in documents to sign)")
		case xml.StartElement:
			fixes = append(fixes, rawAttributeFixes(elements, data[before:d.InputOffset()])...)
			elements++
			if depth == 0 {
				roots++
				if roots > 1 {
					return 0, nil, selo.Errorf(selo.EINVALID, "not well-formed XML: more than one root element")
				}
			}
			depth++
			if depth > maxDepth {
				return 0, nil, selo.Errorf(selo.EINVALID, "the XML document nests elements deeper than %d", maxDepth)
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				if d.InputOffset() == before {
					return 0, nil, selo.Errorf(selo.EINVALID, "the root element <%s/> is empty: nothing to sign", t.Name.Local)
				}
				rootEnd = int(before)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return 0, nil, selo.Errorf(selo.EINVALID, "not well-formed XML: text outside the root element")
			}
		}
	}
	if rootEnd < 0 {
		return 0, nil, selo.Errorf(selo.EINVALID, "the XML document has no root element")
	}
	return rootEnd, fixes, nil
}

// rawAttributeFixes reads the start tag as written and returns the
// normalized value of each attribute holding a raw tab or line break.
func rawAttributeFixes(element int, tag []byte) []attributeFix {
	if !bytes.ContainsAny(tag, "\t\r\n") {
		return nil
	}
	var out []attributeFix
	i := bytes.IndexAny(tag, " \t\r\n/>")
	for i >= 0 && i < len(tag) {
		eq := bytes.IndexByte(tag[i:], '=')
		if eq < 0 {
			break
		}
		name := string(bytes.TrimSpace(tag[i : i+eq]))
		j := i + eq + 1
		for j < len(tag) && (tag[j] == ' ' || tag[j] == '\t' || tag[j] == '\r' || tag[j] == '\n') {
			j++
		}
		if j >= len(tag) || (tag[j] != '"' && tag[j] != '\'') {
			break
		}
		end := bytes.IndexByte(tag[j+1:], tag[j])
		if end < 0 {
			break
		}
		raw := tag[j+1 : j+1+end]
		if bytes.ContainsAny(raw, "\t\r\n") {
			v := strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "\t", " ").Replace(string(raw))
			out = append(out, attributeFix{element: element, name: name, value: unescape(v)})
		}
		i = j + 1 + end + 1
	}
	return out
}

// unescape expands the predefined entities and character references of an
// attribute value (the document was checked well-formed already).
func unescape(s string) string {
	var v struct {
		A string `xml:"a,attr"`
	}
	if xml.Unmarshal([]byte(`<x a="`+strings.ReplaceAll(s, `"`, "&quot;")+`"/>`), &v) != nil {
		return s
	}
	return v.A
}

// normalizeAttributes applies fixes to the elements under root, counted in
// document order as scan counted them.
func normalizeAttributes(root *etree.Element, fixes []attributeFix) {
	n := 0
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		for len(fixes) > 0 && fixes[0].element == n {
			f := fixes[0]
			fixes = fixes[1:]
			for i := range el.Attr {
				if el.Attr[i].FullKey() == f.name {
					el.Attr[i].Value = f.value
				}
			}
		}
		n++
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(root)
}
