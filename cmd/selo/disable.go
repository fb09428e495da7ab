package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
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
