// Package timestamp is the RFC 3161 Time-Stamp Protocol: TimeStampReq and
// TimeStampResp built and parsed, TSTInfo, the time-stamp token (a CMS
// SignedData over a TSTInfo) parsed and verified, the checks RFC 3161 2.3
// makes of a TSA certificate, and a client that asks a TSA over HTTP. It
// decides nothing and holds no keys: the tsa package answers requests with
// it, and document signing (docsign/cades, docsign/pades) timestamps and
// checks signatures with it. It imports no docsign package
// (TestImportRules).
package timestamp

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki/cms"
)

// Media types of RFC 3161 over HTTP (section 3.4).
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// MaxRequestSize bounds a TimeStampReq: one with a SHA-512 imprint, a policy
// and a nonce is under 150 bytes; 4 KiB leaves room for extensions.
const MaxRequestSize = 4 << 10

// maxNonceBytes bounds the nonce a client may send (OpenSSL sends 8 bytes).
const maxNonceBytes = 32

// Status is a PKIStatus (RFC 3161 2.4.2).
type Status int

// PKI statuses a TSA answers.
const (
	StatusGranted          Status = 0
	StatusGrantedWithMods  Status = 1
	StatusRejection        Status = 2
	StatusWaiting          Status = 3
	StatusRevocationWarn   Status = 4
	StatusRevocationNotice Status = 5
)

func (s Status) String() string {
	switch s {
	case StatusGranted:
		return "granted"
	case StatusGrantedWithMods:
		return "granted with modifications"
	case StatusRejection:
		return "rejection"
	case StatusWaiting:
		return "waiting"
	case StatusRevocationWarn:
		return "revocation warning"
	case StatusRevocationNotice:
		return "revocation notification"
	}
	return fmt.Sprintf("status %d", int(s))
}

// FailureInfo is a PKIFailureInfo bit (RFC 3161 2.4.2).
type FailureInfo int

// The failure reasons of RFC 3161.
const (
	FailBadAlg              FailureInfo = 0
	FailBadRequest          FailureInfo = 2
	FailBadDataFormat       FailureInfo = 5
	FailTimeNotAvailable    FailureInfo = 14
	FailUnacceptedPolicy    FailureInfo = 15
	FailUnacceptedExtension FailureInfo = 16
	FailAddInfoNotAvailable FailureInfo = 17
	FailSystemFailure       FailureInfo = 25
)

var failureNames = map[FailureInfo]string{
	FailBadAlg: "badAlg", FailBadRequest: "badRequest", FailBadDataFormat: "badDataFormat",
	FailTimeNotAvailable: "timeNotAvailable", FailUnacceptedPolicy: "unacceptedPolicy",
	FailUnacceptedExtension: "unacceptedExtension", FailAddInfoNotAvailable: "addInfoNotAvailable",
	FailSystemFailure: "systemFailure",
}

func (f FailureInfo) String() string {
	if f < 0 {
		return "no reason given"
	}
	if n, ok := failureNames[f]; ok {
		return n
	}
	return fmt.Sprintf("failure %d", int(f))
}

// Request is a parsed TimeStampReq.
type Request struct {
	Hash          crypto.Hash
	HashedMessage []byte
	// Policy is the reqPolicy, nil when the client named none.
	Policy  asn1.ObjectIdentifier
	Nonce   *big.Int // nil when absent
	CertReq bool
	// Extensions is set when the request carries any; this TSA supports none.
	Extensions bool
}

// RequestError is why a request was refused, with the failure to answer.
type RequestError struct {
	Fail    FailureInfo
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func refuse(f FailureInfo, format string, args ...any) *RequestError {
	return &RequestError{Fail: f, Message: fmt.Sprintf(format, args...)}
}

// ParseRequest reads a DER TimeStampReq. A request this TSA cannot answer is
// a *RequestError naming the failure (badDataFormat for bad encoding, badAlg
// for a hash other than SHA-256, SHA-384 or SHA-512).
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequestSize {
		return nil, refuse(FailBadDataFormat, "request of %d bytes is larger than %d", len(der), MaxRequestSize)
	}
	in := cryptobyte.String(der)
	var seq, imprint, alg cryptobyte.String
	var version int64
	var algOID asn1.ObjectIdentifier
	var digest []byte
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, refuse(FailBadDataFormat, "not a DER TimeStampReq")
	}
	if !seq.ReadASN1Integer(&version) || version != 1 {
		return nil, refuse(FailBadDataFormat, "version must be 1")
	}
	if !seq.ReadASN1(&imprint, cbasn1.SEQUENCE) || !imprint.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&algOID) || !imprint.ReadASN1Bytes(&digest, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return nil, refuse(FailBadDataFormat, "malformed messageImprint")
	}
	// Parameters, when present, must be NULL.
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty() || !alg.Empty() {
			return nil, refuse(FailBadDataFormat, "malformed hash algorithm parameters")
		}
	}
	req := &Request{Hash: cms.HashFromOID(algOID), HashedMessage: digest}
	if req.Hash == 0 {
		return nil, refuse(FailBadAlg, "hash algorithm %s is not accepted (want SHA-256, SHA-384 or SHA-512)", algOID)
	}
	if len(digest) != req.Hash.Size() {
		return nil, refuse(FailBadDataFormat, "hashedMessage is %d bytes; a %v digest is %d", len(digest), req.Hash, req.Hash.Size())
	}
	if seq.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var policy asn1.ObjectIdentifier
		if !seq.ReadASN1ObjectIdentifier(&policy) {
			return nil, refuse(FailBadDataFormat, "malformed reqPolicy")
		}
		req.Policy = policy
	}
	if seq.PeekASN1Tag(cbasn1.INTEGER) {
		n := new(big.Int)
		if !seq.ReadASN1Integer(n) || n.Sign() < 0 || len(n.Bytes()) > maxNonceBytes {
			return nil, refuse(FailBadDataFormat, "nonce must be a non-negative integer of at most %d bytes", maxNonceBytes)
		}
		req.Nonce = n
	}
	if seq.PeekASN1Tag(cbasn1.BOOLEAN) {
		if !seq.ReadASN1Boolean(&req.CertReq) {
			return nil, refuse(FailBadDataFormat, "malformed certReq")
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var ext cryptobyte.String
		if !seq.ReadASN1(&ext, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, refuse(FailBadDataFormat, "malformed extensions")
		}
		req.Extensions = true
	}
	if !seq.Empty() {
		return nil, refuse(FailBadDataFormat, "unexpected field in TimeStampReq")
	}
	return req, nil
}

// Marshal encodes the request as DER (for the client and tests).
func (r *Request) Marshal() ([]byte, error) {
	oid := cms.HashOID(r.Hash)
	if oid == nil {
		return nil, selo.Errorf(selo.EINVALID, "hash %v is not supported", r.Hash)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oid)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(r.HashedMessage)
		})
		if r.Policy != nil {
			b.AddASN1ObjectIdentifier(r.Policy)
		}
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
		if r.CertReq {
			b.AddASN1Boolean(true)
		}
	})
	return b.Bytes()
}

// Info is a parsed TSTInfo: what the TSA vouches for.
type Info struct {
	Policy        asn1.ObjectIdentifier
	Hash          crypto.Hash
	HashedMessage []byte
	SerialNumber  *big.Int
	GenTime       time.Time
	Accuracy      time.Duration // 0 when not stated
	Ordering      bool
	Nonce         *big.Int // nil when absent
}

// Marshal encodes the TSTInfo as DER. tsaName is the DER Name of the TSA,
// nil to leave the tsa field out.
func (in *Info) Marshal(tsaName []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(in.Policy)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(cms.HashOID(in.Hash))
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(in.HashedMessage)
		})
		b.AddASN1BigInt(in.SerialNumber)
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
			b.AddBytes([]byte(generalizedTime(in.GenTime)))
		})
		if in.Accuracy > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				secs := int64(in.Accuracy / time.Second)
				millis := int64(in.Accuracy%time.Second) / int64(time.Millisecond)
				micros := int64(in.Accuracy%time.Millisecond) / int64(time.Microsecond)
				if secs > 0 {
					b.AddASN1Int64(secs)
				}
				if millis > 0 {
					b.AddASN1Int64WithTag(millis, cbasn1.Tag(0).ContextSpecific())
				}
				if micros > 0 {
					b.AddASN1Int64WithTag(micros, cbasn1.Tag(1).ContextSpecific())
				}
			})
		}
		if in.Nonce != nil {
			b.AddASN1BigInt(in.Nonce)
		}
		if tsaName != nil {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddBytes(tsaName)
				})
			})
		}
	})
	return b.Bytes()
}

// generalizedTime formats t as DER GeneralizedTime: UTC, fractions of a
// second only when not zero, without trailing zeros (X.690 11.7).
func generalizedTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	s := t.Format("20060102150405")
	if frac := t.Nanosecond() / 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return s + "Z"
}

// tstInfoASN is TSTInfo for parsing with encoding/asn1.
type tstInfoASN struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds int `asn1:"optional"`
		Millis  int `asn1:"optional,tag:0"`
		Micros  int `asn1:"optional,tag:1"`
	} `asn1:"optional"`
	Ordering   bool          `asn1:"optional,default:false"`
	Nonce      *big.Int      `asn1:"optional"`
	TSA        asn1.RawValue `asn1:"optional,tag:0"`
	Extensions asn1.RawValue `asn1:"optional,tag:1"`
}

// ParseInfo reads a DER TSTInfo.
func ParseInfo(der []byte) (*Info, error) {
	var t tstInfoASN
	rest, err := asn1.Unmarshal(der, &t)
	if err != nil || len(rest) > 0 || t.Version != 1 || t.SerialNumber == nil {
		return nil, selo.Errorf(selo.EINVALID, "malformed TSTInfo in the timestamp token")
	}
	in := &Info{
		Policy: t.Policy, Hash: cms.HashFromOID(t.MessageImprint.HashAlgorithm.Algorithm), HashedMessage: t.MessageImprint.HashedMessage,
		SerialNumber: t.SerialNumber, GenTime: t.GenTime.UTC(), Ordering: t.Ordering, Nonce: t.Nonce,
		Accuracy: time.Duration(t.Accuracy.Seconds)*time.Second + time.Duration(t.Accuracy.Millis)*time.Millisecond + time.Duration(t.Accuracy.Micros)*time.Microsecond,
	}
	if in.Hash == 0 {
		return nil, selo.Errorf(selo.EINVALID, "the timestamp uses hash %s, which is not accepted", t.MessageImprint.HashAlgorithm.Algorithm)
	}
	if len(in.HashedMessage) != in.Hash.Size() {
		return nil, selo.Errorf(selo.EINVALID, "the timestamp's imprint has the wrong length")
	}
	return in, nil
}

// MarshalResponse encodes a TimeStampResp: status, the failure bit when fail
// is not nil, the status text when not empty, and the DER token (nil unless
// granted).
func MarshalResponse(status Status, fail *FailureInfo, text string, token []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PKIStatusInfo
			b.AddASN1Int64(int64(status))
			if text != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(text)) })
				})
			}
			if fail != nil {
				// A named bit list in DER: just enough bytes for the bit,
				// the unused trailing bits counted in the first octet.
				n := int(*fail)
				bits := make([]byte, n/8+1)
				bits[n/8] = 0x80 >> (n % 8)
				b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
					b.AddUint8(uint8(7 - n%8))
					b.AddBytes(bits)
				})
			}
		})
		if token != nil {
			b.AddBytes(token)
		}
	})
	return b.Bytes()
}

// Response is a parsed TimeStampResp.
type Response struct {
	Status Status
	Text   string
	// Fail is the first failure bit set, -1 when none.
	Fail  FailureInfo
	Token []byte // DER ContentInfo, nil unless granted
}

// ParseResponse reads a DER TimeStampResp (the client side).
func ParseResponse(der []byte) (*Response, error) {
	var r struct {
		Status struct {
			Status     int
			StatusText []string       `asn1:"optional,utf8"`
			FailInfo   asn1.BitString `asn1:"optional"`
		}
		Token asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(der, &r)
	if err != nil || len(rest) > 0 {
		return nil, selo.Errorf(selo.EINVALID, "the timestamp authority's answer is not a TimeStampResp")
	}
	resp := &Response{Status: Status(r.Status.Status), Text: strings.Join(r.Status.StatusText, "; "), Fail: -1}
	for i := 0; i < r.Status.FailInfo.BitLength; i++ {
		if r.Status.FailInfo.At(i) == 1 {
			resp.Fail = FailureInfo(i)
			break
		}
	}
	if len(r.Token.FullBytes) > 0 {
		resp.Token = r.Token.FullBytes
	}
	return resp, nil
}
