package pkcs11

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the module's configuration file (JSON), written by
// `selo pkcs11 setup` or by hand. The module reads it from
// $SELO_PKCS11_CONFIG, else $XDG_CONFIG_HOME/selo/pkcs11.json
// (~/.config/selo/pkcs11.json).
type Config struct {
	// Accounts are the holder accounts shown, one token (slot) each.
	Accounts []Account `json:"accounts"`
	// LogFile is where the module logs (default ~/.cache/selo/pkcs11.log);
	// "-" is standard error, "off" logs nothing.
	LogFile string `json:"log_file,omitempty"`
	// Timeout bounds each request to the service (default 30s).
	Timeout Duration `json:"timeout,omitempty"`
	// WalletTimeout bounds the wait for the holder's approval in the
	// wallet (default 2m).
	WalletTimeout Duration `json:"wallet_timeout,omitempty"`
	// CodeCommand, when set, is the program (and its arguments) the module
	// runs to ask the holder for each signature's code (an SMS,
	// authenticator or authorizer code), e.g. a dialog such as
	// ["zenity", "--entry", "--text", "Selo: code for $SELO_CREDENTIAL_LABEL"]:
	// the first line it prints is the code. For applications that cannot
	// ask for a key's PIN at each signature (pdfsig signs twice per
	// document); keys are then not marked CKA_ALWAYS_AUTHENTICATE.
	CodeCommand []string `json:"code_command,omitempty"`
}

// Account is one holder account at a CSC service.
type Account struct {
	// Server is the CSC API base URL (https://sign.example.eu/csc/v2).
	Server string `json:"server"`
	// Email is the holder's login.
	Email string `json:"email"`
	// TokenFile is the token file `selo csc login` writes (default
	// ~/.config/selo/csc-token.json): with a live token for this server
	// the token is logged in without a PIN.
	TokenFile string `json:"token_file,omitempty"`
	// Label is the token's label (default the e-mail).
	Label string `json:"label,omitempty"`
}

// Duration is a time.Duration written as "30s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// Limits of the configuration.
const (
	maxConfigBytes    = 64 << 10
	MaxAccounts       = 16
	maxTimeout        = 10 * time.Minute
	DefaultTimeout    = 30 * time.Second
	DefaultWalletWait = 2 * time.Minute
)

// ConfigPath is where the module looks for its configuration.
func ConfigPath() (string, error) {
	if p := os.Getenv("SELO_PKCS11_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "selo", "pkcs11.json"), nil
}

// DefaultTokenFile is where `selo csc login` keeps the access token.
func DefaultTokenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "selo", "csc-token.json")
}

// ReadConfig reads and checks the configuration file at path.
func ReadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxConfigBytes)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and checks a configuration; defaults are filled in.
func ParseConfig(b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check refuses a configuration the module cannot use and fills defaults.
func (c *Config) Check() error {
	if len(c.Accounts) == 0 {
		return errors.New("no accounts: run 'selo pkcs11 setup --server URL --email ADDRESS'")
	}
	if len(c.Accounts) > MaxAccounts {
		return fmt.Errorf("%d accounts; at most %d", len(c.Accounts), MaxAccounts)
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		base, err := BaseURL(a.Server)
		if err != nil {
			return fmt.Errorf("account %d: %w", i+1, err)
		}
		a.Server = base
		if !strings.Contains(a.Email, "@") || len(a.Email) > 254 {
			return fmt.Errorf("account %d: %q is not an e-mail address", i+1, a.Email)
		}
		if a.TokenFile == "" {
			a.TokenFile = DefaultTokenFile()
		}
		if a.Label == "" {
			a.Label = a.Email
		}
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	if c.WalletTimeout == 0 {
		c.WalletTimeout = Duration(DefaultWalletWait)
	}
	if len(c.CodeCommand) > 0 && c.CodeCommand[0] == "" {
		return errors.New("code_command names no program")
	}
	if time.Duration(c.Timeout) > maxTimeout || time.Duration(c.WalletTimeout) > maxTimeout {
		return fmt.Errorf("timeouts are at most %s", maxTimeout)
	}
	return nil
}

// BaseURL returns the CSC base URL of a service URL: /csc/v2 is added
// unless the URL already ends with it.
func BaseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	// A query or fragment would end up in the middle of every endpoint's
	// address (base + "/signatures/signHash").
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) URL without query or fragment", s)
	}
	if !strings.HasSuffix(u.Path, "/csc/v2") {
		u.Path += "/csc/v2"
	}
	return u.String(), nil
}

// tokenFile is what `selo csc login` writes.
type tokenFile struct {
	Server      string    `json:"server"`
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// readToken returns the access token in path when it belongs to server and
// has not expired; "" otherwise.
func readToken(path, server string, now time.Time) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) > maxConfigBytes {
		return ""
	}
	var t tokenFile
	if json.Unmarshal(b, &t) != nil || t.Server != server || t.AccessToken == "" {
		return ""
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return ""
	}
	return t.AccessToken
}
