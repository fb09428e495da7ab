package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// certOutput is a certificate as the CLI prints it.
type certOutput struct {
	Serial       string            `json:"serial"`
	CA           string            `json:"ca"`
	Profile      string            `json:"profile"`
	Subject      string            `json:"subject"`
	Issuer       string            `json:"issuer,omitempty"`
	Key          string            `json:"key,omitempty"`
	DNSNames     []string          `json:"dns_names,omitempty"`
	Emails       []string          `json:"email_addresses,omitempty"`
	NotBefore    time.Time         `json:"not_before"`
	NotAfter     time.Time         `json:"not_after"`
	Status       string            `json:"status"`
	KeyHeld      bool              `json:"key_held_by_selo"`
	ReissuedFrom string            `json:"reissued_from,omitempty"`
	SupersededBy string            `json:"superseded_by,omitempty"`
	Lint         []pki.LintFinding `json:"lint_findings"`
	PEM          string            `json:"certificate,omitempty"`
	// Dropped names the CSR's subject attributes the profile left out (cert issue only).
	Dropped []string `json:"dropped_subject,omitempty"`
}

func certToOutput(c *selo.Certificate, withPEM bool) *certOutput {
	out := &certOutput{Serial: c.Serial, CA: c.CAID, Profile: c.Profile, Subject: c.Subject, NotBefore: c.NotBefore,
		NotAfter: c.NotAfter, Status: string(c.Status), KeyHeld: c.KeyID != "", ReissuedFrom: c.ReissuedFrom,
		SupersededBy: c.SupersededBy, Lint: []pki.LintFinding{}}
	if len(c.LintResults) > 0 {
		_ = json.Unmarshal(c.LintResults, &out.Lint)
	}
	if x, err := x509.ParseCertificate(c.DER); err == nil {
		out.Issuer, out.Key, out.DNSNames, out.Emails = x.Issuer.String(), pki.KeyDescription(x.PublicKey), x.DNSNames, x.EmailAddresses
		if withPEM {
			out.PEM = string(pki.EncodePEM(x))
		}
	}
	return out
}

func (c *cli) certCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Issue, inspect, export and re-issue certificates",
	}
	cmd.AddCommand(c.certIssueCommand(), c.certShowCommand(), c.certGetCommand(), c.certListCommand(),
		c.certPFXCommand(), c.certReissueCommand())
	return cmd
}

type certIssueOptions struct {
	Profile, CA, CSR, Out, GenerateKey   string
	CN, GivenName, Surname, SerialNumber string
	Org, OrgID, Country, Locality, State string
	Emails, DNS                          []string
}

func (c *cli) certIssueCommand() *cobra.Command {
	var o certIssueOptions
	cmd := &cobra.Command{
		Use:   "issue --profile PROFILE (--csr FILE | --generate-key TYPE --cn NAME ...)",
		Short: "Issue a certificate under a profile, from a CSR or with a key Selo makes",
		Long: `Issue checks the request against the profile, lints the certificate with
zlint before signing it, stores it and prints it (PEM).

From a CSR (the holder keeps the key):
  selo cert issue --profile tls-server --csr www.csr --out www.crt

Software delivery (Selo makes the key; export it once with 'selo cert pfx'):
  selo cert issue --profile qualified-sign --generate-key ecdsa-p256 \
      --cn "Maria Silva" --given-name Maria --surname Silva \
      --serial-number IDCPT-12345678 --country PT

Profiles: see 'selo profile list'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Profile == "" {
				return usagef("cert issue needs --profile (see 'selo profile list')")
			}
			req := authority.IssueRequest{Profile: o.Profile, CAID: o.CA, GenerateKey: selo.KeyAlgorithm(o.GenerateKey)}
			switch {
			case o.CSR != "" && o.GenerateKey != "":
				return usagef("give --csr or --generate-key, not both")
			case o.CSR != "":
				b, err := os.ReadFile(o.CSR)
				if err != nil {
					return fmt.Errorf("read CSR: %w", err)
				}
				req.CSR = b
				// With a CSR the subject comes from the CSR; the
				// organisation flags are what the officer validated
				// (tls-server-ov takes O, L, ST and C only from them).
				req.Validated = validatedFromFlags(o)
				if o.CN != "" || o.GivenName != "" || o.Surname != "" || o.SerialNumber != "" || o.OrgID != "" || len(o.DNS) > 0 || len(o.Emails) > 0 {
					return usagef("with --csr the names come from the CSR: only --org, --locality, --state and --country (the validated organisation) may be given")
				}
			case o.GenerateKey != "":
				req.Subject = subjectFromFlags(o)
				req.DNSNames, req.EmailAddresses = o.DNS, o.Emails
			default:
				return usagef("cert issue needs --csr FILE or --generate-key TYPE")
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			cert, err := a.Issue(cmd.Context(), actor(), req)
			if err != nil {
				return err
			}
			dropped, _ := a.DroppedSubject(req)
			if c.jsonOut {
				out := certToOutput(cert, true)
				out.Dropped = dropped
				return c.printJSON(out)
			}
			x, err := authority.ParsedCertificate(cert)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "issued %s serial %s (%s, until %s)\n", cert.Profile, cert.Serial, subjectLabel(cert), cert.NotAfter.Format("2006-01-02"))
			if len(dropped) > 0 {
				fmt.Fprintf(c.stderr, "note: left out of the certificate: %s from the CSR's subject; %s names only its DNS names"+
					" (use --profile tls-server-ov with the validated --org, --locality or --state, and --country to certify the organisation)\n",
					strings.Join(dropped, ", "), cert.Profile)
			}
			return c.writeOutput(o.Out, pki.EncodePEM(x), 0o644)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Profile, "profile", "", "profile: qualified-sign, qualified-seal, advanced-invoice, advanced-email, tls-server, ...")
	f.StringVar(&o.CA, "ca", "", "issuing CA (default: the one configured for the profile)")
	f.StringVar(&o.CSR, "csr", "", "CSR file, PEM or DER")
	f.StringVar(&o.Out, "out", "", "where to write the certificate (default standard output)")
	f.StringVar(&o.GenerateKey, "generate-key", "", "have Selo make the key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&o.CN, "cn", "", "common name")
	f.StringVar(&o.GivenName, "given-name", "", "given name (natural persons)")
	f.StringVar(&o.Surname, "surname", "", "surname (natural persons)")
	f.StringVar(&o.SerialNumber, "serial-number", "", "subject serialNumber, e.g. IDCPT-12345678 (ETSI EN 319 412-1 semantics)")
	f.StringVar(&o.Org, "org", "", "organisation (legal persons; with --csr: the organisation you validated, for tls-server-ov)")
	f.StringVar(&o.OrgID, "org-id", "", "organizationIdentifier, e.g. VATPT-500000000 (legal persons)")
	f.StringVar(&o.Country, "country", "", "two-letter country code")
	f.StringVar(&o.Locality, "locality", "", "locality (with --csr: the validated organisation's, for tls-server-ov)")
	f.StringVar(&o.State, "state", "", "state or province (with --csr: the validated organisation's, for tls-server-ov)")
	f.StringSliceVar(&o.Emails, "email", nil, "e-mail address for the SAN (repeatable)")
	f.StringSliceVar(&o.DNS, "dns", nil, "DNS name for the SAN (repeatable)")
	return cmd
}

var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
var oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
var oidSurname = asn1.ObjectIdentifier{2, 5, 4, 4}

func subjectFromFlags(o certIssueOptions) pkix.Name {
	n := pkix.Name{CommonName: o.CN, SerialNumber: o.SerialNumber}
	if o.Org != "" {
		n.Organization = []string{o.Org}
	}
	if o.Country != "" {
		n.Country = []string{o.Country}
	}
	if o.Locality != "" {
		n.Locality = []string{o.Locality}
	}
	if o.State != "" {
		n.Province = []string{o.State}
	}
	for _, extra := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{{oidGivenName, o.GivenName}, {oidSurname, o.Surname}, {oidOrganizationIdentifier, o.OrgID}} {
		if extra.v != "" {
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: extra.oid, Value: extra.v})
		}
	}
	return n
}

// validatedFromFlags returns the organisation an officer validated, given
// with --org, --locality, --state and --country beside a CSR.
func validatedFromFlags(o certIssueOptions) map[string]string {
	v := map[string]string{}
	for name, value := range map[string]string{"O": o.Org, "L": o.Locality, "ST": o.State, "C": o.Country} {
		if value != "" {
			v[name] = value
		}
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

// subjectLabel is how a certificate is named in messages and lists: its
// subject, or for a DV TLS certificate with an empty subject (the BRs'
// recommendation) its DNS names.
func subjectLabel(c *selo.Certificate) string {
	if c.Subject != "" {
		return c.Subject
	}
	if x, err := x509.ParseCertificate(c.DER); err == nil && len(x.DNSNames) > 0 {
		return "DNS " + strings.Join(x.DNSNames, ", ") + " (the subject is empty: DV)"
	}
	return "(empty subject)"
}

func (c *cli) certShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show SERIAL",
		Short: "Show a certificate's details, status and lint findings",
		Args:  exactArgs(1, "cert show needs a serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			cert, err := a.FindCertificate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := certToOutput(cert, false)
			if c.jsonOut {
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Serial:\t%s\nStatus:\t%s\nProfile:\t%s\nCA:\t%s\nSubject:\t%s\nIssuer:\t%s\nKey:\t%s\n",
				out.Serial, out.Status, out.Profile, out.CA, subjectLabel(cert), out.Issuer, out.Key)
			for _, d := range out.DNSNames {
				fmt.Fprintf(tw, "DNS name:\t%s\n", d)
			}
			for _, e := range out.Emails {
				fmt.Fprintf(tw, "E-mail:\t%s\n", e)
			}
			fmt.Fprintf(tw, "Valid:\t%s to %s\n", out.NotBefore.Format(time.RFC3339), out.NotAfter.Format(time.RFC3339))
			if out.KeyHeld {
				fmt.Fprintf(tw, "Key:\theld by Selo (export with 'selo cert pfx')\n")
			}
			if out.ReissuedFrom != "" {
				fmt.Fprintf(tw, "Re-issued from:\t%s\n", out.ReissuedFrom)
			}
			if out.SupersededBy != "" {
				fmt.Fprintf(tw, "Superseded by:\t%s\n", out.SupersededBy)
			}
			fmt.Fprintf(tw, "Lint findings:\t%d\n", len(out.Lint))
			for _, l := range out.Lint {
				fmt.Fprintf(tw, "  %s\t%s %s\n", l.Status, l.Lint, l.Details)
			}
			return tw.Flush()
		},
	}
}

func (c *cli) certGetCommand() *cobra.Command {
	var format, out string
	var chain bool
	cmd := &cobra.Command{
		Use:   "get SERIAL [--format pem|der] [--chain] [--out FILE]",
		Short: "Write a certificate as PEM or DER, optionally with its chain",
		Args:  exactArgs(1, "cert get needs a serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			cert, err := a.FindCertificate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				// For scripts: the details and the certificate as PEM, as 'cert show --json' with the certificate.
				if format != "pem" || chain {
					return usagef("--json writes one certificate as PEM inside JSON; drop --format and --chain")
				}
				b, err := json.MarshalIndent(certToOutput(cert, true), "", "  ")
				if err != nil {
					return err
				}
				return c.writeOutput(out, append(b, '\n'), 0o644)
			}
			switch format {
			case "der":
				if chain {
					return usagef("--chain needs --format pem (DER holds one certificate)")
				}
				return c.writeOutput(out, cert.DER, 0o644)
			case "pem":
				x, err := authority.ParsedCertificate(cert)
				if err != nil {
					return err
				}
				certs := []*x509.Certificate{x}
				if chain {
					cc, err := a.Chain(cmd.Context(), cert.CAID)
					if err != nil {
						return err
					}
					certs = append(certs, cc...)
				}
				return c.writeOutput(out, pki.EncodePEM(certs...), 0o644)
			default:
				return usagef("--format must be pem or der")
			}
		},
	}
	cmd.Flags().StringVar(&format, "format", "pem", "pem or der")
	cmd.Flags().BoolVar(&chain, "chain", false, "append the CA chain up to the root (PEM only)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return cmd
}

func (c *cli) certListCommand() *cobra.Command {
	var filter selo.CertificateFilter
	var status string
	cmd := &cobra.Command{
		Use:   "list [--ca CA] [--status valid|revoked|superseded] [--limit N]",
		Short: "List issued certificates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter.Status = selo.CertificateStatus(status)
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			certs, err := a.ListCertificates(cmd.Context(), filter)
			if err != nil {
				return err
			}
			outs := make([]*certOutput, 0, len(certs))
			for _, cert := range certs {
				outs = append(outs, certToOutput(cert, false))
			}
			labels := make([]string, len(certs))
			for i, cert := range certs {
				labels[i] = subjectLabel(cert)
			}
			if c.jsonOut {
				return c.printJSON(outs)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERIAL\tCA\tPROFILE\tSTATUS\tNOT AFTER\tSUBJECT")
			for i, o := range outs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Serial, o.CA, o.Profile, o.Status, o.NotAfter.Format("2006-01-02"), labels[i])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&filter.CAID, "ca", "", "only certificates of this CA")
	cmd.Flags().StringVar(&status, "status", "", "only this status: valid, revoked, superseded")
	cmd.Flags().IntVar(&filter.Limit, "limit", 100, "at most this many (0: all)")
	cmd.Flags().StringVar(&filter.AfterSerial, "after", "", "start after this serial (paging)")
	return cmd
}

func (c *cli) certPFXCommand() *cobra.Command {
	var out, keyFile, passwordFile, keyPasswordFile string
	cmd := &cobra.Command{
		Use:   "pfx SERIAL --out FILE",
		Short: "Export certificate, chain and key as a password-protected PKCS#12 (.pfx) backup",
		Long: `Pfx writes the certificate, its chain and its private key as a PKCS#12 file
encrypted with AES-256 and PBKDF2/SHA-256, under a password you choose
(--password-file, SELO_PFX_PASSWORD, or a prompt). Windows, macOS, browsers
and OpenSSL import it.

The key is the one Selo made for the holder ('cert issue --generate-key'),
or your own encrypted key file given with --key (password from
--key-password-file, SELO_KEY_PASSWORD, or a prompt).`,
		Example: `  selo cert pfx 3f2a... --out Digital1234.pfx
  openssl pkcs12 -info -in Digital1234.pfx -nokeys`,
		Args: exactArgs(1, "cert pfx needs a serial"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("cert pfx needs --out FILE (a .pfx is binary)")
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			var key any
			if keyFile != "" {
				kp, err := c.readPassword(keyPasswordFile, "SELO_KEY_PASSWORD", "Password of "+keyFile, false)
				if err != nil {
					return err
				}
				if key, err = readKeyFile(keyFile, kp); err != nil {
					return err
				}
			}
			password, err := c.readPassword(passwordFile, "SELO_PFX_PASSWORD", "Password for the .pfx", true)
			if err != nil {
				return err
			}
			b, err := a.PFX(cmd.Context(), actor(), args[0], key, password)
			if err != nil {
				return err
			}
			return c.writeOutput(out, b, 0o600)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the .pfx file to write")
	cmd.Flags().StringVar(&keyFile, "key", "", "your own key file (PEM PKCS#8, encrypted or not)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "file holding the .pfx password")
	cmd.Flags().StringVar(&keyPasswordFile, "key-password-file", "", "file holding the --key file's password")
	return cmd
}

func (c *cli) certReissueCommand() *cobra.Command {
	var newCA, fromCA string
	cmd := &cobra.Command{
		Use:   "reissue (SERIAL | --all-from OLD-CA) --ca NEW-CA",
		Short: "Re-issue certificates of an old CA under a new one: same key, subject and expiry",
		Long: `Reissue is the certificate update after a CA change: the certificate is issued
again under --ca with the same public key, subject, SANs and notAfter, and
the old certificate is marked superseded (not revoked). The holder pays
nothing, sends no documents, and keeps their key and validity date.

With --all-from, every valid certificate of the old CA that has not expired
is re-issued, with a progress bar: end-entity certificates under their
profile, TSA certificates (from 'selo tsa init') under the timestamping
profile with the same TSA key ('selo serve --tsa-certificate OLD-SERIAL'
then serves the new one). The new CA gets its own delegated OCSP responder
if it has none; the old CA's responder stays and answers for the old
certificates. Stop it at any time (Ctrl-C) and run it again: it resumes with
the certificates not yet re-issued. A run that leaves nothing behind says
the re-issue is complete; running it again then says there is nothing left.
--json prints {"reissued", "failed", "remaining", "complete"}.`,
		Example: `  selo cert reissue 3f2a... --ca qualified-ecc-v2
  selo cert reissue --all-from qualified-ecc-v1 --ca qualified-ecc-v2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if newCA == "" {
				return usagef("cert reissue needs --ca NEW-CA")
			}
			if (fromCA == "") == (len(args) != 1) || len(args) > 1 {
				return usagef("cert reissue needs one serial, or --all-from OLD-CA")
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			if fromCA == "" {
				cert, err := a.Reissue(cmd.Context(), actor(), args[0], newCA)
				if err != nil {
					return err
				}
				if c.jsonOut {
					return c.printJSON(certToOutput(cert, true))
				}
				fmt.Fprintf(c.stdout, "Re-issued %s as %s under %s (valid until %s)\n", args[0], cert.Serial, cert.CAID, cert.NotAfter.Format("2006-01-02"))
				return nil
			}
			bar := newProgressBar(c.stderr)
			done, failed, err := a.ReissueAll(cmd.Context(), actor(), fromCA, newCA, func(p authority.ReissueProgress) {
				if p.Err != nil {
					bar.note(fmt.Sprintf("%s: %s", p.Serial, selo.ErrorMessage(p.Err)))
				}
				bar.update(p.Done, p.Total)
			})
			bar.finish()
			remaining := -1
			if err == nil {
				if remaining, err = a.CountReissuable(cmd.Context(), fromCA); err != nil {
					remaining = -1
				}
			}
			complete := err == nil && remaining == 0
			if c.jsonOut {
				if jerr := c.printJSON(map[string]any{"reissued": done, "failed": failed, "remaining": remaining, "complete": complete}); jerr != nil {
					return jerr
				}
			} else {
				switch {
				case complete && done == 0 && failed == 0:
					fmt.Fprintf(c.stdout, "Nothing left to re-issue: %s has no valid certificate left. The re-issue to %s is complete.\n", fromCA, newCA)
				case complete:
					fmt.Fprintf(c.stdout, "Re-issued %d certificates of %s under %s. The re-issue is complete: %s has no valid certificate left.\n", done, fromCA, newCA, fromCA)
				default:
					fmt.Fprintf(c.stdout, "Re-issued %d certificates of %s under %s; %d failed.\n", done, fromCA, newCA, failed)
				}
			}
			if err != nil {
				return fmt.Errorf("stopped before the end (run the same command again to resume): %w", err)
			}
			if failed > 0 {
				return selo.Errorf(selo.EINVALID, "%d certificates could not be re-issued (see above)", failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&newCA, "ca", "", "the new issuing CA")
	cmd.Flags().StringVar(&fromCA, "all-from", "", "re-issue every valid certificate of this CA")
	return cmd
}
