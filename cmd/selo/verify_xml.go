package main

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	if c.jsonOut {
		if err := c.printJSON(map[string]any{"file": file, "trust": source, "valid": rep.Valid(), "report": rep}); err != nil {
			return err
		}
	} else {
		c.printXMLReport(file, source, rep)
	}
	if !rep.Valid() {
		return errNotValid
	}
	return nil
}

func (c *cli) printXMLReport(file, source string, rep *xades.Report) {
	w := c.stdout
	fmt.Fprintf(w, "%s: %s signature (enveloped), %d signature(s); trust: %s\n", file, rep.Format, len(rep.Signatures), source)
	for i, s := range rep.Signatures {
		fmt.Fprintf(w, "\nSignature %d: %s\n", i+1, strings.ToUpper(s.Status))
		fmt.Fprintf(w, "  signer        %s\n", orDash(s.Signer))
		if s.Issuer != "" {
			fmt.Fprintf(w, "  issued by     %s (serial %s)\n", s.Issuer, s.SignerSerial)
		}
		fmt.Fprintf(w, "  level         XAdES %s, %s\n", orDash(s.Level), orDash(s.Hash))
		fmt.Fprintf(w, "  claimed time  %s\n", timeOrDash(s.ClaimedTime))
		if s.Level == xades.LevelBT {
			fmt.Fprintf(w, "  timestamp     %s %s\n", timeOrDash(s.Timestamp), s.TSA)
		}
		fmt.Fprintf(w, "  document      %s\n", okText(s.DigestOK, "unchanged since signing", "CHANGED after signing"))
		fmt.Fprintf(w, "  signature     %s\n", okText(s.SignatureOK && s.CertificateBound, "valid, bound to the signer's certificate", "NOT valid"))
		fmt.Fprintf(w, "  chain         %s\n", okText(s.ChainOK, "leads to a trusted root at "+s.ValidatedAt.Format(time.RFC3339), "no trusted path"))
		printRevocation(w, s)
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem       %s\n", p)
		}
	}
}
