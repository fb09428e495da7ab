// Package cades makes and checks CAdES baseline signatures (ETSI EN 319
// 122-1) for any file: B-B (signed attributes with signing-certificate-v2)
// and B-T (plus an RFC 3161 timestamp over the signature value), detached
// (.p7s) or enveloping. Signing works in two steps through pki/cms so
// that a remote key that only signs digests fits.
package cades

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki/cms"
)

// Levels of a CAdES baseline signature this package makes and reports.
const (
	LevelBB = "B-B"
	LevelBT = "B-T"
)

// Timestamper gets an RFC 3161 timestamp token over a digest: timestamp.Client
// over HTTP, or Selo's own TSA in process.
type Timestamper interface {
	Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error)
}

// Prepare starts a CAdES signature over content (see cms.Prepare): the
// caller signs Digest() with any key and passes the result to Finish.
func Prepare(content []byte, opts cms.Options) (*cms.Prepared, error) {
	return cms.Prepare(content, opts)
}

// Finish injects the signature value and, with ts, adds the signature
// timestamp (B-T). It returns the DER of the signature (.p7s).
func Finish(ctx context.Context, p *cms.Prepared, signature []byte, ts Timestamper) ([]byte, error) {
	sd, err := p.Finish(signature)
	if err != nil {
		return nil, err
	}
	return timestamped(ctx, sd, p.Hash(), ts)
}

// timestamped adds the signature timestamp when ts is not nil and returns
// the DER of sd.
func timestamped(ctx context.Context, sd *cms.SignedData, hash crypto.Hash, ts Timestamper) ([]byte, error) {
	if ts != nil {
		if err := AddTimestamp(ctx, sd, hash, ts); err != nil {
			return nil, err
		}
	}
	return sd.Bytes()
}

// PreparedDocument is a signature prepared over a document (PAdES, XAdES):
// the digest to sign, how to sign it, and the step that finishes it.
type PreparedDocument interface {
	Digest() []byte
	SignerOpts() crypto.SignerOpts
	Finish(ctx context.Context, signature []byte, ts Timestamper) ([]byte, error)
}

// SignPrepared signs p's digest with a local or remote crypto.Signer and
// finishes the document: B-B, or B-T when ts is not nil.
func SignPrepared(ctx context.Context, signer crypto.Signer, p PreparedDocument, ts Timestamper) ([]byte, error) {
	sig, err := signer.Sign(rand.Reader, p.Digest(), p.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return p.Finish(ctx, sig, ts)
}

// Sign makes a CAdES signature with a local or remote crypto.Signer in one
// call: B-B, or B-T when ts is not nil.
func Sign(ctx context.Context, signer crypto.Signer, content []byte, opts cms.Options, ts Timestamper) ([]byte, error) {
	p, err := Prepare(content, opts)
	if err != nil {
		return nil, err
	}
	sd, err := p.SignWith(signer)
	if err != nil {
		return nil, err
	}
	return timestamped(ctx, sd, p.Hash(), ts)
}

// AddTimestamp adds a signature-time-stamp (id-aa-signatureTimeStampToken)
// over each signer's signature value, hashed with hash, taking a signature
// from B-B to B-T.
func AddTimestamp(ctx context.Context, sd *cms.SignedData, hash crypto.Hash, ts Timestamper) error {
	if cms.HashOID(hash) == nil {
		return selo.Errorf(selo.EINVALID, "timestamp hash %v is not supported", hash)
	}
	for _, si := range sd.Signers {
		if _, ok := si.Unsigned(cms.OIDAttributeTimeStampToken); ok {
			continue
		}
		h := hash.New()
		h.Write(si.Signature)
		token, err := ts.Timestamp(ctx, hash, h.Sum(nil))
		if err != nil {
			return fmt.Errorf("signature timestamp: %w", err)
		}
		si.AddUnsignedAttribute(cms.Attribute{Type: cms.OIDAttributeTimeStampToken, Values: [][]byte{token}})
	}
	return nil
}
