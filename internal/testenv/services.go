package testenv

import (
	"crypto/rand"
	"log/slog"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/signing"
)

// SigningService returns the remote-signing service over store (which must
// implement signing.Store), auth and keys, configured as tests want it: a
// fresh secret box and random code key, cheap argon2id (the tests are about
// the logic, not the cost), no limit on the codes sent (the limits have
// their own tests: set CodeLimit to nil for the production default), issuer
// "Selo Test" at https://sign.selo-test.eu, logs discarded, and texts into a
// new outbox on the configured clock unless SMS is set. tune (nil: none)
// changes the configuration before signing.New.
func SigningService(t testing.TB, store selo.Store, auth *authority.Authority, keys selo.KeyStore, tune func(*signing.Config)) *signing.Service {
	t.Helper()
	st, ok := store.(signing.Store)
	if !ok {
		t.Fatalf("testenv: the store %T does not implement signing.Store", store)
	}
	master := make([]byte, soft.MasterKeySize)
	_, _ = rand.Read(master)
	box, err := soft.NewSecretBox(master)
	if err != nil {
		t.Fatalf("testenv: secret box: %v", err)
	}
	codeKey := make([]byte, 32)
	_, _ = rand.Read(codeKey)
	cfg := signing.Config{
		Store: st, Keys: keys, Authority: auth, Secrets: box, CodeKey: codeKey,
		Issuer: "Selo Test", PublicURL: "https://sign.selo-test.eu",
		Password:  signing.PasswordParams{Memory: 64, Time: 1, Threads: 1},
		CodeLimit: &selo.CodeLimit{},
		Logger:    slog.New(slog.DiscardHandler),
	}
	if tune != nil {
		tune(&cfg)
	}
	if cfg.SMS == nil {
		cfg.SMS = Outbox(t, cfg.Clock)
	}
	svc, err := signing.New(cfg)
	if err != nil {
		t.Fatalf("testenv: signing service: %v", err)
	}
	return svc
}

// SigningService is SigningService over the Env's store, authority and key
// store, on its clock.
func (e *Env) SigningService(t testing.TB, tune func(*signing.Config)) *signing.Service {
	t.Helper()
	return SigningService(t, e.Store, e.Authority, e.Keys, func(c *signing.Config) {
		c.Clock = e.Clock
		if tune != nil {
			tune(c)
		}
	})
}

// RegistrationService returns the registration desk over store, auth and
// keys, configured as tests want it: an all-zero code key (so two desks over
// one store, a restart or a second replica, read each other's codes), logs
// discarded, and e-mails into a new outbox on the configured clock unless
// Mailer is set, and identity photos sealed in a secret box under an
// all-zero master key (for the same reason). tune (nil: none) changes the
// configuration before registration.New.
func RegistrationService(t testing.TB, store selo.Store, auth *authority.Authority, keys selo.KeyStore, tune func(*registration.Config)) *registration.Service {
	t.Helper()
	box, err := soft.NewSecretBox(make([]byte, soft.MasterKeySize))
	if err != nil {
		t.Fatalf("testenv: secret box: %v", err)
	}
	cfg := registration.Config{Store: store, Authority: auth, Keys: keys, CodeKey: make([]byte, 32), Secrets: box,
		Logger: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&cfg)
	}
	if cfg.Mailer == nil {
		cfg.Mailer = Outbox(t, cfg.Clock)
	}
	svc, err := registration.New(cfg)
	if err != nil {
		t.Fatalf("testenv: registration service: %v", err)
	}
	return svc
}

// RegistrationService is RegistrationService over the Env's store, authority
// and key store, on its clock.
func (e *Env) RegistrationService(t testing.TB, tune func(*registration.Config)) *registration.Service {
	t.Helper()
	return RegistrationService(t, e.Store, e.Authority, e.Keys, func(c *registration.Config) {
		c.Clock = e.Clock
		if tune != nil {
			tune(c)
		}
	})
}

// Outbox opens the local outbox (e-mail and SMS) in a new temporary
// directory, on clock (the system clock when nil).
func Outbox(t testing.TB, clock selo.Clock) *notify.Outbox {
	t.Helper()
	o, err := notify.OpenOutbox(t.TempDir(), clock)
	if err != nil {
		t.Fatalf("testenv: open outbox: %v", err)
	}
	return o
}
