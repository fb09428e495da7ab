// Package pades signs PDF documents with PAdES baseline signatures (ETSI EN
// 319 142-1): B-B, B-T with an RFC 3161 timestamp over the signature value,
// and B-LT with the chain and its revocation data in a document security
// store (AddValidationData). The signature, invisible or a visible box, is
// an incremental update appended to the original bytes, which stay
// untouched, so earlier signatures remain valid; its cross-reference
// section is a classic table or a stream, like the file's last one. Signing
// works in two steps (Prepare, then Finish with the signature value) so a
// remote key that only signs digests, after a slow approval, fits.
package pades

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/pki/cms"
)

// Defaults and bounds of Options.
const (
	// DefaultMaxInputSize bounds the PDF read into memory.
	DefaultMaxInputSize = 100 << 20
	// DefaultSignatureSize is the room reserved for the CMS signature: a
	// long chain, RSA-4096 and a timestamp token fit.
	DefaultSignatureSize = 16 << 10
	// MaxSignatureSize bounds SignatureSize.
	MaxSignatureSize = 1 << 20
)

// Options describes a PAdES signature.
type Options struct {
	// CMS describes the signer: Certificate (required), Chain, Hash, PSS.
	// SigningTime, Detached and ContentType are set by this package: PAdES
	// keeps the signing time in the signature dictionary, not in the CMS.
	CMS cms.Options
	// SigningTime is the claimed time written as /M; zero means now.
	SigningTime time.Time
	// Reason, Location and ContactInfo are optional /Reason, /Location and
	// /ContactInfo entries of the signature dictionary.
	Reason, Location, ContactInfo string
	// SignatureSize is the room, in bytes, reserved in /Contents for the CMS
	// signature; zero means DefaultSignatureSize.
	SignatureSize int
	// MaxInputSize bounds the input PDF; zero means DefaultMaxInputSize.
	MaxInputSize int64
	// Visible, when not nil, shows the signature as a box on a page;
	// otherwise the signature field is invisible, on the first page.
	Visible *Visible
}

// Prepared is a PDF with its signature dictionary in place and the space
// for the signature reserved: Digest is what the signer's key must sign,
// Finish completes it. Nothing is written anywhere until Finish returns.
type Prepared struct {
	out           []byte // the whole signed PDF, /Contents still zeros
	contentsStart int    // offset of the first hex digit of /Contents
	signatureSize int
	documentHash  []byte
	cms           *cms.Prepared
}

// Prepare reads in, appends the signature field and dictionary as an
// incremental update, hashes the byte ranges and prepares the CMS signed
// attributes over that hash.
func Prepare(in []byte, opts Options) (*Prepared, error) {
	limit := opts.MaxInputSize
	if limit <= 0 {
		limit = DefaultMaxInputSize
	}
	if int64(len(in)) > limit {
		return nil, selo.Errorf(selo.ETOOLARGE, "the PDF is %d bytes, larger than the limit of %d", len(in), limit)
	}
	size := opts.SignatureSize
	if size == 0 {
		size = DefaultSignatureSize
	}
	if size < 1024 || size > MaxSignatureSize {
		return nil, selo.Errorf(selo.EINVALID, "signature size %d is out of range (1024 to %d bytes)", size, MaxSignatureSize)
	}
	co := opts.CMS
	co.Detached, co.SigningTime, co.ContentType = true, time.Time{}, nil
	h, err := cms.HashFor(co)
	if err != nil {
		return nil, err
	}
	doc, err := readPDF(in)
	if err != nil {
		return nil, err
	}
	when := opts.SigningTime
	if when.IsZero() {
		when = time.Now()
	}
	sd := sigDict{when: when, reason: opts.Reason, location: opts.Location, contact: opts.ContactInfo, size: size}
	if opts.Visible != nil {
		if sd.visible, err = doc.selectPage(opts.Visible); err != nil {
			return nil, err
		}
		sd.name = opts.Visible.Name
		if sd.name == "" && co.Certificate != nil {
			sd.name = co.Certificate.Subject.CommonName
			if sd.name == "" {
				sd.name = co.Certificate.Subject.String()
			}
		}
	}
	out, contentsStart, err := appendSignature(in, doc, sd)
	if err != nil {
		return nil, err
	}
	d := h.New()
	contentsEnd := contentsStart + 2*size + 1 // past the closing '>'
	d.Write(out[:contentsStart-1])            // up to the opening '<'
	d.Write(out[contentsEnd:])
	digest := d.Sum(nil)
	p, err := cms.PrepareDigest(digest, co)
	if err != nil {
		return nil, err
	}
	return &Prepared{out: out, contentsStart: contentsStart, signatureSize: size, documentHash: digest, cms: p}, nil
}

// DocumentDigest returns the hash of the PDF's signed byte ranges (the CMS
// message digest).
func (p *Prepared) DocumentDigest() []byte { return bytes.Clone(p.documentHash) }

// Digest returns the hash of the CMS signed attributes: what the signer's
// key signs (crypto.Signer, CSC signHash).
func (p *Prepared) Digest() []byte { return p.cms.Digest() }

// Hash returns the digest algorithm.
func (p *Prepared) Hash() crypto.Hash { return p.cms.Hash() }

// SignerOpts returns the options to pass to crypto.Signer.Sign with Digest.
func (p *Prepared) SignerOpts() crypto.SignerOpts { return p.cms.SignerOpts() }

// Finish checks signature, adds the signature timestamp when ts is not nil
// (B-T), puts the CMS into /Contents and returns the signed PDF. The
// Prepared value is left as it was, so Finish may be retried.
func (p *Prepared) Finish(ctx context.Context, signature []byte, ts cades.Timestamper) ([]byte, error) {
	sd, err := p.cms.Finish(signature)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		if err := cades.AddTimestamp(ctx, sd, p.cms.Hash(), ts); err != nil {
			return nil, err
		}
	}
	der, err := sd.Bytes()
	if err != nil {
		return nil, err
	}
	if len(der) > p.signatureSize {
		return nil, selo.Errorf(selo.EINVALID, "the signature is %d bytes but only %d were reserved: sign again with a larger signature size", len(der), p.signatureSize)
	}
	out := bytes.Clone(p.out)
	hex.Encode(out[p.contentsStart:], der)
	return out, nil
}

// Sign makes a PAdES signature with a local or remote crypto.Signer in one
// call: B-B, or B-T when ts is not nil.
func Sign(ctx context.Context, signer crypto.Signer, in []byte, opts Options, ts cades.Timestamper) ([]byte, error) {
	p, err := Prepare(in, opts)
	if err != nil {
		return nil, err
	}
	return cades.SignPrepared(ctx, signer, p, ts)
}
