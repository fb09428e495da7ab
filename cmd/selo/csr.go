package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

func (c *cli) csrCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "csr",
		Short: "Make or inspect a certificate signing request (CSR)",
	}
	cmd.AddCommand(c.csrNewCommand(), c.csrShowCommand())
	return cmd
}

type csrNewOptions struct {
	CN, O, OU, L, ST, C string
	SANs                []string
	KeyType             string
	KeyOut, Out         string
	PasswordFile        string
}

func (c *cli) csrNewCommand() *cobra.Command {
	var o csrNewOptions
	cmd := &cobra.Command{
		Use:   "new --cn NAME [--san NAME ...]",
		Short: "Generate a key and a CSR, as the web server wizards do",
		Long: `New generates a private key and a certificate signing request for it, the way
the OpenSSL and keytool CSR wizards do. The key stays with you, encrypted with
a password you choose (PKCS#8, AES-256; nginx and Apache read it); send only
the CSR. The common name is also put in the SANs when no --san is given.

The key password comes from --password-file, SELO_KEY_PASSWORD, or a prompt.`,
		Example: `  # a web server (the tls-server profile is domain validated: names only)
  selo csr new --cn www.example.pt --san www.example.pt --san example.pt --key-out www.key --out www.csr
  # an organisation's request, with the subject the OpenSSL wizard asks for
  selo csr new --cn "Example Lda" --o "Example Lda" --l Braga --c PT --key-type ecdsa-p256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.CN == "" {
				return usagef("csr new needs --cn (for a web server: its host name, e.g. www.example.pt)")
			}
			if o.KeyOut == "" {
				o.KeyOut = fileBase(o.CN) + ".key"
			}
			if o.Out == "" {
				o.Out = fileBase(o.CN) + ".csr"
			}
			if _, err := os.Stat(o.KeyOut); err == nil {
				return selo.Errorf(selo.ECONFLICT, "%s exists; a key file is never overwritten", o.KeyOut)
			}
			key, err := generateKey(selo.KeyAlgorithm(o.KeyType))
			if err != nil {
				return err
			}
			password, err := c.readPassword(o.PasswordFile, "SELO_KEY_PASSWORD", "Password for the new key file", true)
			if err != nil {
				return err
			}
			keyPEM, err := encryptKeyPEM(key, password)
			if err != nil {
				return err
			}
			csrDER, err := x509.CreateCertificateRequest(rand.Reader, csrTemplate(o), key)
			if err != nil {
				return fmt.Errorf("create CSR: %w", err)
			}
			f, err := os.OpenFile(o.KeyOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			if _, err := f.Write(keyPEM); err != nil {
				f.Close()
				return fmt.Errorf("write key: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})
			if err := c.writeOutput(o.Out, csrPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "wrote %s (encrypted private key: keep it, never send it)\n", o.KeyOut)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.CN, "cn", "", "common name (a web server's host name)")
	f.StringVar(&o.O, "o", "", "organisation")
	f.StringVar(&o.OU, "ou", "", "organisational unit")
	f.StringVar(&o.L, "l", "", "locality (city)")
	f.StringVar(&o.ST, "st", "", "state or province")
	f.StringVar(&o.C, "c", "", "two-letter country code")
	f.StringSliceVar(&o.SANs, "san", nil, "subject alternative name: a DNS name, or an e-mail address (repeatable)")
	f.StringVar(&o.KeyType, "key-type", string(selo.KeyRSA2048), "key type: rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384")
	f.StringVar(&o.KeyOut, "key-out", "", "where to write the encrypted key (default CN.key)")
	f.StringVar(&o.Out, "out", "", "where to write the CSR (default CN.csr; - for standard output)")
	f.StringVar(&o.PasswordFile, "password-file", "", "file holding the key password")
	return cmd
}

func csrTemplate(o csrNewOptions) *x509.CertificateRequest {
	name := pkix.Name{CommonName: o.CN}
	set := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	set(&name.Organization, o.O)
	set(&name.OrganizationalUnit, o.OU)
	set(&name.Locality, o.L)
	set(&name.Province, o.ST)
	set(&name.Country, o.C)
	tmpl := &x509.CertificateRequest{Subject: name}
	sans := o.SANs
	if len(sans) == 0 {
		sans = []string{o.CN}
	}
	for _, s := range sans {
		if strings.Contains(s, "@") {
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, s)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, s)
		}
	}
	return tmpl
}

func generateKey(alg selo.KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case selo.KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case selo.KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case selo.KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case selo.KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case selo.KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, usagef("unknown --key-type %q (want one of %v)", alg, selo.KeyAlgorithms)
}

// fileBase turns a common name into a safe file name.
func fileBase(cn string) string {
	b := []byte(cn)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '-') {
			b[i] = '_'
		}
	}
	return strings.Trim(string(b), ".")
}

// csrOutput is what csr show prints.
type csrOutput struct {
	Subject        string   `json:"subject"`
	Key            string   `json:"key"`
	DNSNames       []string `json:"dns_names,omitempty"`
	EmailAddresses []string `json:"email_addresses,omitempty"`
	IPAddresses    []string `json:"ip_addresses,omitempty"`
	SignatureValid bool     `json:"signature_valid"`
	KeyAccepted    bool     `json:"key_accepted"`
	KeyProblem     string   `json:"key_problem,omitempty"`
}

func (c *cli) csrShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Decode a CSR: subject, key, SANs, and whether its signature is valid (exit status 1 when not)",
		Args:  exactArgs(1, "csr show needs a CSR file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read CSR: %w", err)
			}
			if problem := pki.CSRProblem(b); problem != "" {
				return selo.Errorf(selo.EINVALID, "%s is not a valid CSR: %s", args[0], problem)
			}
			if block, _ := pem.Decode(b); block != nil {
				b = block.Bytes
			}
			csr, err := x509.ParseCertificateRequest(b)
			if err != nil { // CSRProblem parsed it; this does not happen
				return selo.Errorf(selo.EINVALID, "%s is not a valid CSR", args[0])
			}
			out := csrOutput{Subject: pki.NameString(csr.Subject), Key: pki.KeyDescription(csr.PublicKey),
				DNSNames: csr.DNSNames, EmailAddresses: csr.EmailAddresses, SignatureValid: csr.CheckSignature() == nil}
			for _, ip := range csr.IPAddresses {
				out.IPAddresses = append(out.IPAddresses, ip.String())
			}
			if err := pki.CheckPublicKey(csr.PublicKey); err != nil {
				out.KeyProblem = selo.ErrorMessage(err)
			} else {
				out.KeyAccepted = true
			}
			// A CSR whose signature does not hold was altered or broken: the
			// details are still shown, but the exit status says so, for scripts.
			var invalid error
			if !out.SignatureValid {
				invalid = selo.Errorf(selo.EINVALID, "the signature of %s does not verify", args[0])
			}
			if c.jsonOut {
				if err := c.printJSON(out); err != nil {
					return err
				}
				return invalid
			}
			fmt.Fprintf(c.stdout, "Subject:    %s\nKey:        %s\n", out.Subject, out.Key)
			for _, n := range out.DNSNames {
				fmt.Fprintf(c.stdout, "DNS name:   %s\n", n)
			}
			for _, n := range out.EmailAddresses {
				fmt.Fprintf(c.stdout, "E-mail:     %s\n", n)
			}
			for _, n := range out.IPAddresses {
				fmt.Fprintf(c.stdout, "IP address: %s\n", n)
			}
			sig := "valid"
			if !out.SignatureValid {
				sig = "INVALID (the CSR was altered or is broken)"
			}
			fmt.Fprintf(c.stdout, "Signature:  %s\n", sig)
			if !out.KeyAccepted {
				fmt.Fprintf(c.stdout, "Key policy: refused: %s\n", out.KeyProblem)
			}
			return invalid
		},
	}
}
