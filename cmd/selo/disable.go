package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// accountSwitchCommand is "selo account disable|enable EMAIL".
func (c *cli) accountSwitchCommand(disable bool) *cobra.Command {
	verb, short := "enable", "Enable a holder account again (it can log in; nothing ended by disabling comes back)"
	if disable {
		verb, short = "disable", "Disable a holder account: ends at once its sessions (CSC access tokens too), unused SADs and pending approvals"
	}
	return &cobra.Command{
		Use:   verb + " EMAIL",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			a, err := svc.AccountByEmail(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := svc.SetAccountDisabled(cmd.Context(), actor(), a.ID, disable); err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"id": a.ID, "email": a.Email, "disabled": disable})
			}
			fmt.Fprintf(c.stdout, "account %s (%s) %sd\n", a.ID, a.Email, verb)
			return nil
		},
	}
}

// credentialSwitchCommand is "selo credential disable|enable ID".
func (c *cli) credentialSwitchCommand(disable bool) *cobra.Command {
	verb, status, short := "enable", selo.CredentialActive, "Enable a remote-signing credential again"
	if disable {
		verb, status, short = "disable", selo.CredentialDisabled, "Disable a remote-signing credential: ends at once its unused SADs and pending approvals"
	}
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			if err := svc.SetCredentialStatus(cmd.Context(), actor(), args[0], status); err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"id": args[0], "status": status})
			}
			fmt.Fprintf(c.stdout, "credential %s %sd\n", args[0], verb)
			return nil
		},
	}
}

// accountWalletOfferCommand is "selo account wallet-offer EMAIL
// --identity-checked": an officer, after checking the holder's identity
// afresh, starts a wallet enrolment for a holder who has no factor left to
// prove a change with (a lost phone, say). Audited under the officer.
func (c *cli) accountWalletOfferCommand() *cobra.Command {
	var checked bool
	cmd := &cobra.Command{
		Use:   "wallet-offer EMAIL --identity-checked",
		Short: "Start a wallet enrolment for a holder after a fresh identity check (prints the enrolment URI and QR code)",
		Long: `Wallet-offer starts a wallet enrolment for the holder, for when the holder has no
approval factor left to prove the change with (no authenticator, no wallet, the
phone lost). Run it only after checking the holder's identity afresh: the
audit log records you as the one who did (factor.identity-check), and the
holder is told by e-mail and SMS. The URI (10 minutes, single use) goes to
the holder's wallet: 'selo wallet enroll URI' or a scan of the QR code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !checked {
				return usagef("account wallet-offer needs --identity-checked: check the holder's identity first")
			}
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			a, err := svc.AccountByEmail(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			o, err := svc.StartWalletEnrollment(cmd.Context(), a.ID, signing.FactorProof{IdentityCheckedBy: actor()})
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"account": a.ID, "enrollment_id": o.EnrollmentID, "uri": o.URI, "expires_at": o.ExpiresAt})
			}
			fmt.Fprintf(c.stdout, "%s\n%s\nvalid until %s, once\n", o.URI, o.QRTerminal, o.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&checked, "identity-checked", false, "you checked the holder's identity afresh (recorded in the audit log)")
	return cmd
}
