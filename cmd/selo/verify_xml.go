package main

import (
	"context"
	"fmt"

	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/docsign/xades"
)

// verifyXML checks the XAdES signatures of an XML document for 'selo
// verify' and prints the report like the CAdES one.
func (c *cli) verifyXML(ctx context.Context, file string, data []byte, contentPath string, trust []string, offline bool) error {
	if contentPath != "" {
		return usagef("%s is an XML document with enveloped signatures: --content is not used", file)
	}
	roots, source, err := c.trustedRoots(ctx, trust)
	if err != nil {
		return err
	}
	rep, err := xades.Verify(data, xades.VerifyOptions{Roots: roots, Revocation: &revocation.Checker{Offline: offline}, Context: ctx})
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return c.printVerdict(map[string]any{"file": file, "trust": source}, rep.Valid(), rep, func() {
		c.printXMLReport(file, source, rep)
	})
}

func (c *cli) printXMLReport(file, source string, rep *xades.Report) {
	w := c.stdout
	fmt.Fprintf(w, "%s: %s signature (enveloped), %d signature(s); trust: %s\n", file, rep.Format, len(rep.Signatures), source)
	for i, s := range rep.Signatures {
		printSignatureText(w, s, signatureText{
			heading:   fmt.Sprintf("Signature %d", i+1),
			level:     fmt.Sprintf("XAdES %s, %s", orDash(s.Level), orDash(s.Hash)),
			timestamp: s.Level == xades.LevelBT,
			content:   okText(s.DigestOK, "document      unchanged since signing", "document      CHANGED after signing"),
		})
	}
}
