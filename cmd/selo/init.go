package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
)

// initOptions shapes the hierarchy `selo init` makes.
type initOptions struct {
	Organization  string
	Country       string
	RootID        string
	RootName      string
	RootKey       string
	RootDays      int
	QualifiedID   string
	QualifiedName string
	QualifiedKey  string
	TLSID         string
	TLSName       string
	TLSKey        string
	IssuingDays   int
}

func defaultInitOptions() initOptions {
	return initOptions{
		Organization: "Selo Demo Trust Services", Country: "PT",
		RootID: "root-ecc-v1", RootName: "Selo Demo Root CA ECC V1", RootKey: string(selo.KeyECDSAP384), RootDays: 25 * 365,
		QualifiedID: "qualified-ecc-v1", QualifiedName: "Selo Demo Qualified CA ECC V1", QualifiedKey: string(selo.KeyECDSAP384),
		TLSID: "tls-rsa-v1", TLSName: "Selo Demo TLS CA RSA V1", TLSKey: string(selo.KeyRSA3072),
		IssuingDays: 10 * 365,
	}
}

func (c *cli) initCommand() *cobra.Command {
	o := defaultInitOptions()
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the data directory, the key store and a CA hierarchy",
		Long: `Init creates the data directory: the database, the software key store sealed
under a new master key (DATA/master.key, or derived from SELO_MASTER_PASSPHRASE),
a config file, an operator API key, and a CA hierarchy:

  an ECDSA P-384 root CA,
  an ECDSA issuing CA for the qualified and advanced profiles,
  an RSA 3072 issuing CA for TLS server certificates.

Every name and key type is a flag. On a terminal, init asks for the
organisation, country and public base URL when they are not given as flags.
It refuses to run twice on the same data directory.`,
		Example: `  selo init --org "Example Trust Services" --country PT --base-url https://pki.example.pt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.promptInit(cmd, &o)
			return c.initialize(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Organization, "org", o.Organization, "organisation name in the CA certificates")
	f.StringVar(&o.Country, "country", o.Country, "two-letter country code in the CA certificates")
	f.StringVar(&o.RootID, "root-id", o.RootID, "ID of the root CA")
	f.StringVar(&o.RootName, "root-name", o.RootName, "common name of the root CA")
	f.StringVar(&o.RootKey, "root-key-type", o.RootKey, "root CA key type: ecdsa-p256, ecdsa-p384, rsa-3072, rsa-4096")
	f.IntVar(&o.RootDays, "root-validity-days", o.RootDays, "root CA validity in days")
	f.StringVar(&o.QualifiedID, "qualified-id", o.QualifiedID, "ID of the issuing CA for qualified and advanced certificates")
	f.StringVar(&o.QualifiedName, "qualified-name", o.QualifiedName, "common name of that CA")
	f.StringVar(&o.QualifiedKey, "qualified-key-type", o.QualifiedKey, "its key type (ecdsa-p256 or ecdsa-p384)")
	f.StringVar(&o.TLSID, "tls-id", o.TLSID, "ID of the issuing CA for TLS server certificates")
	f.StringVar(&o.TLSName, "tls-name", o.TLSName, "common name of that CA")
	f.StringVar(&o.TLSKey, "tls-key-type", o.TLSKey, "its key type (rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384)")
	f.IntVar(&o.IssuingDays, "issuing-validity-days", o.IssuingDays, "issuing CA validity in days")
	return cmd
}

// promptInit asks for the main settings on a terminal when no flag set them.
func (c *cli) promptInit(cmd *cobra.Command, o *initOptions) {
	in, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return
	}
	r := bufio.NewReader(in)
	ask := func(flag, question string, v *string) {
		if f := cmd.Flags().Lookup(flag); f == nil || f.Changed {
			return
		}
		fmt.Fprintf(c.stderr, "%s [%s]: ", question, *v)
		line, _ := r.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			*v = line
		}
	}
	ask("org", "Organisation name", &o.Organization)
	ask("country", "Country (two letters)", &o.Country)
	ask("base-url", "Public base URL", &c.baseURL)
}

// initialized reports whether the data directory already holds a Selo.
func (c *cli) initialized() bool {
	_, err := os.Stat(c.configPath)
	return err == nil
}

// initResult is what init prints.
type initResult struct {
	DataDir string      `json:"data_dir"`
	CAs     []*caOutput `json:"cas"`
	APIKey  string      `json:"api_key"`
	Config  string      `json:"config"`
}

func (c *cli) initialize(cmd *cobra.Command, o initOptions) error {
	ctx := cmd.Context()
	if c.initialized() {
		return selo.Errorf(selo.ECONFLICT, "%s is already initialized (found %s)", c.dataDir, c.configPath)
	}
	c.initializing = true
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if c.keystore == "soft" {
		if _, err := c.masterKey(true); err != nil {
			return err
		}
	}
	// Write the CA choice per profile first so that the authority reads it.
	c.cfg.ProfileCA = map[string]string{
		"qualified-sign": o.QualifiedID, "qualified-seal": o.QualifiedID,
		"advanced-invoice": o.QualifiedID, "advanced-email": o.QualifiedID, "tls-server": o.TLSID, "tls-server-ov": o.TLSID,
	}
	a, err := c.authority(ctx)
	if err != nil {
		return err
	}
	// The audit key first, so that every entry of a new log is written
	// while it exists; a checkpoint at the end anchors them all.
	if _, err := a.EnsureAuditKey(ctx, actor()); err != nil {
		return err
	}
	res := initResult{DataDir: c.dataDir, Config: c.configPath}
	for _, spec := range []authority.CreateCAOptions{
		{ID: o.RootID, Name: o.RootName, KeyAlgorithm: selo.KeyAlgorithm(o.RootKey), ValidityDays: o.RootDays},
		{ID: o.QualifiedID, Name: o.QualifiedName, ParentID: o.RootID, KeyAlgorithm: selo.KeyAlgorithm(o.QualifiedKey), ValidityDays: o.IssuingDays},
		{ID: o.TLSID, Name: o.TLSName, ParentID: o.RootID, KeyAlgorithm: selo.KeyAlgorithm(o.TLSKey), ValidityDays: o.IssuingDays},
	} {
		spec.Organization, spec.Country = o.Organization, o.Country
		fmt.Fprintf(c.stderr, "creating CA %s (%s)...\n", spec.ID, spec.KeyAlgorithm)
		ca, err := a.CreateCA(ctx, actor(), spec)
		if err != nil {
			return fmt.Errorf("create CA %s: %w", spec.ID, err)
		}
		res.CAs = append(res.CAs, caToOutput(ca))
	}
	secret, _, err := a.CreateAPIKey(ctx, actor(), "admin")
	if err != nil {
		return err
	}
	res.APIKey = secret
	if _, err := a.CheckpointAudit(ctx, actor()); err != nil {
		return err
	}
	if err := c.writeConfig(); err != nil {
		return err
	}
	if c.jsonOut {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.stdout, "Initialized %s\n\n", c.dataDir)
	for _, ca := range res.CAs {
		fmt.Fprintf(c.stdout, "  CA %-20s %-12s %s\n", ca.ID, ca.KeyAlgorithm, ca.Subject)
	}
	fmt.Fprintf(c.stdout, "\nOperator API key, roles admin and officer (shown once, keep it safe):\n  %s\n\nConfig: %s\n", secret, c.configPath)
	return nil
}

// writeConfig writes the config file init creates. It holds no secret.
func (c *cli) writeConfig() error {
	cfg := map[string]any{
		"base-url":   c.baseURL,
		"keystore":   c.keystore,
		"profile_ca": c.cfg.ProfileCA,
	}
	if !c.databaseDefault {
		cfg["database"] = c.database
	}
	// A master key file kept outside the data directory must be found again
	// by every later command, not only by init.
	if c.keystore == "soft" && os.Getenv("SELO_MASTER_PASSPHRASE") == "" &&
		filepath.Clean(c.masterKeyFile) != filepath.Join(c.dataDir, "master.key") {
		path, err := filepath.Abs(c.masterKeyFile)
		if err != nil {
			return err
		}
		cfg["master-key-file"] = path
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := "# Selo configuration. Flags and SELO_* environment variables override these.\n" +
		"# profile_ca names the CA that issues each profile when a request names none.\n"
	if err := os.MkdirAll(filepath.Dir(c.configPath), 0o700); err != nil {
		return err
	}
	return os.WriteFile(c.configPath, append([]byte(header), b...), 0o600)
}
