package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/registration"
)

// Keys the registration desk derives from the master key, each under its own
// HKDF label so that one never stands in for another.
const (
	registrationCodeKeyInfo = "selo registration code key v1"
	webhookSecretInfo       = "selo payment webhook secret v1"
	// webhookSecretPrefix marks the payment webhook secret as printed for
	// the payment provider's settings.
	webhookSecretPrefix = "whsec_"
)

// registrationKeys derives the key that HMACs the registration desk's
// one-time codes and the payment webhook secret from the master key, so that
// every replica over the same database agrees on them with nothing more to
// distribute.
func (c *cli) registrationKeys() (codeKey, webhookSecret []byte, err error) {
	mk, err := c.masterKey(false)
	if err != nil {
		return nil, nil, fmt.Errorf("the registration desk needs the master key for its codes: %w", err)
	}
	if codeKey, err = hkdf.Key(sha256.New, mk, nil, registrationCodeKeyInfo, 32); err != nil {
		return nil, nil, err
	}
	if webhookSecret, err = hkdf.Key(sha256.New, mk, nil, webhookSecretInfo, 32); err != nil {
		return nil, nil, err
	}
	return codeKey, webhookSecret, nil
}

// webhookSecretText is the payment webhook secret as an operator pastes it
// into the payment provider's settings.
func webhookSecretText(secret []byte) string {
	return webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(secret)
}

// registration opens the registration desk: orders, identity checks,
// payments, the "ready to lift" notice and the lift flow.
func (c *cli) registration(ctx context.Context) (*registration.Service, error) {
	a, err := c.authority(ctx)
	if err != nil {
		return nil, err
	}
	codeKey, webhookSecret, err := c.registrationKeys()
	if err != nil {
		return nil, err
	}
	n, err := c.notifiers()
	if err != nil {
		return nil, err
	}
	cfg := registration.Config{
		Store: c.store, Authority: a, Keys: c.keys, Mailer: n.Mailer, Templates: n.Templates,
		CodeKey: codeKey, WebhookSecret: webhookSecret, Logger: c.log, KeysInQSCD: c.keysInQSCD(), PublicURL: c.baseURL,
	}
	cfg.EvidenceRetention = c.photoRetention
	// Identity photos are sealed under the master key, like the signing
	// desk's secrets (registrationKeys has already read it).
	if mk, err := c.masterKey(false); err == nil {
		if cfg.Secrets, err = soft.NewSecretBox(mk); err != nil {
			return nil, err
		}
	}
	if c.limits != nil {
		cfg.CodeLimit, cfg.GuessLimit = &c.limits.code, &c.limits.login
	}
	// Cloud orders end in a credential on the holder's account: without
	// remote signing (no master key) they are refused, the rest works.
	if svc, err := c.signing(ctx); err == nil {
		cfg.Credentials = svc
	} else {
		c.log.Warn("cloud orders are off: remote signing is not available", "err", err)
	}
	return registration.New(cfg)
}
