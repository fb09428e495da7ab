package pki

import (
	"bufio"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/selo-qtsp/selo"
)

// CRLTemplate describes the CRL WriteCRL signs; its entries come separately,
// as a stream.
type CRLTemplate struct {
	// Number is the cRLNumber: non-negative and strictly increasing per CA.
	Number     int64
	ThisUpdate time.Time
	// NextUpdate is required (RFC 5280 5.1.2.5) and must be after ThisUpdate.
	NextUpdate time.Time
	// IssuingDistributionPoint, when set, is the http(s) URL the CRL is
	// published at, the one the CA's certificates name as CRL distribution
	// point. It goes into a critical issuingDistributionPoint extension as a
	// fullName URI (RFC 5280 5.2.5).
	IssuingDistributionPoint string
	// OnlyContainsUserCerts and OnlyContainsCACerts set the issuingDistributionPoint
	// flags of the same names: an issuing CA's CRL lists only end-entity
	// certificates, a root's only CA certificates. At most one may be set.
	OnlyContainsUserCerts bool
	OnlyContainsCACerts   bool
	// TempDir is where WriteCRL spools the encoded entries; "" means
	// os.TempDir(). The spool file is removed before WriteCRL returns.
	TempDir string
}

// CRLEntry is one revoked certificate of a CRL.
type CRLEntry struct {
	// Serial is the certificate's serial in hex, as Selo stores it (SerialHex);
	// upper case is accepted too.
	Serial    string
	RevokedAt time.Time
	// Reason goes into the reasonCode extension, which is left out for
	// unspecified as RFC 5280 5.3.1 asks. removeFromCRL is refused: it only
	// belongs in delta CRLs.
	Reason selo.RevocationReason
	// InvalidityDate, when not zero, goes into the invalidityDate extension.
	InvalidityDate time.Time
}

// NewCRLEntry returns the CRL entry of a revocation.
func NewCRLEntry(rev *selo.Revocation) CRLEntry {
	return CRLEntry{Serial: rev.Serial, RevokedAt: rev.RevokedAt, Reason: rev.Reason, InvalidityDate: rev.InvalidityDate}
}

// CRLStats says what WriteCRL wrote.
type CRLStats struct {
	Entries int64 // revoked certificates listed
	Bytes   int64 // size of the DER CRL written to w
}

// crlSpoolBuffer is the buffer size for spooling and reading back entries.
const crlSpoolBuffer = 64 << 10

// WriteCRL signs an RFC 5280 version 2 CRL issued by issuer and writes its DER
// to w. The CRL carries the authority key identifier (the issuer's subject key
// identifier), the cRLNumber and, if asked, an issuingDistributionPoint; its
// signature algorithm follows the signer's key as for certificates (ECDSA
// P-256 with SHA-256, P-384 with SHA-384, RSA with SHA-256 PKCS#1 v1.5).
//
// entries must call yield once per revoked certificate, never concurrently,
// and stop with yield's error when it returns one; a serial must not be
// yielded twice (that is not checked: it would take memory in proportion to
// the list). WriteCRL runs in memory independent of the number of entries: it
// encodes them into a temporary file in TempDir, then hashes and signs the
// to-be-signed list while reading it back, and only then writes to w. So w
// receives nothing when an entry, the entries function or signing fails; only
// a failure of w itself can leave a partial CRL there.
//
// Invalid input (an issuer that may not sign CRLs, a bad serial, a revocation
// after ThisUpdate, ...) is selo EINVALID; an error returned by entries is
// returned wrapped.
func WriteCRL(w io.Writer, issuer *x509.Certificate, signer crypto.Signer, t CRLTemplate, entries func(yield func(CRLEntry) error) error) (CRLStats, error) {
	if issuer == nil || signer == nil {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl issuer certificate and signer are required")
	}
	if entries == nil {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl entries function is missing")
	}
	if issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "certificate %q may not sign crls (no cRLSign key usage)", issuer.Subject.CommonName)
	}
	if len(issuer.SubjectKeyId) == 0 {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "certificate %q has no subject key identifier for the crl's authority key identifier", issuer.Subject.CommonName)
	}
	if len(issuer.RawSubject) == 0 {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl issuer certificate has no encoded subject (pass a parsed certificate)")
	}
	if err := checkSignerHoldsKey(signer, issuer, "crl"); err != nil {
		return CRLStats{}, err
	}
	hash, sigAlg, err := signatureParams(signer.Public())
	if err != nil {
		return CRLStats{}, err
	}
	if t.ThisUpdate.IsZero() {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl thisUpdate is missing")
	}
	thisUpdate := t.ThisUpdate.UTC().Truncate(time.Second)
	if !t.NextUpdate.UTC().Truncate(time.Second).After(thisUpdate) {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl nextUpdate %s is not after thisUpdate %s", t.NextUpdate.UTC().Format(time.RFC3339), thisUpdate.Format(time.RFC3339))
	}
	extensions, err := crlExtensions(issuer, t)
	if err != nil {
		return CRLStats{}, err
	}
	// Everything of the TBSCertList before the revoked certificates.
	head := []byte{tagInteger, 1, 1} // version v2
	head = append(head, sigAlg...)
	head = append(head, issuer.RawSubject...)
	if head, err = appendTime(head, thisUpdate); err != nil {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl thisUpdate: %v", err)
	}
	if head, err = appendTime(head, t.NextUpdate); err != nil {
		return CRLStats{}, selo.Errorf(selo.EINVALID, "crl nextUpdate: %v", err)
	}

	spool, err := os.CreateTemp(t.TempDir, "selo-crl-*")
	if err != nil {
		return CRLStats{}, fmt.Errorf("crl spool: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()

	// Pass 1: encode every entry into the spool, counting.
	var (
		count, size int64
		yieldErr    error
		buf         = make([]byte, 0, 128)
		spooled     = bufio.NewWriterSize(spool, crlSpoolBuffer)
	)
	err = entries(func(e CRLEntry) error {
		if yieldErr != nil {
			return yieldErr
		}
		var err error
		if buf, err = appendCRLEntry(buf[:0], &e, thisUpdate); err != nil {
			yieldErr = selo.Errorf(selo.EINVALID, "crl entry %d (serial %s): %s", count+1, truncate(e.Serial, 48), err)
			return yieldErr
		}
		if _, err := spooled.Write(buf); err != nil {
			yieldErr = fmt.Errorf("crl spool: %w", err)
			return yieldErr
		}
		count++
		size += int64(len(buf))
		return nil
	})
	// The first failure of yield wins, even if entries swallowed it.
	if yieldErr != nil {
		return CRLStats{}, yieldErr
	}
	if err != nil {
		return CRLStats{}, fmt.Errorf("crl entries: %w", err)
	}
	if err := spooled.Flush(); err != nil {
		return CRLStats{}, fmt.Errorf("crl spool: %w", err)
	}
	// RFC 5280 5.1.2.6: with no revoked certificates the list is absent.
	if count > 0 {
		head = appendHeader(head, tagSequence, size)
	}
	tbsLen := int64(len(head)) + size + int64(len(extensions))
	tbsHeader := appendHeader(nil, tagSequence, tbsLen)

	// Pass 2: hash the TBSCertList, reading the entries back.
	h := hash.New()
	h.Write(tbsHeader)
	h.Write(head)
	readBuf := make([]byte, crlSpoolBuffer)
	if err := copySpool(h, spool, size, readBuf); err != nil {
		return CRLStats{}, err
	}
	h.Write(extensions)
	sig, err := signDigest(signer, hash, h.Sum(nil))
	if err != nil {
		return CRLStats{}, fmt.Errorf("crl: %w", err)
	}

	// Pass 3: the CRL itself, now that it is signed.
	tail := append([]byte(nil), extensions...)
	tail = append(tail, sigAlg...)
	tail = appendHeader(tail, tagBitString, int64(len(sig))+1)
	tail = append(tail, 0) // no unused bits
	tail = append(tail, sig...)
	tbsTotal := int64(len(tbsHeader)) + tbsLen
	crlLen := tbsTotal - int64(len(extensions)) + int64(len(tail))
	front := appendHeader(nil, tagSequence, crlLen)
	front = append(front, tbsHeader...)
	front = append(front, head...)
	if _, err := w.Write(front); err != nil {
		return CRLStats{}, fmt.Errorf("write crl: %w", err)
	}
	if err := copySpool(w, spool, size, readBuf); err != nil {
		return CRLStats{}, fmt.Errorf("write crl: %w", err)
	}
	if _, err := w.Write(tail); err != nil {
		return CRLStats{}, fmt.Errorf("write crl: %w", err)
	}
	return CRLStats{Entries: count, Bytes: headerLen(crlLen) + crlLen}, nil
}

// copySpool copies the first size bytes of the spool file to w.
func copySpool(w io.Writer, spool *os.File, size int64, buf []byte) error {
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("crl spool: %w", err)
	}
	n, err := io.CopyBuffer(w, io.LimitReader(spool, size), buf)
	if err != nil {
		return fmt.Errorf("crl spool: %w", err)
	}
	if n != size {
		return fmt.Errorf("crl spool: read back %d of %d bytes", n, size)
	}
	return nil
}

// OIDs of the CRL and CRL entry extensions WriteCRL makes, as DER (tag, length, value).
var (
	oidDERAuthorityKeyID = []byte{tagOID, 3, 0x55, 0x1d, 0x23}
	oidDERCRLNumber      = []byte{tagOID, 3, 0x55, 0x1d, 0x14}
	oidDERIssuingDP      = []byte{tagOID, 3, 0x55, 0x1d, 0x1c}
	oidDERReasonCode     = []byte{tagOID, 3, 0x55, 0x1d, 0x15}
	oidDERInvalidityDate = []byte{tagOID, 3, 0x55, 0x1d, 0x18}
)

// crlExtensions returns the [0] EXPLICIT crlExtensions of the TBSCertList, in
// the order crypto/x509 writes them: authority key identifier, cRLNumber,
// then the issuingDistributionPoint.
func crlExtensions(issuer *x509.Certificate, t CRLTemplate) ([]byte, error) {
	if t.Number < 0 {
		return nil, selo.Errorf(selo.EINVALID, "crl number %d is negative", t.Number)
	}
	if t.OnlyContainsUserCerts && t.OnlyContainsCACerts {
		return nil, selo.Errorf(selo.EINVALID, "a crl cannot contain only user certificates and only ca certificates")
	}
	if u := t.IssuingDistributionPoint; u != "" {
		v, err := url.Parse(u)
		if err != nil || (v.Scheme != "http" && v.Scheme != "https") || v.Host == "" || !isIA5(u) {
			return nil, selo.Errorf(selo.EINVALID, "crl issuing distribution point %q is not an absolute http(s) url", truncate(u, 100))
		}
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(oidDERAuthorityKeyID)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(issuer.SubjectKeyId)
						})
					})
				})
			})
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(oidDERCRLNumber)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(t.Number)
				})
			})
			if t.IssuingDistributionPoint == "" && !t.OnlyContainsUserCerts && !t.OnlyContainsCACerts {
				return
			}
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(oidDERIssuingDP)
				// Critical, as RFC 5280 5.2.5 requires.
				b.AddASN1Boolean(true)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						if u := t.IssuingDistributionPoint; u != "" {
							// distributionPoint [0] DistributionPointName (a CHOICE,
							// so explicit) holding fullName [0] GeneralNames.
							b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) {
										b.AddBytes([]byte(u))
									})
								})
							})
						}
						// The flags are DEFAULT FALSE, so DER writes them only when true.
						if t.OnlyContainsUserCerts {
							b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
						}
						if t.OnlyContainsCACerts {
							b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
						}
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode crl extensions: %w", err)
	}
	return der, nil
}

// appendCRLEntry appends the DER of one revokedCertificates element. The
// error is a bare message; WriteCRL adds which entry it was.
func appendCRLEntry(b []byte, e *CRLEntry, thisUpdate time.Time) ([]byte, error) {
	if e.RevokedAt.IsZero() {
		return b, errors.New("revocation time is missing")
	}
	// RFC 5280 5.1.2.6: a CRL lists what was revoked by its thisUpdate.
	if e.RevokedAt.UTC().Truncate(time.Second).After(thisUpdate) {
		return b, fmt.Errorf("revocation time %s is after the crl's thisUpdate %s", e.RevokedAt.UTC().Format(time.RFC3339), thisUpdate.Format(time.RFC3339))
	}
	if !e.Reason.Valid() {
		return b, fmt.Errorf("reason %s cannot be listed in a crl", e.Reason)
	}
	// Every part is short (serial ≤ 22, times ≤ 17, extensions ≤ 40 bytes),
	// so each length fits one byte and is patched in after the content.
	start := len(b)
	b = append(b, tagSequence, 0)
	b, err := appendSerialHex(b, e.Serial)
	if err != nil {
		return b, err
	}
	if b, err = appendTime(b, e.RevokedAt); err != nil {
		return b, fmt.Errorf("revocation time: %v", err)
	}
	if !e.InvalidityDate.IsZero() || e.Reason != selo.ReasonUnspecified {
		exts := len(b)
		b = append(b, tagSequence, 0)
		// invalidityDate before reasonCode: the order crypto/x509 writes an
		// extra extension and the reason code in.
		if !e.InvalidityDate.IsZero() {
			ext := len(b)
			b = append(b, tagSequence, 0)
			b = append(b, oidDERInvalidityDate...)
			b = append(b, tagOctetString, 15+2)
			// RFC 5280 5.3.2: always GeneralizedTime.
			if b, err = appendGeneralizedTime(b, e.InvalidityDate); err != nil {
				return b, fmt.Errorf("invalidity date: %v", err)
			}
			b[ext+1] = byte(len(b) - ext - 2)
		}
		if e.Reason != selo.ReasonUnspecified {
			b = append(b, tagSequence, 10)
			b = append(b, oidDERReasonCode...)
			b = append(b, tagOctetString, 3, tagEnumerated, 1, byte(e.Reason))
		}
		b[exts+1] = byte(len(b) - exts - 2)
	}
	if n := len(b) - start - 2; n < 0x80 {
		b[start+1] = byte(n)
	} else {
		return b, errors.New("entry does not fit the short form") // unreachable with the bounds above
	}
	return b, nil
}

// appendSerialHex appends the DER INTEGER of a hex serial, refusing what RFC
// 5280 4.1.2.2 refuses: zero and anything longer than 20 octets. Serials are
// never negative in hex form.
func appendSerialHex(b []byte, s string) ([]byte, error) {
	i := 0
	for i < len(s) && s[i] == '0' {
		i++
	}
	digits := s[i:]
	if len(digits) == 0 {
		if len(s) == 0 {
			return b, errors.New("serial is empty")
		}
		return b, errors.New("serial is zero")
	}
	if len(digits) > 40 {
		return b, errors.New("serial is longer than 20 octets")
	}
	var mag [20]byte
	n := (len(digits) + 1) / 2
	// Decode from the right, so an odd digit count leaves a high nibble of 0.
	for j, k := len(digits)-1, n-1; j >= 0; j, k = j-2, k-1 {
		lo, ok := fromHex(digits[j])
		if !ok {
			return b, errors.New("serial is not hex")
		}
		hi := byte(0)
		if j > 0 {
			if hi, ok = fromHex(digits[j-1]); !ok {
				return b, errors.New("serial is not hex")
			}
		}
		mag[k] = hi<<4 | lo
	}
	pad := mag[0]&0x80 != 0
	if pad && n == 20 {
		return b, errors.New("serial is longer than 20 octets")
	}
	if pad {
		b = append(b, tagInteger, byte(n+1), 0)
	} else {
		b = append(b, tagInteger, byte(n))
	}
	return append(b, mag[:n]...), nil
}

// hexValues maps a hex digit to its value plus one; 0 means not a digit. A
// table, because a million serials go through it per CRL.
var hexValues = func() (t [256]byte) {
	for _, s := range []string{"0123456789abcdef", "0123456789ABCDEF"} {
		for v := range len(s) {
			t[s[v]] = byte(v) + 1
		}
	}
	return t
}()

func fromHex(c byte) (byte, bool) {
	v := hexValues[c]
	return v - 1, v != 0
}
