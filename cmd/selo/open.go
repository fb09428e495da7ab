package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/pkcs11"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/sqlite"
)

// open connects the store and the key store named by the settings. Outside
// init, a data directory without its config file is refused before anything
// is made in it: a mistyped --data must not leave an empty database behind.
func (c *cli) open(ctx context.Context) error {
	if !c.initializing && !c.initialized() {
		return selo.Errorf(selo.ENOTFOUND, "%s is not initialized (no %s): run 'selo init' first", c.dataDir, c.configPath)
	}
	if c.store == nil {
		st, err := openStore(ctx, c.database)
		if err != nil {
			return err
		}
		c.store = st
	}
	if c.keys == nil {
		ks, err := c.openKeyStore(ctx)
		if err != nil {
			return err
		}
		c.keys = ks
	}
	return nil
}

func openStore(ctx context.Context, database string) (selo.Store, error) {
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		db, err := postgres.Open(ctx, database, selo.SystemClock{})
		if err != nil {
			return nil, fmt.Errorf("open postgresql: %w", err)
		}
		return db, nil
	}
	if err := os.MkdirAll(filepath.Dir(database), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	db, err := sqlite.Open(ctx, database, selo.SystemClock{})
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", database, err)
	}
	return db, nil
}

func (c *cli) openKeyStore(ctx context.Context) (selo.KeyStore, error) {
	switch c.keystore {
	case "soft":
		mk, err := c.masterKey(false)
		if err != nil {
			return nil, err
		}
		return soft.Open(filepath.Join(c.dataDir, "keys"), mk)
	case "pkcs11":
		pin := os.Getenv("SELO_PKCS11_PIN")
		if c.pkcs11PINFile != "" {
			b, err := os.ReadFile(c.pkcs11PINFile)
			if err != nil {
				return nil, fmt.Errorf("read PKCS#11 PIN file: %w", err)
			}
			pin = strings.TrimSpace(string(b))
		}
		if pin == "" {
			return nil, selo.Errorf(selo.EINVALID, "the PKCS#11 key store needs a PIN: set SELO_PKCS11_PIN or --pkcs11-pin-file")
		}
		return pkcs11.Open(pkcs11.Config{Module: c.pkcs11Module, TokenLabel: c.pkcs11Token, PIN: pin})
	default:
		return nil, usagef("--keystore must be soft or pkcs11, not %q", c.keystore)
	}
}

// masterKey returns the soft key store's master key: derived from
// SELO_MASTER_PASSPHRASE with argon2id when that is set, else read from the
// master key file. With create set, a missing file is generated (selo init).
func (c *cli) masterKey(create bool) ([]byte, error) {
	if pass := os.Getenv("SELO_MASTER_PASSPHRASE"); pass != "" {
		return soft.MasterKeyFromPassphraseDir(filepath.Join(c.dataDir, "keys"), []byte(pass))
	}
	if _, err := os.Stat(c.masterKeyFile); os.IsNotExist(err) {
		if !create {
			return nil, selo.Errorf(selo.ENOTFOUND, "no master key at %s: run 'selo init' first, or set SELO_MASTER_PASSPHRASE or --master-key-file", c.masterKeyFile)
		}
		if err := os.MkdirAll(filepath.Dir(c.masterKeyFile), 0o700); err != nil {
			return nil, err
		}
		if err := soft.GenerateMasterKeyFile(c.masterKeyFile); err != nil {
			return nil, err
		}
	}
	return soft.MasterKeyFromFile(c.masterKeyFile)
}
