package main

import (
	"context"
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
	var checkpointsFile string
	verify := &cobra.Command{
		Use:   "verify [--checkpoints FILE]",
		Short: "Check that no audit entry was changed, removed or reordered",
		Long: `Verify walks the audit log from its first entry, recomputing each entry's hash
and checking that it chains to the one before, then checks the signed
checkpoints: each says which hash the log's entry N had when the audit key
(in the key store, never in the database) signed it. Someone who can write
the database can change an entry and recompute every later hash, but cannot
sign a checkpoint: an entry that no longer matches a checkpoint shows the
rewrite.

Entries after the last checkpoint are unproven until the next one (selo serve
signs one every --audit-checkpoint-entries entries or
--audit-checkpoint-interval, and when it stops; 'selo audit checkpoint' signs
one now). Verify says which entries that is, and which entries were written
before the audit key existed (data directories from before checkpoints).

--checkpoints adds the checkpoints of a file written by 'selo audit export'
(a copy kept outside the database), so deleting checkpoints from the
database does not hide a rewrite.

It names the first entry where the log does not hold and exits with status 1;
it exits 0 when the log is intact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.open(cmd.Context()); err != nil {
				return err
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			var extra []*selo.AuditCheckpoint
			if checkpointsFile != "" {
				if extra, err = readAuditExport(checkpointsFile); err != nil {
					return err
				}
			}
			// The head is read before the walk, so entries a running server
			// appends meanwhile lie past it and raise no false alarm.
			head, hasHead := c.store.(auditHeader)
			var headSeq int64
			var headHash string
			if hasHead {
				if headSeq, headHash, err = head.AuditHead(cmd.Context()); err != nil {
					return err
				}
			}
			report, err := a.VerifyAuditLog(cmd.Context(), extra)
			if err != nil {
				return err
			}
			n, problem := report.Entries, report.Problem
			if problem == nil && hasHead {
				if problem, err = c.checkAuditHead(cmd, n, headSeq, headHash); err != nil {
					return err
				}
				if problem != nil {
					n = problem.Seq - 1
				}
			}
			if c.jsonOut {
				out := map[string]any{"entries_verified": n, "intact": problem == nil,
					"audit_key": !report.KeyMissing, "checkpoints": report.Checkpoints, "anchored_through": report.AnchoredThrough}
				if report.Unchecked > 0 {
					out["unchecked_checkpoints"] = report.Unchecked
				}
				if report.AnchoredThrough > 0 {
					out["anchored_at"] = report.AnchoredAt
				}
				if problem == nil && n > report.AnchoredThrough {
					out["unproven_from"] = report.AnchoredThrough + 1
				}
				if report.KeyCreatedAt > 1 {
					out["written_before_audit_key"] = report.KeyCreatedAt - 1
				}
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
				printAnchoring(c.stdout, n, report)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&checkpointsFile, "checkpoints", "", "also check the signed checkpoints of `FILE`, written by 'selo audit export'")
	cmd.AddCommand(verify, c.auditCheckpointCommand(), c.auditExportCommand())
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

// auditHeader is a store that records the last audit entry appended apart
// from the log, the only way to see that the log's tail was removed.
type auditHeader interface {
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
}

// checkAuditHead compares an intact log of n entries with the head recorded
// before it was read.
func (c *cli) checkAuditHead(cmd *cobra.Command, n, headSeq int64, headHash string) (*selo.AuditProblem, error) {
	if headSeq == 0 {
		return nil, nil
	}
	if n < headSeq {
		return &selo.AuditProblem{Seq: n + 1, Reason: fmt.Sprintf(
			"entries missing: the log ends at entry %d but %d entries were appended", n, headSeq)}, nil
	}
	entries, err := c.store.ListAudit(cmd.Context(), headSeq-1, 1)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 || entries[0].Seq != headSeq || entries[0].Hash != headHash {
		return &selo.AuditProblem{Seq: headSeq, Reason: "the entry does not match the recorded head of the log"}, nil
	}
	return nil, nil
}
