package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/revocation"
)

// startsWithPDF reports whether file begins with the PDF header.
func startsWithPDF(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, selo.Errorf(selo.EINVALID, "cannot open %s: %v", file, unwrapPathError(err))
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	return bytes.Equal(head[:n], []byte("%PDF-")), nil
}

// verifyPDF checks every signature of a PDF and prints the report.
func (c *cli) verifyPDF(ctx context.Context, file string, trust []string, offline bool) error {
	in, err := readLimitedFile(file, pades.DefaultMaxInputSize)
	if err != nil {
		return err
	}
	roots, source, err := c.trustedRoots(ctx, trust)
	if err != nil {
		return err
	}
	rep, err := pades.Verify(in, pades.VerifyOptions{Roots: roots, Revocation: &revocation.Checker{Offline: offline}, Context: ctx})
	if err != nil {
		return err
	}
	err = c.printVerdict(map[string]any{"file": file, "trust": source}, rep.Valid(), rep, func() {
		c.printPDFReport(file, source, rep)
	})
	if len(rep.Signatures) == 0 {
		return selo.Errorf(selo.EINVALID, "%s holds no signature", file)
	}
	return err
}

func (c *cli) printPDFReport(file, source string, rep *pades.Report) {
	w := c.stdout
	fmt.Fprintf(w, "%s: PDF with %d revision(s), %d signature(s); trust: %s\n", file, rep.Revisions, len(rep.Signatures), source)
	for i, s := range rep.Signatures {
		level := fmt.Sprintf("PAdES %s (%s), %s", s.Level, s.SubFilter, orDash(s.Hash))
		if s.DocumentTimestamp {
			level = fmt.Sprintf("PAdES document timestamp (%s), %s", s.SubFilter, orDash(s.Hash))
		}
		printSignatureText(w, s.SignatureReport, signatureText{
			heading:      fmt.Sprintf("Signature %d (field %s)", i+1, orDash(s.Field)),
			level:        level,
			timestamp:    s.Level != cades.LevelBB,
			extra:        []string{"revision      " + revisionText(s, rep.Revisions)},
			content:      okText(s.DigestOK && s.CoversRevision, "content       unchanged since signing (the byte ranges cover the whole revision)", "content       the document was CHANGED after signing, or the byte ranges do not cover it"),
			noRevocation: s.DocumentTimestamp,
		})
	}
}

// revisionText says which revision a signature covers and what came after.
func revisionText(s *pades.SignatureReport, revisions int) string {
	if s.Revision == 0 {
		return "the byte ranges do not end at a revision of the document"
	}
	t := fmt.Sprintf("signed revision %d of %d", s.Revision, revisions)
	if s.CoversDocument {
		return t + " (the whole document)"
	}
	added := strings.Join(s.LaterChanges, ", ")
	if s.OnlySignaturesAdded {
		return t + "; later incremental updates only added: " + added
	}
	return t + "; later incremental updates CHANGED the document: " + added
}
