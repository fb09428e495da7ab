// Package tsa is Selo's RFC 3161 time-stamp authority: it answers
// TimeStampReq with a TimeStampResp whose token is signed by a dedicated TSA
// certificate (id-kp-timeStamping, critical), issued through the authority
// (authority.IssueTimestamping). The protocol itself, which document signing
// uses too, is pki/timestamp; this package imports no docsign package
// (TestImportRules).
package tsa

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki/cms"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// DefaultAccuracy is the accuracy a token states when Config leaves it zero:
// one second, what an NTP-disciplined server clock keeps with a wide margin
// (see docs/document-signing.md, "Clock source").
const DefaultAccuracy = time.Second

// DefaultPolicy is the TSA policy when Config leaves it nil: ETSI EN 319 421
// best practices policy for time-stamps (itu-t(0) identified-organization(4)
// etsi(0) time-stamp-policy(2023) policy-identifiers(1) best-practices-ts-policy(1)).
var DefaultPolicy = asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}

// Config wires a Responder. Certificate and Signer are required.
type Config struct {
	// Certificate is the TSA certificate: extended key usage id-kp-timeStamping
	// only, marked critical (RFC 3161 2.3).
	Certificate *x509.Certificate
	// Chain is the issuing CA chain sent with the token when the client asks
	// for certificates (certReq).
	Chain []*x509.Certificate
	// Signer holds the TSA key (from the key store).
	Signer crypto.Signer
	// Policy is the TSA policy OID every token names (DefaultPolicy when nil).
	// A request naming another policy is refused with unacceptedPolicy.
	Policy asn1.ObjectIdentifier
	// Accuracy stated in every token (DefaultAccuracy when zero).
	Accuracy time.Duration
	// Clock is the time source (selo.SystemClock when nil).
	Clock  selo.Clock
	Logger *slog.Logger
}

// Responder answers RFC 3161 requests. It is safe for concurrent use.
type Responder struct {
	cfg Config
	log *slog.Logger
}

// NewResponder checks the TSA certificate and key and returns a Responder.
func NewResponder(cfg Config) (*Responder, error) {
	if cfg.Certificate == nil || cfg.Signer == nil {
		return nil, selo.Errorf(selo.EINVALID, "the TSA certificate and key are required")
	}
	if err := timestamp.CheckCertificate(cfg.Certificate); err != nil {
		return nil, err
	}
	pub, ok := cfg.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cfg.Certificate.PublicKey) {
		return nil, selo.Errorf(selo.EINVALID, "the TSA key does not match the TSA certificate")
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy
	}
	if cfg.Accuracy == 0 {
		cfg.Accuracy = DefaultAccuracy
	}
	if cfg.Accuracy < 0 || cfg.Accuracy > time.Hour {
		return nil, selo.Errorf(selo.EINVALID, "TSA accuracy %s is outside 0..1h", cfg.Accuracy)
	}
	if cfg.Clock == nil {
		cfg.Clock = selo.SystemClock{}
	}
	cfg.Chain = slices.Clone(cfg.Chain)
	r := &Responder{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// Certificate returns the TSA certificate.
func (r *Responder) Certificate() *x509.Certificate { return r.cfg.Certificate }

// Respond answers a DER TimeStampReq with a DER TimeStampResp. It always
// answers: a request it cannot serve gets a rejection with the failure
// reason, and trouble on this side gets systemFailure (details logged).
func (r *Responder) Respond(ctx context.Context, der []byte) ([]byte, timestamp.Status) {
	req, err := timestamp.ParseRequest(der)
	if err != nil {
		re, ok := err.(*timestamp.RequestError)
		if !ok {
			re = refuse(timestamp.FailBadDataFormat, "malformed request")
		}
		return r.reject(re)
	}
	if req.Policy != nil && !req.Policy.Equal(r.cfg.Policy) {
		return r.reject(refuse(timestamp.FailUnacceptedPolicy, "this TSA serves policy %s only", r.cfg.Policy))
	}
	if req.Extensions {
		return r.reject(refuse(timestamp.FailUnacceptedExtension, "this TSA supports no request extensions"))
	}
	token, info, err := r.issue(ctx, req)
	if err != nil {
		r.log.Error("timestamp failed", "err", err)
		return r.reject(refuse(timestamp.FailSystemFailure, "the TSA could not sign; try again later"))
	}
	resp, err := timestamp.MarshalResponse(timestamp.StatusGranted, nil, "", token)
	if err != nil {
		r.log.Error("encode timestamp response", "err", err)
		return r.reject(refuse(timestamp.FailSystemFailure, "the TSA could not answer"))
	}
	r.log.Debug("timestamp granted", "serial", info.SerialNumber.Text(16), "hash", req.Hash.String())
	return resp, timestamp.StatusGranted
}

// refuse is the rejection of a request, with the failure RFC 3161 names.
func refuse(f timestamp.FailureInfo, format string, args ...any) *timestamp.RequestError {
	return &timestamp.RequestError{Fail: f, Message: fmt.Sprintf(format, args...)}
}

func (r *Responder) reject(re *timestamp.RequestError) ([]byte, timestamp.Status) {
	f := re.Fail
	resp, err := timestamp.MarshalResponse(timestamp.StatusRejection, &f, re.Message, nil)
	if err != nil {
		// The encoder cannot fail on these inputs; answer the bare status.
		resp, _ = timestamp.MarshalResponse(timestamp.StatusRejection, nil, "", nil)
	}
	return resp, timestamp.StatusRejection
}

// serialBits is the size of token serial numbers: 128 bits of which 126
// are random (the top bit cleared to keep the INTEGER positive, the next set
// so every serial is 16 bytes). With n tokens the chance that any two share
// a serial is below n²/2^127: for a trillion tokens, about 6·10⁻¹⁵.
const serialBits = 128

func randomSerial() (*big.Int, error) {
	var b [serialBits / 8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("random serial: %w", err)
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // never a short serial, whatever the draw
	return new(big.Int).SetBytes(b[:]), nil
}

// issue makes the token for a parsed request.
func (r *Responder) issue(ctx context.Context, req *timestamp.Request) ([]byte, *timestamp.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	now := r.cfg.Clock.Now().UTC()
	cert := r.cfg.Certificate
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, nil, fmt.Errorf("the TSA certificate is not valid at %s", now.Format(time.RFC3339))
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	info := &timestamp.Info{
		Policy: r.cfg.Policy, Hash: req.Hash, HashedMessage: req.HashedMessage, SerialNumber: serial,
		GenTime: now, Accuracy: r.cfg.Accuracy, Nonce: req.Nonce,
	}
	tstInfo, err := info.Marshal(cert.RawSubject)
	if err != nil {
		return nil, nil, err
	}
	p, err := cms.Prepare(tstInfo, cms.Options{
		Certificate: cert, Chain: r.cfg.Chain, ContentType: cms.OIDTSTInfo,
		// RFC 3161 2.4.2: certificates only when certReq is true.
		NoCertificates: !req.CertReq,
	})
	if err != nil {
		return nil, nil, err
	}
	sd, err := p.SignWith(r.cfg.Signer)
	if err != nil {
		return nil, nil, err
	}
	token, err := sd.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return token, info, nil
}

// Timestamp issues a token over digest in process (no HTTP), with the TSA's
// certificates included: Selo signing its own documents at level B-T.
func (r *Responder) Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	req := &timestamp.Request{Hash: hash, HashedMessage: digest, CertReq: true}
	if cms.HashOID(hash) == nil || len(digest) != hash.Size() {
		return nil, selo.Errorf(selo.EINVALID, "timestamp: a %v digest of %d bytes is not accepted", hash, len(digest))
	}
	token, _, err := r.issue(ctx, req)
	return token, err
}

// ServeHTTP answers RFC 3161 over HTTP (section 3.4): POST with
// Content-Type application/timestamp-query, at most MaxRequestSize bytes.
// The server package wraps it with its rate limit and access log.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST with "+timestamp.ContentTypeQuery, http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != timestamp.ContentTypeQuery {
		http.Error(w, "the body must be a DER TimeStampReq with Content-Type "+timestamp.ContentTypeQuery, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, timestamp.MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("a TimeStampReq is at most %d bytes", timestamp.MaxRequestSize), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return
	}
	resp, _ := r.Respond(req.Context(), body)
	w.Header().Set("Content-Type", timestamp.ContentTypeReply)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp)
}
