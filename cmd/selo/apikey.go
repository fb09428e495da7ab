package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
)

func (c *cli) apiKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Manage operator API keys for the REST API",
		Long: `API keys let programs call the operator REST API. Each key has roles; every
route of the API says which roles may call it, and a key without one gets
403 (audited as api.forbidden).

` + rolesHelp,
	}
	var roles []string
	var breakGlass bool
	create := &cobra.Command{
		Use:   "create NAME [--role ROLE...]",
		Short: "Create an API key; its secret is shown once",
		Long: `Create makes an API key with the roles given (officer when none is).

` + rolesHelp + `

` + adminGateHelp,
		Example: `  selo apikey create desk-app --role officer
  selo apikey create monitoring --role auditor`,
		Args: exactArgs(1, "apikey create needs a name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(roles) == 0 {
				roles = []string{string(selo.RoleOfficer)}
			}
			rs, err := parseRoleFlags(roles)
			if err != nil {
				return err
			}
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			if breakGlass {
				fmt.Fprintln(c.stderr, breakGlassWarning)
			}
			secret, key, err := svc.CreateAPIKey(cmd.Context(), localPrincipal(breakGlass), args[0], rs)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]string{"id": key.ID, "name": key.Name, "api_key": secret})
			}
			fmt.Fprintf(c.stdout, "API key %q with roles %s (shown once):\n  %s\nUse it as: Authorization: Bearer %s\n", key.Name, selo.JoinRoles(rs), secret, secret)
			if key.Disabled {
				fmt.Fprintf(c.stdout, "It is disabled until an admin.grant proposal is approved and executed:\n  selo proposal create admin.grant --params '{\"apikey\":\"%s\"}' --reason ... --operator YOU\n", key.Name)
			}
			return nil
		},
	}
	create.Flags().StringSliceVar(&roles, "role", nil, "role: admin, officer, auditor, integrator (repeatable; default officer)")
	create.Flags().BoolVar(&breakGlass, "break-glass", false, "enable a new admin key at once without a second admin (audited as dualcontrol.break_glass)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys with their roles (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			keys, err := svc.ListAPIKeys(cmd.Context())
			if err != nil {
				return err
			}
			type keyOutput struct {
				ID        string      `json:"id"`
				Name      string      `json:"name"`
				Roles     []selo.Role `json:"roles"`
				Disabled  bool        `json:"disabled"`
				CreatedAt time.Time   `json:"created_at"`
			}
			out := make([]keyOutput, 0, len(keys))
			for _, k := range keys {
				out = append(out, keyOutput{ID: k.ID, Name: k.Name, Roles: k.Roles, Disabled: k.Disabled, CreatedAt: k.CreatedAt})
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tDISABLED\tCREATED")
			for _, k := range out {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", k.Name, selo.JoinRoles(k.Roles), k.Disabled, k.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(create, list, c.apiKeySwitchCommand(true), c.apiKeySwitchCommand(false))
	return cmd
}

func (c *cli) apiKeySwitchCommand(disable bool) *cobra.Command {
	verb := "enable"
	if disable {
		verb = "disable"
	}
	var breakGlass bool
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " an API key (within 5 seconds on every replica)",
		Args:  exactArgs(1, "apikey "+verb+" needs the key's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			if err := svc.SetAPIKeyDisabled(cmd.Context(), localPrincipal(breakGlass), args[0], disable); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "API key %s is %sd.\n", args[0], verb)
			return nil
		},
	}
	if !disable {
		cmd.Long = "Enable an API key. " + adminGateHelp
		cmd.Flags().BoolVar(&breakGlass, "break-glass", false, "enable an admin key without a second admin (audited as dualcontrol.break_glass)")
	}
	return cmd
}
