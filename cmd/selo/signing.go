package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/signing"
)

// codeKeyInfo separates the key that HMACs SMS codes and wallet nonces from
// every other use of the master key.
const codeKeyInfo = "selo signing code key v1"

// signing returns the remote-signing service over the data directory. Its
// secrets (TOTP, authorizer and wallet-enrolment secrets) are sealed under
// the master key, and the code key is derived from it with HKDF. With a
// PKCS#11 key store the master key still comes from --master-key-file or
// SELO_MASTER_PASSPHRASE: without one there is no signing service.
func (c *cli) signing(ctx context.Context) (*signing.Service, error) {
	a, err := c.authority(ctx)
	if err != nil {
		return nil, err
	}
	mk, err := c.masterKey(false)
	if err != nil {
		return nil, fmt.Errorf("remote signing needs the master key for its secrets: %w", err)
	}
	box, err := soft.NewSecretBox(mk)
	if err != nil {
		return nil, err
	}
	codeKey, err := hkdf.Key(sha256.New, mk, nil, codeKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	n, err := c.notifiers()
	if err != nil {
		return nil, err
	}
	st, ok := c.store.(signing.Store)
	if !ok {
		return nil, fmt.Errorf("the store does not hold accounts and credentials")
	}
	cfg := signing.Config{
		Store: st, Keys: c.keys, Authority: a, Secrets: box, CodeKey: codeKey, SMS: n.SMS, Mailer: n.Mailer, Templates: n.Templates,
		Logger: c.log, PublicURL: c.baseURL, KeysInQSCD: c.keysInQSCD(), Metrics: c.metrics,
	}
	if c.limits != nil {
		cfg.CodeLimit, cfg.LoginLimit = &c.limits.code, &c.limits.login
	}
	return signing.New(cfg)
}

func (c *cli) accountCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage remote-signing holder accounts"}
	var email, name, mobile, passwordFile string
	create := &cobra.Command{
		Use:   "create --email EMAIL --name NAME [--mobile +351...] [--password-file FILE]",
		Short: "Create a holder account (the password comes from a file, SELO_ACCOUNT_PASSWORD or a prompt)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" || name == "" {
				return usagef("account create needs --email and --name")
			}
			pw, err := c.readPassword(passwordFile, "SELO_ACCOUNT_PASSWORD", "Holder password", true)
			if err != nil {
				return err
			}
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			a, err := svc.CreateAccount(cmd.Context(), actor(), signing.CreateAccountRequest{Email: email, Name: name, Mobile: mobile, Password: pw})
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]any{"id": a.ID, "email": a.Email, "name": a.Name, "mobile": a.Mobile})
			}
			fmt.Fprintf(c.stdout, "account %s created for %s\n", a.ID, a.Email)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&email, "email", "", "the holder's e-mail (the login)")
	f.StringVar(&name, "name", "", "the holder's name")
	f.StringVar(&mobile, "mobile", "", "mobile number in E.164 form, for SMS codes")
	f.StringVar(&passwordFile, "password-file", "", "file holding the initial password")
	cmd.AddCommand(create, c.accountSwitchCommand(true), c.accountSwitchCommand(false), c.accountWalletOfferCommand())
	return cmd
}

func (c *cli) credentialCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Manage remote-signing credentials (keys kept in Selo's key store)"}
	var o certIssueOptions
	var account, approvalType, keyType, mobile, description string
	create := &cobra.Command{
		Use:   "create --account EMAIL --profile P --approval sms|authenticator|wallet|authorizer [--key-type T] [subject flags]",
		Short: "Generate a non-exportable key for a holder, certify it and store the credential",
		Example: `  selo credential create --account maria@example.pt --profile qualified-sign --approval wallet \
      --cn "Maria Silva" --given-name Maria --surname Silva --serial-number IDCPT-12345678 --country PT
  selo credential create --account faturas@example.pt --profile qualified-seal --approval authorizer \
      --cn "Exemplo Lda" --org "Exemplo Lda" --org-id VATPT-500000000 --country PT`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == "" || o.Profile == "" || approvalType == "" {
				return usagef("credential create needs --account, --profile and --approval")
			}
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			a, err := svc.AccountByEmail(cmd.Context(), account)
			if err != nil {
				return err
			}
			info, err := svc.CreateCredential(cmd.Context(), actor(), signing.CreateCredentialRequest{
				AccountID: a.ID, Profile: o.Profile, ApprovalType: selo.ApprovalType(approvalType), KeyAlgorithm: selo.KeyAlgorithm(keyType),
				Subject: subjectFromFlags(o), EmailAddresses: o.Emails, Mobile: mobile, Description: description,
			})
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(credentialOutput(info))
			}
			fmt.Fprintf(c.stdout, "credential %s (%s, %s approval) certificate %s\n", info.Credential.ID, info.Credential.Profile,
				info.Credential.ApprovalType, info.Credential.CertificateSerial)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&account, "account", "", "the holder's e-mail")
	f.StringVar(&o.Profile, "profile", "", "profile: qualified-sign, qualified-seal, advanced-invoice")
	f.StringVar(&approvalType, "approval", "", "how signatures are approved: sms, authenticator, wallet or authorizer (e-seals)")
	f.StringVar(&keyType, "key-type", string(selo.KeyECDSAP256), "key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&mobile, "mobile", "", "mobile number for SMS codes (default: the account's)")
	f.StringVar(&description, "description", "", "description shown to the holder")
	f.StringVar(&o.CN, "cn", "", "common name")
	f.StringVar(&o.GivenName, "given-name", "", "given name (natural persons)")
	f.StringVar(&o.Surname, "surname", "", "surname (natural persons)")
	f.StringVar(&o.SerialNumber, "serial-number", "", "subject serialNumber, e.g. IDCPT-12345678")
	f.StringVar(&o.Org, "org", "", "organisation (legal persons)")
	f.StringVar(&o.OrgID, "org-id", "", "organizationIdentifier, e.g. VATPT-500000000")
	f.StringVar(&o.Country, "country", "", "two-letter country code")
	f.StringVar(&o.Locality, "locality", "", "locality")
	f.StringSliceVar(&o.Emails, "email", nil, "e-mail address for the SAN (repeatable)")

	var listAccount string
	list := &cobra.Command{
		Use:   "list --account EMAIL",
		Short: "List a holder's credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if listAccount == "" {
				return usagef("credential list needs --account")
			}
			svc, err := c.signing(cmd.Context())
			if err != nil {
				return err
			}
			a, err := svc.AccountByEmail(cmd.Context(), listAccount)
			if err != nil {
				return err
			}
			cs, err := svc.ListCredentials(cmd.Context(), a.ID)
			if err != nil {
				return err
			}
			out := make([]map[string]any, 0, len(cs))
			for _, ci := range cs {
				out = append(out, credentialOutput(ci))
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROFILE\tAPPROVAL\tKEY\tSTATUS\tSUBJECT\tNOT AFTER")
			for _, ci := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ci.Credential.ID, ci.Credential.Profile, ci.Credential.ApprovalType,
					ci.Credential.KeyAlgorithm, ci.Credential.Status, ci.Certificate.Subject.CommonName, ci.Certificate.NotAfter.Format("2006-01-02"))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&listAccount, "account", "", "the holder's e-mail")
	cmd.AddCommand(create, list, c.credentialSwitchCommand(true), c.credentialSwitchCommand(false))
	return cmd
}

func credentialOutput(ci *signing.CredentialInfo) map[string]any {
	return map[string]any{
		"id": ci.Credential.ID, "profile": ci.Credential.Profile, "approval": ci.Credential.ApprovalType,
		"key": ci.Credential.KeyAlgorithm, "key_bits": ci.KeyBits, "status": ci.Credential.Status,
		"serial": ci.Credential.CertificateSerial, "subject": pki.NameString(ci.Certificate.Subject), "not_after": ci.Certificate.NotAfter,
	}
}
