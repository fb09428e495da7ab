package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

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
	if c.jsonOut {
		if err := c.printJSON(map[string]any{"file": file, "trust": source, "valid": rep.Valid(), "report": rep}); err != nil {
			return err
		}
	} else {
		c.printPDFReport(file, source, rep)
	}
	if len(rep.Signatures) == 0 {
		return selo.Errorf(selo.EINVALID, "%s holds no signature", file)
	}
	if !rep.Valid() {
		return errNotValid
	}
	return nil
}

func (c *cli) printPDFReport(file, source string, rep *pades.Report) {
	w := c.stdout
	fmt.Fprintf(w, "%s: PDF with %d revision(s), %d signature(s); trust: %s\n", file, rep.Revisions, len(rep.Signatures), source)
	for i, s := range rep.Signatures {
		fmt.Fprintf(w, "\nSignature %d (field %s): %s\n", i+1, orDash(s.Field), strings.ToUpper(s.Status))
		fmt.Fprintf(w, "  signer        %s\n", orDash(s.Signer))
		if s.Issuer != "" {
			fmt.Fprintf(w, "  issued by     %s (serial %s)\n", s.Issuer, s.SignerSerial)
		}
		if s.DocumentTimestamp {
			fmt.Fprintf(w, "  level         PAdES document timestamp (%s), %s\n", s.SubFilter, orDash(s.Hash))
		} else {
			fmt.Fprintf(w, "  level         PAdES %s (%s), %s\n", s.Level, s.SubFilter, orDash(s.Hash))
		}
		fmt.Fprintf(w, "  claimed time  %s\n", timeOrDash(s.ClaimedTime))
		if s.Level != cades.LevelBB {
			fmt.Fprintf(w, "  timestamp     %s %s\n", timeOrDash(s.Timestamp), s.TSA)
		}
		fmt.Fprintf(w, "  revision      %s\n", revisionText(s, rep.Revisions))
		fmt.Fprintf(w, "  content       %s\n", okText(s.DigestOK && s.CoversRevision, "unchanged since signing (the byte ranges cover the whole revision)", "the document was CHANGED after signing, or the byte ranges do not cover it"))
		fmt.Fprintf(w, "  signature     %s\n", okText(s.SignatureOK && s.CertificateBound, "valid, bound to the signer's certificate", "NOT valid"))
		fmt.Fprintf(w, "  chain         %s\n", okText(s.ChainOK, "leads to a trusted root at "+s.ValidatedAt.Format(time.RFC3339), "no trusted path"))
		if !s.DocumentTimestamp {
			printRevocation(w, s.SignatureReport)
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem       %s\n", p)
		}
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
