package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

func (c *cli) signXMLCommand() *cobra.Command {
	var o signFileOptions
	cmd := &cobra.Command{
		Use:   "xml IN.xml [OUT.xml] [--tsa URL] (--pfx FILE | --pkcs11-key ID --cert FILE | --credential ID)",
		Short: "Sign an XML document (an e-invoice) with a XAdES baseline enveloped signature",
		Long: `Sign xml adds a XAdES baseline signature (ETSI EN 319 132-1) inside an XML
document: an enveloped ds:Signature, placed as the last child of the root
element, that covers the whole document (enveloped-signature transform,
exclusive canonicalization) and its own signed properties: the signing
time and signing-certificate-v2 (the digest, issuer and serial of the
signer's certificate). KeyInfo carries the certificate and its chain. The
rest of the document is kept byte for byte.

The signature is level B-B; with --tsa it is level B-T: an RFC 3161
timestamp over the signature value from that authority (Selo's own is at
BASE-URL/tsa once 'selo tsa init' has run).

OUT.xml defaults to IN-signed.xml and must differ from IN.xml. It is written
only once the signature is complete (a temporary file renamed into place);
on any error nothing is written. The input must be UTF-8, without a DTD
(DOCTYPE and entity declarations are refused), and at most 64 MiB.

An enveloped signature covers the document as it was, so a document that
already holds a signature is refused (a second one would break the first);
co-sign with 'selo sign file' (detached CAdES) instead. The key options
are those of 'selo sign file'. Check the result with 'selo verify OUT.xml'
or with 'xmlsec1 --verify' (see docs/document-signing.md).

` + remoteKeyHelp + `

For XML the document is parsed and prepared here first, so a document that
cannot be signed never costs an approval; only the digest of the
signature's SignedInfo goes to the service.`,
		Example: `  SELO_PFX_PASSWORD=... selo sign xml invoice.xml --pfx seal.pfx
  selo sign xml invoice.xml invoice-signed.xml --pfx seal.pfx --password-file pw.txt --tsa https://pki.example.pt/tsa
  selo sign xml invoice.xml --pkcs11-key holder/3f2a --cert seal-chain.pem --hash sha384
  selo sign xml invoice.xml --credential 3f2a9c1e... --csc https://sign.example.eu --user billing@example.pt --otp-file code.txt`,
		Args: rangeArgs(1, 2, "sign xml needs the XML document to sign, and optionally the file to write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := ""
			if len(args) == 2 {
				out = args[1]
			}
			return c.signXML(cmd.Context(), args[0], out, o)
		},
	}
	addKeyFlags(cmd, &o, "makes the signature B-T")
	addHashFlag(cmd, &o)
	return cmd
}

func (c *cli) signXML(ctx context.Context, in, out string, o signFileOptions) error {
	if err := checkKeyOptions(o); err != nil {
		return err
	}
	hash, err := parseHashFlag(o.hash)
	if err != nil {
		return err
	}
	if out == "" {
		out = strings.TrimSuffix(in, filepath.Ext(in)) + "-signed.xml"
	}
	if samePath(in, out) {
		return usagef("OUT.xml must differ from IN.xml: the original is kept")
	}
	data, err := readLimitedFile(in, xades.MaxInputSize)
	if err != nil {
		return err
	}
	if err := checkWritableFile(out); err != nil {
		return err
	}
	key, err := c.openFileKey(ctx, o, in)
	if err != nil {
		return err
	}
	defer key.close(ctx)
	cert := key.cert
	// Prepare before the key signs anything: a document we cannot sign
	// must not cost an approval.
	p, err := xades.Prepare(data, xades.Options{Certificate: cert, Chain: key.chain, Hash: hash})
	if err != nil {
		return inFile(in, err)
	}
	sigs, err := key.signDigests(ctx, p.Hash(), p.SignerOpts(), [][]byte{p.Digest()})
	if err != nil {
		return err
	}
	var ts cades.Timestamper
	level := xades.LevelBB
	if o.tsaURL != "" {
		ts, level = &timestamp.Client{URL: o.tsaURL}, xades.LevelBT
	}
	signed, err := p.Finish(ctx, sigs[0], ts)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(out, signed, 0o644); err != nil {
		return err
	}
	if c.jsonOut {
		return c.printJSON(map[string]any{"file": in, "signed": out, "level": level, "signer": pki.NameString(cert.Subject), "hash": p.Hash().String()})
	}
	fmt.Fprintf(c.stdout, "Signed %s\n  output  %s (XAdES %s, enveloped)\n  signer  %s\n", in, out, level, pki.NameString(cert.Subject))
	return nil
}

// inFile puts the file's name in front of err, keeping its error code, so
// the message the user sees says which document was refused.
func inFile(path string, err error) error {
	if selo.ErrorCode(err) == selo.EINTERNAL {
		return fmt.Errorf("%s: %w", path, err)
	}
	return selo.Errorf(selo.ErrorCode(err), "%s: %s", path, selo.ErrorMessage(err))
}

// rangeArgs accepts between min and max positional arguments.
func rangeArgs(min, max int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usagef("%s", msg)
		}
		return nil
	}
}
