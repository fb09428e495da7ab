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
// PKCS#11) or a remote credential (csc.Signer does the remote workflow).
type documentKey struct {
	cert     *x509.Certificate
	chain    []*x509.Certificate
	local    crypto.Signer
	remote   *csc.Signer
	codeOnce bool // the approval code comes from a file or the environment: it approves one batch
	loggedIn bool // this command logged in: its token is revoked by close
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
		return c.openRemoteKey(ctx, o.remote, o.passwordFile)
	}
	signer, cert, chain, err := c.signingKey(ctx, o)
	if err != nil {
		return nil, err
	}
	return &documentKey{cert: cert, chain: chain, local: signer}, nil
}

// close ends a session this command opened with the CSC service.
func (k *documentKey) close(ctx context.Context) {
	if k.loggedIn {
		_ = k.remote.Client.Revoke(ctx)
		k.loggedIn = false
	}
}

// approvals returns how many approvals signing n digests takes (0 for a
// local key).
func (k *documentKey) approvals(n int) int {
	if k.remote == nil || n == 0 {
		return 0
	}
	return k.remote.Approvals(n)
}

// signDigests signs every digest (hash h, signer options opts, as the
// prepared signatures say) and returns the signatures in order. A remote
// credential signs them with one approval per batch the service accepts.
func (k *documentKey) signDigests(ctx context.Context, h crypto.Hash, opts crypto.SignerOpts, digests [][]byte) ([][]byte, error) {
	if k.remote != nil {
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return nil, selo.Errorf(selo.EINVALID, "RSASSA-PSS is not offered through a remote credential")
		}
		if n := k.remote.Approvals(len(digests)); n > 1 && k.codeOnce && !k.remote.Wallet() {
			m := k.remote.BatchSize()
			return nil, selo.Errorf(selo.EINVALID, "%d documents need %d approvals (credential %s signs at most %d per approval) and one code approves one batch: "+
				"sign at most %d at a time, or type each code at the prompt", len(digests), n, k.remote.CredentialID, m, m)
		}
		sigs, err := k.remote.SignDigests(ctx, h, digests)
		return sigs, cscError(err)
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

// openRemoteKey logs in (with --user) or takes the token of 'selo csc
// login', and opens the credential's signer with the CLI's prompts.
func (c *cli) openRemoteKey(ctx context.Context, o remoteOptions, passwordFile string) (*documentKey, error) {
	k := &documentKey{codeOnce: o.otpFile != "" || os.Getenv("SELO_CSC_OTP") != ""}
	var client *csc.Client
	if o.user != "" {
		base, err := cscBaseURL(o.server)
		if err != nil {
			return nil, err
		}
		if client, err = csc.NewClient(base); err != nil {
			return nil, err
		}
		pw, err := c.readPassword(passwordFile, "SELO_CSC_PASSWORD", "Password for "+o.user, false)
		if err != nil {
			return nil, err
		}
		if _, err := client.Login(ctx, o.user, pw); err != nil {
			return nil, cscError(err)
		}
		k.loggedIn = true
	} else {
		var err error
		if client, err = c.cscClient(&cscOptions{server: o.server, tokenFile: o.tokenFile}, true); err != nil {
			return nil, err
		}
	}
	s, err := c.remoteSigner(ctx, client, o.credential, o.otpFile, o.description, o.wait)
	if err != nil {
		if k.loggedIn {
			_ = client.Revoke(ctx)
		}
		return nil, err
	}
	k.remote, k.cert, k.chain = s, s.Certificates[0], s.Certificates[1:]
	return k, nil
}

// remoteSigner opens credential cred's signer, its approvals asked for
// the command line's way: the code from otpFile, SELO_CSC_OTP or a prompt,
// or the wallet waited for up to wait with a note on stderr.
func (c *cli) remoteSigner(ctx context.Context, client *csc.Client, cred, otpFile, description string, wait time.Duration) (*csc.Signer, error) {
	s, err := csc.OpenSigner(ctx, client, cred)
	if err != nil {
		return nil, cscError(err)
	}
	s.Description, s.WalletTimeout = description, wait
	s.Approve = func(ctx context.Context, cred string) (string, error) {
		return c.readOTP(ctx, client, s.Credential, cred, otpFile)
	}
	s.OnBatch = func(batch, batches, hashes int) {
		fmt.Fprintf(c.stderr, "approval %d of %d (%d hashes)\n", batch, batches, hashes)
	}
	s.OnWalletWait = func(responseID string, hashes int) {
		fmt.Fprintf(c.stderr, "waiting for the holder to approve request %s in the wallet (%d hash(es))...\n", responseID, hashes)
	}
	return s, nil
}
