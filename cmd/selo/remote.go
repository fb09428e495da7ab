package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// remoteOptions name a remote credential (CSC API v2) for the sign commands.
type remoteOptions struct {
	credential, server, user, tokenFile, otpFile, description string
	wait                                                      time.Duration
}

// remoteKeyHelp is the paragraph the sign commands' help gives remote keys.
const remoteKeyHelp = `With --credential the key is a remote credential of a CSC API v2 service
(Selo's 'selo serve' or another's): the documents are hashed here and only
the hashes travel; the service signs them after the holder's approval. Log
in first with 'selo csc login' (the token file is used, as by 'selo csc'),
or give --csc URL --user EMAIL with the password in --password-file,
SELO_CSC_PASSWORD or a prompt. The approval follows the credential: the SMS,
authenticator or authorizer code from --otp-file, SELO_CSC_OTP or a prompt
(on a terminal an SMS is sent first; otherwise run 'selo csc send-otp CRED'),
or the holder's approval in the wallet, waited for up to --wait. Everything
local (the input read, the output folder writable, the algorithm and the
credential's status) is checked before an approval is asked for, so a local
failure never uses up a code. Nothing is written until the signature is back
and checked against the certificate.`

// addRemoteFlags adds the remote-credential flags to a sign command.
func addRemoteFlags(cmd *cobra.Command, o *remoteOptions) {
	f := cmd.Flags()
	f.StringVar(&o.credential, "credential", "", "ID of a remote (CSC) credential to sign with")
	f.StringVar(&o.server, "csc", "", "CSC service base URL (default: the one 'selo csc login' logged in to)")
	f.StringVar(&o.user, "user", "", "log in to --csc with this e-mail (password from --password-file, SELO_CSC_PASSWORD or a prompt)")
	f.StringVar(&o.tokenFile, "token-file", "", "access token file of 'selo csc login' (default ~/.config/selo/csc-token.json)")
	f.StringVar(&o.otpFile, "otp-file", "", "file holding the approval code (or SELO_CSC_OTP, or a prompt)")
	f.StringVar(&o.description, "description", "", "what is being signed, shown to the holder in the wallet (default: the file names)")
	f.DurationVar(&o.wait, "wait", 3*time.Minute, "how long to wait for a wallet approval")
}

// checkKeyOptions checks that the options name exactly one key.
func checkKeyOptions(o signFileOptions) error {
	n := 0
	for _, s := range []string{o.pfx, o.pkcs11Key, o.remote.credential} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("give exactly one of --pfx, --pkcs11-key and --credential")
	}
	if o.pkcs11Key != "" && o.certFile == "" {
		return usagef("--pkcs11-key needs --cert with the key's certificate")
	}
	if o.remote.credential == "" && (o.remote.server != "" || o.remote.user != "" || o.remote.otpFile != "") {
		return usagef("--csc, --user and --otp-file go with --credential")
	}
	if o.remote.user != "" && o.remote.server == "" {
		return usagef("--user needs --csc with the service's URL")
	}
	return nil
}

// documentKey is the key a sign command signs with: a local one (.pfx or
// PKCS#11) or a remote credential.
type documentKey struct {
	cert   *x509.Certificate
	chain  []*x509.Certificate
	local  crypto.Signer
	remote *remoteCredential
}

// openFileKey opens the key for signing one file: without --description
// the holder's wallet shows the file's name.
func (c *cli) openFileKey(ctx context.Context, o signFileOptions, file string) (*documentKey, error) {
	if o.remote.description == "" {
		o.remote.description = filepath.Base(file)
	}
	return c.openDocumentKey(ctx, o)
}

// openDocumentKey opens the key the options name; close it when done.
func (c *cli) openDocumentKey(ctx context.Context, o signFileOptions) (*documentKey, error) {
	if o.remote.credential != "" {
		r, err := c.openRemoteCredential(ctx, o.remote, o.passwordFile)
		if err != nil {
			return nil, err
		}
		return &documentKey{cert: r.certs[0], chain: r.certs[1:], remote: r}, nil
	}
	signer, cert, chain, err := c.signingKey(ctx, o)
	if err != nil {
		return nil, err
	}
	return &documentKey{cert: cert, chain: chain, local: signer}, nil
}

// close ends a session this command opened with the CSC service.
func (k *documentKey) close(ctx context.Context) {
	if k.remote != nil {
		k.remote.close(ctx)
	}
}

// approvals returns how many approvals signing n digests takes (0 for a
// local key).
func (k *documentKey) approvals(n int) int {
	if k.remote == nil || n == 0 {
		return 0
	}
	m := k.remote.batchSize()
	return (n + m - 1) / m
}

// signDigests signs every digest (hash h, signer options opts, as the
// prepared signatures say) and returns the signatures in order. A remote
// credential signs them with one approval per batch the service accepts.
func (k *documentKey) signDigests(ctx context.Context, h crypto.Hash, opts crypto.SignerOpts, digests [][]byte) ([][]byte, error) {
	if k.remote != nil {
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS is not offered through a remote credential")
		}
		return k.remote.signDigests(ctx, h, digests)
	}
	sigs := make([][]byte, len(digests))
	for i, d := range digests {
		sig, err := k.local.Sign(rand.Reader, d, opts)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

// remoteCredential is an open CSC credential: a client with an access
// token, the credential's details and its certificate chain, leaf first.
type remoteCredential struct {
	c        *cli
	client   *csc.Client
	o        remoteOptions
	detail   *csc.CredentialDetail
	certs    []*x509.Certificate
	loggedIn bool // this command logged in: its token is revoked by close
}

// openRemoteCredential logs in (with --user) or takes the token of 'selo
// csc login', and reads the credential's details and chain.
func (c *cli) openRemoteCredential(ctx context.Context, o remoteOptions, passwordFile string) (*remoteCredential, error) {
	r := &remoteCredential{c: c, o: o}
	if o.user != "" {
		base, err := cscBaseURL(o.server)
		if err != nil {
			return nil, err
		}
		if r.client, err = csc.NewClient(base); err != nil {
			return nil, err
		}
		pw, err := c.readPassword(passwordFile, "SELO_CSC_PASSWORD", "Password for "+o.user, false)
		if err != nil {
			return nil, err
		}
		if _, err := r.client.Login(ctx, o.user, pw); err != nil {
			return nil, cscError(err)
		}
		r.loggedIn = true
	} else {
		cl, err := c.cscClient(&cscOptions{server: o.server, tokenFile: o.tokenFile}, true)
		if err != nil {
			return nil, err
		}
		r.client = cl
	}
	d, err := r.client.CredentialInfo(ctx, o.credential)
	if err != nil {
		r.close(ctx)
		return nil, cscError(err)
	}
	d.CredentialID = o.credential
	if r.certs, err = d.Certificates(); err != nil {
		r.close(ctx)
		return nil, err
	}
	r.detail = d
	return r, nil
}

// close revokes the access token when this command logged in itself.
func (r *remoteCredential) close(ctx context.Context) {
	if r.loggedIn {
		_ = r.client.Revoke(ctx)
		r.loggedIn = false
	}
}

// batchSize is the most hashes one approval covers (the credential's
// multisign; 1 when the service does not say).
func (r *remoteCredential) batchSize() int {
	return max(r.detail.Multisign, 1)
}

// signDigests gets the digests signed: one credentials/authorize (one
// approval) and one signatures/signHash per batch of at most multisign
// hashes. Every signature is checked against the credential's certificate.
func (r *remoteCredential) signDigests(ctx context.Context, h crypto.Hash, digests [][]byte) ([][]byte, error) {
	hashOID := csc.HashOID(h)
	signAlgo, err := cscSignAlgo(r.certs[0].PublicKey, h)
	if err != nil {
		return nil, err
	}
	if hashOID == "" || signAlgo == "" {
		return nil, selo.Errorf(selo.EINVALID, "%v cannot be signed through a remote credential", h)
	}
	if err := checkRemoteUsable(r.detail.CredentialID, r.detail); err != nil {
		return nil, err
	}
	m := r.batchSize()
	batches := (len(digests) + m - 1) / m
	if batches > 1 && r.detail.Auth.Approval != string(selo.ApprovalWallet) && (r.o.otpFile != "" || os.Getenv("SELO_CSC_OTP") != "") {
		return nil, selo.Errorf(selo.EINVALID, "%d documents need %d approvals (credential %s signs at most %d per approval) and one code approves one batch: "+
			"sign at most %d at a time, or type each code at the prompt", len(digests), batches, r.detail.CredentialID, m, m)
	}
	sigs := make([][]byte, 0, len(digests))
	for start := 0; start < len(digests); start += m {
		chunk := digests[start:min(start+m, len(digests))]
		if batches > 1 {
			fmt.Fprintf(r.c.stderr, "approval %d of %d (%d hashes)\n", start/m+1, batches, len(chunk))
		}
		sad, err := r.c.cscAuthorize(ctx, r.client, r.detail, r.detail.CredentialID, hashOID, chunk, r.o.otpFile, r.o.description, r.o.wait)
		if err != nil {
			return nil, err
		}
		got, err := r.client.SignHash(ctx, r.detail.CredentialID, sad, hashOID, signAlgo, nil, chunk)
		if err != nil {
			return nil, cscError(err)
		}
		for i, sig := range got {
			if err := verifySignature(r.certs[0].PublicKey, h, chunk[i], sig); err != nil {
				return nil, fmt.Errorf("signature %d does not verify against the certificate of credential %s: %w", start+i+1, r.detail.CredentialID, err)
			}
		}
		sigs = append(sigs, got...)
	}
	return sigs, nil
}
