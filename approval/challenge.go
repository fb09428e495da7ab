package approval

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/selo-qtsp/selo"
)

// WalletChallenge is one signature approval pushed to the holder's wallet
// (or shown as a QR code when the push does not arrive): which approval and
// credential, a description for the holder to read, the exact hashes to be
// signed, a random nonce and an expiry. The wallet answers with a signed
// decision (SignWalletDecision).
type WalletChallenge struct {
	ApprovalID       string
	CredentialID     string
	Description      string
	HashAlgorithmOID string
	Hashes           [][]byte
	Nonce            []byte
	ExpiresAt        time.Time
}

// Hash algorithms a challenge may name, by OID, with their digest sizes.
const (
	OIDSHA256 = "2.16.840.1.101.3.4.2.1"
	OIDSHA384 = "2.16.840.1.101.3.4.2.2"
	OIDSHA512 = "2.16.840.1.101.3.4.2.3"
)

var hashSizes = map[string]int{OIDSHA256: 32, OIDSHA384: 48, OIDSHA512: 64}

// Limits on a challenge.
const (
	maxChallengeHashes = 64
	challengeNonceSize = 32
	minNonce           = 16
	maxNonce           = 64
)

const challengeDomain = "selo-wallet-approval-v1"

// Decision bytes appended to SigningBytes.
const (
	decisionDeny    byte = 0
	decisionApprove byte = 1
)

// NewWalletChallenge returns a challenge with a fresh 32-byte nonce, or
// EINVALID when a field is not acceptable (see ParseWalletChallengeURI).
func NewWalletChallenge(approvalID, credentialID, description, hashAlgorithmOID string, hashes [][]byte, expiresAt time.Time) (*WalletChallenge, error) {
	nonce := make([]byte, challengeNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("wallet challenge nonce: %w", err)
	}
	c := &WalletChallenge{
		ApprovalID: approvalID, CredentialID: credentialID, Description: description,
		HashAlgorithmOID: hashAlgorithmOID, Hashes: hashes, Nonce: nonce, ExpiresAt: expiresAt,
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// validate checks every field of c.
func (c *WalletChallenge) validate() error {
	if c == nil {
		return selo.Errorf(selo.EINVALID, "no wallet challenge")
	}
	if !validID(c.ApprovalID) || !validID(c.CredentialID) {
		return selo.Errorf(selo.EINVALID, "approval and credential IDs are 1 to %d printable ASCII characters without spaces", maxIDLength)
	}
	if !validText(c.Description, maxDescription) {
		return selo.Errorf(selo.EINVALID, "a challenge description is at most %d bytes of UTF-8 without control characters", maxDescription)
	}
	size, ok := hashSizes[c.HashAlgorithmOID]
	if !ok {
		return selo.Errorf(selo.EINVALID, "unsupported hash algorithm %q (want the OID of SHA-256, SHA-384 or SHA-512)", truncate(c.HashAlgorithmOID, 64))
	}
	if len(c.Hashes) == 0 || len(c.Hashes) > maxChallengeHashes {
		return selo.Errorf(selo.EINVALID, "a challenge carries 1 to %d hashes, not %d", maxChallengeHashes, len(c.Hashes))
	}
	for i, h := range c.Hashes {
		if len(h) != size {
			return selo.Errorf(selo.EINVALID, "hash %d is %d bytes; the algorithm gives %d", i+1, len(h), size)
		}
	}
	if len(c.Nonce) < minNonce || len(c.Nonce) > maxNonce {
		return selo.Errorf(selo.EINVALID, "a challenge nonce is %d to %d bytes, not %d", minNonce, maxNonce, len(c.Nonce))
	}
	if exp := c.ExpiresAt.Unix(); exp <= 0 || exp > maxUnixSeconds {
		return selo.Errorf(selo.EINVALID, "a challenge needs an expiry time after 1970")
	}
	// Each field is bounded, but together and escaped they can exceed what
	// the parser reads (64 SHA-512 hashes and a description of escaped
	// bytes); the fallback QR code must be readable.
	if n := len(c.URI()); n > maxURILength {
		return selo.Errorf(selo.EINVALID, "the challenge's URI would be %d bytes, more than %d: fewer hashes or a shorter description", n, maxURILength)
	}
	return nil
}

// SigningBytes returns the canonical encoding of the challenge: the domain
// "selo-wallet-approval-v1", ApprovalID, CredentialID, Description and
// HashAlgorithmOID, the number of hashes (uint32) and each hash, the nonce,
// and the expiry as int64 Unix seconds; every string and byte field is
// preceded by its uint32 big-endian length. The wallet signs these bytes
// followed by one decision byte, 1 to approve and 0 to deny (see
// DecisionBytes), so a signature covers every field and the decision.
func (c *WalletChallenge) SigningBytes() []byte {
	var b canonical
	b.string(challengeDomain)
	b.string(c.ApprovalID)
	b.string(c.CredentialID)
	b.string(c.Description)
	b.string(c.HashAlgorithmOID)
	b.uint32(uint32(len(c.Hashes)))
	for _, h := range c.Hashes {
		b.bytes(h)
	}
	b.bytes(c.Nonce)
	b.int64(c.ExpiresAt.Unix())
	return b.b
}

// DecisionBytes returns the message a wallet signs for its decision:
// SigningBytes followed by 1 to approve or 0 to deny.
func (c *WalletChallenge) DecisionBytes(approve bool) []byte {
	d := decisionDeny
	if approve {
		d = decisionApprove
	}
	return append(c.SigningBytes(), d)
}

var b64 = base64.RawURLEncoding

// URI returns the text of the fallback QR code:
//
//	selo-wallet://approve?v=1&approval=ID&credential=ID&description=TEXT&alg=OID&hash=B64&hash=B64&nonce=B64&exp=UNIXSECONDS
//
// with hashes (in order) and nonce in unpadded base64url.
func (c *WalletChallenge) URI() string {
	q := url.Values{}
	q.Set("v", "1")
	q.Set("approval", c.ApprovalID)
	q.Set("credential", c.CredentialID)
	q.Set("description", c.Description)
	q.Set("alg", c.HashAlgorithmOID)
	for _, h := range c.Hashes {
		q.Add("hash", b64.EncodeToString(h))
	}
	q.Set("nonce", b64.EncodeToString(c.Nonce))
	q.Set("exp", strconv.FormatInt(c.ExpiresAt.Unix(), 10))
	return "selo-wallet://approve?" + q.Encode()
}

// ParseWalletChallengeURI reads a fallback QR code's text as URI writes it.
// It is strict: each parameter once (hash once per hash, in order), none
// unknown, version 1, IDs of printable ASCII, a description without control
// characters, SHA-256/384/512 hashes of the right size, a 16 to 64-byte
// nonce; anything else is EINVALID.
func ParseWalletChallengeURI(s string) (*WalletChallenge, error) {
	q, err := uriQuery(s, "selo-wallet", "approve",
		[]string{"v", "approval", "credential", "description", "alg", "hash", "nonce", "exp"}, "hash")
	if err != nil {
		return nil, err
	}
	if len(q["hash"]) > maxChallengeHashes {
		return nil, selo.Errorf(selo.EINVALID, "a challenge carries at most %d hashes", maxChallengeHashes)
	}
	hashes := make([][]byte, len(q["hash"]))
	for i, h := range q["hash"] {
		if hashes[i], err = b64.DecodeString(h); err != nil {
			return nil, selo.Errorf(selo.EINVALID, "hash %d is not unpadded base64url", i+1)
		}
	}
	nonce, err := b64.DecodeString(q.Get("nonce"))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "the challenge nonce is not unpadded base64url")
	}
	exp, err := parseUnix(q.Get("exp"))
	if err != nil {
		return nil, err
	}
	c := &WalletChallenge{
		ApprovalID: q.Get("approval"), CredentialID: q.Get("credential"), Description: q.Get("description"),
		HashAlgorithmOID: q.Get("alg"), Hashes: hashes, Nonce: nonce, ExpiresAt: exp,
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// SignWalletDecision is the wallet's side of an approval: it signs
// c.DecisionBytes(approve) with the device key (ECDSA P-256, SHA-256,
// ASN.1 signature).
func SignWalletDecision(c *WalletChallenge, approve bool, key *ecdsa.PrivateKey) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, checkP256(nil)
	}
	if err := checkP256(&key.PublicKey); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(c.DecisionBytes(approve))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign wallet decision: %w", err)
	}
	return sig, nil
}

// VerifyWalletDecision checks the wallet's signature sig over challenge c
// and the decision approve with the registered device key pub, at time now.
// A challenge changed in any field, the other decision, another key or a
// challenge at or past its expiry is EUNAUTHORIZED; a malformed challenge or
// key is EINVALID. The signing service keeps c as it sent it and checks the
// approval is still pending, so a decision counts once.
func VerifyWalletDecision(c *WalletChallenge, approve bool, pub *ecdsa.PublicKey, sig []byte, now time.Time) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := checkP256(pub); err != nil {
		return err
	}
	if now.Unix() >= c.ExpiresAt.Unix() {
		return selo.Errorf(selo.EUNAUTHORIZED, "the approval request expired at %s", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	digest := sha256.Sum256(c.DecisionBytes(approve))
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return selo.Errorf(selo.EUNAUTHORIZED, "the wallet's signature does not match this request, decision and device")
	}
	return nil
}
