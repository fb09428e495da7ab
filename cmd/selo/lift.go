package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/lift"
)

// Environment of `selo lift`: secrets are never flags.
const (
	envLiftCode   = "SELO_LIFT_CODE"       // the code from the "ready to lift" e-mail
	envEmailCode  = "SELO_LIFT_EMAIL_CODE" // the e-mailed verification code
	envPFXPass    = "SELO_PFX_PASSWORD"    // the .pfx password (or --password-file)
	envCrashAfter = "SELO_LIFT_CRASH_AFTER"
)

// exitCrashHook is the exit status of a run stopped by SELO_LIFT_CRASH_AFTER.
const exitCrashHook = 3

const liftLong = `Lift a certificate that is ready: the holder's side of the issuance flow.

You need the order number and the code from the "Your certificate is ready"
e-mail. selo lift checks them (Validate), has Selo e-mail you a verification
code and asks for it, makes your key, gets the certificate and, for software
delivery, writes the backup Digital<ORDER>.pfx (key, certificate and chain,
AES-256) under a password you choose, in --out (default: your Desktop if you
have one, else your home folder). For cloud delivery the key is made in
Selo's key store and never leaves it; the certificate becomes a signing
credential on the account of the order's e-mail (opened on first use, with
the order's mobile and the approval method chosen in the order), and the
first time selo lift asks for that account's password (--password-file or
SELO_PFX_PASSWORD without a terminal). Then sign with 'selo csc login'.

Interrupted? Run the same command again: it resumes at the step where it
stopped. Your key is made on this machine before anything is sent and waits,
encrypted under the .pfx password, in the state directory (default
<config dir>/selo/lift/<ORDER>) until the .pfx is written; a rerun never
makes a second key or a second certificate.

Secrets are never flags. On a terminal you are asked for them; otherwise:
  SELO_LIFT_CODE        the code from the "ready to lift" e-mail
  SELO_LIFT_EMAIL_CODE  the e-mailed verification code
  SELO_PFX_PASSWORD     the .pfx password (or --password-file FILE)
Without a terminal the first run stops once the verification code is sent;
run it again with SELO_LIFT_EMAIL_CODE set.

Examples:
  selo lift --server https://ra.example.eu --order SO-2026-K7Q2M9XD
  selo lift --server https://ra.example.eu --order SO-2026-K7Q2M9XD --out ~/certificates

  # unattended, in two runs:
  export SELO_LIFT_CODE=... SELO_PFX_PASSWORD=...
  selo lift --server https://ra.example.eu --order SO-2026-K7Q2M9XD   # e-mails the code
  SELO_LIFT_EMAIL_CODE=123456 selo lift --server https://ra.example.eu --order SO-2026-K7Q2M9XD

  # check the backup
  openssl pkcs12 -info -in ~/Desktop/DigitalSO-2026-K7Q2M9XD.pfx -nokeys`

func (c *cli) liftCommand() *cobra.Command {
	var serverURL, number, outDir, stateDir, passwordFile string
	var resend bool
	cmd := &cobra.Command{
		Use:   "lift --server URL --order NUMBER [--out DIR]",
		Short: "Lift a ready certificate: validate, verify the e-mail, make the key, write Digital<ORDER>.pfx",
		Long:  liftLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || number == "" {
				return usagef("--server and --order are required")
			}
			crashAfter := os.Getenv(envCrashAfter)
			if crashAfter != "" && !slices.Contains(lift.Points, crashAfter) {
				return usagef("%s must be one of %s", envCrashAfter, strings.Join(lift.Points, ", "))
			}
			if err := lift.CheckOrderNumber(number); err != nil {
				return usagef("--order: %s", selo.ErrorMessage(err))
			}
			code, err := c.readCode(envLiftCode, `Code from the "ready to lift" e-mail`)
			if err != nil {
				return err
			}
			client, err := lift.NewClient(serverURL, number, code)
			if err != nil {
				return err
			}
			progress := c.stdout
			if c.jsonOut {
				progress = c.stderr
			}
			res, err := lift.Run(cmd.Context(), lift.Options{
				Client: client, StateDir: stateDir, OutDir: outDir, ResendEmailCode: resend,
				EmailCode: func(ctx context.Context, justSent bool) (string, error) {
					if !justSent {
						if v := os.Getenv(envEmailCode); v != "" {
							return v, nil
						}
					}
					if !c.interactive() {
						return "", lift.ErrNoEmailCode
					}
					return c.readCode("", "Verification code e-mailed to you")
				},
				Password: func(confirm bool) (string, error) {
					return c.readPassword(passwordFile, envPFXPass, "Password for the .pfx backup", confirm)
				},
				AccountPassword: func(confirm bool) (string, error) {
					return c.readPassword(passwordFile, envPFXPass, "Password for your signing account", confirm)
				},
				Progress: func(step, total int, msg string) { fmt.Fprintf(progress, "step %d/%d: %s\n", step, total, msg) },
				AfterPoint: func(point string) {
					if point == crashAfter {
						fmt.Fprintf(c.stderr, "selo: %s: stopping after %q\n", envCrashAfter, point)
						os.Exit(exitCrashHook)
					}
				},
			})
			if errors.Is(err, lift.ErrNoEmailCode) {
				return selo.Errorf(selo.EINVALID, "a verification code was e-mailed to the order's address: run the same command again with it in %s (the code from an earlier e-mail no longer works)", envEmailCode)
			}
			if err != nil {
				return err
			}
			if c.jsonOut {
				out := map[string]any{"order": number, "state": res.Status.State, "delivery": res.Status.Delivery,
					"serial": res.Certificate.Serial, "pfx": res.PFXPath, "state_dir": res.StateDir,
					"credential": res.Status.CredentialID, "account_password_set": res.Status.AccountPasswordSet}
				if res.Certificate.RevocationCode != "" {
					out["revocation_code"] = res.Certificate.RevocationCode
				}
				return c.printJSON(out)
			}
			if code := res.Certificate.RevocationCode; code != "" {
				fmt.Fprintf(c.stdout, "Revocation code (shown only now; write it down and keep it apart from the key): %s\n"+
					"It revokes certificate %s if the key is lost: POST /api/v1/holder/revoke-with-code (docs/holders.md).\n", code, res.Certificate.Serial)
			}
			if res.PFXPath != "" {
				fmt.Fprintf(c.stdout, "Done. Your certificate is in %s; keep it and its password safe.\n", res.PFXPath)
			} else {
				fmt.Fprintf(c.stdout, "Done. Certificate %s is issued; its key stays in Selo's key store for remote signing.\n", res.Certificate.Serial)
				fmt.Fprintf(c.stdout, "Signing credential %s is on your account: sign with 'selo csc login --server %s --email <the order's e-mail>'.\n",
					res.Status.CredentialID, serverURL)
				if !res.Status.AccountPasswordSet {
					fmt.Fprintln(c.stdout, "Your account has no password yet: run this command again to set it.")
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "Selo server base URL, e.g. https://ra.example.eu")
	f.StringVar(&number, "order", "", "order number from the \"ready to lift\" e-mail, e.g. SO-2026-K7Q2M9XD")
	f.StringVar(&outDir, "out", "", "folder for Digital<ORDER>.pfx (default: ~/Desktop if it exists, else your home folder)")
	f.StringVar(&stateDir, "state-dir", "", "where the flow keeps its state and the waiting key (default <config dir>/selo/lift/<ORDER>)")
	f.StringVar(&passwordFile, "password-file", "", "file holding the .pfx password, or for a cloud order the first password of your signing account (or set "+envPFXPass+")")
	f.BoolVar(&resend, "resend-code", false, "have a new verification code e-mailed (the last one is lost or expired)")
	cmd.AddCommand(c.liftNewCodeCommand(), c.liftRevokeCommand())
	return cmd
}

// interactive reports whether standard input is a terminal to prompt on.
func (c *cli) interactive() bool {
	in, ok := c.stdin.(*os.File)
	return ok && term.IsTerminal(int(in.Fd()))
}

// readCode gets a one-time code from env, else a terminal prompt (not
// echoed: it is a secret until used).
func (c *cli) readCode(env, prompt string) (string, error) {
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return strings.TrimSpace(v), nil
		}
	}
	if !c.interactive() {
		return "", selo.Errorf(selo.EINVALID, "no code: set %s (codes are never command-line arguments)", env)
	}
	in := c.stdin.(*os.File)
	fmt.Fprintf(c.stderr, "%s: ", prompt)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (c *cli) liftNewCodeCommand() *cobra.Command {
	var serverURL, number, renewal string
	cmd := &cobra.Command{
		Use:   "new-code --server URL --order NUMBER --renewal-code CODE",
		Short: "Have a new lift code e-mailed when the one you have no longer works",
		Long: `New-code asks the server to e-mail the holder a new "ready to lift" code, for
example when the first was blocked by five wrong tries (perhaps someone
else's). It needs the renewal code of the "ready to lift" e-mail (also in
SELO_LIFT_RENEWAL_CODE). The answer is the same whether or not the order
number and renewal code are right: the new code arrives by e-mail, and the
one before stops working. At most one code every 30 seconds and 5 an hour
per order (the operator may change this). Without the renewal code, ask the
registration desk ('selo order lift-code').`,
		Example: `  selo lift new-code --server https://ra.example.eu --order SO-2026-K7Q2M9XD --renewal-code 7QK2M9XDH4TP6WNCRB3F`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || number == "" {
				return usagef("--server and --order are required")
			}
			if renewal == "" {
				renewal = os.Getenv("SELO_LIFT_RENEWAL_CODE")
			}
			if renewal == "" {
				return usagef("--renewal-code (or SELO_LIFT_RENEWAL_CODE) is required")
			}
			out, err := lift.RequestNewCode(cmd.Context(), serverURL, number, renewal)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			fmt.Fprintln(c.stdout, out.Message)
			return nil
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "", "the registration server's base URL")
	cmd.Flags().StringVar(&number, "order", "", "the order number")
	cmd.Flags().StringVar(&renewal, "renewal-code", "", "the renewal code of the \"ready to lift\" e-mail")
	return cmd
}

func (c *cli) liftRevokeCommand() *cobra.Command {
	var serverURL, serial, code, reason string
	cmd := &cobra.Command{
		Use:   "revoke --server URL --serial SERIAL --revocation-code CODE [--reason keyCompromise]",
		Short: "Revoke your certificate with its revocation code, without the key (a lost token)",
		Long: `Revoke revokes a certificate with the revocation code shown once when it was
lifted ("Revocation code (shown only now ...)"), for a holder who no longer
has the key. The code may also come from SELO_REVOCATION_CODE. Reasons a
holder may give: unspecified, keyCompromise, affiliationChanged, superseded,
cessationOfOperation. Five wrong codes for one certificate in 15 minutes
make the next wrong tries wait (HTTP 429), never the right code; every try
is audited. Holders of a
cloud (remote-signing) certificate can also revoke from their account with
the password and a one-time code (docs/holders.md).`,
		Example: `  selo lift revoke --server https://ra.example.eu --serial 3f2a9c... --revocation-code 7QK2M-9XDH4-TP6WN-CRB3F --reason keyCompromise`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || serial == "" {
				return usagef("--server and --serial are required")
			}
			if code == "" {
				code = os.Getenv("SELO_REVOCATION_CODE")
			}
			if code == "" {
				return usagef("--revocation-code (or SELO_REVOCATION_CODE) is required")
			}
			rev, err := lift.RevokeWithCode(cmd.Context(), serverURL, serial, code, reason)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(rev)
			}
			fmt.Fprintf(c.stdout, "certificate %s revoked (%s) at %s\n", rev.Serial, rev.Reason, rev.RevokedAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "", "the Selo server's base URL")
	cmd.Flags().StringVar(&serial, "serial", "", "the certificate's serial number (hex)")
	cmd.Flags().StringVar(&code, "revocation-code", "", "the revocation code shown when the certificate was lifted")
	cmd.Flags().StringVar(&reason, "reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation")
	return cmd
}
