package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/pki/cms"
)

// maxTrustFileSize bounds a --trust PEM file.
const maxTrustFileSize = 4 << 20

func (c *cli) verifyCommand() *cobra.Command {
	var content string
	var trust []string
	var offline bool
	var tlf tlVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify FILE.pdf|FILE.xml|FILE.p7s|FILE.p7m [--content FILE] [--trust ROOTS.pem]... [--lotl FILE|URL --lotl-cert PEM] [--offline] [--json]",
		Short: "Check PAdES, XAdES and CAdES signatures: who signed, when, level, integrity, trust and revocation",
		Long: `Verify checks every signature in a signed PDF (PAdES) or a CAdES (CMS)
file, detached (.p7s) or enveloping (.p7m), and reports for each: who
signed, when (the claimed signing time and the timestamp, if any), the
level (B-B, B-T, and for PDFs B-LT when the document's DSS holds the
revocation data, B-LTA when a document timestamp follows), whether the
file was changed after signing, whether the signer's certificate chains to
a trusted root (at the timestamp's time for B-T, else now), and the
revocation status of the signer's certificate and of each intermediate CA
certificate of its chain (one "CA revocation" line per CA; the trusted
root itself is not checked).

For a PDF it also says which revision each signature covers ("signed
revision 2 of 3") and what later incremental updates did: only add
signatures, validation data and document timestamps, or change the
document (which makes the signature indeterminate).

Revocation: OCSP first (a response in the PDF's DSS or the XML signature's
xades:RevocationValues, else the responder in the certificate), CRL second
(embedded, else the distribution point). --offline makes no network
request; only revocation data inside the document counts. The intermediate
CA certificates are checked the same way. A certificate (the signer's or a
CA's) revoked before a timestamp proves the signature was made makes the
signature invalid; one revoked after it does not. Without a timestamp, a
revocation before now leaves the signature indeterminate. A status that
could not be established ("not checked" with --offline, "UNKNOWN" when no
responder or CRL answered) does not change the signature's status, and the
revocation line of each signature says so.

An XML document is checked for its XAdES enveloped signatures (see 'selo
sign xml') the same way; it carries what it signed, so --content is not used.

Trusted roots come from --trust (a PEM file, repeatable), else from the data
directory's root CAs. A detached signature needs the signed file: --content,
or FILE without its .p7s extension when that exists.

With --lotl (an EU list of trusted lists, a file or URL, and --lotl-cert,
the certificates that sign it) or --tl (one trusted list and --tl-cert),
the trust anchors are the services of the trusted lists instead: each list's
signature is checked against the certificates its pointer names, and a
stale or badly signed list is reported and not used. Each signature is then
graded QES / QESeal (qualified certificate, key in a QSCD), AdES-QC
(qualified certificate, key not in a QSCD) or AdES, at the time its
timestamp proves (else now), from the status history of the CA/QC service
that issued the certificate and its Sie qualifiers, with the reasons. A
signature whose CA is on no list is AdES at most. Downloaded lists are
cached (--tl-cache) until their next update. See docs/trusted-lists.md.

The status of each signature is valid, invalid (the file or the signature
was changed) or indeterminate (intact, but trust could not be established).
The exit status is 0 only when every signature is valid.`,
		Example: `  selo verify contract-signed.pdf --trust root.pem
  selo verify contract-signed.pdf --offline --json
  selo verify contract.pdf.p7s
  selo verify invoice.xml.p7s --content invoice.xml --trust eu-roots.pem --trust other.pem
  selo verify report.p7m --json
  selo verify invoice-signed.xml --trust root.pem
  selo verify contract-signed.pdf --lotl https://ec.europa.eu/tools/lotl/eu-lotl.xml --lotl-cert oj-lotl-signers.pem
  selo verify contract-signed.pdf --lotl sandbox-tl/lotl.xml --lotl-cert sandbox-tl/lotl-signer.pem --json`,
		Args: exactArgs(1, "verify needs the signed file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.loadTrustedLists(cmd.Context(), tlf, offline); err != nil {
				return err
			}
			return c.verify(cmd.Context(), args[0], content, trust, offline)
		},
	}
	tlf.add(cmd)
	cmd.Flags().StringVar(&content, "content", "", "the signed file, for a detached signature (default FILE without .p7s)")
	cmd.Flags().StringArrayVar(&trust, "trust", nil, "PEM file of trusted root certificates, repeatable (default: the data directory's root CAs)")
	cmd.Flags().BoolVar(&offline, "offline", false, "make no OCSP or CRL request (revocation data inside a PDF or XML signature still counts)")
	return cmd
}

// errNotValid makes the exit status 1 after the report is printed.
var errNotValid = errors.New("not every signature is valid")

func (c *cli) verify(ctx context.Context, file, contentPath string, trust []string, offline bool) error {
	if isPDF, err := startsWithPDF(file); err != nil {
		return err
	} else if isPDF {
		if contentPath != "" {
			return usagef("%s is a PDF: it carries what it signs, --content is not used", file)
		}
		return c.verifyPDF(ctx, file, trust, offline)
	}
	der, err := readLimitedFile(file, cms.MaxMessageSize)
	if err != nil {
		return err
	}
	if xades.IsXML(der) {
		return c.verifyXML(ctx, file, der, contentPath, trust, offline)
	}
	if block, _ := pem.Decode(der); block != nil && (block.Type == "PKCS7" || block.Type == "CMS") {
		der = block.Bytes
	}
	sd, err := cms.Parse(der)
	if err != nil {
		return err
	}
	opts := cades.VerifyOptions{}
	if sd.Detached {
		if contentPath == "" {
			guess := strings.TrimSuffix(file, ".p7s")
			if guess == file {
				return usagef("%s is a detached signature: give the signed file with --content", file)
			}
			contentPath = guess
		}
		// Stream the file through every hash the signers use: a detached
		// signature may be over a file of any size.
		hashes, err := cades.Hashes(der)
		if err != nil {
			return err
		}
		if opts.ContentDigests, err = hashFileAll(contentPath, hashes); err != nil {
			return err
		}
	} else if contentPath != "" {
		return usagef("%s carries its content: --content is not used", file)
	}
	roots, source, err := c.trustedRoots(ctx, trust)
	if err != nil {
		return err
	}
	opts.Roots = roots
	opts.Revocation = &revocation.Checker{Offline: offline}
	opts.Context = ctx
	rep, err := cades.Verify(der, opts)
	if err != nil {
		return err
	}
	return c.printVerdict(map[string]any{"file": file, "content": contentPath, "trust": source}, rep.Valid(), rep, func() {
		c.printReport(file, contentPath, source, rep)
	})
}

// printVerdict prints a verification report, as JSON (fields with "valid"
// and "report" added) or with printText, and returns errNotValid unless
// every signature is valid.
func (c *cli) printVerdict(fields map[string]any, valid bool, report any, printText func()) error {
	grades := c.gradeReport(report)
	if c.jsonOut {
		fields["valid"], fields["report"] = valid, report
		if c.trustedLists != nil {
			fields["trusted_lists"], fields["qualifications"] = c.trustedLists.Lists, grades
		}
		if err := c.printJSON(fields); err != nil {
			return err
		}
	} else {
		printText()
		c.printGrades(grades)
	}
	if !valid {
		return errNotValid
	}
	return nil
}

func (c *cli) printReport(file, content, source string, rep *cades.Report) {
	w := c.stdout
	form := "enveloping"
	if rep.Detached {
		form = "detached, over " + content
	}
	fmt.Fprintf(w, "%s: %s signature (%s), %d signer(s); trust: %s\n", file, rep.Format, form, len(rep.Signatures), source)
	for i, s := range rep.Signatures {
		printSignatureText(w, s, signatureText{
			heading:   fmt.Sprintf("Signature %d", i+1),
			level:     fmt.Sprintf("CAdES %s, %s", s.Level, s.Hash),
			timestamp: s.Level == cades.LevelBT,
			content:   okText(s.DigestOK, "content       unchanged since signing", "content       CHANGED after signing, or not the signed file"),
		})
	}
}

// signatureText is what one format's text report says of a signature
// beyond the lines they all share.
type signatureText struct {
	heading   string   // "Signature 1", "Signature 1 (field Sig1)"
	level     string   // the value of the level line
	timestamp bool     // print the timestamp line
	extra     []string // labelled lines before the content line
	content   string   // the labelled content line
	// noRevocation leaves out the revocation line (a document timestamp).
	noRevocation bool
}

// printSignatureText prints one signature of a text report, in the layout
// every format shares.
func printSignatureText(w io.Writer, s *cades.SignatureReport, t signatureText) {
	fmt.Fprintf(w, "\n%s: %s\n", t.heading, strings.ToUpper(s.Status))
	fmt.Fprintf(w, "  signer        %s\n", orDash(s.Signer))
	if s.Issuer != "" {
		fmt.Fprintf(w, "  issued by     %s (serial %s)\n", s.Issuer, s.SignerSerial)
	}
	fmt.Fprintf(w, "  level         %s\n", t.level)
	fmt.Fprintf(w, "  claimed time  %s\n", timeOrDash(s.ClaimedTime))
	if t.timestamp {
		fmt.Fprintf(w, "  timestamp     %s %s\n", timeOrDash(s.Timestamp), s.TSA)
	}
	for _, line := range t.extra {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "  %s\n", t.content)
	fmt.Fprintf(w, "  signature     %s\n", okText(s.SignatureOK && s.CertificateBound, "valid, bound to the signer's certificate", "NOT valid"))
	fmt.Fprintf(w, "  chain         %s\n", okText(s.ChainOK, "leads to a trusted root at "+s.ValidatedAt.Format(time.RFC3339), "no trusted path"))
	if !t.noRevocation {
		printRevocation(w, s)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  problem       %s\n", p)
	}
}

// revocationPolicy says, on the revocation line, what a status that could
// not be established means for the signature: a verifier without network
// access should still tell an intact document from a changed one.
const revocationPolicy = "not counted against the signature"

// printRevocation prints the revocation lines of a signature report: the
// signer's certificate, then one line per intermediate CA certificate.
func printRevocation(w io.Writer, s *cades.SignatureReport) {
	st := s.Revocation
	if st == nil {
		fmt.Fprintf(w, "  revocation    not checked (no trusted chain)\n")
		return
	}
	printStatusLines(w, "revocation    ", st)
	for _, ca := range s.ChainRevocation {
		printStatusLines(w, "CA revocation "+ca.Subject+": ", ca.Status)
	}
}

// printStatusLines prints one certificate's revocation status after label,
// and the sources that failed below it.
func printStatusLines(w io.Writer, label string, st *revocation.Status) {
	switch {
	case st.Status == revocation.Revoked:
		fmt.Fprintf(w, "  %sREVOKED at %s (%s), from %s\n", label, st.RevokedAt.Format(time.RFC3339), st.Reason, st.Source)
	case st.Status == revocation.Good:
		fmt.Fprintf(w, "  %sgood, from %s\n", label, st.Source)
	case st.Status == revocation.NotChecked:
		fmt.Fprintf(w, "  %snot checked (--offline, and the document embeds no answer for this certificate); %s\n", label, revocationPolicy)
	default:
		fmt.Fprintf(w, "  %s%s (no OCSP responder or CRL gave a usable answer); %s\n", label, strings.ToUpper(st.Status), revocationPolicy)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "                (%s)\n", p)
	}
}

func okText(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// trustedRoots reads --trust, or the root CAs of the data directory when it
// is initialized. Neither is not an error: every signature is then
// indeterminate, and the report says why.
func (c *cli) trustedRoots(ctx context.Context, trustFiles []string) (*x509.CertPool, string, error) {
	pool := x509.NewCertPool()
	var sources []string
	if c.trustedLists != nil {
		pool = c.trustedLists.Roots().Clone()
		sources = append(sources, c.trustedListsSource())
	}
	for _, trust := range trustFiles {
		data, err := readLimitedFile(trust, maxTrustFileSize)
		if err != nil {
			return nil, "", err
		}
		n := 0
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, "", selo.Errorf(selo.EINVALID, "%s: %v", trust, err)
			}
			pool.AddCert(cert)
			n++
		}
		if n == 0 {
			return nil, "", selo.Errorf(selo.EINVALID, "%s holds no PEM certificate", trust)
		}
		sources = append(sources, fmt.Sprintf("%d root(s) from %s", n, trust))
	}
	if len(sources) > 0 {
		return pool, strings.Join(sources, ", "), nil
	}
	if !c.initialized() {
		return nil, "none (no --trust and no data directory)", nil
	}
	if err := c.open(ctx); err != nil {
		return nil, "", err
	}
	cas, err := c.store.ListCAs(ctx)
	if err != nil {
		return nil, "", err
	}
	n := 0
	for _, ca := range cas {
		if !ca.IsRoot() {
			continue
		}
		cert, err := x509.ParseCertificate(ca.CertDER)
		if err != nil {
			return nil, "", fmt.Errorf("parse root %s: %w", ca.ID, err)
		}
		pool.AddCert(cert)
		n++
	}
	return pool, fmt.Sprintf("%d root CA(s) of %s", n, c.dataDir), nil
}

// hashFileAll reads a file once and returns its digest under each hash.
func hashFileAll(path string, hashes []crypto.Hash) (map[crypto.Hash][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "cannot open %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	writers := make([]io.Writer, len(hashes))
	states := make([]hash.Hash, len(hashes))
	for i, h := range hashes {
		states[i] = h.New()
		writers[i] = states[i]
	}
	if _, err := io.Copy(io.MultiWriter(writers...), f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make(map[crypto.Hash][]byte, len(hashes))
	for i, h := range hashes {
		out[h] = states[i].Sum(nil)
	}
	return out, nil
}
