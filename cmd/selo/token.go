package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/pkcs11/token"
)

const tokenLong = `Token looks after the PKCS#11 token (smart card, USB token) that holds your
certificate and its key: the state of the PIN and PUK, changing the PIN,
unblocking a locked PIN with the PUK, and listing what is on the token.

The PIN is what you type to sign; after a few wrong tries (the token decides
how many) it locks. The PUK (PKCS#11 calls it the security officer PIN) came
with the token; it unblocks the PIN and sets a new one. Wrong PUKs lock the
PUK too, and then nothing unblocks the token.

Selo never imports or exports keys or certificates here: "at no time import
or export certificates to your cryptographic device". The certificate update
('selo update') is the only thing that writes to the token.

PINs and PUKs are never command-line arguments: give a file (--pin-file,
--new-pin-file, --puk-file; "-" reads one line from standard input), set
SELO_TOKEN_PIN, SELO_TOKEN_NEW_PIN or SELO_TOKEN_PUK, or type them at the
prompt.

The module is any PKCS#11 library: your token maker's (SafeSign:
/usr/lib/libaetpkss.so), OpenSC's (/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so),
or SoftHSM2's for tests. With one token present, --token and --slot can be
left out.`

const (
	envTokenPIN    = "SELO_TOKEN_PIN"
	envTokenNewPIN = "SELO_TOKEN_NEW_PIN"
	envTokenPUK    = "SELO_TOKEN_PUK"
)

// tokenFlags are the settings every token subcommand shares.
type tokenFlags struct {
	module string
	slot   int
	label  string
	// stdin is read line by line by the secrets given as "-".
	stdin *bufio.Reader
}

func (c *cli) tokenCommand() *cobra.Command {
	tf := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "PIN, PUK and contents of your PKCS#11 token (smart card, USB token)",
		Long:  tokenLong,
		Example: `  selo token status
  selo token change-pin --token "Ana Silva"
  selo token unblock --token "Ana Silva"
  selo token list --module /usr/lib/libaetpkss.so`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&tf.module, "module", "/usr/lib/softhsm/libsofthsm2.so", "the token's PKCS#11 module (library)")
	f.IntVar(&tf.slot, "slot", -1, "the token's slot ID (as 'selo token status' shows it)")
	f.StringVar(&tf.label, "token", "", "the token's label")
	cmd.AddCommand(c.tokenStatusCommand(tf), c.tokenChangePINCommand(tf), c.tokenUnblockCommand(tf), c.tokenListCommand(tf))
	for _, verb := range []string{"import", "export", "write", "delete"} {
		cmd.AddCommand(tokenRefusal(verb))
	}
	return cmd
}

// tokenRefusal is a hidden subcommand that exists to say no: a holder who
// looks for a way to copy keys or certificates to or from the token learns
// why there is none and what to do instead.
func tokenRefusal(verb string) *cobra.Command {
	return &cobra.Command{
		Use:                verb,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return selo.Errorf(selo.EFORBIDDEN, "selo token does not %s keys or certificates: at no time import or export certificates to your cryptographic device; the certificate update ('selo update') is the only writer", verb)
		},
	}
}

// open loads the module and finds the token the flags pick.
func (tf *tokenFlags) open() (*token.Client, token.Info, error) {
	cl, err := token.Open(tf.module)
	if err != nil {
		return nil, token.Info{}, err
	}
	info, err := cl.Find(tf.selector())
	if err != nil {
		cl.Close()
		return nil, token.Info{}, err
	}
	return cl, info, nil
}

func (tf *tokenFlags) selector() token.Selector {
	if tf.slot >= 0 {
		return token.Selector{Slot: uint(tf.slot), HasSlot: true}
	}
	return token.Selector{Label: tf.label}
}

// secret reads a PIN or PUK: from file ("-" is the next line of standard
// input), else env, else a terminal prompt.
func (c *cli) tokenSecret(tf *tokenFlags, file, env, prompt string, confirm bool) (string, error) {
	if file != "-" {
		return c.readPassword(file, env, prompt, confirm)
	}
	if tf.stdin == nil {
		tf.stdin = bufio.NewReader(c.stdin)
	}
	line, err := tf.stdin.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", selo.Errorf(selo.EINVALID, "%s: standard input has no line for it", strings.ToLower(prompt))
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (c *cli) tokenStatusCommand(tf *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the token's PIN and PUK state (tries left, locked)",
		Long: `Status shows each token the module sees (or the one --token or --slot picks):
its label, slot and serial, and what the token says about the PIN and the
PUK: ok; a wrong one was entered (fewer tries left; PKCS#11 tokens do not
say how many); one try left; or locked. It needs no PIN and spends no try.`,
		Example: `  selo token status
  selo token status --module /usr/lib/libaetpkss.so --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := token.Open(tf.module)
			if err != nil {
				return err
			}
			defer cl.Close()
			var tokens []token.Info
			if tf.slot < 0 && tf.label == "" {
				if tokens, err = cl.Tokens(); err != nil {
					return err
				}
				if len(tokens) == 0 {
					return selo.Errorf(selo.ENOTFOUND, "no token found in %s: is it plugged in?", tf.module)
				}
			} else {
				info, err := cl.Find(tf.selector())
				if err != nil {
					return err
				}
				tokens = []token.Info{info}
			}
			if c.jsonOut {
				return c.printJSON(tokens)
			}
			for i, t := range tokens {
				if i > 0 {
					fmt.Fprintln(c.stdout)
				}
				fmt.Fprintf(c.stdout, "Token %q in slot %d (%s %s, serial %s)\n", t.Label, t.Slot, t.Manufacturer, t.Model, t.Serial)
				pin := t.PIN.String()
				switch {
				case !t.PINInitialized:
					pin = "not set: set one with 'selo token unblock' and the PUK"
				case t.PIN.Locked:
					pin += ": unblock it with 'selo token unblock' and the PUK"
				}
				fmt.Fprintf(c.stdout, "  PIN: %s\n", pin)
				puk := t.PUK.String()
				if t.PUK.Locked {
					puk += ": the token cannot be unblocked any more"
				}
				fmt.Fprintf(c.stdout, "  PUK: %s\n", puk)
				if t.PINPad {
					fmt.Fprintln(c.stdout, "  PINs are typed on the reader's PIN pad, which selo token does not drive yet")
				}
			}
			return nil
		},
	}
}

func (c *cli) tokenChangePINCommand(tf *tokenFlags) *cobra.Command {
	var pinFile, newPINFile string
	cmd := &cobra.Command{
		Use:   "change-pin",
		Short: "Change the token's PIN",
		Long: `Change-pin asks for the current PIN and the new one (twice at a prompt) and
sets the new PIN on the token. A wrong current PIN spends one of the token's
tries; the message says what the token tells about the tries left. A locked
PIN is not tried: unblock it with 'selo token unblock'.`,
		Example: `  selo token change-pin --token "Ana Silva"
  printf '%s\n%s\n' "$OLD" "$NEW" | selo token change-pin --pin-file - --new-pin-file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, info, err := tf.open()
			if err != nil {
				return err
			}
			defer cl.Close()
			if info.PIN.Locked {
				return selo.Errorf(selo.EFORBIDDEN, "the PIN of token %q is locked: unblock it with the PUK ('selo token unblock')", info.Label)
			}
			oldPIN, err := c.tokenSecret(tf, pinFile, envTokenPIN, "Current PIN", false)
			if err != nil {
				return err
			}
			newPIN, err := c.tokenSecret(tf, newPINFile, envTokenNewPIN, "New PIN", true)
			if err != nil {
				return err
			}
			if err := cl.ChangePIN(info.Slot, oldPIN, newPIN); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "The PIN of token %q is changed.\n", info.Label)
			return nil
		},
	}
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "file holding the current PIN (\"-\": a line of standard input; or set "+envTokenPIN+")")
	cmd.Flags().StringVar(&newPINFile, "new-pin-file", "", "file holding the new PIN (\"-\": a line of standard input; or set "+envTokenNewPIN+")")
	return cmd
}

func (c *cli) tokenUnblockCommand(tf *tokenFlags) *cobra.Command {
	var pukFile, newPINFile string
	cmd := &cobra.Command{
		Use:   "unblock",
		Short: "Unblock a locked PIN with the PUK and set a new PIN",
		Long: `Unblock logs in to the token with the PUK (the security officer PIN that came
with the token) and sets a new PIN, which unlocks a PIN locked by wrong tries.
It then logs in with the new PIN to show it works. A wrong PUK spends one of
the PUK's tries; once the PUK locks, the token cannot be unblocked and needs
replacing (ask the issuer of your certificate).`,
		Example: `  selo token unblock --token "Ana Silva"
  printf '%s\n%s\n' "$PUK" "$NEW" | selo token unblock --puk-file - --new-pin-file -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, info, err := tf.open()
			if err != nil {
				return err
			}
			defer cl.Close()
			if info.PUK.Locked {
				return selo.Errorf(selo.EFORBIDDEN, "the PUK of token %q is locked: the token cannot be unblocked; ask the issuer of your certificate for a new token", info.Label)
			}
			puk, err := c.tokenSecret(tf, pukFile, envTokenPUK, "PUK", false)
			if err != nil {
				return err
			}
			newPIN, err := c.tokenSecret(tf, newPINFile, envTokenNewPIN, "New PIN", true)
			if err != nil {
				return err
			}
			if err := cl.Unblock(info.Slot, puk, newPIN); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "The PIN of token %q is unblocked and set to the new PIN.\n", info.Label)
			return nil
		},
	}
	cmd.Flags().StringVar(&pukFile, "puk-file", "", "file holding the PUK (\"-\": a line of standard input; or set "+envTokenPUK+")")
	cmd.Flags().StringVar(&newPINFile, "new-pin-file", "", "file holding the new PIN (\"-\": a line of standard input; or set "+envTokenNewPIN+")")
	return cmd
}

func (c *cli) tokenListCommand(tf *tokenFlags) *cobra.Command {
	var pinFile string
	var public bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificates and keys on the token (never key material)",
		Long: `List shows the certificates and keys on the token: class, CKA_ID (a
certificate and its key share it), label, key type, and each certificate's
subject, issuer, serial and validity. Private keys show only after a PIN
login, with what the token says of them (sensitive, extractable); their
contents are never read. --public lists without a PIN.`,
		Example: `  selo token list --token "Ana Silva"
  selo token list --public --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, info, err := tf.open()
			if err != nil {
				return err
			}
			defer cl.Close()
			var pin string
			if !public {
				if info.PIN.Locked {
					return selo.Errorf(selo.EFORBIDDEN, "the PIN of token %q is locked: unblock it with the PUK ('selo token unblock'), or list with --public", info.Label)
				}
				if pin, err = c.tokenSecret(tf, pinFile, envTokenPIN, "PIN", false); err != nil {
					return err
				}
			}
			objects, err := cl.Objects(info.Slot, pin)
			if err != nil {
				return err
			}
			if c.jsonOut {
				if objects == nil {
					objects = []token.Object{}
				}
				return c.printJSON(objects)
			}
			fmt.Fprintf(c.stdout, "Token %q in slot %d: %d objects\n", info.Label, info.Slot, len(objects))
			for _, o := range objects {
				fmt.Fprintf(c.stdout, "%-12s id %s  %q\n", o.Class, o.ID, o.Label)
				switch {
				case o.Class == "certificate":
					fmt.Fprintf(c.stdout, "  subject %s\n  issuer  %s\n  serial  %s\n", o.Subject, o.Issuer, o.Serial)
					if o.NotBefore != nil && o.NotAfter != nil {
						fmt.Fprintf(c.stdout, "  valid   %s to %s\n", o.NotBefore.Format("2006-01-02 15:04 MST"), o.NotAfter.Format("2006-01-02 15:04 MST"))
					}
				default:
					line := "  " + o.KeyType
					if o.Sensitive != nil && *o.Sensitive {
						line += ", sensitive"
					}
					if o.Extractable != nil {
						if *o.Extractable {
							line += ", extractable"
						} else {
							line += ", not extractable"
						}
					}
					fmt.Fprintln(c.stdout, line)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "file holding the PIN (\"-\": a line of standard input; or set "+envTokenPIN+")")
	cmd.Flags().BoolVar(&public, "public", false, "list without a PIN: certificates and public keys only")
	return cmd
}
