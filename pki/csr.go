package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/selo-qtsp/selo"
)

// MaxCSRSize is the largest CSR ParseCSR reads. A real request is a few KiB;
// the bound keeps a hostile upload from costing memory and parse time.
const MaxCSRSize = 64 << 10

// RSA modulus bounds of the key policy.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// ParseCSR reads a PKCS#10 request in PEM or DER, checks its signature and the
// key policy (CheckPublicKey). Any failure is selo EINVALID with a clear message.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxCSRSize {
		return nil, selo.Errorf(selo.EINVALID, "csr is larger than %d bytes", MaxCSRSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "csr is empty")
	}
	der := trimmed
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		block, rest := pem.Decode(trimmed)
		switch {
		case block == nil:
			return nil, selo.Errorf(selo.EINVALID, "csr is not valid pem")
		case block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST":
			return nil, selo.Errorf(selo.EINVALID, "pem block is %q, not a certificate request", truncate(block.Type, 40))
		case len(block.Headers) != 0:
			return nil, selo.Errorf(selo.EINVALID, "csr pem block must not carry headers")
		case len(bytes.TrimSpace(rest)) != 0:
			return nil, selo.Errorf(selo.EINVALID, "csr has trailing data after the pem block")
		}
		der = block.Bytes
	} else if trimmed[0] != 0x30 {
		// Neither PEM nor a DER SEQUENCE: say so instead of an ASN.1 error.
		return nil, selo.Errorf(selo.EINVALID, "csr is neither pem nor der")
	} else {
		der = data // DER must be exact: no trimming of bytes that may be significant
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "csr is not a valid pkcs#10 request: %s", x509Message(err))
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "csr signature does not verify: %s", x509Message(err))
	}
	if err := CheckPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// x509Message shortens a crypto/x509 error for a user-facing message.
func x509Message(err error) string {
	return truncate(strings.TrimPrefix(err.Error(), "x509: "), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CheckPublicKey is the one place where keys entering Selo are judged: RSA
// 2048..8192 bits with exponent 65537, ECDSA P-256 or P-384. EINVALID otherwise.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return selo.Errorf(selo.EINVALID, "rsa key is empty")
		}
		bits := k.N.BitLen()
		if bits < minRSABits || bits > maxRSABits {
			return selo.Errorf(selo.EINVALID, "rsa key of %d bits is outside %d..%d bits", bits, minRSABits, maxRSABits)
		}
		if k.N.Bit(0) == 0 {
			return selo.Errorf(selo.EINVALID, "rsa modulus is even")
		}
		// 65537 only, like the CA/B Forum and Boulder: small exponents have a
		// history of padding attacks and large ones of interoperability bugs.
		if k.E != 65537 {
			return selo.Errorf(selo.EINVALID, "rsa public exponent %d is not 65537", k.E)
		}
		return nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return selo.Errorf(selo.EINVALID, "ecdsa key is empty")
		}
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return selo.Errorf(selo.EINVALID, "ecdsa curve %s is not allowed (want P-256 or P-384)", k.Curve.Params().Name)
		}
		// ECDH rejects points that are not on the curve or are the point at infinity.
		if _, err := k.ECDH(); err != nil {
			return selo.Errorf(selo.EINVALID, "ecdsa public key is not a valid point on %s", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		return selo.Errorf(selo.EINVALID, "ed25519 keys are not allowed (want rsa or ecdsa P-256 or P-384)")
	case nil:
		return selo.Errorf(selo.EINVALID, "public key is missing")
	default:
		return selo.Errorf(selo.EINVALID, "key type %T is not allowed (want rsa or ecdsa P-256 or P-384)", pub)
	}
}

// KeyDescription returns "ECDSA P-256", "RSA 2048", ... for display.
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "RSA"
		}
		return "RSA " + strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "ECDSA"
		}
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		return "none"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// keyTypeName returns the profile key_types name of pub: "ecdsa-p256",
// "ecdsa-p384", "rsa", or "" for anything else.
func keyTypeName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecdsa-p256"
		case elliptic.P384():
			return "ecdsa-p384"
		}
	}
	return ""
}

// RequestFromCSR copies the subject, SANs and key of a parsed CSR.
// Subject alternative names a Request cannot carry (IP addresses, URIs) are
// remembered so that CheckRequest refuses them instead of dropping them.
func RequestFromCSR(csr *x509.CertificateRequest) *Request {
	req := &Request{
		PublicKey:      csr.PublicKey,
		Subject:        csr.Subject,
		DNSNames:       append([]string(nil), csr.DNSNames...),
		EmailAddresses: append([]string(nil), csr.EmailAddresses...),
	}
	for _, ip := range csr.IPAddresses {
		req.unsupportedSANs = append(req.unsupportedSANs, "ip address "+ip.String())
	}
	for _, u := range csr.URIs {
		req.unsupportedSANs = append(req.unsupportedSANs, "uri "+truncate(u.String(), 100))
	}
	return req
}

// CSRProblem says in words why data (a file's contents, PEM or DER) is not a
// readable PKCS#10 certificate request, for a person who gave the wrong file
// or a damaged one; "" when it parses. It never returns an ASN.1 dump.
func CSRProblem(data []byte) string {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "the file is empty"
	}
	der := trimmed
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		block, rest := pem.Decode(trimmed)
		switch {
		case block == nil:
			return "the PEM block is damaged: its BEGIN/END lines or its base64 text are broken (was it cut or edited?)"
		case block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST":
			return fmt.Sprintf("the file holds a PEM %q block, not a CERTIFICATE REQUEST", truncate(block.Type, 40))
		case len(bytes.TrimSpace(rest)) != 0 && bytes.Contains(rest, []byte("-----BEGIN")):
			return "the file holds more than one PEM block; give the certificate request alone"
		}
		der = block.Bytes
	} else if trimmed[0] != 0x30 {
		return "the file is neither PEM (-----BEGIN CERTIFICATE REQUEST-----) nor DER: it is not a certificate request"
	} else {
		der = data
	}
	_, err := x509.ParseCertificateRequest(der)
	if err == nil {
		return ""
	}
	if _, cerr := x509.ParseCertificate(der); cerr == nil {
		return "this is a certificate, not a certificate request"
	}
	if _, kerr := x509.ParsePKCS8PrivateKey(der); kerr == nil {
		return "this is a private key, not a certificate request: keep it secret and give the CSR instead"
	}
	if _, kerr := x509.ParseECPrivateKey(der); kerr == nil {
		return "this is a private key, not a certificate request: keep it secret and give the CSR instead"
	}
	if _, kerr := x509.ParsePKIXPublicKey(der); kerr == nil {
		return "this is a public key, not a certificate request"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "truncated"):
		return "the request is cut short: the data ends before the request does (was the file copied only in part?)"
	case strings.Contains(msg, "trailing data"):
		return "there are extra bytes after the request"
	case strings.Contains(msg, "asn1:"):
		return "the data is not laid out as a PKCS#10 certificate request (wrong file, or damaged)"
	}
	return "it is not a valid PKCS#10 certificate request: " + x509Message(err)
}
