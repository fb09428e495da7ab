package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// walletState is what `selo wallet enroll` keeps beside the encrypted key.
type walletState struct {
	ID     string `json:"id"`
	Server string `json:"server"`
	Name   string `json:"name"`
}

// walletOptions are the flags every wallet command shares.
type walletOptions struct {
	dir, server, pinFile string
}

const (
	walletKeyFile   = "key.pem"
	walletStateFile = "wallet.json"
)

func (c *cli) walletCommand() *cobra.Command {
	var o walletOptions
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "A command-line signing wallet: enrol a device key, list and approve signature requests",
		Long: `The wallet keeps a P-256 device key, encrypted under a PIN you choose
(PKCS#8, AES-256), in --dir. The server never sees the PIN or the key: it
checks the key's signatures over each request and each decision.

  selo wallet enroll 'selo-wallet://enroll?...'   (the URI the portal shows)
  selo wallet list                                 (what is waiting: credential, description, hashes)
  selo wallet approve ID | deny ID
  selo wallet approve --uri 'selo-wallet://approve?...'   (from the QR code when offline)

The PIN comes from --pin-file, SELO_WALLET_PIN or a prompt.`,
	}
	home, _ := os.UserHomeDir()
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.dir, "dir", filepath.Join(home, ".selo-wallet"), "wallet directory (device key and state)")
	pf.StringVar(&o.server, "server", "", "server base URL (default: the one the wallet enrolled with)")
	pf.StringVar(&o.pinFile, "pin-file", "", "file holding the wallet PIN")
	cmd.AddCommand(c.walletEnrollCommand(&o), c.walletListCommand(&o), c.walletDecideCommand(&o, true), c.walletDecideCommand(&o, false))
	return cmd
}

func (c *cli) walletEnrollCommand(o *walletOptions) *cobra.Command {
	var qrFile, name string
	cmd := &cobra.Command{
		Use:   "enroll (URI | --qr-file PNG) [--name NAME]",
		Short: "Make a device key and register it with the enrolment URI the portal shows",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var uri string
			switch {
			case len(args) == 1 && qrFile == "":
				uri = args[0]
			case len(args) == 0 && qrFile != "":
				out, err := exec.CommandContext(cmd.Context(), "zbarimg", "--raw", "-q", qrFile).Output()
				if err != nil {
					return fmt.Errorf("read the QR code with zbarimg: %w", err)
				}
				uri = strings.TrimSpace(string(out))
			default:
				return usagef("wallet enroll needs the enrolment URI or --qr-file, one of them")
			}
			e, err := approval.ParseWalletEnrollmentURI(uri)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(o.dir, walletStateFile)); err == nil {
				return selo.Errorf(selo.ECONFLICT, "%s already holds a wallet: use another --dir", o.dir)
			}
			if name == "" {
				name, _ = os.Hostname()
				if name == "" {
					name = "selo wallet"
				}
			}
			pin, err := c.readPassword(o.pinFile, "SELO_WALLET_PIN", "Choose a wallet PIN (at least 8 characters)", true)
			if err != nil {
				return err
			}
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			keyPEM, err := encryptKeyPEM(key, pin)
			if err != nil {
				return err
			}
			reg, err := approval.NewWalletRegistration(e, name, key)
			if err != nil {
				return err
			}
			b64 := base64.StdEncoding.EncodeToString
			var w server.HolderWallet
			if err := walletHTTP(cmd.Context(), http.MethodPost, e.URL, nil, server.WalletRegisterRequest{
				EnrollmentID: reg.EnrollmentID, DeviceName: reg.DeviceName,
				PublicKey: b64(reg.PublicKey), Proof: b64(reg.Proof), Signature: b64(reg.Signature),
			}, &w); err != nil {
				return err
			}
			base := o.server
			if base == "" {
				base = strings.TrimSuffix(e.URL, signing.WalletRegisterPath)
			}
			if err := os.MkdirAll(o.dir, 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(o.dir, walletKeyFile), keyPEM, 0o600); err != nil {
				return err
			}
			st, _ := json.MarshalIndent(walletState{ID: w.ID, Server: base, Name: name}, "", "  ")
			if err := os.WriteFile(filepath.Join(o.dir, walletStateFile), st, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "wallet %s (%s) registered with %s\n", w.ID, name, base)
			return nil
		},
	}
	cmd.Flags().StringVar(&qrFile, "qr-file", "", "PNG of the enrolment QR code (read with zbarimg)")
	cmd.Flags().StringVar(&name, "name", "", "device name the holder sees (default: the host name)")
	return cmd
}

// openWallet reads the wallet's state and decrypts its key with the PIN.
func (c *cli) openWallet(o *walletOptions) (*walletState, *ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(o.dir, walletStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, selo.Errorf(selo.ENOTFOUND, "no wallet in %s: run 'selo wallet enroll' first", o.dir)
	} else if err != nil {
		return nil, nil, err
	}
	var st walletState
	if err := json.Unmarshal(b, &st); err != nil || st.ID == "" {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s is damaged", filepath.Join(o.dir, walletStateFile))
	}
	if o.server != "" {
		st.Server = strings.TrimRight(o.server, "/")
	}
	pin, err := c.readPassword(o.pinFile, "SELO_WALLET_PIN", "Wallet PIN", false)
	if err != nil {
		return nil, nil, err
	}
	k, err := readKeyFile(filepath.Join(o.dir, walletKeyFile), pin)
	if err != nil {
		return nil, nil, selo.Errorf(selo.EUNAUTHORIZED, "wrong PIN or damaged key file")
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, selo.Errorf(selo.EINVALID, "the wallet key is not ECDSA")
	}
	return &st, key, nil
}

// pendingApprovals fetches the challenges waiting for the wallet, signing
// the request with the device key.
func pendingApprovals(ctx context.Context, st *walletState, key *ecdsa.PrivateKey, wait time.Duration) ([]server.WalletChallenge, error) {
	at := time.Now().UTC().Truncate(time.Second)
	digest := sha256.Sum256(signing.WalletRequestBytes(st.ID, at))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, err
	}
	u := st.Server + "/api/v1/wallet/" + st.ID + "/approvals"
	if wait > 0 {
		u += "?wait=" + wait.String()
	}
	var out struct {
		Approvals []server.WalletChallenge `json:"approvals"`
	}
	err = walletHTTP(ctx, http.MethodGet, u, map[string]string{
		server.WalletTimeHeader: at.Format(time.RFC3339), server.WalletSignatureHeader: base64.StdEncoding.EncodeToString(sig),
	}, nil, &out)
	return out.Approvals, err
}

func (c *cli) walletListCommand(o *walletOptions) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "list [--wait 30s]",
		Short: "List the signature requests waiting for this wallet",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, key, err := c.openWallet(o)
			if err != nil {
				return err
			}
			cs, err := pendingApprovals(cmd.Context(), st, key, wait)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(cs)
			}
			if len(cs) == 0 {
				fmt.Fprintln(c.stdout, "nothing waiting")
			}
			for _, ch := range cs {
				c.showChallenge(ch.ApprovalID, ch.CredentialID, ch.Description, ch.Hashes, ch.ExpiresAt)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for a request to arrive (at most 60s)")
	return cmd
}

// showChallenge prints what the holder is asked to sign.
func (c *cli) showChallenge(id, credential, description string, hashes []string, expires time.Time) {
	fmt.Fprintf(c.stdout, "%s  credential %s  %d hash(es)  expires %s\n", id, credential, len(hashes), expires.Local().Format("15:04:05"))
	if description != "" {
		fmt.Fprintf(c.stdout, "    %q\n", description)
	}
	for i, h := range hashes {
		if i == 3 {
			fmt.Fprintf(c.stdout, "    ... and %d more\n", len(hashes)-3)
			break
		}
		if b, err := base64.StdEncoding.DecodeString(h); err == nil {
			h = hex.EncodeToString(b)
		}
		fmt.Fprintf(c.stdout, "    %s\n", h)
	}
}

func (c *cli) walletDecideCommand(o *walletOptions, approve bool) *cobra.Command {
	var uri string
	verb := "deny"
	if approve {
		verb = "approve"
	}
	cmd := &cobra.Command{
		Use:   verb + " (ID | --uri URI)",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a signature request, signing the decision with the device key",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (uri != "") {
				return usagef("wallet %s needs the request ID or --uri, one of them", verb)
			}
			st, key, err := c.openWallet(o)
			if err != nil {
				return err
			}
			var ch *approval.WalletChallenge
			if uri != "" {
				if ch, err = approval.ParseWalletChallengeURI(uri); err != nil {
					return err
				}
			} else {
				cs, err := pendingApprovals(cmd.Context(), st, key, 0)
				if err != nil {
					return err
				}
				for _, p := range cs {
					if p.ApprovalID == args[0] {
						if ch, err = p.ToChallenge(); err != nil {
							return err
						}
					}
				}
				if ch == nil {
					return selo.Errorf(selo.ENOTFOUND, "no request %s is waiting for this wallet (see 'selo wallet list')", args[0])
				}
			}
			hashes := make([]string, len(ch.Hashes))
			for i, h := range ch.Hashes {
				hashes[i] = base64.StdEncoding.EncodeToString(h)
			}
			c.showChallenge(ch.ApprovalID, ch.CredentialID, ch.Description, hashes, ch.ExpiresAt)
			sig, err := approval.SignWalletDecision(ch, approve, key)
			if err != nil {
				return err
			}
			u := st.Server + "/api/v1/wallet/" + st.ID + "/approvals/" + ch.ApprovalID
			if err := walletHTTP(cmd.Context(), http.MethodPost, u, nil, server.WalletDecisionRequest{
				Approve: approve, Signature: base64.StdEncoding.EncodeToString(sig)}, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%sd %s\n", verb, ch.ApprovalID)
			return nil
		},
	}
	cmd.Flags().StringVar(&uri, "uri", "", "the selo-wallet://approve URI from the request's QR code")
	return cmd
}

// walletHTTP sends body as JSON and decodes a 2xx answer into out; an error
// answer becomes a selo.Error with the server's code and message.
func walletHTTP(ctx context.Context, method, url string, header map[string]string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return selo.Errorf(selo.EINVALID, "bad server URL %q", url)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e server.ErrorResponse
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			return selo.Errorf(e.Error.Code, "server: %s", e.Error.Message)
		}
		return fmt.Errorf("server answered %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("server answer: %w", err)
		}
	}
	return nil
}
