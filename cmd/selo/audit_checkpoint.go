package main

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// auditExportFormat names the file 'selo audit export' writes.
const auditExportFormat = "selo-audit-checkpoints/1"

// auditExport is the file 'selo audit export' writes: the audit key's public
// half and every signed checkpoint, for a copy kept outside the database.
type auditExport struct {
	Format      string                  `json:"format"`
	KeyID       string                  `json:"key_id"`
	PublicKey   string                  `json:"public_key"` // PEM "PUBLIC KEY"
	ExportedAt  time.Time               `json:"exported_at"`
	Checkpoints []*selo.AuditCheckpoint `json:"checkpoints"`
}

// printAnchoring says which entries the signed checkpoints prove and which
// they do not yet.
func printAnchoring(w io.Writer, n int64, r *authority.AuditReport) {
	switch {
	case r.KeyMissing && r.Unchecked > 0:
		fmt.Fprintf(w, "Unproven: the database holds %d signed checkpoint(s) but the key store has no audit key to check them:\n"+
			"  is this the key store the log was written with (--keystore, --master-key-file)? A lost key cannot be replaced.\n", r.Unchecked)
		return
	case r.KeyMissing:
		fmt.Fprintf(w, "Unproven: there is no audit key yet, so no entry is anchored by a signed checkpoint.\n"+
			"  'selo serve' makes the key when it starts; 'selo audit checkpoint' makes it and signs one now.\n")
		return
	case r.AnchoredThrough == 0:
		fmt.Fprintf(w, "Unproven: entries 1-%d; no signed checkpoint covers them yet ('selo audit checkpoint' signs one now).\n", n)
	default:
		fmt.Fprintf(w, "Anchored: entries 1-%d, by %d signed checkpoint(s); the last signed %s.\n",
			r.AnchoredThrough, r.Checkpoints, r.AnchoredAt.Format(time.RFC3339))
		if n > r.AnchoredThrough {
			fmt.Fprintf(w, "Unproven: entries %d-%d come after the last checkpoint; the next one covers them.\n", r.AnchoredThrough+1, n)
		}
	}
	if r.KeyCreatedAt > 1 {
		fmt.Fprintf(w, "Note: entries 1-%d were written before the audit key existed (it was made at entry %d);\n"+
			"  a checkpoint vouches for them only from the time it was signed.\n", r.KeyCreatedAt-1, r.KeyCreatedAt)
	}
}

func (c *cli) auditCheckpointCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of the audit log now with the audit key",
		Long: `Checkpoint signs the head of the audit log (its last entry's number and hash,
and the time) with the audit key from the key store, making the key first
when there is none. It checks the entries since the last checkpoint before it
signs, and refuses (exit 1) when they no longer chain to it. 'selo serve'
signs checkpoints by itself; this is for a CLI-only installation or before an
export.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			cp, err := a.CheckpointAudit(cmd.Context(), actor())
			if err != nil {
				return err
			}
			if c.jsonOut {
				if cp == nil {
					return c.printJSON(map[string]any{"signed": false})
				}
				return c.printJSON(map[string]any{"signed": true, "seq": cp.Seq, "hash": cp.Hash, "time": cp.Time})
			}
			if cp == nil {
				fmt.Fprintln(c.stdout, "No new audit entries since the last checkpoint: nothing to sign.")
				return nil
			}
			fmt.Fprintf(c.stdout, "Signed an audit checkpoint at entry %d (%s).\n", cp.Seq, cp.Time.Format(time.RFC3339))
			return nil
		},
	}
}

func (c *cli) auditExportCommand() *cobra.Command {
	var out, tsaURL string
	cmd := &cobra.Command{
		Use:   "export --out FILE [--tsa URL]",
		Short: "Write the signed audit checkpoints to a file kept outside the database",
		Long: `Export writes the audit key's public key and every signed checkpoint to FILE
(JSON), for a copy kept where whoever can write the database cannot: another
machine, write-once storage, a ticket. 'selo audit verify --checkpoints FILE'
checks the log against it later, so checkpoints deleted from the database do
not hide a rewrite.

With --tsa it also asks an RFC 3161 timestamp authority (Selo's own at
BASE/tsa, or another) for a timestamp over the file's SHA-256 and writes the
token (a TimeStampToken, DER) to FILE.tst: proof that the checkpoints existed
at that time. A peer checks it with
  openssl ts -verify -token_in -in FILE.tst -data FILE -CAfile ROOT -untrusted CHAIN`,
		Example: `  selo audit export --out audit-2026-12-07.json
  selo audit export --out audit.json --tsa https://pki.example.pt/tsa`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("audit export needs --out FILE")
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			pub, err := a.AuditPublicKey(cmd.Context())
			if err != nil {
				if selo.ErrorCode(err) == selo.ENOTFOUND {
					return selo.Errorf(selo.ENOTFOUND, "there is no audit key yet: run 'selo audit checkpoint' (or start 'selo serve') first")
				}
				return err
			}
			spki, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return fmt.Errorf("encode the audit public key: %w", err)
			}
			cps, err := c.store.ListAuditCheckpoints(cmd.Context())
			if err != nil {
				return err
			}
			if cps == nil {
				cps = []*selo.AuditCheckpoint{}
			}
			exp := auditExport{Format: auditExportFormat, KeyID: selo.AuditKeyID,
				PublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})),
				ExportedAt: selo.SystemClock{}.Now().UTC().Truncate(time.Second), Checkpoints: cps}
			b, err := json.MarshalIndent(exp, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			var token []byte
			if tsaURL != "" { // before writing anything: a refused timestamp leaves no half export
				digest := sha256.Sum256(b)
				if token, err = (&timestamp.Client{URL: tsaURL}).Timestamp(cmd.Context(), crypto.SHA256, digest[:]); err != nil {
					return fmt.Errorf("timestamp the export: %w", err)
				}
			}
			if err := os.WriteFile(out, b, 0o600); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			if token != nil {
				if err := os.WriteFile(out+".tst", token, 0o600); err != nil {
					return fmt.Errorf("write %s.tst: %w", out, err)
				}
			}
			last := int64(0)
			if len(cps) > 0 {
				last = cps[len(cps)-1].Seq
			}
			if c.jsonOut {
				res := map[string]any{"file": out, "checkpoints": len(cps), "last_seq": last}
				if token != nil {
					res["timestamp"] = out + ".tst"
				}
				return c.printJSON(res)
			}
			fmt.Fprintf(c.stdout, "Wrote %d signed checkpoint(s), up to entry %d, to %s.\n", len(cps), last, out)
			if token != nil {
				fmt.Fprintf(c.stdout, "Wrote the RFC 3161 timestamp of the file to %s.tst.\n", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the checkpoints to `FILE`")
	cmd.Flags().StringVar(&tsaURL, "tsa", "", "also timestamp the file at this RFC 3161 TSA `URL`, writing FILE.tst")
	return cmd
}

// readAuditExport reads the checkpoints of a file 'selo audit export' wrote.
func readAuditExport(path string) ([]*selo.AuditCheckpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	var exp auditExport
	if err := json.Unmarshal(b, &exp); err != nil || exp.Format != auditExportFormat {
		return nil, selo.Errorf(selo.EINVALID, "%s is not a file written by 'selo audit export'", path)
	}
	return exp.Checkpoints, nil
}
