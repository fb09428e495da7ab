package main

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/server"
)

// cscOptions are the flags every `selo csc` command shares.
type cscOptions struct {
	server, tokenFile string
}

// cscToken is what `selo csc login` keeps in the token file. The token is
// only ever sent to the server it was issued by.
type cscToken struct {
	Server      string    `json:"server"`
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

const cscLong = `The csc commands are an integrator's client of a CSC API v2 service (Cloud
Signature Consortium), Selo's or another's: log in with a holder's e-mail and
password, list the holder's credentials, and sign hashes or files with one
approval for the whole batch (an SMS code, an authenticator or authorizer
code, or the holder's approval in the wallet). Every signature is verified
against the credential's certificate before the command reports success.

  selo csc info --server https://sign.example.eu
  selo csc login --server https://sign.example.eu --email maria@example.pt
  selo csc credentials
  selo csc send-otp CRED
  selo csc sign-hash CRED --file invoice-1.pdf --file invoice-2.pdf

--server takes the service's base URL; /csc/v2 is added unless the URL
already ends with it. login keeps the access token in a token file readable by
you only (--token-file, default $XDG_CONFIG_HOME/selo/csc-token.json, i.e.
~/.config/selo/csc-token.json), together with the server it belongs to, so
the later commands need neither; SELO_CSC_TOKEN gives a token instead (with
--server). Passwords and codes come from files, the environment or a prompt,
never from the command line.`

func (c *cli) cscCommand() *cobra.Command {
	var o cscOptions
	cmd := &cobra.Command{
		Use:   "csc",
		Short: "Sign remotely through a CSC API v2 service (the integrator's client)",
		Long:  cscLong,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", "", "CSC service base URL, e.g. https://sign.example.eu (default: the one logged in to)")
	pf.StringVar(&o.tokenFile, "token-file", "", "file that keeps the access token (default ~/.config/selo/csc-token.json)")
	cmd.AddCommand(c.cscInfoCommand(&o), c.cscLoginCommand(&o), c.cscLogoutCommand(&o), c.cscCredentialsCommand(&o),
		c.cscSendOTPCommand(&o), c.cscSignHashCommand(&o))
	return cmd
}

// cscBaseURL turns what --server says into the CSC base URL.
func cscBaseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", usagef("--server %q is not an http(s) base URL", s)
	}
	if !strings.HasSuffix(u.Path, server.CSCPrefix) {
		u.Path += server.CSCPrefix
	}
	return u.String(), nil
}

func (o *cscOptions) tokenPath() (string, error) {
	if o.tokenFile != "" {
		return o.tokenFile, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "no user config directory (%v): give --token-file", err)
	}
	return filepath.Join(dir, "selo", "csc-token.json"), nil
}

// readToken reads the token file; nil when there is none.
func (o *cscOptions) readToken() (*cscToken, error) {
	path, err := o.tokenPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	var t cscToken
	if err := json.Unmarshal(b, &t); err != nil || t.Server == "" {
		return nil, selo.Errorf(selo.EINVALID, "%s is damaged: run 'selo csc login' again", path)
	}
	return &t, nil
}

// writeToken replaces the token file atomically, readable by its owner only.
func (o *cscOptions) writeToken(t *cscToken) (string, error) {
	path, err := o.tokenPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(t, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".csc-token-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// client returns a CSC client of the chosen server; with authed it carries
// the access token, which must exist.
func (c *cli) cscClient(o *cscOptions, authed bool) (*csc.Client, error) {
	tok, err := o.readToken()
	if err != nil && (authed || o.server == "") {
		return nil, err
	}
	base := ""
	switch {
	case o.server != "":
		if base, err = cscBaseURL(o.server); err != nil {
			return nil, err
		}
	case tok != nil:
		base = tok.Server
	default:
		return nil, usagef("give --server (or log in first with 'selo csc login --server URL')")
	}
	var opts []csc.ClientOption
	if authed {
		switch {
		case os.Getenv("SELO_CSC_TOKEN") != "":
			opts = append(opts, csc.WithAccessToken(os.Getenv("SELO_CSC_TOKEN")))
		case tok != nil && tok.Server == base:
			// Never send a token to a server other than the one that issued it.
			opts = append(opts, csc.WithAccessToken(tok.AccessToken))
		default:
			return nil, selo.Errorf(selo.EUNAUTHORIZED, "not logged in to %s: run 'selo csc login' (or set SELO_CSC_TOKEN)", base)
		}
	}
	return csc.NewClient(base, opts...)
}

// cscError turns a CSC error answer into an error the command line reports
// with the service's own words; other errors pass unchanged.
func cscError(err error) error {
	var e *csc.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Name
	if e.Description != "" {
		msg += ": " + e.Description
	}
	switch e.Name {
	case csc.ErrInvalidToken:
		return selo.Errorf(selo.EUNAUTHORIZED, "%s (log in again with 'selo csc login')", msg)
	case csc.ErrInvalidOTP, csc.ErrAuthenticationError:
		return selo.Errorf(selo.EUNAUTHORIZED, "%s", msg)
	case csc.ErrAccessDenied:
		return selo.Errorf(selo.EFORBIDDEN, "%s", msg)
	case csc.ErrServerError:
		return fmt.Errorf("the CSC service failed: %s", msg)
	}
	return selo.Errorf(selo.EINVALID, "%s", msg)
}

func (c *cli) cscInfoCommand(o *cscOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "info --server URL",
		Short:   "Show what a CSC service says about itself (no login needed)",
		Example: "  selo csc info --server https://sign.example.eu\n  selo csc info --server http://127.0.0.1:8080 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.cscClient(o, false)
			if err != nil {
				return err
			}
			info, err := cl.Info(cmd.Context())
			if err != nil {
				return cscError(err)
			}
			if c.jsonOut {
				return c.printJSON(info)
			}
			fmt.Fprintf(c.stdout, "Name:        %s\nSpecs:       CSC API %s\n", info.Name, info.Specs)
			if info.Region != "" {
				fmt.Fprintf(c.stdout, "Region:      %s\n", info.Region)
			}
			fmt.Fprintf(c.stdout, "Language:    %s\n", info.Lang)
			if info.Description != "" {
				fmt.Fprintf(c.stdout, "Description: %s\n", info.Description)
			}
			fmt.Fprintf(c.stdout, "Auth types:  %s\nMethods:     %s\n", strings.Join(info.AuthType, ", "), strings.Join(info.Methods, ", "))
			names := make([]string, len(info.SignAlgorithms.Algos))
			for i, a := range info.SignAlgorithms.Algos {
				names[i] = signAlgoName(a)
			}
			fmt.Fprintf(c.stdout, "Algorithms:  %s\n", strings.Join(names, ", "))
			return nil
		},
	}
}

func (c *cli) cscLoginCommand(o *cscOptions) *cobra.Command {
	var email, passwordFile string
	cmd := &cobra.Command{
		Use:   "login --server URL --email EMAIL [--password-file FILE]",
		Short: "Log in with a holder's e-mail and password and keep the access token",
		Long: `Login calls auth/login with the holder's e-mail and password (HTTP Basic) and
keeps the access token in the token file (0600), with the server it belongs
to. The password comes from --password-file, SELO_CSC_PASSWORD or a prompt.
The token is never printed, except with --json (for scripts that pass it on in
SELO_CSC_TOKEN).`,
		Example: `  selo csc login --server https://sign.example.eu --email maria@example.pt
  SELO_CSC_PASSWORD=... selo csc login --server https://sign.example.eu --email erp@example.pt --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.server == "" || email == "" {
				return usagef("csc login needs --server and --email")
			}
			base, err := cscBaseURL(o.server)
			if err != nil {
				return err
			}
			cl, err := csc.NewClient(base)
			if err != nil {
				return err
			}
			pw, err := c.readPassword(passwordFile, "SELO_CSC_PASSWORD", "Password for "+email, false)
			if err != nil {
				return err
			}
			res, err := cl.Login(cmd.Context(), email, pw)
			if err != nil {
				return cscError(err)
			}
			tok := &cscToken{Server: base, AccessToken: res.AccessToken, ExpiresAt: time.Now().Add(time.Duration(res.ExpiresIn) * time.Second).UTC().Truncate(time.Second)}
			path, err := o.writeToken(tok)
			if err != nil {
				return fmt.Errorf("keep the access token: %w", err)
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"server": base, "access_token": res.AccessToken, "expires_in": res.ExpiresIn,
					"expires_at": tok.ExpiresAt, "token_file": path})
			}
			fmt.Fprintf(c.stdout, "logged in to %s as %s until %s (token kept in %s)\n", base, email, tok.ExpiresAt.Local().Format("15:04:05"), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the holder's e-mail (the login)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "file holding the holder's password")
	return cmd
}

func (c *cli) cscLogoutCommand(o *cscOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "logout",
		Short:   "Revoke the access token (auth/revoke) and delete the token file",
		Example: "  selo csc logout",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.cscClient(o, true)
			if err != nil {
				return err
			}
			err = cl.Revoke(cmd.Context())
			if err != nil && csc.ErrorName(err) != csc.ErrInvalidToken {
				return cscError(err)
			}
			if path, perr := o.tokenPath(); perr == nil && os.Getenv("SELO_CSC_TOKEN") == "" {
				if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					return rerr
				}
			}
			fmt.Fprintln(c.stdout, "logged out")
			return nil
		},
	}
}

// keyName says what a credential's key is, e.g. "ECDSA P-256" or "RSA 3072".
func keyName(k csc.KeyInfo) string {
	switch k.Curve {
	case csc.OIDCurveP256:
		return "ECDSA P-256"
	case csc.OIDCurveP384:
		return "ECDSA P-384"
	case csc.OIDCurveP521:
		return "ECDSA P-521"
	}
	for _, a := range k.Algo {
		if a == csc.OIDRSAEncryption || a == csc.OIDSHA256WithRSA {
			return fmt.Sprintf("RSA %d", k.Len)
		}
	}
	return fmt.Sprintf("%d bits", k.Len)
}

// signAlgoName names a signAlgo OID for people.
func signAlgoName(oid string) string {
	if n, ok := map[string]string{
		csc.OIDECDSAWithSHA256: "ecdsa-with-SHA256", csc.OIDECDSAWithSHA384: "ecdsa-with-SHA384", csc.OIDECDSAWithSHA512: "ecdsa-with-SHA512",
		csc.OIDRSAEncryption: "rsaEncryption", csc.OIDRSAPSS: "RSASSA-PSS", csc.OIDSHA256WithRSA: "sha256WithRSAEncryption",
		csc.OIDSHA384WithRSA: "sha384WithRSAEncryption", csc.OIDSHA512WithRSA: "sha512WithRSAEncryption",
	}[oid]; ok {
		return n
	}
	return oid
}

// cscCredentialOutput is one credential as --json prints it.
type cscCredentialOutput struct {
	ID                 string   `json:"id"`
	Description        string   `json:"description,omitempty"`
	Approval           string   `json:"approval"`
	AuthMode           string   `json:"auth_mode"`
	SCAL               string   `json:"scal"`
	Key                string   `json:"key"`
	KeyStatus          string   `json:"key_status"`
	SignAlgorithms     []string `json:"sign_algorithms"`
	MaxHashes          int      `json:"max_hashes"`
	SignatureQualifier string   `json:"signature_qualifier,omitempty"`
	CertStatus         string   `json:"cert_status"`
	Subject            string   `json:"subject"`
	Issuer             string   `json:"issuer"`
	Serial             string   `json:"serial"`
	ValidFrom          string   `json:"valid_from"`
	ValidTo            string   `json:"valid_to"`
}

func cscCredential(d *csc.CredentialDetail) cscCredentialOutput {
	return cscCredentialOutput{
		ID: d.CredentialID, Description: d.Description, Approval: d.Auth.Approval, AuthMode: d.Auth.Mode, SCAL: d.SCAL,
		Key: keyName(d.Key), KeyStatus: d.Key.Status, SignAlgorithms: d.Key.Algo, MaxHashes: d.Multisign,
		SignatureQualifier: d.SignatureQualifier, CertStatus: d.Cert.Status, Subject: d.Cert.SubjectDN, Issuer: d.Cert.IssuerDN,
		Serial: d.Cert.SerialNumber, ValidFrom: d.Cert.ValidFrom, ValidTo: d.Cert.ValidTo,
	}
}

func (c *cli) cscCredentialsCommand(o *cscOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "credentials [CRED...]",
		Short: "List the holder's credentials (credentials/list), or show the ones named (credentials/info)",
		Example: `  selo csc credentials
  selo csc credentials --json
  selo csc credentials 3f2a9c1e...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.cscClient(o, true)
			if err != nil {
				return err
			}
			var out []cscCredentialOutput
			if len(args) == 0 {
				list, err := cl.ListCredentials(cmd.Context())
				if err != nil {
					return cscError(err)
				}
				for i := range list.CredentialInfos {
					out = append(out, cscCredential(&list.CredentialInfos[i]))
				}
			}
			for _, id := range args {
				d, err := cl.CredentialInfo(cmd.Context(), id)
				if err != nil {
					return cscError(err)
				}
				d.CredentialID = id
				out = append(out, cscCredential(d))
			}
			if c.jsonOut {
				if out == nil {
					out = []cscCredentialOutput{}
				}
				return c.printJSON(out)
			}
			if len(args) > 0 {
				for _, d := range out {
					fmt.Fprintf(c.stdout, "Credential:  %s\n", d.ID)
					if d.Description != "" {
						fmt.Fprintf(c.stdout, "Description: %s\n", d.Description)
					}
					fmt.Fprintf(c.stdout, "Approval:    %s (auth mode %s, SCAL %s)\nKey:         %s, %s, at most %d hashes per approval\n",
						d.Approval, d.AuthMode, d.SCAL, d.Key, d.KeyStatus, d.MaxHashes)
					fmt.Fprintf(c.stdout, "Certificate: %s\nIssuer:      %s\nSerial:      %s\nValidity:    %s to %s (%s)\n\n",
						d.Subject, d.Issuer, d.Serial, d.ValidFrom, d.ValidTo, d.CertStatus)
				}
				return nil
			}
			if len(out) == 0 {
				fmt.Fprintln(c.stdout, "no credentials")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAPPROVAL\tSCAL\tKEY\tSTATUS\tSUBJECT\tVALID TO")
			for _, d := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Approval, d.SCAL, d.Key, d.KeyStatus, d.Subject, d.ValidTo)
			}
			return tw.Flush()
		},
	}
}

func (c *cli) cscSendOTPCommand(o *cscOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "send-otp CRED",
		Short:   "Have the service text the holder a one-time code for an SMS credential",
		Example: "  selo csc send-otp 3f2a9c1e...\n  selo csc sign-hash 3f2a9c1e... --file invoice.pdf   # then type the code",
		Args:    exactArgs(1, "csc send-otp needs a credential ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.cscClient(o, true)
			if err != nil {
				return err
			}
			if err := cl.SendOTP(cmd.Context(), args[0]); err != nil {
				return cscError(err)
			}
			fmt.Fprintf(c.stdout, "code sent for credential %s\n", args[0])
			return nil
		},
	}
}

// cscHashes maps --hash-alg to the hash and its OID.
var cscHashes = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

// cscSigned is one signature as sign-hash reports it.
type cscSigned struct {
	File          string `json:"file,omitempty"`
	Hash          string `json:"hash"` // hex
	Signature     string `json:"signature"`
	SignatureFile string `json:"signature_file,omitempty"`
}

const cscSignHashLong = `Sign-hash signs a batch of hashes, or of files hashed here, with one
approval for the whole batch (CSC credentials/authorize, then
signatures/signHash), and verifies every signature against the credential's
certificate before it reports success; nothing is written when one fails.
Before an approval is asked for, the files are read, the signature files'
folders (and --cert-out's) are checked writable, and the credential must be
enabled with a valid certificate: a local failure never uses up a code.

The approval follows the credential's type:
  sms            the code texted to the holder: with a terminal the command
                 asks the service to send it and prompts; otherwise run
                 'selo csc send-otp CRED' first and give the code in
                 --otp-file or SELO_CSC_OTP
  authenticator  the holder's authenticator code (--otp-file, SELO_CSC_OTP or prompt)
  authorizer     a signature code from the authorizer's secret (same)
  wallet         no code: the holder approves in the wallet; the command waits
                 (up to --wait) polling credentials/authorizeCheck

The signature algorithm (signAlgo) is one the credential lists in key/algo,
as the CSC specification requires: for RSA sha256WithRSAEncryption (or the
SHA-384/512 one) when listed, else rsaEncryption with the hash's OID.

With --file, each signature is written as FILE.sig (DER: ASN.1 ECDSA-Sig-Value
or the PKCS#1 RSA signature; --out-dir puts them elsewhere), which
'openssl dgst -sha256 -verify pub.pem -signature FILE.sig FILE' checks. With
--hash, the signatures are printed (base64) beside their hashes.`

func (c *cli) cscSignHashCommand(o *cscOptions) *cobra.Command {
	var hashAlg, otpFile, outDir, certOut, description string
	var hashHex, files []string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "sign-hash CRED (--hash HEX... | --file FILE...) [--hash-alg sha256]",
		Short: "Sign hashes or files with a credential, one approval for the batch, and verify the signatures",
		Long:  cscSignHashLong,
		Example: `  selo csc sign-hash 3f2a9c1e... --file invoice-1.xml --file invoice-2.xml
  selo csc send-otp 3f2a9c1e... && SELO_CSC_OTP=123456 selo csc sign-hash 3f2a9c1e... --file a.pdf --out-dir sigs
  selo csc sign-hash 3f2a9c1e... --hash-alg sha384 --hash 5d3f...e1 --hash 9a0b...77 --json
  selo csc sign-hash 3f2a9c1e... --file contract.pdf --cert-out signer.pem --description "Lease 2027"`,
		Args: exactArgs(1, "csc sign-hash needs a credential ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cred := args[0]
			h, ok := cscHashes[strings.ToLower(hashAlg)]
			if !ok {
				return usagef("--hash-alg must be sha256, sha384 or sha512")
			}
			if (len(hashHex) == 0) == (len(files) == 0) {
				return usagef("csc sign-hash needs --hash or --file (one of them, repeatable)")
			}
			items, err := cscItems(h, hashHex, files, outDir)
			if err != nil {
				return err
			}
			// Everything local is checked before an approval is asked for:
			// a code is used up by the service as soon as it is checked.
			for _, it := range items {
				if it.sigFile != "" {
					if err := checkWritableFile(it.sigFile); err != nil {
						return err
					}
				}
			}
			if certOut != "" {
				if err := checkWritableFile(certOut); err != nil {
					return err
				}
			}
			cl, err := c.cscClient(o, true)
			if err != nil {
				return err
			}
			signer, err := c.remoteSigner(ctx, cl, cred, otpFile, description, wait)
			if err != nil {
				return err
			}
			certs := signer.Certificates
			if n := signer.Approvals(len(items)); n > 1 {
				return selo.Errorf(selo.ETOOLARGE, "%d hashes, but credential %s signs at most %d per approval: split the batch", len(items), cred, signer.BatchSize())
			}
			signAlgo, err := signer.SignAlgo(h)
			if err != nil {
				return err
			}
			hashes := make([][]byte, len(items))
			for i := range items {
				hashes[i] = items[i].digest
			}
			sigs, err := signer.SignDigests(ctx, h, hashes)
			if err != nil {
				return cscError(err)
			}
			out := make([]cscSigned, len(items))
			for i, it := range items {
				out[i] = cscSigned{File: it.file, Hash: hex.EncodeToString(it.digest), Signature: base64.StdEncoding.EncodeToString(sigs[i]), SignatureFile: it.sigFile}
				if it.sigFile != "" {
					if err := os.WriteFile(it.sigFile, sigs[i], 0o644); err != nil {
						return err
					}
				}
			}
			if certOut != "" {
				var pemOut []byte
				for _, cert := range certs {
					pemOut = append(pemOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
				}
				if err := os.WriteFile(certOut, pemOut, 0o644); err != nil {
					return err
				}
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"credential_id": cred, "hash_algorithm": hashAlg, "sign_algorithm": signAlgo,
					"verified": true, "signatures": out})
			}
			for _, s := range out {
				if s.File != "" {
					fmt.Fprintf(c.stdout, "%s  %s\n", s.SignatureFile, s.File)
				} else {
					fmt.Fprintf(c.stdout, "%s  %s\n", s.Hash, s.Signature)
				}
			}
			fmt.Fprintf(c.stderr, "%d signature(s) by credential %s (%s), each verified against %s\n", len(out), cred, signAlgoName(signAlgo), certs[0].Subject.CommonName)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&hashAlg, "hash-alg", "sha256", "hash algorithm: sha256, sha384 or sha512")
	f.StringArrayVar(&hashHex, "hash", nil, "a hash to sign, hex (repeatable)")
	f.StringArrayVar(&files, "file", nil, "a file to hash here and sign (repeatable)")
	f.StringVar(&outDir, "out-dir", "", "write FILE.sig signature files here instead of beside each file")
	f.StringVar(&otpFile, "otp-file", "", "file holding the approval code (or set SELO_CSC_OTP)")
	f.StringVar(&certOut, "cert-out", "", "also write the credential's certificate chain here (PEM)")
	f.StringVar(&description, "description", "", "what is being signed, shown to the holder in the wallet")
	f.DurationVar(&wait, "wait", 3*time.Minute, "how long to wait for a wallet approval")
	return cmd
}

// cscItem is one hash to sign, from --hash or from a file.
type cscItem struct {
	file, sigFile string
	digest        []byte
}

func (it cscItem) name() string {
	if it.file != "" {
		return it.file
	}
	return hex.EncodeToString(it.digest)
}

// cscItems decodes --hash values or hashes the files, and chooses where
// each signature file goes.
func cscItems(h crypto.Hash, hashHex, files []string, outDir string) ([]cscItem, error) {
	var items []cscItem
	for i, s := range hashHex {
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil || len(b) != h.Size() {
			return nil, usagef("--hash %d: want %d hex-encoded bytes of %s", i+1, h.Size(), h)
		}
		items = append(items, cscItem{digest: b})
	}
	seen := map[string]string{}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "cannot read %s: %v", name, errors.Unwrap(err))
		}
		hh := h.New()
		_, err = io.Copy(hh, fh)
		fh.Close()
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "cannot read %s: %v", name, err)
		}
		sig := name + ".sig"
		if outDir != "" {
			sig = filepath.Join(outDir, filepath.Base(name)+".sig")
		}
		if other, ok := seen[sig]; ok {
			return nil, usagef("%s and %s would both be signed into %s: use different names or no --out-dir", other, name, sig)
		}
		seen[sig] = name
		items = append(items, cscItem{file: name, sigFile: sig, digest: hh.Sum(nil)})
	}
	return items, nil
}

// readOTP gets the approval code from --otp-file, SELO_CSC_OTP or a prompt;
// for an SMS credential the prompt comes after asking the service to send
// the code.
func (c *cli) readOTP(ctx context.Context, cl *csc.Client, d *csc.CredentialDetail, cred, otpFile string) (string, error) {
	label := "Code"
	if len(d.Auth.Objects) > 0 && d.Auth.Objects[0].Label != "" {
		label = d.Auth.Objects[0].Label
	}
	if otpFile == "" && os.Getenv("SELO_CSC_OTP") == "" {
		in, ok := c.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			hint := ""
			if d.Auth.Approval == string(selo.ApprovalSMS) {
				hint = fmt.Sprintf(" (run 'selo csc send-otp %s' first to have it texted)", cred)
			}
			return "", selo.Errorf(selo.EINVALID, "credential %s needs an approval code: give --otp-file or set SELO_CSC_OTP%s", cred, hint)
		}
		if d.Auth.Approval == string(selo.ApprovalSMS) {
			if err := cl.SendOTP(ctx, cred); err != nil {
				return "", cscError(err)
			}
			fmt.Fprintln(c.stderr, "a code was texted to the holder's mobile")
		}
	}
	otp, err := c.readPassword(otpFile, "SELO_CSC_OTP", label, false)
	if err != nil {
		return "", err
	}
	otp = strings.TrimSpace(otp)
	if otp == "" {
		return "", selo.Errorf(selo.EINVALID, "the approval code is empty")
	}
	return otp, nil
}
