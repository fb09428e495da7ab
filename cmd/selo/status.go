package main

import (
	"encoding/pem"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
)

type revocationOutput struct {
	Serial         string     `json:"serial"`
	CA             string     `json:"ca"`
	Reason         string     `json:"reason"`
	RevokedAt      time.Time  `json:"revoked_at"`
	InvalidityDate *time.Time `json:"invalidity_date,omitempty"`
	Created        bool       `json:"created"`
}

func (c *cli) revokeCommand() *cobra.Command {
	var reason, invalidity string
	var release bool
	cmd := &cobra.Command{
		Use:   "revoke SERIAL [--reason REASON] [--invalidity-date TIME] | revoke SERIAL --release-hold",
		Short: "Revoke a certificate, or release one from hold",
		Long: `Revoke records the revocation of a certificate, once: revoking it again
prints the first revocation unchanged. Before the command returns, the OCSP
responder answers "revoked"; the CA's CRL is published again right after.

Reasons (RFC 5280): unspecified, keyCompromise, cACompromise,
affiliationChanged, superseded, cessationOfOperation, certificateHold,
privilegeWithdrawn, aACompromise. Only certificateHold can be undone, with
--release-hold; TLS server certificates cannot be put on hold.`,
		Example: `  selo revoke 3f2a9c41d07be812 --reason keyCompromise --invalidity-date 2026-11-20T08:00:00Z
  selo revoke 3f2a9c41d07be812 --reason certificateHold
  selo revoke 3f2a9c41d07be812 --release-hold`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			defer a.WaitCRLs()
			if release {
				if reason != "" || invalidity != "" {
					return usagef("--release-hold takes no --reason or --invalidity-date")
				}
				if err := a.ReleaseHold(cmd.Context(), actor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.stderr, "certificate %s released from hold: it is valid again\n", args[0])
				return nil
			}
			r, err := selo.ParseRevocationReason(reason)
			if err != nil {
				return usagef("%s", selo.ErrorMessage(err))
			}
			req := authority.RevokeRequest{Serial: args[0], Reason: r}
			if invalidity != "" {
				t, err := time.Parse(time.RFC3339, invalidity)
				if err != nil {
					return usagef("--invalidity-date must be an RFC 3339 time, e.g. 2026-11-20T08:00:00Z")
				}
				req.InvalidityDate = t
			}
			rev, created, err := a.Revoke(cmd.Context(), actor(), req)
			if err != nil {
				return err
			}
			out := revocationOutput{Serial: rev.Serial, CA: rev.CAID, Reason: rev.Reason.String(), RevokedAt: rev.RevokedAt.UTC(), Created: created}
			if !rev.InvalidityDate.IsZero() {
				t := rev.InvalidityDate.UTC()
				out.InvalidityDate = &t
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			if !created {
				fmt.Fprintf(c.stdout, "certificate %s was already revoked on %s (%s); nothing changed\n", rev.Serial, out.RevokedAt.Format(time.RFC3339), out.Reason)
				return nil
			}
			fmt.Fprintf(c.stdout, "revoked certificate %s of %s: %s at %s\n", rev.Serial, rev.CAID, out.Reason, out.RevokedAt.Format(time.RFC3339))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "RFC 5280 reason, e.g. keyCompromise (default unspecified)")
	f.StringVar(&invalidity, "invalidity-date", "", "when the key was or may have been compromised (RFC 3339)")
	f.BoolVar(&release, "release-hold", false, "release a certificate from certificateHold instead of revoking")
	return cmd
}

func (c *cli) crlCommand() *cobra.Command {
	var out, format string
	var current bool
	cmd := &cobra.Command{
		Use:   "crl CA [--out FILE] [--format der|pem] [--current]",
		Short: "Publish a CA's CRL now and write it out",
		Long: `Crl signs a new full CRL for the CA (the next CRL number), stores it as the
one 'selo serve' publishes at /crl/CA.crl, and writes it. With --current it
writes the CRL already published instead of signing a new one.

Check it with: openssl crl -inform DER -in FILE -text -noout`,
		Example: `  selo crl qualified-ecc-v1 --out qualified.crl
  selo crl tls-rsa-v1 --format pem | openssl crl -text -noout`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "der" && format != "pem" {
				return usagef("--format must be der or pem")
			}
			if format == "der" && out == "" && !c.jsonOut {
				return usagef("a DER CRL is binary: give --out FILE, or --format pem")
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			var crl *selo.CRL
			if current {
				crl, err = a.CurrentCRL(cmd.Context(), args[0])
			} else {
				crl, err = a.PublishCRL(cmd.Context(), actor(), args[0])
			}
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{
					"ca": crl.CAID, "number": crl.Number, "this_update": crl.ThisUpdate.UTC(), "next_update": crl.NextUpdate.UTC(),
					"entries": crl.Entries, "bytes": len(crl.DER),
				})
			}
			fmt.Fprintf(c.stderr, "CRL %d of %s: %d revoked, next update %s\n", crl.Number, crl.CAID, crl.Entries, crl.NextUpdate.UTC().Format(time.RFC3339))
			body := crl.DER
			if format == "pem" {
				body = pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.DER})
			}
			return c.writeOutput(out, body, 0o644)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "file to write (default standard output, PEM only)")
	f.StringVar(&format, "format", "der", "der or pem")
	f.BoolVar(&current, "current", false, "write the CRL already published instead of signing a new one")
	return cmd
}
