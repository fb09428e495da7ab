package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
)

func (c *cli) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the hash-chained audit log",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check that no audit entry was changed, removed or reordered",
		Long: `Verify walks the audit log from its first entry, recomputing each entry's hash
and checking that it chains to the one before. It names the first entry where
the chain breaks and exits with status 1; it exits 0 when the log is intact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.open(cmd.Context()); err != nil {
				return err
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			n, problem, err := a.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if c.jsonOut {
				out := map[string]any{"entries_verified": n, "intact": problem == nil}
				if problem != nil {
					out["first_bad_entry"], out["reason"] = problem.Seq, problem.Reason
				}
				if err := c.printJSON(out); err != nil {
					return err
				}
			}
			if problem != nil {
				return selo.Errorf(selo.ECONFLICT, "audit log broken at entry %d: %s (%d entries before it are intact)", problem.Seq, problem.Reason, n)
			}
			if !c.jsonOut {
				fmt.Fprintf(c.stdout, "Audit log intact: %d entries verified.\n", n)
			}
			return nil
		},
	})
	var after int64
	var limit int
	list := &cobra.Command{
		Use:   "list [--after SEQ] [--limit N]",
		Short: "Print audit entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.open(cmd.Context()); err != nil {
				return err
			}
			entries, err := c.store.ListAudit(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			if c.jsonOut {
				if entries == nil {
					entries = []*selo.AuditEntry{}
				}
				return c.printJSON(entries)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tOBJECT\tOUTCOME\tDETAILS")
			for _, e := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Object, e.Outcome, e.Details)
			}
			return tw.Flush()
		},
	}
	list.Flags().Int64Var(&after, "after", 0, "start after this sequence number")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many entries")
	cmd.AddCommand(list)
	return cmd
}

func (c *cli) apiKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Manage operator API keys for the REST API",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key; its secret is shown once",
		Args:  exactArgs(1, "apikey create needs a name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			secret, key, err := a.CreateAPIKey(cmd.Context(), actor(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]string{"id": key.ID, "name": key.Name, "api_key": secret})
			}
			fmt.Fprintf(c.stdout, "API key %q (shown once):\n  %s\nUse it as: Authorization: Bearer %s\n", key.Name, secret, secret)
			return nil
		},
	})
	return cmd
}
