package xades

import (
	"bytes"
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/selo-qtsp/selo"
)

// Namespaces and algorithm identifiers (XML-DSig 1.1, RFC 6931, ETSI EN
// 319 132-1).
const (
	nsDS    = "http://www.w3.org/2000/09/xmldsig#"
	nsXAdES = "http://uri.etsi.org/01903/v1.3.2#"

	algExcC14N       = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algC14N10        = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algC14N11        = "http://www.w3.org/2006/12/xml-c14n11"
	algEnveloped     = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	typeSignedProps  = "http://uri.etsi.org/01903#SignedProperties"
	mimeTypeDocument = "text/xml"
)

// canonicalize serializes el, in the context of its ancestors, with the
// canonicalization algorithm alg (comments are always left out).
func canonicalize(el *etree.Element, alg string) ([]byte, error) {
	switch alg {
	case algExcC14N:
		ctx, err := etreeutils.NSBuildParentContext(el)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "canonicalize <%s>: %v", el.Tag, err)
		}
		detached, err := etreeutils.NSDetatch(ctx, el)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "canonicalize <%s>: %v", el.Tag, err)
		}
		out, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(detached)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "canonicalize <%s>: %v", el.Tag, err)
		}
		return out, nil
	case algC14N10, algC14N11:
		// Inclusive C14N 1.1 differs from 1.0 only in xml:id and xml:base
		// inheritance, which signed properties do not use.
		out, err := dsig.MakeC14N10RecCanonicalizer().Canonicalize(el)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "canonicalize <%s>: %v", el.Tag, err)
		}
		return out, nil
	}
	return nil, selo.Errorf(selo.EINVALID, "canonicalization %q is not supported (want exclusive C14N or C14N 1.0/1.1)", alg)
}

// canonicalizeDocument serializes the whole document as the enveloped
// signature transform followed by alg sees it: without the signature
// element skip, without comments, with the processing instructions around
// the root element.
func canonicalizeDocument(doc *etree.Document, skip *etree.Element, alg string) ([]byte, error) {
	root := doc.Root()
	var buf bytes.Buffer
	seenRoot := false
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.ProcInst:
			if t.Target == "xml" {
				continue
			}
			if seenRoot {
				buf.WriteByte('\n')
			}
			fmt.Fprintf(&buf, "<?%s", t.Target)
			if t.Inst != "" {
				buf.WriteString(" " + t.Inst)
			}
			buf.WriteString("?>")
			if !seenRoot {
				buf.WriteByte('\n')
			}
		case *etree.Element:
			seenRoot = true
			body, err := canonicalizeWithout(root, skip, alg)
			if err != nil {
				return nil, err
			}
			buf.Write(body)
		}
	}
	return buf.Bytes(), nil
}

// canonicalizeWithout canonicalizes el with skip (a descendant) taken out
// for the time it takes, and put back.
func canonicalizeWithout(el, skip *etree.Element, alg string) ([]byte, error) {
	if skip == nil || skip.Parent() == nil {
		return canonicalize(el, alg)
	}
	parent := skip.Parent()
	at := skip.Index()
	parent.RemoveChildAt(at)
	defer parent.InsertChildAt(at, skip)
	return canonicalize(el, alg)
}
