package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/timestamp"
	"github.com/selo-qtsp/selo/tsa"
)

// maxPFXSize bounds a .pfx file; real ones are a few KiB.
const maxPFXSize = 1 << 20

// maxEnvelopedSize bounds a file signed enveloping: it is held in memory and
// lands inside the signature. Detached signatures stream files of any size.
const maxEnvelopedSize = cms.MaxMessageSize - 1<<20

type signFileOptions struct {
	out, pfx, passwordFile, pkcs11Key, certFile, tsaURL, hash string
	enveloping, noSigningTime                                 bool
	remote                                                    remoteOptions
}

func (c *cli) signCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign documents (CAdES for any file, PAdES for PDF, XAdES for XML)",
	}
	cmd.AddCommand(c.signFileCommand(), c.signPDFCommand(), c.signXMLCommand(), c.signBatchCommand())
	return cmd
}

func (c *cli) signFileCommand() *cobra.Command {
	var o signFileOptions
	cmd := &cobra.Command{
		Use:   "file IN [--out OUT.p7s] [--enveloping] [--tsa URL] (--pfx FILE | --pkcs11-key ID --cert FILE | --credential ID)",
		Short: "Sign any file with a CAdES baseline signature (.p7s detached, or enveloping)",
		Long: `Sign file makes a CAdES baseline signature (ETSI EN 319 122-1) of any file:
detached by default (OUT.p7s beside the file, the file unchanged), or
enveloping with --enveloping (the file inside the signature, OUT.p7m).

The signature is level B-B: the signed attributes carry the content type,
the message digest, the signing-certificate-v2 reference and the signing
time (leave it out with --no-signing-time). With --tsa it is level B-T: an
RFC 3161 timestamp over the signature value from that authority (Selo's own
is at BASE-URL/tsa once 'selo tsa init' has run).

The key is either in a PKCS#12 file (--pfx, password from --password-file,
SELO_PFX_PASSWORD or a prompt) or in a PKCS#11 token (--pkcs11-key, with the
global --pkcs11-module/--pkcs11-token flags, the PIN from SELO_PKCS11_PIN or
--pkcs11-pin-file, and the certificate and its chain in --cert). The output
is written only once the signature is complete.

` + remoteKeyHelp,
		Example: `  SELO_PFX_PASSWORD=... selo sign file invoice.xml --pfx seal.pfx
  selo sign file contract.pdf --pfx ana.pfx --password-file pw.txt --tsa https://pki.example.pt/tsa
  selo sign file report.docx --enveloping --out report.p7m --pfx ana.pfx
  selo sign file data.csv --pkcs11-key holder/3f2a --cert seal-chain.pem
  selo sign file invoice.xml --credential 3f2a9c1e... --csc https://sign.example.eu --user maria@example.pt`,
		Args: exactArgs(1, "sign file needs the file to sign"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.signFile(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "signature file (default IN.p7s, or IN.p7m with --enveloping)")
	f.BoolVar(&o.enveloping, "enveloping", false, "put the file inside the signature instead of beside it")
	addKeyFlags(cmd, &o, "makes the signature B-T")
	addHashFlag(cmd, &o)
	f.BoolVar(&o.noSigningTime, "no-signing-time", false, "leave out the signing-time attribute")
	return cmd
}

func (c *cli) signFile(ctx context.Context, in string, o signFileOptions) error {
	if err := checkKeyOptions(o); err != nil {
		return err
	}
	hash, err := parseHashFlag(o.hash)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = in + ".p7s"
		if o.enveloping {
			out = in + ".p7m"
		}
	}
	// Before the key (and its approval): the signature must have somewhere to go.
	if err := checkWritableFile(out); err != nil {
		return err
	}
	key, err := c.openFileKey(ctx, o, in)
	if err != nil {
		return err
	}
	defer key.close(ctx)
	cert := key.cert
	opts := cms.Options{Certificate: cert, Chain: key.chain, Hash: hash, Detached: !o.enveloping}
	if !o.noSigningTime {
		opts.SigningTime = time.Now()
	}
	var p *cms.Prepared
	if o.enveloping {
		content, err := readLimitedFile(in, maxEnvelopedSize)
		if err != nil {
			return err
		}
		p, err = cades.Prepare(content, opts)
		if err != nil {
			return err
		}
	} else {
		// Detached: stream the file through the hash, whatever its size.
		h, err := cms.HashFor(opts)
		if err != nil {
			return err
		}
		digest, err := hashFile(in, h)
		if err != nil {
			return err
		}
		if p, err = cms.PrepareDigest(digest, opts); err != nil {
			return err
		}
	}
	sigs, err := key.signDigests(ctx, p.Hash(), p.SignerOpts(), [][]byte{p.Digest()})
	if err != nil {
		return err
	}
	sd, err := p.Finish(sigs[0])
	if err != nil {
		return err
	}
	level := cades.LevelBB
	if o.tsaURL != "" {
		if err := cades.AddTimestamp(ctx, sd, p.Hash(), &timestamp.Client{URL: o.tsaURL}); err != nil {
			return err
		}
		level = cades.LevelBT
	}
	der, err := sd.Bytes()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(out, der, 0o644); err != nil {
		return err
	}
	if c.jsonOut {
		return c.printJSON(map[string]any{"file": in, "signature": out, "level": level, "detached": !o.enveloping, "signer": pki.NameString(cert.Subject), "hash": p.Hash().String()})
	}
	fmt.Fprintf(c.stdout, "Signed %s\n  signature  %s (CAdES %s, %s)\n  signer     %s\n", in, out, level, map[bool]string{true: "detached", false: "enveloping"}[!o.enveloping], pki.NameString(cert.Subject))
	return nil
}

type signPDFOptions struct {
	signFileOptions
	pdfFieldOptions
	visible string
	level   string
}

// pdfFieldOptions are what sign pdf and sign batch put in a PDF signature
// field beyond the signature.
type pdfFieldOptions struct {
	reason, location string
	signatureSize    int
}

// addKeyFlags adds the flags of every sign command that choose the key
// (--pfx and --password-file, --pkcs11-key and --cert, the remote-credential
// flags) and --tsa, whose help ends with what a timestamp makes of the output.
func addKeyFlags(cmd *cobra.Command, o *signFileOptions, tsaHelp string) {
	f := cmd.Flags()
	f.StringVar(&o.tsaURL, "tsa", "", "RFC 3161 timestamp authority URL: "+tsaHelp)
	f.StringVar(&o.pfx, "pfx", "", "PKCS#12 file holding the key, certificate and chain")
	f.StringVar(&o.passwordFile, "password-file", "", "file holding the .pfx password (or SELO_PFX_PASSWORD, or a prompt), or the CSC password with --user")
	f.StringVar(&o.pkcs11Key, "pkcs11-key", "", "ID of the key in the PKCS#11 token")
	f.StringVar(&o.certFile, "cert", "", "PEM certificate of the key, then its chain (with --pkcs11-key)")
	addRemoteFlags(cmd, &o.remote)
}

// addHashFlag adds --hash, for the commands that let the user pick the digest.
func addHashFlag(cmd *cobra.Command, o *signFileOptions) {
	cmd.Flags().StringVar(&o.hash, "hash", "", "digest algorithm: sha256, sha384 or sha512 (default: fits the key)")
}

// addPDFFieldFlags adds --reason, --location and --signature-size; note,
// when not empty, says in their help to what they apply.
func addPDFFieldFlags(cmd *cobra.Command, o *pdfFieldOptions, note string) {
	f := cmd.Flags()
	if note != "" {
		note = ", " + note
	}
	f.StringVar(&o.reason, "reason", "", "reason for signing (/Reason"+note+")")
	f.StringVar(&o.location, "location", "", "where the document was signed (/Location"+note+")")
	f.IntVar(&o.signatureSize, "signature-size", pades.DefaultSignatureSize, "bytes reserved for each signature (raise it for long chains"+note+")")
}

func (c *cli) signPDFCommand() *cobra.Command {
	var o signPDFOptions
	cmd := &cobra.Command{
		Use:   "pdf IN.pdf OUT.pdf [--tsa URL [--level lt]] [--visible PAGE:x,y,w,h] (--pfx FILE | --pkcs11-key ID --cert FILE | --credential ID)",
		Short: "Sign a PDF with a PAdES baseline signature (B-B, B-T with --tsa, B-LT with --level lt)",
		Long: `Sign pdf adds a PAdES baseline signature (ETSI EN 319 142-1, SubFilter
ETSI.CAdES.detached) to a PDF as an incremental update: the original bytes
are kept as they are, so earlier signatures stay valid, and an invisible
signature field is added on the first page, or, with --visible, a box on
the page given that shows the signer's name (the certificate's common
name) and the signing time. The box is in points (1/72 inch) from the
bottom-left corner of the page as stored; on a page with /Rotate the
coordinates are still those of the unrotated page, and the text is turned
with the page so it reads upright. The signing time is the
signature dictionary's /M (PAdES keeps it out of the CMS). With --tsa the
signature is level B-T: an RFC 3161 timestamp over the signature value.

--level lt (B-LT, with --tsa) then fetches, for each certificate of the
chain in the .pfx or --cert file, an OCSP answer from the responder named
in the certificate (or, when that fails, its CRL) and appends a second
incremental update with a document security store (/DSS) holding the
certificates and those answers, so the signature can be validated after
the certificates expire. The timestamp's TSA certificate and its issuers
get the same treatment (a certificate shared with the signer's chain is
stored once). The default --signature-size (16 KiB) holds a
chain of three or four certificates with a timestamp; raise it (for
example to 32768) for RSA-4096 keys, long chains or a TSA that includes
its own chain.

PDFs with a classic cross-reference table and PDF 1.5+ files with
cross-reference streams and object streams (what LibreOffice, Word and
qpdf write) are both signed; encrypted PDFs are refused. The input is
limited to 100 MiB. OUT.pdf is written only once the signature is
complete (a temporary file renamed into place); on any error nothing is
written. The key options are those of 'selo sign file'; with --credential
the PDF is prepared here, only the hash of its signed attributes goes to the
CSC service, and OUT.pdf is written once the approved signature is back.`,
		Example: `  SELO_PFX_PASSWORD=... selo sign pdf contract.pdf contract-signed.pdf --pfx ana.pfx
  selo sign pdf invoice.pdf invoice-signed.pdf --pfx seal.pfx --tsa https://pki.example.pt/tsa --reason "Invoice approval"
  selo sign pdf report.pdf report-signed.pdf --pkcs11-key holder/3f2a --cert seal-chain.pem
  selo sign pdf lease.pdf lease-signed.pdf --credential 3f2a9c1e... --otp-file code.txt
  selo sign pdf form.pdf form-signed.pdf --pfx ana.pfx --visible 1:360,60,200,60`,
		Args: exactArgs(2, "sign pdf needs the PDF to sign and the file to write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.signPDF(cmd.Context(), args[0], args[1], o)
		},
	}
	f := cmd.Flags()
	addKeyFlags(cmd, &o.signFileOptions, "makes the signature B-T")
	addPDFFieldFlags(cmd, &o.pdfFieldOptions, "")
	f.StringVar(&o.level, "level", "", "PAdES level: b, t (needs --tsa) or lt (needs --tsa; adds the chain and its OCSP answers or CRLs); default: b, or t with --tsa")
	f.StringVar(&o.visible, "visible", "", "show the signature as a box PAGE:x,y,width,height in points from the page's bottom-left corner (e.g. 1:360,60,200,60)")
	return cmd
}

func (c *cli) signPDF(ctx context.Context, in, out string, o signPDFOptions) error {
	if err := checkKeyOptions(o.signFileOptions); err != nil {
		return err
	}
	if samePath(in, out) {
		return usagef("OUT.pdf must differ from IN.pdf: the original is kept")
	}
	level := "B-B"
	switch strings.ToLower(o.level) {
	case "":
		if o.tsaURL != "" {
			level = "B-T"
		}
	case "b", "b-b":
		if o.tsaURL != "" {
			return usagef("--level b and --tsa contradict each other: --tsa makes the signature B-T")
		}
	case "t", "b-t", "lt", "b-lt":
		if o.tsaURL == "" {
			return usagef("--level %s needs --tsa: B-T and B-LT carry a signature timestamp", o.level)
		}
		level = "B-T"
		if strings.HasSuffix(strings.ToLower(o.level), "lt") {
			level = "B-LT"
		}
	default:
		return usagef("--level must be b, t or lt, not %q", o.level)
	}
	var visible *pades.Visible
	if o.visible != "" {
		v, err := pades.ParseVisible(o.visible)
		if err != nil {
			return usagef("%v", err)
		}
		visible = v
	}
	data, err := readLimitedFile(in, pades.DefaultMaxInputSize)
	if err != nil {
		return err
	}
	if err := checkWritableFile(out); err != nil {
		return err
	}
	key, err := c.openFileKey(ctx, o.signFileOptions, in)
	if err != nil {
		return err
	}
	defer key.close(ctx)
	cert := key.cert
	p, err := pades.Prepare(data, pades.Options{
		CMS: cms.Options{Certificate: cert, Chain: key.chain}, Reason: o.reason, Location: o.location, SignatureSize: o.signatureSize,
		Visible: visible,
	})
	if err != nil {
		return inFile(in, err)
	}
	sigs, err := key.signDigests(ctx, p.Hash(), p.SignerOpts(), [][]byte{p.Digest()})
	if err != nil {
		return err
	}
	sig := sigs[0]
	var ts cades.Timestamper
	if o.tsaURL != "" {
		ts = &timestamp.Client{URL: o.tsaURL}
	}
	signed, err := p.Finish(ctx, sig, ts)
	if err != nil {
		return err
	}
	if level == "B-LT" {
		vd, err := (&pades.RevocationFetcher{}).FetchForSignature(ctx, signed, append([]*x509.Certificate{cert}, key.chain...))
		if err != nil {
			return fmt.Errorf("B-LT: %w", err)
		}
		if signed, err = pades.AddValidationData(signed, vd); err != nil {
			return fmt.Errorf("B-LT: %w", err)
		}
	}
	if err := writeFileAtomic(out, signed, 0o644); err != nil {
		return err
	}
	if c.jsonOut {
		return c.printJSON(map[string]any{"file": in, "signed": out, "level": level, "signer": pki.NameString(cert.Subject), "hash": p.Hash().String()})
	}
	fmt.Fprintf(c.stdout, "Signed %s\n  output  %s (PAdES %s)\n  signer  %s\n", in, out, level, pki.NameString(cert.Subject))
	return nil
}

// signingKey opens the key and certificate named by the options.
func (c *cli) signingKey(ctx context.Context, o signFileOptions) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	if o.pfx != "" {
		data, err := readLimitedFile(o.pfx, maxPFXSize)
		if err != nil {
			return nil, nil, nil, err
		}
		password, err := c.readPassword(o.passwordFile, "SELO_PFX_PASSWORD", "Password of "+filepath.Base(o.pfx), false)
		if err != nil {
			return nil, nil, nil, err
		}
		key, cert, chain, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			return nil, nil, nil, selo.Errorf(selo.EINVALID, "cannot open %s: wrong password or not a PKCS#12 file", o.pfx)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, nil, nil, selo.Errorf(selo.EINVALID, "the key in %s cannot sign", o.pfx)
		}
		return signer, cert, chain, nil
	}
	pemData, err := readLimitedFile(o.certFile, maxPFXSize)
	if err != nil {
		return nil, nil, nil, err
	}
	var certs []*x509.Certificate
	for rest := pemData; ; {
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
			return nil, nil, nil, selo.Errorf(selo.EINVALID, "%s: %v", o.certFile, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, nil, nil, selo.Errorf(selo.EINVALID, "%s holds no PEM certificate", o.certFile)
	}
	c.keystore = "pkcs11"
	ks, err := c.openKeyStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	c.keys = ks // closed with the CLI
	signer, err := ks.Signer(ctx, o.pkcs11Key)
	if err != nil {
		return nil, nil, nil, err
	}
	return signer, certs[0], certs[1:], nil
}

// parseHashFlag reads --hash: sha256, sha384, sha512, or empty for the
// key's default (zero).
func parseHashFlag(s string) (crypto.Hash, error) {
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case "sha256", "sha-256":
		return crypto.SHA256, nil
	case "sha384", "sha-384":
		return crypto.SHA384, nil
	case "sha512", "sha-512":
		return crypto.SHA512, nil
	}
	return 0, usagef("--hash must be sha256, sha384 or sha512")
}

// readLimitedFile reads a file, refusing one larger than limit.
func readLimitedFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "cannot open %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, selo.Errorf(selo.ETOOLARGE, "%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func hashFile(path string, h crypto.Hash) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "cannot open %s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	d := h.New()
	if _, err := io.Copy(d, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return d.Sum(nil), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a failure never leaves a half-written signature.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// tsaCommand manages Selo's own RFC 3161 timestamp authority.
func (c *cli) tsaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tsa",
		Short: "Manage Selo's RFC 3161 timestamp authority (POST /tsa)",
	}
	var o authority.TimestampingRequest
	var alg string
	initCmd := &cobra.Command{
		Use:   "init --ca ID [--cn NAME] [--key-algorithm ALG]",
		Short: "Create the TSA key and certificate and enable POST /tsa",
		Long: `Tsa init creates the time-stamping unit: a key in the key store (never
exportable) and a certificate for it from the issuing CA --ca, with the
timestamping profile (extended key usage timeStamping, critical; key usage
digitalSignature and nonRepudiation). The certificate is stored with the CA,
so its CRL and OCSP cover it, and the issuance is in the audit log.

It then records the certificate's serial as tsa-certificate in the config
file: 'selo serve' answers RFC 3161 requests at POST /tsa with it. Run it
again to roll over to a new key; revoke the old certificate with 'selo revoke'.`,
		Example: `  selo tsa init --ca qualified-ecc-v1
  selo tsa init --ca qualified-ecc-v1 --cn "Example Trust TSA 2" --key-algorithm ecdsa-p384`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.CAID == "" {
				return usagef("--ca is required: the issuing CA of the TSA certificate")
			}
			o.KeyAlgorithm = selo.KeyAlgorithm(alg)
			a, err := c.authority(ctx)
			if err != nil {
				return err
			}
			rec, err := a.IssueTimestamping(ctx, actor(), o)
			if err != nil {
				return err
			}
			if err := c.setConfigValue("tsa-certificate", rec.Serial); err != nil {
				return fmt.Errorf("the TSA certificate %s was made but the config file was not updated: %w", rec.Serial, err)
			}
			if c.jsonOut {
				return c.printJSON(certToOutput(rec, true))
			}
			fmt.Fprintf(c.stdout, "TSA certificate %s\n  subject   %s\n  valid to  %s\n  key       %s\n\n'selo serve' now answers RFC 3161 requests at %s/tsa (tsa-certificate in %s).\n",
				rec.Serial, rec.Subject, rec.NotAfter.Format(time.DateOnly), rec.KeyID, c.baseURL, c.configPath)
			return nil
		},
	}
	initCmd.Flags().StringVar(&o.CAID, "ca", "", "issuing CA of the TSA certificate")
	initCmd.Flags().StringVar(&o.CommonName, "cn", "", "common name of the TSA (default: the CA's organization + \" TSA\")")
	initCmd.Flags().StringVar(&alg, "key-algorithm", "", "ecdsa-p256, ecdsa-p384, rsa-3072, rsa-4096 (default: fits the CA)")
	cmd.AddCommand(initCmd)
	return cmd
}

// setConfigValue sets one key of the config file, keeping the others.
func (c *cli) setConfigValue(key, value string) error {
	cfg := map[string]any{}
	b, err := os.ReadFile(c.configPath)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return err
	}
	cfg[key] = value
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(c.configPath, out, 0o600)
}

// tsaServeFlag adds --tsa-certificate to serve and returns the loader of the
// responder it names (nil, nil when the TSA is off).
func (c *cli) tsaServeFlag(cmd *cobra.Command) func(context.Context, *authority.Authority) (*tsa.Responder, error) {
	var serial, policy string
	var accuracy time.Duration
	cmd.Flags().StringVar(&serial, "tsa-certificate", "", "serial of the TSA certificate that answers POST /tsa (set by 'selo tsa init'; empty: no TSA)")
	cmd.Flags().StringVar(&policy, "tsa-policy", "", "TSA policy OID in every timestamp (default 0.4.0.2023.1.1, ETSI best practices)")
	cmd.Flags().DurationVar(&accuracy, "tsa-accuracy", tsa.DefaultAccuracy, "accuracy every timestamp states (the server clock must be NTP-synchronized within it)")
	return func(ctx context.Context, a *authority.Authority) (*tsa.Responder, error) {
		if serial == "" {
			return nil, nil
		}
		cfg := tsa.Config{Accuracy: accuracy, Logger: c.log}
		if policy != "" {
			oid, err := parseOID(policy)
			if err != nil {
				return nil, usagef("--tsa-policy: %v", err)
			}
			cfg.Policy = oid
		}
		// After a CA change the configured certificate is superseded by its
		// re-issue under the new CA (same key): serve that one.
		rec, err := a.CurrentCertificate(ctx, serial)
		if err != nil {
			return nil, fmt.Errorf("TSA certificate %s: %w", serial, err)
		}
		chain, err := a.Chain(ctx, rec.CAID)
		if err != nil {
			return nil, err
		}
		if len(chain) > 1 {
			chain = chain[:len(chain)-1] // the root is the relying party's own
		}
		return tsa.Load(ctx, c.store, c.keys, rec.Serial, chain, cfg)
	}
}

// parseOID parses a dotted object identifier such as 0.4.0.2023.1.1.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted oid", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (i == 0 && n > 2) {
			return nil, fmt.Errorf("%q is not a dotted oid", s)
		}
		oid[i] = n
	}
	return oid, nil
}
