package approval

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// WalletEnrollment is what the enrollment QR code carries to the holder's
// wallet: where to send its registration, the enrollment's ID, a one-time
// secret that proves the registration comes from whoever scanned the code,
// and when the offer lapses. The signing service keeps it (secret sealed)
// until the registration arrives.
type WalletEnrollment struct {
	URL          string
	EnrollmentID string
	Secret       []byte
	ExpiresAt    time.Time
}

// walletSecretSize is the length of enrollment secrets NewWalletEnrollment
// draws.
const walletSecretSize = 32

// NewWalletEnrollment returns an enrollment for the wallet to register at
// registerURL (https, or http on a loopback host for development) with a
// fresh 32-byte secret.
func NewWalletEnrollment(registerURL, enrollmentID string, expiresAt time.Time) (*WalletEnrollment, error) {
	secret := make([]byte, walletSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("wallet enrollment secret: %w", err)
	}
	e := &WalletEnrollment{URL: registerURL, EnrollmentID: enrollmentID, Secret: secret, ExpiresAt: expiresAt}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// validate checks every field of e. Its messages never quote the secret.
func (e *WalletEnrollment) validate() error {
	if err := validRegisterURL(e.URL); err != nil {
		return err
	}
	if !validID(e.EnrollmentID) {
		return selo.Errorf(selo.EINVALID, "a wallet enrollment ID is 1 to %d printable ASCII characters without spaces", maxIDLength)
	}
	if len(e.Secret) < minWalletSecret || len(e.Secret) > maxWalletSecret {
		return selo.Errorf(selo.EINVALID, "a wallet enrollment secret is %d to %d bytes, not %d", minWalletSecret, maxWalletSecret, len(e.Secret))
	}
	if exp := e.ExpiresAt.Unix(); exp <= 0 || exp > maxUnixSeconds {
		return selo.Errorf(selo.EINVALID, "a wallet enrollment needs an expiry time after 1970")
	}
	// URI escapes the fields; what is accepted must be written within the
	// length the parser reads back. Today's bounds give about 7,070 bytes
	// at most (the URL and ID escaped threefold); this keeps a change of
	// them from breaking the round trip.
	if n := len(e.URI()); n > maxURILength {
		return selo.Errorf(selo.EINVALID, "the wallet enrollment's URI would be %d bytes, more than %d", n, maxURILength)
	}
	return nil
}

// validRegisterURL accepts an absolute https URL, or http on a loopback host
// so a developer's local `selo serve` works; nothing else, since the wallet
// sends its registration there.
func validRegisterURL(s string) error {
	if len(s) > maxURLLength {
		return selo.Errorf(selo.EINVALID, "a wallet registration URL is at most %d bytes", maxURLLength)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return selo.Errorf(selo.EINVALID, "a wallet registration URL is an absolute https URL without user or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return selo.Errorf(selo.EINVALID, "a wallet registration URL must use https (http only on a loopback host)")
}

// URI returns the text of the enrollment QR code:
//
//	selo-wallet://enroll?v=1&url=URL&id=ID&secret=BASE32&exp=UNIXSECONDS
//
// with the secret in unpadded base32 and the expiry in whole Unix seconds.
func (e WalletEnrollment) URI() string {
	q := url.Values{}
	q.Set("v", "1")
	q.Set("url", e.URL)
	q.Set("id", e.EnrollmentID)
	q.Set("secret", base32NoPad.EncodeToString(e.Secret))
	q.Set("exp", strconv.FormatInt(e.ExpiresAt.Unix(), 10))
	return "selo-wallet://enroll?" + q.Encode()
}

// ParseWalletEnrollmentURI reads an enrollment QR code's text as URI writes
// it. It is strict: every parameter exactly once, none unknown, version 1,
// and every field valid; anything else is EINVALID.
func ParseWalletEnrollmentURI(s string) (*WalletEnrollment, error) {
	q, err := uriQuery(s, "selo-wallet", "enroll", []string{"v", "url", "id", "secret", "exp"}, "")
	if err != nil {
		return nil, err
	}
	secret, err := base32NoPad.DecodeString(q.Get("secret"))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "wallet enrollment secret is not unpadded base32")
	}
	exp, err := parseUnix(q.Get("exp"))
	if err != nil {
		return nil, err
	}
	e := &WalletEnrollment{URL: q.Get("url"), EnrollmentID: q.Get("id"), Secret: secret, ExpiresAt: exp}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// parseUnix reads whole Unix seconds written in plain decimal.
func parseUnix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxUnixSeconds || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "0") {
		return time.Time{}, selo.Errorf(selo.EINVALID, "expiry %q is not Unix seconds after 1970", truncate(s, 24))
	}
	return time.Unix(n, 0).UTC(), nil
}

// WalletRegistration is what the wallet sends back after scanning the
// enrollment QR code: its device name and P-256 public key, proven twice
// over the same canonical bytes (see NewWalletRegistration): an HMAC with
// the enrollment secret shows it saw the QR code, and a signature with the
// device key shows it holds the private key.
type WalletRegistration struct {
	EnrollmentID string
	DeviceName   string
	PublicKey    []byte // PKIX DER, P-256 only
	Proof        []byte // HMAC-SHA256(enrollment secret, canonical bytes)
	Signature    []byte // ASN.1 ECDSA P-256 with SHA-256 over the canonical bytes
}

const registrationDomain = "selo-wallet-registration-v1"

// registrationBytes are the canonical bytes a registration proves: the
// domain "selo-wallet-registration-v1", the enrollment ID, registration URL
// and expiry (int64 Unix seconds), the device name and the PKIX public key,
// each string length-prefixed (see canonical).
func registrationBytes(e *WalletEnrollment, deviceName string, publicKey []byte) []byte {
	var c canonical
	c.string(registrationDomain)
	c.string(e.EnrollmentID)
	c.string(e.URL)
	c.int64(e.ExpiresAt.Unix())
	c.string(deviceName)
	c.bytes(publicKey)
	return c.b
}

func validDeviceName(name string) error {
	if name == "" || strings.TrimSpace(name) != name || !validText(name, 4*maxNameRunes) || len([]rune(name)) > maxNameRunes {
		return selo.Errorf(selo.EINVALID, "a wallet device name is 1 to %d printable characters without surrounding spaces", maxNameRunes)
	}
	return nil
}

// checkP256 refuses a missing key or one on any curve but P-256.
func checkP256(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return selo.Errorf(selo.EINVALID, "a wallet device key must be ECDSA P-256")
	}
	return nil
}

// NewWalletRegistration is the wallet's side of enrollment: it registers
// key's public half under deviceName for enrollment e.
func NewWalletRegistration(e *WalletEnrollment, deviceName string, key *ecdsa.PrivateKey) (*WalletRegistration, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if err := validDeviceName(deviceName); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, checkP256(nil)
	}
	if err := checkP256(&key.PublicKey); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal wallet public key: %w", err)
	}
	msg := registrationBytes(e, deviceName, der)
	mac := hmac.New(sha256.New, e.Secret)
	mac.Write(msg)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign wallet registration: %w", err)
	}
	return &WalletRegistration{
		EnrollmentID: e.EnrollmentID,
		DeviceName:   deviceName,
		PublicKey:    der,
		Proof:        mac.Sum(nil),
		Signature:    sig,
	}, nil
}

// VerifyWalletRegistration checks registration r against the enrollment e
// the service kept, at time now, and returns the wallet's device key to
// store. A malformed registration is EINVALID; one for another enrollment,
// after the expiry, without the enrollment secret or not signed by its own
// key is EUNAUTHORIZED. The caller deletes the enrollment once it succeeds,
// so a registration is accepted once.
func VerifyWalletRegistration(e *WalletEnrollment, r *WalletRegistration, now time.Time) (*ecdsa.PublicKey, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, selo.Errorf(selo.EINVALID, "no wallet registration")
	}
	if now.Unix() >= e.ExpiresAt.Unix() {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the wallet enrollment expired at %s; start a new one", e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if r.EnrollmentID != e.EnrollmentID {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the wallet registration is for another enrollment")
	}
	if err := validDeviceName(r.DeviceName); err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the wallet public key is not PKIX DER")
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok {
		return nil, checkP256(nil)
	}
	if err := checkP256(pub); err != nil {
		return nil, err
	}
	msg := registrationBytes(e, r.DeviceName, r.PublicKey)
	mac := hmac.New(sha256.New, e.Secret)
	mac.Write(msg)
	if !hmac.Equal(mac.Sum(nil), r.Proof) {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the wallet registration does not prove knowledge of the enrollment secret")
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, digest[:], r.Signature) {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the wallet registration is not signed by the key it registers")
	}
	return pub, nil
}
