package main

import (
	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
)

// abuseLimits are serve's limits on codes sent and on failed logins and
// guesses (docs/operators.md, "Abuse limits"). They are counted in the
// database, so every replica must be given the same values.
type abuseLimits struct {
	code  selo.CodeLimit
	login selo.LoginLimit
}

// addLimitFlags registers the limit flags of serve on cmd, with the
// defaults of selo.DefaultCodeLimit and selo.DefaultLoginLimit.
func addLimitFlags(cmd *cobra.Command, l *abuseLimits) {
	f := cmd.Flags()
	f.DurationVar(&l.code.Interval, "code-interval", selo.DefaultCodeLimit.Interval, "least time between two one-time codes (SMS or e-mail) sent for one credential or order; 0 turns this limit off")
	f.IntVar(&l.code.PerHour, "codes-per-hour", selo.DefaultCodeLimit.PerHour, "most one-time codes sent for one credential or order in any hour; 0 turns this limit off")
	f.IntVar(&l.code.AccountPerHour, "account-codes-per-hour", selo.DefaultCodeLimit.AccountPerHour, "most SMS codes sent for all the credentials of one account in any hour; 0 turns this limit off")
	f.IntVar(&l.login.PerAddress, "failures-per-address", selo.DefaultLoginLimit.PerAddress, "most failed logins and wrong order codes from one client address in --failure-window; 0 turns this limit off")
	f.IntVar(&l.login.PerEmail, "login-failures-per-email", selo.DefaultLoginLimit.PerEmail, "failed logins for one e-mail address in --failure-window after which only the password with an authenticator code logs in; 0 turns this limit off")
	f.DurationVar(&l.login.Window, "failure-window", selo.DefaultLoginLimit.Window, "the span failed logins and wrong codes are counted over (at most 24h)")
}

// check refuses a window the store cannot keep.
func (l *abuseLimits) check() error {
	if l.login.Window < 0 || l.login.Window > selo.MaxRateWindow || l.code.Interval < 0 || l.code.Interval > selo.MaxRateWindow {
		return usagef("--failure-window and --code-interval must be between 0 and %s", selo.MaxRateWindow)
	}
	if l.code.PerHour < 0 || l.code.AccountPerHour < 0 || l.login.PerAddress < 0 || l.login.PerEmail < 0 {
		return usagef("the limits must not be negative")
	}
	return nil
}
