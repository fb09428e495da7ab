package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// maxBatchBytes bounds the PDFs one batch holds in memory between
// preparation and the approval; files past it are reported, not signed.
const maxBatchBytes = 1 << 30

// maxBatchXMLBytes is maxBatchBytes for XML documents, smaller because a
// prepared XML document is held parsed (a tree costs several times its text).
const maxBatchXMLBytes = 256 << 20

type signBatchOptions struct {
	signFileOptions
	pdfFieldOptions
	outDir, format, glob string
}

func (c *cli) signBatchCommand() *cobra.Command {
	var o signBatchOptions
	cmd := &cobra.Command{
		Use:   "batch DIR --out OUTDIR --format pades|cades|xades [--glob PATTERN] (--credential ID | --pfx FILE | --pkcs11-key ID --cert FILE)",
		Short: "Sign every file of a folder with one approval (PAdES for PDFs, XAdES for XML, CAdES .p7s for any file)",
		Long: `Sign batch signs every matching file directly in DIR (not its subfolders;
names starting with a dot are left out) the way an e-billing platform does:
all documents are prepared first, their hashes collected, and a remote
credential signs them all with ONE approval (one code, or one tap in the
wallet) for up to the credential's "multisign" hashes; a bigger batch asks
for one approval per that many. Then each signature is finished and its
output written atomically.

  --format pades   PDFs (default --glob '*.pdf', case-insensitive), signed
                   into OUTDIR under the same name, as by 'selo sign pdf'
  --format xades   XML documents such as e-invoices (default --glob '*.xml',
                   case-insensitive), signed enveloped into OUTDIR under
                   the same name, as by 'selo sign xml'
  --format cades   any file (default --glob '*'), a detached CAdES signature
                   OUTDIR/NAME.p7s, as by 'selo sign file'; OUTDIR may be
                   DIR, and then its .p7s files are never signed

A file that cannot be signed (not a PDF, encrypted, not well-formed XML,
an XML document with a DTD or already signed, unreadable) is reported
with its reason and does not stop the others; nothing is written for it.
A file whose output already exists is skipped, so running the command again
after a failure signs only what is missing. The exit status is 1 when any
file failed. A progress bar goes to stderr, the summary to stdout (--json
for scripts).

The key options are those of 'selo sign file'.

` + remoteKeyHelp,
		Example: `  selo sign batch invoices/ --out signed/ --format pades --credential 3f2a9c1e... --csc https://sign.example.eu --user billing@example.pt
  selo csc send-otp 3f2a9c1e... && SELO_CSC_OTP=123456 selo sign batch invoices/ --out signed/ --format pades --credential 3f2a9c1e...
  selo sign batch einvoices/ --out signed/ --format xades --credential 3f2a9c1e... --otp-file code.txt --tsa https://pki.example.pt/tsa
  selo sign batch exports/ --out sigs/ --format cades --glob '*.xml' --pfx seal.pfx --tsa https://pki.example.pt/tsa`,
		Args: exactArgs(1, "sign batch needs the folder to sign"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.signBatch(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.outDir, "out", "", "folder for the signed files (made if missing)")
	f.StringVar(&o.format, "format", "", "pades (PDFs), xades (XML, enveloped) or cades (detached .p7s of any file)")
	f.StringVar(&o.glob, "glob", "", "which file names to sign, e.g. 'INV-*.pdf' (default '*.pdf' for pades, '*.xml' for xades, '*' for cades)")
	addKeyFlags(cmd, &o.signFileOptions, "makes the signatures B-T (one timestamp per file)")
	addPDFFieldFlags(cmd, &o.pdfFieldOptions, "pades")
	return cmd
}

// batchItem is one file of a batch and what became of it.
type batchItem struct {
	File   string `json:"file"`
	Output string `json:"output,omitempty"`
	Status string `json:"status"` // signed, failed, skipped
	Error  string `json:"error,omitempty"`

	doc batchDocument // prepared, waiting for its signature
}

func (it *batchItem) fail(err error) {
	it.Status, it.Error = "failed", errorText(err)
	it.doc = nil
}

// batchDocument is one prepared document of a batch: the digest to sign
// and how, and how its signature is finished into the output file.
type batchDocument interface {
	Digest() []byte
	Hash() crypto.Hash
	SignerOpts() crypto.SignerOpts
	Finish(ctx context.Context, signature []byte, ts cades.Timestamper) ([]byte, error)
}

// batchFormat is what sign batch knows of one --format.
type batchFormat interface {
	// defaultGlob is the --glob when none is given, and whether names are
	// matched case-insensitively then.
	defaultGlob() (pattern string, foldCase bool)
	// inPlace says whether OUTDIR may be DIR.
	inPlace() bool
	// output names the signed file of name in outDir.
	output(outDir, name string) string
	// prepare reads file and prepares its signature; held counts the bytes
	// the batch keeps in memory.
	prepare(file string, key *documentKey, o signBatchOptions, now time.Time, held *int64) (batchDocument, error)
	// title is the format's name in the summary.
	title() string
}

// batchFormats are the formats of sign batch by --format.
var batchFormats = map[string]batchFormat{"pades": padesBatch{}, "xades": xadesBatch{}, "cades": cadesBatch{}}

// padesBatch signs PDFs as 'selo sign pdf' does.
type padesBatch struct{}

func (padesBatch) defaultGlob() (string, bool)       { return "*.pdf", true }
func (padesBatch) inPlace() bool                     { return false }
func (padesBatch) output(outDir, name string) string { return filepath.Join(outDir, name) }
func (padesBatch) title() string                     { return "PAdES" }
func (padesBatch) prepare(file string, key *documentKey, o signBatchOptions, now time.Time, held *int64) (batchDocument, error) {
	data, err := readLimitedFile(file, pades.DefaultMaxInputSize)
	if err != nil {
		return nil, err
	}
	if *held+int64(len(data)) > maxBatchBytes {
		return nil, selo.Errorf(selo.ETOOLARGE, "the batch already holds %d MiB of PDFs: sign this one in another run", *held>>20)
	}
	p, err := pades.Prepare(data, pades.Options{CMS: cms.Options{Certificate: key.cert, Chain: key.chain}, SigningTime: now,
		Reason: o.reason, Location: o.location, SignatureSize: o.signatureSize})
	if err != nil {
		return nil, err
	}
	*held += int64(len(data))
	return p, nil
}

// xadesBatch signs XML documents enveloped, as 'selo sign xml' does.
type xadesBatch struct{}

func (xadesBatch) defaultGlob() (string, bool)       { return "*.xml", true }
func (xadesBatch) inPlace() bool                     { return false }
func (xadesBatch) output(outDir, name string) string { return filepath.Join(outDir, name) }
func (xadesBatch) title() string                     { return "XAdES" }
func (xadesBatch) prepare(file string, key *documentKey, _ signBatchOptions, now time.Time, held *int64) (batchDocument, error) {
	data, err := readLimitedFile(file, xades.MaxInputSize)
	if err != nil {
		return nil, err
	}
	if *held+int64(len(data)) > maxBatchXMLBytes {
		return nil, selo.Errorf(selo.ETOOLARGE, "the batch already holds %d MiB of XML: sign this one in another run", *held>>20)
	}
	p, err := xades.Prepare(data, xades.Options{Certificate: key.cert, Chain: key.chain, SigningTime: now})
	if err != nil {
		return nil, err
	}
	*held += int64(len(data))
	return p, nil
}

// cadesBatch makes a detached CAdES signature of any file, as 'selo sign
// file' does; only the file's hash is held.
type cadesBatch struct{}

func (cadesBatch) defaultGlob() (string, bool)       { return "*", false }
func (cadesBatch) inPlace() bool                     { return true }
func (cadesBatch) output(outDir, name string) string { return filepath.Join(outDir, name) + ".p7s" }
func (cadesBatch) title() string                     { return "CAdES" }
func (cadesBatch) prepare(file string, key *documentKey, _ signBatchOptions, now time.Time, _ *int64) (batchDocument, error) {
	co := cms.Options{Certificate: key.cert, Chain: key.chain, Detached: true, SigningTime: now}
	h, err := cms.HashFor(co)
	if err != nil {
		return nil, err
	}
	digest, err := hashFile(file, h)
	if err != nil {
		return nil, err
	}
	p, err := cms.PrepareDigest(digest, co)
	if err != nil {
		return nil, err
	}
	return cadesDocument{p}, nil
}

// cadesDocument finishes a prepared CMS signature into a .p7s, with a
// signature timestamp when ts is set.
type cadesDocument struct{ *cms.Prepared }

func (d cadesDocument) Finish(ctx context.Context, sig []byte, ts cades.Timestamper) ([]byte, error) {
	sd, err := d.Prepared.Finish(sig)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		if err := cades.AddTimestamp(ctx, sd, d.Hash(), ts); err != nil {
			return nil, err
		}
	}
	return sd.Bytes()
}

// errorText is what the user is told about err: the message of an
// application error, the whole chain of any other.
func errorText(err error) string {
	if selo.ErrorCode(err) == selo.EINTERNAL {
		return err.Error()
	}
	return selo.ErrorMessage(err)
}

// batchFiles lists the files of dir whose names match pattern.
func batchFiles(dir, pattern string, foldCase bool) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, usagef("--glob %q: %v", pattern, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "cannot read folder %s: %v", dir, unwrapPathError(err))
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		match := name
		if foldCase {
			match = strings.ToLower(name)
		}
		if ok, _ := filepath.Match(pattern, match); ok {
			files = append(files, name)
		}
	}
	sort.Strings(files)
	return files, nil
}

func (c *cli) signBatch(ctx context.Context, dir string, o signBatchOptions) error {
	if err := checkKeyOptions(o.signFileOptions); err != nil {
		return err
	}
	if o.outDir == "" {
		return usagef("sign batch needs --out with the folder for the signed files")
	}
	format, ok := batchFormats[o.format]
	if !ok {
		return usagef("--format must be pades, xades or cades")
	}
	pattern, fold := o.glob, false
	if pattern == "" {
		pattern, fold = format.defaultGlob()
	}
	if !format.inPlace() && samePath(dir, o.outDir) {
		return usagef("--out must differ from %s: signed %s files keep their names and the originals are kept", dir, format.title())
	}
	names, err := batchFiles(dir, pattern, fold)
	if err != nil {
		return err
	}
	if format.inPlace() && samePath(dir, o.outDir) {
		// The signatures land beside the files: a second run must not
		// take the .p7s files of the first for documents to sign.
		names = slices.DeleteFunc(names, func(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".p7s") })
	}
	if len(names) == 0 {
		return selo.Errorf(selo.EINVALID, "no file in %s matches %q", dir, pattern)
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", o.outDir, err)
	}
	// Before the key (and its approval): the signed files must have somewhere to go.
	if err := checkWritableDir(o.outDir); err != nil {
		return err
	}
	items := make([]*batchItem, len(names))
	todo := 0
	for i, name := range names {
		out := format.output(o.outDir, name)
		items[i] = &batchItem{File: filepath.Join(dir, name), Output: out}
		if _, err := os.Lstat(out); err == nil {
			items[i].Status, items[i].Error = "skipped", "output exists"
		} else {
			todo++
		}
	}
	if o.remote.description == "" {
		o.remote.description = fmt.Sprintf("%d documents from %s", todo, filepath.Base(filepath.Clean(dir)))
	}
	var key *documentKey
	if todo > 0 {
		if key, err = c.openDocumentKey(ctx, o.signFileOptions); err != nil {
			return err
		}
		defer key.close(ctx)
	}

	// 1. Prepare every document; nothing is written yet.
	bar := newProgressBar(c.stderr)
	now := time.Now()
	var held int64
	var hash crypto.Hash
	var signerOpts crypto.SignerOpts
	done := 0
	for _, it := range items {
		if it.Status != "" {
			continue
		}
		if it.doc, err = format.prepare(it.File, key, o, now, &held); err != nil {
			it.fail(err)
			bar.note(fmt.Sprintf("%s: %s", it.File, it.Error))
		} else if hash == 0 {
			hash, signerOpts = it.doc.Hash(), it.doc.SignerOpts()
		}
		done++
		bar.update(done, todo)
	}
	bar.finish()

	// 2. One approval (or one per multisign hashes) for all digests.
	var ready []*batchItem
	var digests [][]byte
	for _, it := range items {
		if it.Status == "" {
			ready = append(ready, it)
			digests = append(digests, it.doc.Digest())
		}
	}
	approvals := 0
	if len(ready) > 0 {
		if key.remote != nil {
			approvals = key.approvals(len(ready))
			fmt.Fprintf(c.stderr, "%d document(s) prepared; asking credential %s to sign %d hash(es) with %d approval(s)\n",
				len(ready), key.remote.CredentialID, len(ready), approvals)
		}
		sigs, err := key.signDigests(ctx, hash, signerOpts, digests)
		if err != nil {
			if selo.ErrorCode(err) == selo.EINTERNAL {
				return fmt.Errorf("%w; no file was written", err)
			}
			return selo.Errorf(selo.ErrorCode(err), "%s; no file was written", selo.ErrorMessage(err))
		}

		// 3. Finish and write each signature.
		var ts cades.Timestamper
		if o.tsaURL != "" {
			ts = &timestamp.Client{URL: o.tsaURL}
		}
		bar = newProgressBar(c.stderr)
		for i, it := range ready {
			if err := finishBatchItem(ctx, it, sigs[i], ts); err != nil {
				it.fail(err)
				bar.note(fmt.Sprintf("%s: %s", it.File, it.Error))
			} else {
				it.Status = "signed"
			}
			it.doc = nil // let the memory go as we write
			bar.update(i+1, len(ready))
		}
		bar.finish()
	}
	return c.batchSummary(items, key, o, approvals)
}

// samePath says whether two paths name the same file or folder, however
// they are spelt (relative or absolute, through a link).
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// finishBatchItem completes one signature and writes its output atomically.
func finishBatchItem(ctx context.Context, it *batchItem, sig []byte, ts cades.Timestamper) error {
	out, err := it.doc.Finish(ctx, sig, ts)
	if err != nil {
		return err
	}
	// O_EXCL-like: another run may have written it meanwhile; keep theirs.
	if _, err := os.Lstat(it.Output); err == nil {
		return errors.New("the output appeared while signing; left as it is")
	}
	return writeFileAtomic(it.Output, out, 0o644)
}

// batchOutput is the summary of a batch as --json prints it.
type batchOutput struct {
	Format    string       `json:"format"`
	Level     string       `json:"level"`
	Signer    string       `json:"signer"`
	Approvals int          `json:"approvals"`
	Signed    int          `json:"signed"`
	Skipped   int          `json:"skipped"`
	Failed    int          `json:"failed"`
	Files     []*batchItem `json:"files"`
}

// batchSummary prints what became of every file and fails when any did.
func (c *cli) batchSummary(items []*batchItem, key *documentKey, o signBatchOptions, approvals int) error {
	var signed, skipped, failed int
	for _, it := range items {
		switch it.Status {
		case "signed":
			signed++
		case "skipped":
			skipped++
		default:
			it.Status = "failed"
			failed++
		}
	}
	level := "B-B"
	if o.tsaURL != "" {
		level = "B-T"
	}
	format := batchFormats[o.format].title()
	by := ""
	signer := ""
	if key != nil {
		signer = pki.NameString(key.cert.Subject)
		if key.remote != nil {
			by = fmt.Sprintf(" with %d approval(s) of credential %s", approvals, key.remote.CredentialID)
		}
	}
	if c.jsonOut {
		if err := c.printJSON(batchOutput{Format: o.format, Level: level, Signer: signer, Approvals: approvals,
			Signed: signed, Skipped: skipped, Failed: failed, Files: items}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.stdout, "Signed %d of %d file(s) into %s (%s %s)%s\n", signed, len(items), o.outDir, format, level, by)
		if signer != "" {
			fmt.Fprintf(c.stdout, "  signer   %s\n", signer)
		}
		if skipped > 0 {
			fmt.Fprintf(c.stdout, "  skipped  %d (output exists)\n", skipped)
		}
		if failed > 0 {
			fmt.Fprintf(c.stdout, "  failed   %d:\n", failed)
			for _, it := range items {
				if it.Status == "failed" {
					fmt.Fprintf(c.stdout, "    %s: %s\n", it.File, it.Error)
				}
			}
		}
	}
	if failed > 0 {
		return selo.Errorf(selo.EINVALID, "%d of %d file(s) were not signed (listed above); the others were", failed, len(items))
	}
	return nil
}
