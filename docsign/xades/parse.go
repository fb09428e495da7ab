package xades

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

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
	rootEnd, err := scan(data)
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
	return &document{raw: data, tree: tree, rootEnd: rootEnd}, nil
}

// scan checks the token stream with encoding/xml and returns the offset of
// the root element's end tag.
func scan(data []byte) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported (only UTF-8)", charset)
	}
	depth, roots, rootEnd := 0, 0, -1
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, selo.Errorf(selo.EINVALID, "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return 0, selo.Errorf(selo.EINVALID, "the XML document has a DTD or other <!...> declaration: refused (entities and DTDs are not allowed in documents to sign)")
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return 0, selo.Errorf(selo.EINVALID, "not well-formed XML: more than one root element")
				}
			}
			depth++
			if depth > maxDepth {
				return 0, selo.Errorf(selo.EINVALID, "the XML document nests elements deeper than %d", maxDepth)
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				if d.InputOffset() == before {
					return 0, selo.Errorf(selo.EINVALID, "the root element <%s/> is empty: nothing to sign", t.Name.Local)
				}
				rootEnd = int(before)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return 0, selo.Errorf(selo.EINVALID, "not well-formed XML: text outside the root element")
			}
		}
	}
	if rootEnd < 0 {
		return 0, selo.Errorf(selo.EINVALID, "the XML document has no root element")
	}
	return rootEnd, nil
}
