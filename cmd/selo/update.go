package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/lift"
)

func (c *cli) updateCommand() *cobra.Command {
	var serverURL, tokenLabel, pinFile, keyLabel, keyID, pfxPath, outPath, passwordFile string
	cmd := &cobra.Command{
		Use:   "update --server URL (--token-label L [--key-label K | --key-id HEX] | --pfx FILE [--out FILE])",
		Short: "Update a certificate issued under a retired CA: same key, same validity, new CA",
		Long: `Update is the holder's certificate updater: when the provider has moved to a new
CA, it proves that you hold the certificate's key by signing a challenge from
the server, and installs the certificate the server re-issues under the new CA.
The key, the subject and the expiry date stay the same; there are no documents
and no cost.

On a PKCS#11 token (smart card, USB token) the key signs on the token and never
leaves it. The new certificate is stored beside the key (same CKA_ID, the old
certificate's label); the old certificate stays on the token with " (superseded)"
added to its label. The PIN comes from --pin-file, SELO_UPDATE_PIN or a prompt.

With a .pfx (PKCS#12 backup), a new .pfx is written with the same key and the
new certificate and chain, under the same password (--password-file,
SELO_PFX_PASSWORD or a prompt). The original file is not changed.

Running it again is safe: an interrupted update finishes, and a certificate
already updated gets the same new certificate, never a second one.`,
		Example: `  selo update --server https://pki.example.eu --pkcs11-module /usr/lib/libeToken.so --token-label "My Token" --pin-file pin.txt
  selo update --server https://pki.example.eu --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --token-label holder --key-label sign
  SELO_PFX_PASSWORD=... selo update --server https://pki.example.eu --pfx Digital1234.pfx --out Digital1234-updated.pfx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" {
				return usagef("update needs --server URL")
			}
			if (tokenLabel == "") == (pfxPath == "") {
				return usagef("update needs a token (--token-label) or a .pfx (--pfx), one of them")
			}
			if pfxPath != "" && (keyLabel != "" || keyID != "" || pinFile != "") {
				return usagef("--key-label, --key-id and --pin-file are for a token, not a .pfx")
			}
			if tokenLabel != "" && (outPath != "" || passwordFile != "") {
				return usagef("--out and --password-file are for a .pfx, not a token")
			}
			client := &lift.UpdateClient{BaseURL: serverURL}
			if pfxPath != "" {
				return c.updatePFX(cmd, client, pfxPath, outPath, passwordFile)
			}
			var id []byte
			if keyID != "" {
				var err error
				if id, err = hex.DecodeString(strings.ReplaceAll(keyID, ":", "")); err != nil {
					return usagef("--key-id must be hexadecimal (the key's CKA_ID)")
				}
			}
			pin, err := c.readPassword(pinFile, "SELO_UPDATE_PIN", "Token PIN", false)
			if err != nil {
				return err
			}
			res, err := lift.UpdateToken(cmd.Context(), client, lift.TokenUpdateOptions{Module: c.pkcs11Module, TokenLabel: tokenLabel,
				PIN: pin, KeyLabel: keyLabel, KeyID: id})
			if err != nil {
				return err
			}
			return c.printTokenUpdate(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "the provider's server, e.g. https://pki.example.eu")
	f.StringVar(&tokenLabel, "token-label", "", "label of the PKCS#11 token holding the key (the module is --pkcs11-module)")
	f.StringVar(&pinFile, "pin-file", "", "file holding the token's user PIN (or set SELO_UPDATE_PIN; else a prompt)")
	f.StringVar(&keyLabel, "key-label", "", "label of the key on the token (default: the one key with a certificate)")
	f.StringVar(&keyID, "key-id", "", "CKA_ID of the key on the token, in hex")
	f.StringVar(&pfxPath, "pfx", "", "the .pfx (PKCS#12) holding the key and certificate")
	f.StringVar(&outPath, "out", "", "where to write the updated .pfx (default: FILE-updated.pfx beside it)")
	f.StringVar(&passwordFile, "password-file", "", "file holding the .pfx password (or set SELO_PFX_PASSWORD; else a prompt)")
	return cmd
}

func (c *cli) updatePFX(cmd *cobra.Command, client *lift.UpdateClient, in, out, passwordFile string) error {
	if out == "" {
		out = strings.TrimSuffix(in, filepath.Ext(in)) + "-updated.pfx"
	}
	if _, err := os.Stat(out); err == nil {
		return selo.Errorf(selo.ECONFLICT, "%s exists; choose another --out", out)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		return selo.Errorf(selo.EINVALID, "read %s: %v", in, err)
	}
	password, err := c.readPassword(passwordFile, "SELO_PFX_PASSWORD", "Password of "+filepath.Base(in), false)
	if err != nil {
		return err
	}
	pfx, res, err := lift.UpdatePFX(cmd.Context(), client, data, password)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, pfx, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if c.jsonOut {
		return c.printJSON(map[string]any{"file": out, "serial": res.Certificate.SerialNumber.Text(16), "ca": res.CA,
			"replaced": res.Replaced, "not_after": res.Certificate.NotAfter, "already_updated": res.AlreadyUpdated})
	}
	fmt.Fprintf(c.stdout, "Updated certificate %s -> %s (CA %s, valid until %s)\nWrote %s\n", res.Replaced,
		res.Certificate.SerialNumber.Text(16), res.CA, res.Certificate.NotAfter.Format("2006-01-02"), out)
	return nil
}

func (c *cli) printTokenUpdate(res *lift.TokenUpdate) error {
	if c.jsonOut {
		updated := []map[string]any{}
		for _, u := range res.Updated {
			updated = append(updated, map[string]any{"serial": u.Certificate.SerialNumber.Text(16), "ca": u.CA,
				"replaced": u.Replaced, "not_after": u.Certificate.NotAfter, "already_updated": u.AlreadyUpdated})
		}
		return c.printJSON(map[string]any{"key_label": res.KeyLabel, "key_id": hex.EncodeToString(res.KeyID), "updated": updated, "skipped": res.Skipped})
	}
	for _, u := range res.Updated {
		fmt.Fprintf(c.stdout, "Updated certificate %s -> %s (CA %s, valid until %s), installed beside key %q\n", u.Replaced,
			u.Certificate.SerialNumber.Text(16), u.CA, u.Certificate.NotAfter.Format("2006-01-02"), res.KeyLabel)
	}
	for serial, why := range res.Skipped {
		fmt.Fprintf(c.stdout, "Certificate %s not updated: %s\n", serial, why)
	}
	return nil
}
