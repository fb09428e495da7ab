package main

import (
	"crypto"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/youmark/pkcs8"
	"golang.org/x/term"

	"github.com/selo-qtsp/selo"
)

// readPassword gets a secret from a file, then an environment variable, then
// a terminal prompt (asked twice when confirm is set). Secrets are never
// command-line arguments: those show in ps and shell history.
func (c *cli) readPassword(file, env, prompt string, confirm bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	in, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", selo.Errorf(selo.EINVALID, "no password: give a password file or set %s (passwords are never command-line arguments)", env)
	}
	fmt.Fprintf(c.stderr, "%s: ", prompt)
	p1, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprintf(c.stderr, "%s (again): ", prompt)
		p2, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", selo.Errorf(selo.EINVALID, "the passwords do not match")
		}
	}
	return string(p1), nil
}

// keyFileOpts encrypts key files as PKCS#8 with PBES2: AES-256-CBC and
// PBKDF2-HMAC-SHA256, which OpenSSL, nginx and Apache read.
var keyFileOpts = &pkcs8.Opts{
	Cipher:  pkcs8.AES256CBC,
	KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 210000, HMACHash: crypto.SHA256},
}

// encryptKeyPEM returns key as an "ENCRYPTED PRIVATE KEY" PEM block.
func encryptKeyPEM(key crypto.PrivateKey, password string) ([]byte, error) {
	if len(password) < 8 {
		return nil, selo.Errorf(selo.EINVALID, "the key password must have at least 8 characters")
	}
	der, err := pkcs8.MarshalPrivateKey(key, []byte(password), keyFileOpts)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// readKeyFile reads an encrypted (or, from other tools, plain) PKCS#8 key file.
func readKeyFile(path, password string) (crypto.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, selo.Errorf(selo.EINVALID, "%s is not a PEM key file", path)
	}
	var key any
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		key, _, err = pkcs8.ParsePrivateKey(block.Bytes, []byte(password))
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "cannot decrypt %s: wrong password or damaged file", path)
		}
	case "PRIVATE KEY":
		key, err = pkcs8.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, selo.Errorf(selo.EINVALID, "%s holds a %q block; want an (ENCRYPTED) PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "parse key %s: %v", path, err)
	}
	return key, nil
}
