package csc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
)

// Signer is the remote-signing workflow over one CSC credential: the key
// stays in the service, the digests travel, and each batch of at most the
// credential's multisign hashes takes one approval of the holder (an SMS,
// authenticator or authorizer code from Approve, or a wallet approval that
// Signer waits for). Every signature that comes back is verified against the
// credential's certificate before it is returned. Signer is also a
// crypto.Signer, so CMS, PAdES and XAdES code signs through it as with a
// local key; the CLI, the PKCS#11 module and integrators share it.
type Signer struct {
	Client       *Client
	CredentialID string
	// Key is the credential's public key (from CredentialInfo's certificate).
	Key crypto.PublicKey
	// Credential is what credentials/info says (OpenSigner fills it): when
	// set, its approval type, multisign, key/algo and status are honoured.
	Credential *CredentialDetail
	// Certificates is the credential's chain, leaf first (OpenSigner).
	Certificates []*x509.Certificate
	// Approve returns the code that approves one batch: it may call
	// Client.SendOTP and ask the holder for the SMS, read an authenticator
	// or compute an authorizer code; "" means a wallet approval, which the
	// Signer waits for. It is not called for a wallet credential.
	Approve func(ctx context.Context, credentialID string) (string, error)
	// OnBatch, when set, is told before each approval of a signing that
	// takes more than one (batch counts from 1).
	OnBatch func(batch, batches, hashes int)
	// OnWalletWait, when set, is told that the service waits for the holder
	// to approve request responseID in the wallet: the place to say so, or
	// to show the approval as a QR code for a wallet that is offline.
	OnWalletWait func(responseID string, hashes int)
	// WalletTimeout bounds the wait for a wallet approval (0: the context's).
	WalletTimeout time.Duration
	// Description is shown to the holder in the wallet.
	Description string
	// Context bounds each Sign (approval included); nil is context.Background.
	Context context.Context
	// PollInterval is how often a wallet approval is checked (1 s when 0).
	PollInterval time.Duration

	mu sync.Mutex // guards the first reading of Credential
}

// OpenSigner reads the credential's details and certificate chain through
// client (which carries the access token) and returns its Signer; the
// caller sets Approve and the other callbacks. A Signer made as a literal
// reads them on its first signature.
func OpenSigner(ctx context.Context, client *Client, credentialID string) (*Signer, error) {
	d, err := client.CredentialInfo(ctx, credentialID)
	if err != nil {
		return nil, err
	}
	d.CredentialID = credentialID
	certs, err := d.Certificates()
	if err != nil {
		return nil, err
	}
	return &Signer{Client: client, CredentialID: credentialID, Key: certs[0].PublicKey, Credential: d, Certificates: certs}, nil
}

// open reads the credential's details when the Signer was made without
// OpenSigner: the approval type, multisign and key/algo decide how it signs.
func (s *Signer) open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Credential != nil {
		return nil
	}
	o, err := OpenSigner(ctx, s.Client, s.CredentialID)
	if err != nil {
		return err
	}
	s.Credential, s.Certificates = o.Credential, o.Certificates
	if s.Key == nil {
		s.Key = o.Key
	}
	return nil
}

// Public returns the credential's public key.
func (s *Signer) Public() crypto.PublicKey { return s.Key }

// BatchSize is the most hashes one approval covers: the credential's
// multisign, 1 when the service does not say.
func (s *Signer) BatchSize() int {
	if s.Credential == nil {
		return 1
	}
	return max(s.Credential.Multisign, 1)
}

// Approvals returns how many approvals signing n digests takes.
func (s *Signer) Approvals(n int) int {
	m := s.BatchSize()
	return (n + m - 1) / m
}

// Wallet says whether the credential is approved in the holder's wallet
// (no code).
func (s *Signer) Wallet() bool {
	return s.Credential != nil && s.Credential.Auth.Approval == string(selo.ApprovalWallet)
}

// CheckUsable refuses a credential that the service says cannot sign now
// (its key disabled, its certificate revoked, suspended, superseded or
// expired), so that no approval is spent on it.
func (s *Signer) CheckUsable() error {
	d := s.Credential
	if d == nil {
		return nil
	}
	if d.Cert.Status != "" && d.Cert.Status != "valid" {
		return selo.Errorf(selo.EFORBIDDEN, "the certificate of credential %s is %s: it cannot sign; no approval was asked for", s.CredentialID, d.Cert.Status)
	}
	if d.Key.Status == "disabled" {
		return selo.Errorf(selo.EFORBIDDEN, "credential %s is disabled or locked: it cannot sign now; no approval was asked for", s.CredentialID)
	}
	return nil
}

// SignAlgo chooses the signAlgo for digests of h. The CSC API v2
// (signatures/signHash) requires one of the values the credential lists in
// key/algo, hashAlgorithmOID being sent besides when the signAlgo implies no
// hash: for RSA, sha*WithRSAEncryption when listed (it binds the hash), else
// rsaEncryption. A credential that lists nothing fitting is refused before
// any approval; one whose algorithms are unknown gets the hash-binding OID
// for ECDSA and rsaEncryption (the spec's own example) for RSA.
func (s *Signer) SignAlgo(h crypto.Hash) (string, error) {
	var candidates []string
	switch s.Key.(type) {
	case *ecdsa.PublicKey:
		if a := map[crypto.Hash]string{crypto.SHA256: OIDECDSAWithSHA256, crypto.SHA384: OIDECDSAWithSHA384, crypto.SHA512: OIDECDSAWithSHA512}[h]; a != "" {
			candidates = []string{a}
		}
	case *rsa.PublicKey:
		if a := map[crypto.Hash]string{crypto.SHA256: OIDSHA256WithRSA, crypto.SHA384: OIDSHA384WithRSA, crypto.SHA512: OIDSHA512WithRSA}[h]; a != "" {
			candidates = []string{a, OIDRSAEncryption}
		}
	default:
		return "", selo.Errorf(selo.EINVALID, "the certificate of credential %s holds a %T key, which this client does not sign with", s.CredentialID, s.Key)
	}
	if len(candidates) == 0 || HashOID(h) == "" {
		return "", selo.Errorf(selo.EINVALID, "%v cannot be signed with credential %s; no approval was asked for", h, s.CredentialID)
	}
	if s.Credential == nil || len(s.Credential.Key.Algo) == 0 {
		return candidates[len(candidates)-1], nil
	}
	for _, a := range candidates {
		if slices.Contains(s.Credential.Key.Algo, a) {
			return a, nil
		}
	}
	return "", selo.Errorf(selo.EINVALID, "credential %s offers none of the algorithms that sign %v with its key; no approval was asked for", s.CredentialID, h)
}

// Sign signs digest remotely with one approval. ECDSA signatures come back
// ASN.1 DER, RSA ones PKCS#1 v1.5 (RSASSA-PSS is not offered through this
// interface).
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS is not offered through a remote credential")
	}
	sigs, err := s.SignDigests(ctx, opts.HashFunc(), [][]byte{digest})
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// SignDigests signs digests of hash h and returns the signatures in order:
// one credentials/authorize (one approval) and one signatures/signHash per
// batch of at most BatchSize hashes. Everything that can be checked before
// an approval is (the algorithm, the credential's status); every signature
// is verified against the credential's key, and none is returned unless all
// verify.
func (s *Signer) SignDigests(ctx context.Context, h crypto.Hash, digests [][]byte) ([][]byte, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	signAlgo, err := s.SignAlgo(h)
	if err != nil {
		return nil, err
	}
	return s.signDigests(ctx, h, digests, signAlgo, VerifySignature)
}

// SignDigestsPSS is SignDigests with RSASSA-PSS (MGF1 with h, a salt as
// long as the hash): for callers that choose the padding, such as the
// PKCS#11 module's CKM_RSA_PKCS_PSS. The credential's key must be RSA and,
// where the service lists its algorithms, offer RSASSA-PSS.
func (s *Signer) SignDigestsPSS(ctx context.Context, h crypto.Hash, digests [][]byte) ([][]byte, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	pub, ok := s.Key.(*rsa.PublicKey)
	if !ok || HashOID(h) == "" {
		return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS with %v needs an RSA credential; no approval was asked for", h)
	}
	if s.Credential != nil && len(s.Credential.Key.Algo) > 0 && !slices.Contains(s.Credential.Key.Algo, OIDRSAPSS) {
		return nil, selo.Errorf(selo.EINVALID, "credential %s does not offer RSASSA-PSS; no approval was asked for", s.CredentialID)
	}
	return s.signDigests(ctx, h, digests, OIDRSAPSS, func(_ crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
		return rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	})
}

// signDigests signs with signAlgo and checks each signature with verify.
func (s *Signer) signDigests(ctx context.Context, h crypto.Hash, digests [][]byte, signAlgo string, verify func(crypto.PublicKey, crypto.Hash, []byte, []byte) error) ([][]byte, error) {
	for i, d := range digests {
		if len(d) != h.Size() {
			return nil, selo.Errorf(selo.EINVALID, "hash %d is %d bytes, not the %d of %v; no approval was asked for", i+1, len(d), h.Size(), h)
		}
	}
	if err := s.CheckUsable(); err != nil {
		return nil, err
	}
	hashOID := HashOID(h)
	m := s.BatchSize()
	batches := s.Approvals(len(digests))
	sigs := make([][]byte, 0, len(digests))
	for start := 0; start < len(digests); start += m {
		chunk := digests[start:min(start+m, len(digests))]
		if batches > 1 && s.OnBatch != nil {
			s.OnBatch(start/m+1, batches, len(chunk))
		}
		sad, err := s.authorize(ctx, hashOID, chunk)
		if err != nil {
			return nil, err
		}
		got, err := s.Client.SignHash(ctx, s.CredentialID, sad, hashOID, signAlgo, nil, chunk)
		if err != nil {
			return nil, err
		}
		if len(got) != len(chunk) {
			return nil, fmt.Errorf("csc: %d signatures for %d hashes from credential %s", len(got), len(chunk), s.CredentialID)
		}
		for i, sig := range got {
			if err := verify(s.Key, h, chunk[i], sig); err != nil {
				return nil, fmt.Errorf("signature %d does not verify against the certificate of credential %s: %w", start+i+1, s.CredentialID, err)
			}
		}
		sigs = append(sigs, got...)
	}
	return sigs, nil
}

// authorize gets a SAD for hashes, approved the way the credential says.
func (s *Signer) authorize(ctx context.Context, hashOID string, hashes [][]byte) (string, error) {
	otp := ""
	if s.Approve != nil && !s.Wallet() {
		var err error
		if otp, err = s.Approve(ctx, s.CredentialID); err != nil {
			return "", err
		}
	}
	res, err := s.Client.Authorize(ctx, s.CredentialID, hashOID, hashes, otp, s.Description)
	if err != nil {
		return "", err
	}
	if res.SAD != "" {
		return res.SAD, nil
	}
	if otp != "" || res.ResponseID == "" {
		return "", fmt.Errorf("csc: the service answered credentials/authorize without a SAD")
	}
	if s.OnWalletWait != nil {
		s.OnWalletWait(res.ResponseID, len(hashes))
	}
	wctx := ctx
	if s.WalletTimeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, s.WalletTimeout)
		defer cancel()
	}
	interval := s.PollInterval
	if interval <= 0 {
		interval = time.Second
	}
	done, err := s.Client.WaitAuthorized(wctx, s.CredentialID, res.ResponseID, interval)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return "", selo.Errorf(selo.EFORBIDDEN, "the holder did not approve request %s within %s", res.ResponseID, s.WalletTimeout)
	} else if err != nil {
		return "", err
	}
	return done.SAD, nil
}

// VerifySignature checks a signature the service returned over digest (of
// hash h) against the credential's public key: ASN.1 ECDSA or PKCS#1 v1.5.
func VerifySignature(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("unsupported key %T", pub)
}
