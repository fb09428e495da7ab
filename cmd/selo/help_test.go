package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandPaths returns the path of every selo command below root, root's
// own (empty) included.
func commandPaths(root *cobra.Command) [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(root, nil)
	return out
}

func findCommand(t *testing.T, root *cobra.Command, path []string) *cobra.Command {
	t.Helper()
	cmd, _, err := root.Find(path)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestHelp asks every command for its help: exit 0, nothing touched, and
// every flag the command has named in it.
func TestHelp(t *testing.T) {
	t.Parallel()
	root := newCLI(strings.NewReader(""), io.Discard, io.Discard).rootCommand()
	paths := commandPaths(root)
	if len(paths) < 25 {
		t.Fatalf("found %d commands; the walk is broken", len(paths))
	}
	data := filepath.Join(t.TempDir(), "untouched")
	for _, path := range paths {
		cmd := findCommand(t, root, path)
		for _, help := range []string{"--help", "-h"} {
			r := runSelo(t, append(append([]string{}, path...), help, "--data", data)...)
			name := "selo " + strings.Join(path, " ")
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%s %s: want exit 0 and nothing on standard error:\n%s", name, help, r)
				continue
			}
			if !strings.Contains(r.stdout, "Usage:\n  "+strings.TrimSpace(name)) {
				t.Errorf("%s %s: no usage line:\n%s", name, help, r.stdout)
			}
			desc := cmd.Long
			if desc == "" {
				desc = cmd.Short
			}
			if first, _, _ := strings.Cut(desc, "\n"); !strings.Contains(r.stdout, first) {
				t.Errorf("%s %s: no description:\n%s", name, help, r.stdout)
			}
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && !strings.Contains(r.stdout, "--"+f.Name+" ") && !strings.Contains(r.stdout, "--"+f.Name+"\n") {
					t.Errorf("%s %s does not mention its flag --%s", name, help, f.Name)
				}
			})
			cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(r.stdout, "--"+f.Name+" ") {
					t.Errorf("%s %s does not mention the global flag --%s", name, help, f.Name)
				}
			})
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && !strings.Contains(r.stdout, "  "+sub.Name()+" ") {
					t.Errorf("%s %s does not list its command %s", name, help, sub.Name())
				}
			}
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("asking for help created the data directory (%v)", err)
	}

	// The root's help tells where settings come from.
	r := mustRunSelo(t, "--help")
	for _, want := range []string{"SELO_DATA", "DATA/selo.yaml", "selo serve", "selo ca list", "selo csr new", "selo cert issue"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("selo --help does not mention %q", want)
		}
	}
	// The help command and no command at all show the same help.
	if r2 := mustRunSelo(t, "help"); r2.stdout != r.stdout {
		t.Errorf("selo help differs from selo --help")
	}
	if r2 := mustRunSelo(t, "help", "cert", "pfx"); !strings.Contains(r2.stdout, "--password-file") {
		t.Errorf("selo help cert pfx:\n%s", r2)
	}
	if r2 := runSelo(t, "--data", data); r2.code != 0 || !strings.Contains(r2.stdout, "Available Commands:") {
		t.Errorf("selo with no command:\n%s", r2)
	}
}

// TestUsageErrors: a mistake in the command line exits 2, says what is wrong,
// and touches nothing.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "untouched")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"ca", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"cert", "issue", "--profile", "tls-server", "--bogus", "x"}, "unknown flag: --bogus"},
		{[]string{"csr", "new", "-z"}, "unknown shorthand flag: 'z'"},
		{[]string{"ca", "create", "--validity-days", "ten"}, "invalid argument \"ten\""},
		{[]string{"audit", "verify", "--json=maybe"}, "invalid argument \"maybe\""},
		{[]string{"bogus"}, `unknown command "bogus" for "selo"`},
		{[]string{"ca", "bogus"}, `unknown command "bogus" for "selo ca"`},
		{[]string{"cert", "lsit"}, `unknown command "lsit" for "selo cert" (did you mean "list"?)`},
		{[]string{"ca", "list", "extra"}, `unknown command "extra" for "selo ca list"`},
		{[]string{"init", "extra"}, `unknown command "extra" for "selo init"`},
		{[]string{"serve", "extra"}, `unknown command "extra" for "selo serve"`},
		{[]string{"cert", "show"}, "cert show needs a serial"},
		{[]string{"cert", "show", "a", "b"}, "cert show needs a serial"},
		{[]string{"csr", "new"}, "csr new needs --cn"},
		{[]string{"cert", "issue"}, "cert issue needs --profile"},
		{[]string{"cert", "pfx", "0a"}, "cert pfx needs --out"},
		{[]string{"cert", "pfx", "0a", "--out", "x.pfx", "--password", "secret-password"}, "unknown flag: --password"},
		{[]string{"cert", "reissue", "0a"}, "cert reissue needs --ca"},
		{[]string{"ca", "create", "--id", "x"}, "ca create needs --id and --name"},
		{[]string{"--log-level", "loud", "ca", "list"}, "--log-level"},
		{[]string{"apikey", "create"}, "apikey create needs a name"},
		{[]string{"profile", "show"}, "profile show needs a profile name"},
	} {
		r := runSelo(t, append(tc.args, "--data", data)...)
		wantExit(t, r, 2, "selo: "+tc.msg, "Run 'selo --help' for usage.")
		if r.stdout != "" {
			t.Errorf("a usage error printed on standard output:\n%s", r)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a usage error created the data directory (%v)", err)
	}
}

// TestNoSecretArguments: secrets come from files, the environment or a
// prompt, never from the command line, where ps and shell history show them.
func TestNoSecretArguments(t *testing.T) {
	t.Parallel()
	root := newCLI(strings.NewReader(""), io.Discard, io.Discard).rootCommand()
	for _, path := range commandPaths(root) {
		findCommand(t, root, path).Flags().VisitAll(func(f *pflag.Flag) {
			name := f.Name
			for _, secret := range []string{"password", "passphrase", "pin", "secret", "api-key", "master-key"} {
				// Whole dash-separated words: --enveloping holds no "pin".
				if strings.Contains("-"+name+"-", "-"+secret+"-") && !strings.HasSuffix(name, "-file") {
					t.Errorf("selo %s has the flag --%s: a secret on the command line", strings.Join(path, " "), name)
				}
			}
		})
	}
}
