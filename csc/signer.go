package csc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"io"
	"time"
)

// Signer is a crypto.Signer over a remote CSC credential: the key stays in
// the service, the digest travels, and each Sign asks the holder's approval
// through Approve. CMS, PAdES and XAdES code signs through it as with a
// local key.
type Signer struct {
	Client       *Client
	CredentialID string
	// Key is the credential's public key (from CredentialInfo's certificate).
	Key crypto.PublicKey
	// Approve returns the code that approves this signature: it may call
	// Client.SendOTP and ask the holder for the SMS, read an authenticator
	// or compute an authorizer code; "" means a wallet approval, which Sign
	// waits for.
	Approve func(ctx context.Context, credentialID string) (string, error)
	// Description is shown to the holder in the wallet.
	Description string
	// Context bounds each Sign (approval included); nil is context.Background.
	Context context.Context
	// PollInterval is how often a wallet approval is checked (1 s when 0).
	PollInterval time.Duration
}

// Public returns the credential's public key.
func (s *Signer) Public() crypto.PublicKey { return s.Key }

// Sign signs digest remotely. ECDSA signatures come back ASN.1 DER, RSA ones
// PKCS#1 v1.5 (RSASSA-PSS is not offered through this interface).
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	hashOID := HashOID(opts.HashFunc())
	if hashOID == "" {
		return nil, fmt.Errorf("csc: hash %v cannot be signed remotely", opts.HashFunc())
	}
	var signAlgo string
	switch s.Key.(type) {
	case *ecdsa.PublicKey:
		signAlgo = map[string]string{OIDSHA256: OIDECDSAWithSHA256, OIDSHA384: OIDECDSAWithSHA384, OIDSHA512: OIDECDSAWithSHA512}[hashOID]
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, fmt.Errorf("csc: RSASSA-PSS is not offered by csc.Signer")
		}
		signAlgo = OIDRSAEncryption
	default:
		return nil, fmt.Errorf("csc: unsupported public key %T", s.Key)
	}
	otp := ""
	if s.Approve != nil {
		var err error
		if otp, err = s.Approve(ctx, s.CredentialID); err != nil {
			return nil, err
		}
	}
	res, err := s.Client.Authorize(ctx, s.CredentialID, hashOID, [][]byte{digest}, otp, s.Description)
	if err != nil {
		return nil, err
	}
	if res.SAD == "" && res.ResponseID != "" {
		interval := s.PollInterval
		if interval <= 0 {
			interval = time.Second
		}
		if res, err = s.Client.WaitAuthorized(ctx, s.CredentialID, res.ResponseID, interval); err != nil {
			return nil, err
		}
	}
	sigs, err := s.Client.SignHash(ctx, s.CredentialID, res.SAD, hashOID, signAlgo, nil, [][]byte{digest})
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}
