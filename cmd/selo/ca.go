package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// caOutput is a CA as the CLI prints it.
type caOutput struct {
	ID           string    `json:"id"`
	Subject      string    `json:"subject"`
	Parent       string    `json:"parent,omitempty"`
	KeyAlgorithm string    `json:"key_algorithm"`
	Status       string    `json:"status"`
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
}

func caToOutput(ca *selo.CA) *caOutput {
	out := &caOutput{ID: ca.ID, Subject: ca.Name, Parent: ca.ParentID, KeyAlgorithm: string(ca.KeyAlgorithm), Status: string(ca.Status)}
	if cert, err := x509.ParseCertificate(ca.CertDER); err == nil {
		out.Subject, out.Serial = pki.NameString(cert.Subject), pki.SerialHex(cert.SerialNumber)
		out.NotBefore, out.NotAfter = cert.NotBefore, cert.NotAfter
	}
	return out
}

func (c *cli) caCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Create, list and retire certificate authorities; download chains",
	}
	cmd.AddCommand(c.caCreateCommand(), c.caListCommand(), c.caRetireCommand(), c.caRevokeCommand(), c.caChainCommand())
	return cmd
}

func (c *cli) caCreateCommand() *cobra.Command {
	var o authority.CreateCAOptions
	var keyType string
	var requireProposal bool
	cmd := &cobra.Command{
		Use:   "create --id ID --name NAME [--parent CA]",
		Short: "Create a CA: a new root, or an issuing CA under a parent",
		Long: `Create generates the CA's key in the key store and its certificate: self-signed
when --parent is empty (a new root), signed by the parent otherwise. Use it to
start a new hierarchy (for example an ECC "Qualified CA V2") before re-issuing
the certificates of the old one with 'selo cert reissue'.

Creating a CA is under dual control (see 'selo proposal'): run here, on the
CA machine, without a proposal, it is break-glass: it prints a warning and
is recorded as dualcontrol.break_glass in the audit log. With
--require-proposal (or require-proposal: true in selo.yaml) it refuses and
points to 'selo proposal create ca.create'.`,
		Example: `  selo ca create --id qualified-ecc-v2 --name "Example Qualified CA ECC V2" --parent root-ecc-v1 --key-type ecdsa-p384`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.ID == "" || o.Name == "" {
				return usagef("ca create needs --id and --name")
			}
			o.KeyAlgorithm = selo.KeyAlgorithm(keyType)
			if err := c.dualControlled(cmd, requireProposal, "ca.create", "ca/"+o.ID, o, selo.ProposalCACreate); err != nil {
				return err
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			ca, err := a.CreateCA(cmd.Context(), actor(), o)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(caToOutput(ca))
			}
			fmt.Fprintf(c.stdout, "Created CA %s: %s\n", ca.ID, caToOutput(ca).Subject)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ID, "id", "", "short ID used in URLs and key names (lower-case letters, digits, dashes)")
	f.StringVar(&o.Name, "name", "", "common name of the CA")
	f.StringVar(&o.ParentID, "parent", "", "ID of the parent CA; empty makes a root")
	f.StringVar(&keyType, "key-type", string(selo.KeyECDSAP384), "key type: ecdsa-p256, ecdsa-p384, rsa-3072, rsa-4096")
	f.IntVar(&o.ValidityDays, "validity-days", 10*365, "validity in days")
	f.StringVar(&o.Organization, "org", "", "organisation name")
	f.StringVar(&o.Country, "country", "", "two-letter country code")
	f.StringSliceVar(&o.Policies, "policy", nil, "certificate policy OID for an issuing CA (repeatable; default anyPolicy)")
	f.BoolVar(&requireProposal, "require-proposal", false, "refuse to run without dual control; use 'selo proposal' instead")
	return cmd
}

func (c *cli) caListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the CAs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			cas, err := a.ListCAs(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]*caOutput, 0, len(cas))
			for _, ca := range cas {
				out = append(out, caToOutput(ca))
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPARENT\tKEY\tSTATUS\tNOT AFTER\tSUBJECT")
			for _, ca := range out {
				parent := ca.Parent
				if parent == "" {
					parent = "(root)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ca.ID, parent, ca.KeyAlgorithm, ca.Status, ca.NotAfter.Format("2006-01-02"), ca.Subject)
			}
			return tw.Flush()
		},
	}
}

func (c *cli) caRetireCommand() *cobra.Command {
	var requireProposal bool
	cmd := &cobra.Command{
		Use:   "retire CA",
		Short: "Stop a CA from issuing (what it issued stays valid)",
		Long: `Retire stops a CA from issuing; what it issued stays valid and answered for.

Retiring a CA is under dual control (see 'selo proposal'): run here without a
proposal it is break-glass, printed as a warning and recorded as
dualcontrol.break_glass; --require-proposal (or require-proposal: true in
selo.yaml) makes it refuse.`,
		Args: exactArgs(1, "ca retire needs the CA's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			// An unknown CA is refused (and audited) by RetireCA itself:
			// nothing was done, so no glass was broken.
			if _, err := a.Store().FindCA(cmd.Context(), args[0]); err == nil || requireProposal {
				if err := c.dualControlled(cmd, requireProposal, "ca.retire", "ca/"+args[0], map[string]string{"ca": args[0]}, selo.ProposalCARetire); err != nil {
					return err
				}
			}
			ca, err := a.RetireCA(cmd.Context(), actor(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(caToOutput(ca))
			}
			fmt.Fprintf(c.stdout, "CA %s is retired: it issues nothing new.\n", ca.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&requireProposal, "require-proposal", false, "refuse to run without dual control; use 'selo proposal' instead")
	return cmd
}

func (c *cli) caRevokeCommand() *cobra.Command {
	var reason, invalidity string
	cmd := &cobra.Command{
		Use:   "revoke CA --reason REASON [--invalidity-date TIME]",
		Short: "Revoke a subordinate CA's certificate (compromise): its parent's CRL and OCSP say revoked",
		Long: `Revoke revokes the certificate of a subordinate CA, as its parent, once:
revoking it again prints the first revocation unchanged. At once the CA
issues nothing (certificates, re-issues, TSA and OCSP responder
certificates), the signing service refuses every credential whose
certificate it issued, and OCSP (signed by the parent's responder) answers
"revoked" for the CA certificate; the parent's CRL (an ARL when the parent
is a root) is published again right after, listing it.

What the CA issued is not revoked one by one: relying parties reject it
through the revoked CA certificate. Re-issue it under a new CA with
'selo cert reissue --all-from CA --ca NEW-CA' only when the CA's key is not
what was compromised (otherwise issue anew).

Reasons (RFC 5280): cACompromise (the CA's key), keyCompromise,
affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn,
unspecified. A CA is not put on hold. A root cannot be revoked: take it
out of trust stores and trusted lists.

Revocation is not under dual control: after a key compromise a second
admin must not be waited for (EN 319 411-1 asks for revocation without
delay). Over the API it needs the admin role; every use is audited.`,
		Example: `  selo ca revoke qualified-ecc-v1 --reason cACompromise --invalidity-date 2026-11-20T08:00:00Z`,
		Args:    exactArgs(1, "ca revoke needs the CA's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usagef("ca revoke needs --reason (cACompromise when the CA's key is compromised)")
			}
			r, err := selo.ParseRevocationReason(reason)
			if err != nil {
				return usagef("%s", selo.ErrorMessage(err))
			}
			req := authority.RevokeCARequest{CAID: args[0], Reason: r}
			if invalidity != "" {
				t, err := time.Parse(time.RFC3339, invalidity)
				if err != nil {
					return usagef("--invalidity-date %q is not an RFC 3339 time such as 2026-11-20T08:00:00Z", invalidity)
				}
				req.InvalidityDate = t
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			defer a.WaitCRLs()
			rev, created, err := a.RevokeCA(cmd.Context(), actor(), req)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(caRevocationToOutput(rev, created))
			}
			if !created {
				fmt.Fprintf(c.stdout, "CA %s was already revoked on %s (%s); nothing changed.\n", rev.CAID, rev.RevokedAt.UTC().Format(time.RFC3339), rev.Reason)
				return nil
			}
			fmt.Fprintf(c.stdout, "CA %s is revoked (%s): certificate %s is on the CRL of %s; it issues nothing and its credentials sign nothing.\n",
				rev.CAID, rev.Reason, rev.Serial, rev.ParentID)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "RFC 5280 reason, e.g. cACompromise")
	cmd.Flags().StringVar(&invalidity, "invalidity-date", "", "when the key is known or suspected to have been compromised (RFC 3339)")
	return cmd
}

// caRevocationOutput is the JSON form of a CA revocation.
type caRevocationOutput struct {
	CA             string     `json:"ca"`
	Parent         string     `json:"parent"`
	Serial         string     `json:"serial"`
	Reason         string     `json:"reason"`
	RevokedAt      time.Time  `json:"revoked_at"`
	InvalidityDate *time.Time `json:"invalidity_date,omitempty"`
	Created        bool       `json:"created"`
}

func caRevocationToOutput(rev *selo.CARevocation, created bool) caRevocationOutput {
	out := caRevocationOutput{CA: rev.CAID, Parent: rev.ParentID, Serial: rev.Serial, Reason: rev.Reason.String(),
		RevokedAt: rev.RevokedAt.UTC(), Created: created}
	if !rev.InvalidityDate.IsZero() {
		t := rev.InvalidityDate.UTC()
		out.InvalidityDate = &t
	}
	return out
}

func (c *cli) caChainCommand() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "chain CA [--format pem|p7b] [--out FILE]",
		Short: "Write a CA's chain up to the root as PEM or PKCS#7 (.p7b)",
		Example: `  selo ca chain qualified-ecc-v1 --format p7b --out QUALIFIEDCAV1.p7b
  openssl pkcs7 -inform DER -in QUALIFIEDCAV1.p7b -print_certs`,
		Args: exactArgs(1, "ca chain needs the CA's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			chain, err := a.Chain(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var b []byte
			switch format {
			case "pem":
				b = pki.EncodePEM(chain...)
			case "p7b":
				if b, err = pki.EncodeP7B(chain...); err != nil {
					return err
				}
			default:
				return usagef("--format must be pem or p7b")
			}
			return c.writeOutput(out, b, 0o644)
		},
	}
	cmd.Flags().StringVar(&format, "format", "pem", "pem or p7b")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return cmd
}

// writeOutput writes b to path, or to stdout when path is "" or "-".
func (c *cli) writeOutput(path string, b []byte, mode os.FileMode) error {
	if path == "" || path == "-" {
		_, err := c.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(c.stderr, "wrote %s\n", path)
	return nil
}

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s", msg)
		}
		return nil
	}
}
