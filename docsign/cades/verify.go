package cades

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/revocation"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// Validation statuses, after ETSI EN 319 102-1's TOTAL-PASSED, TOTAL-FAILED
// and INDETERMINATE.
const (
	// StatusValid: the content is what was signed, the signature is the
	// certificate's, and the certificate chains to a trusted root.
	StatusValid = "valid"
	// StatusInvalid: the content was changed or the signature is not valid.
	StatusInvalid = "invalid"
	// StatusIndeterminate: the signature is intact but trust could not be
	// established (no trusted root, an expired chain, a bad timestamp).
	StatusIndeterminate = "indeterminate"
)

// VerifyOptions says what to check a CAdES signature against.
type VerifyOptions struct {
	// Content of a detached signature; nil for an enveloping one.
	Content []byte
	// ContentDigests replaces Content for a large detached file the caller
	// hashed while streaming it: its digest under each hash the signers use
	// (see Hashes).
	ContentDigests map[crypto.Hash][]byte
	// Roots are the trusted roots; nil leaves every signature indeterminate.
	Roots *x509.CertPool
	// Intermediates adds CA certificates to those the signature carries.
	Intermediates []*x509.Certificate
	// Now is the validation time when there is no valid timestamp; zero is now.
	Now time.Time
	// Revocation checks the signer's certificate status (OCSP, then CRL)
	// once its chain is known; nil leaves it unchecked.
	Revocation *revocation.Checker
	// Context bounds the revocation look-ups; nil is context.Background.
	Context context.Context
}

// Report is what Verify found, one entry per signer.
type Report struct {
	Format     string             `json:"format"` // "CAdES"
	Detached   bool               `json:"detached"`
	Signatures []*SignatureReport `json:"signatures"`
}

// Valid reports whether every signature is valid.
func (r *Report) Valid() bool {
	for _, s := range r.Signatures {
		if s.Status != StatusValid {
			return false
		}
	}
	return len(r.Signatures) > 0
}

// SignatureReport describes one signature.
type SignatureReport struct {
	Signer       string     `json:"signer"` // the certificate's subject, RFC 4514
	SignerSerial string     `json:"signer_serial,omitempty"`
	Issuer       string     `json:"issuer,omitempty"`
	Level        string     `json:"level"`                  // B-B or B-T
	ClaimedTime  *time.Time `json:"claimed_time,omitempty"` // signing-time attribute
	Timestamp    *time.Time `json:"timestamp,omitempty"`    // the TSA's time, when valid
	TSA          string     `json:"tsa,omitempty"`
	Hash         string     `json:"hash"`
	// The checks, each true when it passed.
	DigestOK         bool `json:"digest_ok"`
	SignatureOK      bool `json:"signature_ok"`
	CertificateBound bool `json:"signing_certificate_ok"`
	ChainOK          bool `json:"chain_ok"`
	TimestampOK      bool `json:"timestamp_ok"`
	// ValidatedAt is the time the chain was checked at: the timestamp's
	// when there is a valid one, else now.
	ValidatedAt time.Time `json:"validated_at"`
	// Revocation is the signer's certificate status at ValidatedAt, when
	// it was checked.
	Revocation *revocation.Status `json:"revocation,omitempty"`
	// ChainRevocation is the status at ValidatedAt of each intermediate CA
	// certificate of the validated chain, from the signer's issuer up (the
	// trust anchor is trusted as it is), when revocation was checked.
	ChainRevocation []*CARevocation `json:"chain_revocation,omitempty"`
	Status          string          `json:"status"`
	Problems        []string        `json:"problems,omitempty"`
	// Chain is the validated chain, signer first and trust anchor last,
	// when ChainOK: what a trusted-list grading looks the issuer up by.
	Chain []*x509.Certificate `json:"-"`
}

// CARevocation is the revocation status of one CA certificate of a
// signer's chain.
type CARevocation struct {
	Subject string             `json:"subject"` // RFC 4514
	Serial  string             `json:"serial"`  // hex
	Status  *revocation.Status `json:"revocation"`
}

// Verify checks every signature of a CAdES (CMS) file. The error is only for
// a file that is not a signature at all; a signature that fails its checks
// is reported with status invalid or indeterminate and the reasons.
func Verify(der []byte, opts VerifyOptions) (*Report, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, err
	}
	if !sd.ContentType.Equal(cms.OIDData) {
		return nil, selo.Errorf(selo.EINVALID, "the signature's content type %s is not data: not a CAdES document signature", sd.ContentType)
	}
	if sd.Detached && opts.Content == nil && opts.ContentDigests == nil {
		return nil, selo.Errorf(selo.EINVALID, "the signature is detached: give the signed file (--content)")
	}
	rep := &Report{Format: "CAdES", Detached: sd.Detached}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, si := range sd.Signers {
		rep.Signatures = append(rep.Signatures, verifySigner(sd, si, opts, now))
	}
	return rep, nil
}

func verifySigner(sd *cms.SignedData, si *cms.SignerInfo, opts VerifyOptions, now time.Time) *SignatureReport {
	r := &SignatureReport{Level: LevelBB, Hash: si.Hash.String(), ValidatedAt: now.UTC()}
	if t := si.SigningTime(); !t.IsZero() {
		t = t.UTC()
		r.ClaimedTime = &t
	}
	coreOpts := cms.VerifyOptions{Intermediates: opts.Intermediates}
	if sd.Detached {
		if opts.Content != nil {
			coreOpts.Content = opts.Content
		} else if d, ok := opts.ContentDigests[si.Hash]; ok {
			coreOpts.ContentDigest = d
		} else {
			// No digest under this signer's hash: an empty content fails the
			// digest check instead of being taken for an enveloping one.
			coreOpts.Content = []byte{}
		}
	}
	// First the signature itself, without trust: does it hold together?
	core, err := sd.VerifySigner(si, coreOpts)
	if core != nil && core.Certificate != nil {
		r.Signer = pki.NameString(core.Certificate.Subject)
		r.SignerSerial = hex.EncodeToString(core.Certificate.SerialNumber.Bytes())
		r.Issuer = core.Certificate.Issuer.String()
	}
	if core != nil {
		r.DigestOK, r.SignatureOK, r.CertificateBound = core.DigestOK, core.SignatureOK, core.CertificateBound
	}
	if err != nil {
		r.Status = StatusInvalid
		r.Problems = append(r.Problems, selo.ErrorMessage(err))
		return r
	}

	// A certificate whose key usage rules out signatures cannot vouch for one.
	if ku := core.Certificate.KeyUsage; ku != 0 && ku&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		r.Problems = append(r.Problems, "the signer's certificate does not allow signatures (key usage)")
	}
	// B-T: a timestamp over the signature value proves it existed then.
	at := now
	if vals, ok := si.Unsigned(cms.OIDAttributeTimeStampToken); ok {
		r.Level = LevelBT
		if t, tsaName, err := checkTimestamp(vals, si, opts); err != nil {
			r.Problems = append(r.Problems, "timestamp: "+selo.ErrorMessage(err))
		} else {
			r.TimestampOK = true
			r.Timestamp, r.TSA = &t, tsaName
			at = t
		}
	}
	r.Conclude(opts, core.Certificate, sd.Certificates, at, opts.Revocation)
	return r
}

// Conclude ends a signature's checks, for CAdES and XAdES alike: the
// signer's chain at at (the timestamp's time, or now) against opts' roots,
// then the revocation status of the signer's certificate and of each
// intermediate CA certificate with checker (opts.Revocation, perhaps with
// the signature's embedded data; nil skips it), and the status. A
// revocation of any of them at or before at makes the signature invalid when the
// timestamp proves it came later, indeterminate otherwise.
func (r *SignatureReport) Conclude(opts VerifyOptions, signer *x509.Certificate, certs []*x509.Certificate, at time.Time, checker *revocation.Checker) {
	r.ValidatedAt = at.UTC()
	var chain []*x509.Certificate
	var err error
	if opts.Roots == nil {
		r.Problems = append(r.Problems, "no trusted roots given: the chain was not checked")
	} else if chain, err = cms.VerifyChain(signer, append(certs, opts.Intermediates...), opts.Roots, at, nil); err != nil {
		r.Problems = append(r.Problems, selo.ErrorMessage(err))
	} else {
		r.ChainOK, r.Chain = true, chain
	}
	revokedEarlier := false
	if checker != nil && len(chain) >= 2 {
		ctx := opts.Context
		if ctx == nil {
			ctx = context.Background()
		}
		r.Revocation = checker.CheckAt(ctx, chain[0], chain[1], at)
		if r.Revocation.RevokedBefore(at) {
			revokedEarlier = true
			r.Problems = append(r.Problems, fmt.Sprintf("the signer's certificate was revoked at %s (%s), before %s",
				r.Revocation.RevokedAt.Format(time.RFC3339), r.Revocation.Reason, at.UTC().Format(time.RFC3339)))
		}
		// The intermediate CAs answer to the same rules: a CA revoked
		// before the signature was made no longer vouches for its signer.
		// The last certificate is the trust anchor, which nobody answers for.
		for i := 1; i < len(chain)-1; i++ {
			ca := &CARevocation{Subject: pki.NameString(chain[i].Subject), Serial: hex.EncodeToString(chain[i].SerialNumber.Bytes())}
			ca.Status = checker.CheckAt(ctx, chain[i], chain[i+1], at)
			r.ChainRevocation = append(r.ChainRevocation, ca)
			if ca.Status.RevokedBefore(at) {
				revokedEarlier = true
				r.Problems = append(r.Problems, fmt.Sprintf("the CA certificate %q was revoked at %s (%s), before %s",
					ca.Subject, ca.Status.RevokedAt.Format(time.RFC3339), ca.Status.Reason, at.UTC().Format(time.RFC3339)))
			}
		}
	}
	r.Status = StatusValid
	switch {
	case revokedEarlier && r.TimestampOK:
		// The timestamp proves the signature was made after the revocation.
		r.Status = StatusInvalid
	case !r.ChainOK || (r.Level == LevelBT && !r.TimestampOK) || len(r.Problems) > 0:
		r.Status = StatusIndeterminate
	}
}

// checkTimestamp verifies the signature timestamp token: over this
// signature value, signed by a timestamping certificate that chains to the
// roots at the token's time.
func checkTimestamp(vals [][]byte, si *cms.SignerInfo, opts VerifyOptions) (time.Time, string, error) {
	if len(vals) != 1 {
		return time.Time{}, "", selo.Errorf(selo.EINVALID, "the timestamp attribute must hold one token")
	}
	return CheckSignatureTimestamp(vals[0], si.Signature, opts)
}

// CheckSignatureTimestamp verifies an RFC 3161 token over signatureValue
// (the bytes a format timestamps: CMS signature value, canonical XML
// SignatureValue), hashed with the token's own algorithm, by a TSA that
// chains to opts' roots at the token's time. It returns that time and the
// TSA's name.
func CheckSignatureTimestamp(token, signatureValue []byte, opts VerifyOptions) (time.Time, string, error) {
	tok, err := timestamp.ParseToken(token)
	if err != nil {
		return time.Time{}, "", err
	}
	h := tok.Info.Hash.New()
	h.Write(signatureValue)
	rep, err := tok.Verify(tok.Info.Hash, h.Sum(nil), timestamp.VerifyOptions{Roots: opts.Roots, Certificates: opts.Intermediates})
	if err != nil {
		return time.Time{}, "", err
	}
	if opts.Roots == nil {
		return time.Time{}, "", selo.Errorf(selo.EINVALID, "no trusted roots given: the TSA was not checked")
	}
	return tok.Time(), pki.NameString(rep.Certificate.Subject), nil
}

// Hashes returns the digest algorithms the signers of a CMS file use, so a
// caller can hash a large detached file once for ContentDigests.
func Hashes(der []byte) ([]crypto.Hash, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, err
	}
	var out []crypto.Hash
	for _, si := range sd.Signers {
		if si.Hash != 0 && !slices.Contains(out, si.Hash) {
			out = append(out, si.Hash)
		}
	}
	return out, nil
}
