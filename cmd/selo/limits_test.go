package main

import (
	"os"
	"strings"
	"testing"
)

// TestServeLimitFlags: the abuse limits are serve flags, documented in its
// help, also settable from the environment, and a window the store cannot
// keep is refused before anything starts.
func TestServeLimitFlags(t *testing.T) {
	r := mustRunSelo(t, "serve", "--help")
	for _, flag := range []string{"--code-interval", "--codes-per-hour", "--account-codes-per-hour", "--failures-per-address", "--login-failures-per-email", "--failure-window", "Retry-After"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("serve --help does not mention %s", flag)
		}
	}
	dir := t.TempDir()
	wantExit(t, runSelo(t, "serve", "--data", dir, "--failure-window", "25h"), 2, "--failure-window")
	t.Setenv("SELO_CODES_PER_HOUR", "-1")
	wantExit(t, runSelo(t, "serve", "--data", dir), 2, "must not be negative")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused serve left %d files in the data directory", len(entries))
	}
}
