package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/trustlist"
)

// cli holds the settings shared by every command and the parts wired from
// them. Parts are opened on first use so that `selo --help` or `selo csr new`
// never touch the database.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	// trustedLists are the lists verify --lotl/--tl loaded, nil otherwise.
	trustedLists *trustlist.Set

	dataDir    string
	configPath string
	database   string
	// databaseDefault is set when the database is the SQLite file inside the
	// data directory, so the config file does not pin that path.
	databaseDefault bool
	jsonOut         bool
	logLevel        string
	baseURL         string

	keystore      string
	masterKeyFile string
	pkcs11Module  string
	pkcs11Token   string
	pkcs11PINFile string

	cfg fileConfig // the config file, once read
	// initializing is set while init makes the data directory, the one time
	// the store may be opened without a config file.
	initializing bool

	store selo.Store
	keys  selo.KeyStore
	// notify is built on first use by notifiers().
	notify *notifiers
	auth   *authority.Authority
	log    *slog.Logger
	// limits are serve's abuse limits; nil leaves the services' defaults.
	limits *abuseLimits
	// metrics receives the services' counts (serve --metrics-listen); nil
	// counts nothing.
	metrics metrics.Sink
	// photoRetention is serve's --identity-photo-retention (0: the desk's default).
	photoRetention time.Duration
}

// fileConfig is the config file (DATA/selo.yaml by default). Every global and
// command flag can also be set here under its own name; these are the
// settings that only the file holds.
type fileConfig struct {
	// ProfileCA names the CA that issues each profile by default.
	ProfileCA map[string]string `yaml:"profile_ca"`
	// Flags holds the flag values, by flag name.
	Flags map[string]any `yaml:",inline"`
}

func newCLI(stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr}
}

func (c *cli) close() {
	if c.keys != nil {
		c.keys.Close()
	}
	if c.store != nil {
		c.store.Close()
	}
}

const rootLong = `Selo runs a qualified trust service: certificate authorities, certificate
profiles, issuance and the public endpoints relying parties use.

Quick start on embedded defaults (SQLite, a software key store, everything in
./selo-data):

  selo serve                  # first run creates the data directory and a demo hierarchy
  selo ca list                # the CAs it made
  selo csr new --cn www.example.eu --san www.example.eu --key-out web.key --out web.csr
  selo cert issue --profile tls-server --csr web.csr --out web.crt

Settings come from flags, then SELO_* environment variables (SELO_DATA,
SELO_DATABASE, ... : the flag name in upper case with dashes as underscores),
then the config file (DATA/selo.yaml), in that order.`

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "selo",
		Short:         "Selo: certificate authority and trust services for an eIDAS QTSP",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return c.loadSettings(cmd)
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usagef("%v", err) })
	f := root.PersistentFlags()
	f.StringVar(&c.dataDir, "data", "./selo-data", "data directory (database, key store, config)")
	f.StringVar(&c.configPath, "config", "", "config file (default DATA/selo.yaml)")
	f.StringVar(&c.database, "database", "", "database: an SQLite file path, or a postgres:// DSN (default DATA/selo.db)")
	f.BoolVar(&c.jsonOut, "json", false, "print results as JSON for scripts")
	f.StringVar(&c.baseURL, "base-url", "http://127.0.0.1:8080", "public base URL that certificates point to for CRLs, OCSP and CA certificates")
	f.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&c.keystore, "keystore", "soft", "key store: soft (sealed files under DATA/keys) or pkcs11 (an HSM)")
	f.StringVar(&c.masterKeyFile, "master-key-file", "", "file holding the soft key store's 32-byte master key (default DATA/master.key; SELO_MASTER_PASSPHRASE derives it from a passphrase instead)")
	f.StringVar(&c.pkcs11Module, "pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so", "PKCS#11 module (with --keystore pkcs11)")
	f.StringVar(&c.pkcs11Token, "pkcs11-token", "selo", "PKCS#11 token label")
	f.StringVar(&c.pkcs11PINFile, "pkcs11-pin-file", "", "file holding the PKCS#11 user PIN (or set SELO_PKCS11_PIN)")

	root.AddCommand(c.initCommand(), c.serveCommand(), c.caCommand(), c.profileCommand(), c.csrCommand(),
		c.certCommand(), c.revokeCommand(), c.crlCommand(), c.auditCommand(), c.apiKeyCommand(),
		c.accountCommand(), c.credentialCommand(), c.walletCommand(), c.outboxCommand(),
		c.orderCommand(), c.liftCommand(), c.updateCommand(), c.cscCommand(),
		c.signCommand(), c.verifyCommand(), c.tsaCommand(), c.tokenCommand(), c.tlCommand(), c.pkcs11Command())
	root.AddCommand(c.operatorCommand(), c.proposalCommand()) // control.go: roles and dual control
	root.AddCommand(c.backupCommand(), c.restoreCommand())    // backup.go
	strictArgs(root)
	return root
}

// strictArgs makes every mistake in the positional arguments a usage error
// (exit status 2): cobra's own argument errors are plain errors, and a command
// that only groups subcommands would print its help and succeed on `selo ca
// bogus`.
func strictArgs(cmd *cobra.Command) {
	switch {
	case cmd.HasSubCommands():
		cmd.SuggestionsMinimumDistance = 2
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return usagef("unknown command %q for %q (did you mean %q?)", args[0], cmd.CommandPath(), s[0])
			}
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		if cmd.Run == nil && cmd.RunE == nil {
			cmd.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
	case cmd.Args != nil:
		check := cmd.Args
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var usage *usageError
			if err != nil && !errors.As(err, &usage) {
				return usagef("%v", err)
			}
			return err
		}
	}
	for _, sub := range cmd.Commands() {
		strictArgs(sub)
	}
}

// loadSettings applies the environment and the config file to every flag the
// command line did not set.
func (c *cli) loadSettings(cmd *cobra.Command) error {
	if err := c.applyEnv(cmd.Flags()); err != nil {
		return err
	}
	if c.configPath == "" {
		c.configPath = filepath.Join(c.dataDir, "selo.yaml")
	}
	b, err := os.ReadFile(c.configPath)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return fmt.Errorf("read config: %w", err)
	default:
		if err := yaml.Unmarshal(b, &c.cfg); err != nil {
			return selo.Errorf(selo.EINVALID, "config file %s: %v", c.configPath, err)
		}
		var bad error
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			v, ok := c.cfg.Flags[f.Name]
			if !ok || f.Changed || os.Getenv(envName(f.Name)) != "" || bad != nil {
				return
			}
			if err := f.Value.Set(configValue(v)); err != nil {
				bad = selo.Errorf(selo.EINVALID, "config file %s: %s: %v", c.configPath, f.Name, err)
			}
		})
		if bad != nil {
			return bad
		}
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	c.log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	if c.database == "" {
		c.database, c.databaseDefault = filepath.Join(c.dataDir, "selo.db"), true
	}
	if c.masterKeyFile == "" {
		c.masterKeyFile = filepath.Join(c.dataDir, "master.key")
	}
	return nil
}

// applyEnv sets every flag the command line did not set from its SELO_*
// variable. An empty variable counts as unset, as it does for the config
// file; a value the flag refuses is an error, not silently dropped.
func (c *cli) applyEnv(fs *pflag.FlagSet) error {
	var bad error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || bad != nil {
			return
		}
		if v := os.Getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				bad = selo.Errorf(selo.EINVALID, "environment %s: %v", envName(f.Name), err)
			}
		}
	})
	return bad
}

func envName(flag string) string {
	return "SELO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func configValue(v any) string {
	switch t := v.(type) {
	case []any:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

// authority opens the store and key store and returns the CA service.
func (c *cli) authority(ctx context.Context) (*authority.Authority, error) {
	if c.auth != nil {
		return c.auth, nil
	}
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	profiles, err := pki.LoadProfiles(filepath.Join(c.dataDir, "profiles"))
	if err != nil {
		return nil, err
	}
	a, err := authority.New(authority.Config{
		Store: c.store, Keys: c.keys, Profiles: profiles, BaseURL: c.baseURL, ProfileCA: c.cfg.ProfileCA, Logger: c.log,
		Metrics: c.metrics,
	})
	if err != nil {
		return nil, err
	}
	c.auth = a
	return a, nil
}

// printJSON writes v as indented JSON to stdout.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// actor is how CLI actions appear in the audit log.
func actor() string {
	name := os.Getenv("USER")
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// keysInQSCD says whether the configured key store is a qualified signature
// creation device: an HSM (--keystore pkcs11) is taken to be one, as an
// operator deploys only a certified one for qualified cloud keys; the
// software key store never is.
func (c *cli) keysInQSCD() bool { return c.keystore == "pkcs11" }
