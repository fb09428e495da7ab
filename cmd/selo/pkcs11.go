package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo/pkcs11"
)

const pkcs11Long = `The pkcs11 commands configure Selo's PKCS#11 module (libselo-pkcs11.so), with
which desktop applications sign with the holder's cloud credentials: the
module shows one token per account, holding each credential's certificate and
private key (a handle: the key stays in the service) and the CA certificates,
and signs through the CSC API so that only the hash leaves the machine.

  selo pkcs11 setup --server https://sign.example.eu --email maria@example.pt
  selo csc login --server https://sign.example.eu --email maria@example.pt
  modutil -dbdir sql:$HOME/.pki/nssdb -add "Selo" -libfile /usr/lib/selo/libselo-pkcs11.so

The token is logged in while the token file of 'selo csc login' holds a live
token for the server; otherwise the application asks for the token's PIN,
which is the account password. Each signature is approved as the credential
says: an SMS, authenticator or authorizer code typed where the application
asks for the key's PIN, or the holder's approval in the wallet (the module
waits for it). See docs/desktop.md.`

func (c *cli) pkcs11Command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pkcs11",
		Short: "Configure the PKCS#11 module with which desktop apps sign with a cloud credential",
		Long:  pkcs11Long,
	}
	cmd.AddCommand(c.pkcs11SetupCommand())
	return cmd
}

func (c *cli) pkcs11SetupCommand() *cobra.Command {
	var (
		acct                   pkcs11.Account
		path, logFile          string
		timeout, walletTimeout time.Duration
		codeCommand            string
	)
	cmd := &cobra.Command{
		Use:   "setup --server URL --email ADDRESS",
		Short: "Add an account to the PKCS#11 module's configuration (one token per account)",
		Long: `setup writes the module's configuration file (--config, default $SELO_PKCS11_CONFIG
or ~/.config/selo/pkcs11.json): the account (CSC service URL and the holder's
e-mail) is added, or replaced when the file already has it; the other
accounts stay. The file holds no secret: the token is logged in with the token
file of 'selo csc login' (--token-file) or with the account password the
application asks for as the token's PIN.

--code-command is for applications that cannot ask for a key's PIN at each
signature (pdfsig signs twice per document): the module then runs it (with
sh -c) to ask the holder for each code, and uses the first line it prints,
e.g. --code-command 'zenity --entry --text "Selo: code for $SELO_CREDENTIAL_LABEL"'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if acct.Server == "" || acct.Email == "" {
				return usagef("give --server and --email")
			}
			if path == "" {
				var err error
				if path, err = pkcs11.ConfigPath(); err != nil {
					return usagef("no user config directory (%v): give --config", err)
				}
			}
			var cfg pkcs11.Config
			if b, err := os.ReadFile(path); err == nil {
				old, err := pkcs11.ParseConfig(b)
				if err != nil {
					return fmt.Errorf("%s: %w (fix or remove it)", path, err)
				}
				cfg = *old
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			base, err := pkcs11.BaseURL(acct.Server)
			if err != nil {
				return usagef("--server: %v", err)
			}
			acct.Server = base
			kept := cfg.Accounts[:0]
			for _, a := range cfg.Accounts {
				if a.Server != acct.Server || a.Email != acct.Email {
					kept = append(kept, a)
				}
			}
			cfg.Accounts = append(kept, acct)
			if cmd.Flags().Changed("log-file") {
				cfg.LogFile = logFile
			}
			if cmd.Flags().Changed("timeout") {
				cfg.Timeout = pkcs11.Duration(timeout)
			}
			if cmd.Flags().Changed("wallet-timeout") {
				cfg.WalletTimeout = pkcs11.Duration(walletTimeout)
			}
			if cmd.Flags().Changed("code-command") {
				cfg.CodeCommand = nil
				if codeCommand != "" {
					cfg.CodeCommand = []string{"/bin/sh", "-c", codeCommand}
				}
			}
			if err := cfg.Check(); err != nil {
				return usagef("%v", err)
			}
			b, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "PKCS#11 module configured in %s: token %q for %s at %s (%d account(s))\n",
				path, acct.Label, acct.Email, acct.Server, len(cfg.Accounts))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&acct.Server, "server", "", "CSC service URL, e.g. https://sign.example.eu (/csc/v2 is added)")
	f.StringVar(&acct.Email, "email", "", "the holder's e-mail (the account's login)")
	f.StringVar(&acct.TokenFile, "token-file", "", "token file of 'selo csc login' (default ~/.config/selo/csc-token.json)")
	f.StringVar(&acct.Label, "label", "", "the token's label in applications (default the e-mail)")
	f.StringVar(&path, "config", "", "configuration file (default $SELO_PKCS11_CONFIG or ~/.config/selo/pkcs11.json)")
	f.StringVar(&logFile, "log-file", "", `the module's log file (default ~/.cache/selo/pkcs11.log; "off" for none)`)
	f.DurationVar(&timeout, "timeout", pkcs11.DefaultTimeout, "bound on each request to the service")
	f.DurationVar(&walletTimeout, "wallet-timeout", pkcs11.DefaultWalletWait, "bound on the wait for the holder's approval in the wallet")
	f.StringVar(&codeCommand, "code-command", "", "shell command that asks the holder for each signature's code and prints it (\"\" removes it)")
	return cmd
}
