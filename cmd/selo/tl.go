package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/trustlist"
)

func (c *cli) tlCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tl",
		Short: "Trusted lists (ETSI TS 119 612): export the provider's entry, build a signed sandbox TL and LOTL",
		Long: `The tl commands write the provider's services in the form of a trusted list
(ETSI TS 119 612 v2.1.1). 'selo tl export' writes the provider's entry
(TrustServiceProvider) that the supervisory body puts on the national list;
'selo tl build' makes a complete signed list holding that entry and a list
of the lists (LOTL) pointing at it, for test and sandbox use, so that
'selo verify --lotl' (and any EU validator) can grade signatures as QES.
See docs/trusted-lists.md.`,
	}
	cmd.AddCommand(c.tlExportCommand(), c.tlBuildCommand())
	return cmd
}

// tspFlags are the provider's name and address as the lists show them.
type tspFlags struct{ info trustlist.ProviderInfo }

func (f *tspFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.info.Name, "tsp-name", "", "the provider's legal name (default the organisation of the root CA's certificate)")
	fl.StringVar(&f.info.TradeName, "tsp-trade-name", "", "the provider's trade name, e.g. VATPT-500000000")
	fl.StringVar(&f.info.Street, "tsp-street", "", "street address")
	fl.StringVar(&f.info.Locality, "tsp-locality", "", "locality")
	fl.StringVar(&f.info.PostalCode, "tsp-postal-code", "", "postal code")
	fl.StringVar(&f.info.Country, "tsp-country", "", "country, two letters (default the root CA's)")
	fl.StringVar(&f.info.Email, "tsp-email", "", "contact e-mail")
	fl.StringVar(&f.info.InformationURI, "tsp-url", "", "the provider's information page (default --base-url)")
}

func (c *cli) tlExportCommand() *cobra.Command {
	var f tspFlags
	var out string
	cmd := &cobra.Command{
		Use:   "export [--out FILE] [--tsp-name NAME ...]",
		Short: "Write the provider's trusted-list entry (TrustServiceProvider, TS 119 612 v2)",
		Long: `Export writes the provider's entry of a trusted list as TS 119 612 v2.1.1
XML: one CA/QC service per CA that issues a qualified profile (configured
in profile_ca, or seen in the certificates it issued), with the CA's
certificate as its digital identity, granted since the CA was created and
withdrawn since it was retired (the audit log's ca.retire entry) or its
certificate revoked; and one TSA/QTST service per valid timestamping
certificate ('selo tsa init').

Each CA/QC service carries the Sie qualifications its profiles call for:
QCForESig over the natural-person qualified policies, QCForESeal over the
legal-person ones, QCWithQSCD over QCP-n-qscd / QCP-l-qscd (keys in an HSM
or token) and QCNoQSCD over QCP-n / QCP-l (software keys delivered in a
.pfx). This is what the provider sends its supervisory body when a CA is
added or retired.`,
		Example: `  selo tl export --out tsp.xml --tsp-name "Example Trust Services, S.A." --tsp-email pki@example.eu
  selo tl export --data /var/lib/selo | xmllint --format -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := c.exportProvider(cmd.Context(), f.info)
			if err != nil {
				return err
			}
			data, err := trustlist.Marshal(p)
			if err != nil {
				return err
			}
			return c.writeOutput(out, data, 0o644)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return cmd
}

// exportProvider gathers what the store knows of the CAs, their profiles,
// their ends and the timestamping units, and builds the provider's entry.
func (c *cli) exportProvider(ctx context.Context, info trustlist.ProviderInfo) (*trustlist.Provider, error) {
	a, err := c.authority(ctx)
	if err != nil {
		return nil, err
	}
	st := a.Store()
	cas, err := st.ListCAs(ctx)
	if err != nil {
		return nil, err
	}
	profiles := a.Profiles()
	perCA := map[string][]*pki.Profile{}
	addProfile := func(caID, name string) {
		if p := profiles[name]; p != nil && !slices.Contains(perCA[caID], p) {
			perCA[caID] = append(perCA[caID], p)
		}
	}
	for name, caID := range c.cfg.ProfileCA {
		addProfile(caID, name)
	}
	// The certificates issued say which profiles a retired CA issued, and
	// which timestamping units there are.
	var tsas []trustlist.ExportTSA
	now := time.Now()
	for after := ""; ; {
		certs, err := st.ListCertificates(ctx, selo.CertificateFilter{AfterSerial: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, cert := range certs {
			addProfile(cert.CAID, cert.Profile)
			if cert.Profile == pki.TimestampingProfileName && cert.Status == selo.CertValid && now.Before(cert.NotAfter) {
				if x, err := x509.ParseCertificate(cert.DER); err == nil {
					tsas = append(tsas, trustlist.ExportTSA{Certificate: x, Since: cert.NotBefore})
				}
			}
		}
		if len(certs) < 1000 {
			break
		}
		after = certs[len(certs)-1].Serial
	}
	// Retirement times come from the audit log.
	retired := map[string]time.Time{}
	for after := int64(0); ; {
		entries, err := st.ListAudit(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Action == "ca.retire" && e.Outcome == selo.OutcomeSuccess {
				retired[strings.TrimPrefix(e.Object, "ca/")] = e.Time
			}
		}
		if len(entries) < 1000 {
			break
		}
		after = entries[len(entries)-1].Seq
	}
	var export []trustlist.ExportCA
	for _, ca := range cas {
		e := trustlist.ExportCA{CA: ca, Profiles: perCA[ca.ID]}
		switch ca.Status {
		case selo.CARetired:
			e.Ended = retired[ca.ID]
			if e.Ended.IsZero() {
				e.Ended = time.Now() // retired before the audit log said when
			}
		case selo.CARevoked:
			if rev, err := st.FindCARevocation(ctx, ca.ID); err == nil {
				e.Ended = rev.RevokedAt
			}
		}
		if ca.IsRoot() {
			// A root issues CAs, not qualified certificates: the lists name the issuing CAs.
			if info.Name == "" || info.Country == "" {
				if cert, err := x509.ParseCertificate(ca.CertDER); err == nil {
					if info.Name == "" && len(cert.Subject.Organization) > 0 {
						info.Name = cert.Subject.Organization[0]
					}
					if info.Country == "" && len(cert.Subject.Country) > 0 {
						info.Country = cert.Subject.Country[0]
					}
				}
			}
			continue
		}
		export = append(export, e)
	}
	if info.InformationURI == "" {
		info.InformationURI = c.baseURL
	}
	if info.Name == "" {
		return nil, usagef("give the provider's name with --tsp-name")
	}
	return trustlist.ExportProvider(info, export, tsas)
}

func (c *cli) tlBuildCommand() *cobra.Command {
	var f tspFlags
	var out, territory, operator, publishURL string
	var sequence, nextDays int
	cmd := &cobra.Command{
		Use:   "build --out DIR [--territory PT] [--publish-url URL] [--sequence N]",
		Short: "Make a signed sandbox trusted list holding the provider's entry, and a LOTL pointing at it",
		Long: `Build writes into DIR a complete trusted list (tl-TERRITORY.xml) holding the
provider's entry as 'selo tl export' makes it, and a list of the lists
(lotl.xml) with a pointer to it, both signed as XAdES B-B enveloped
signatures and with their sequence number, issue date and next update set.

It is for test and sandbox use: each list is signed with a key of its own
kept in DIR (tl-signer.key, lotl-signer.key; created on the first build,
PEM, mode 0600) under a self-signed certificate (tl-signer.pem,
lotl-signer.pem). The LOTL's pointer names tl-signer.pem; a relying party
trusts the LOTL through lotl-signer.pem:

  selo verify signed.pdf --lotl DIR/lotl.xml --lotl-cert DIR/lotl-signer.pem

A build over an earlier one raises the sequence number. The TL's location
in the LOTL is its file name (found beside the LOTL), or --publish-url
followed by its file name when the lists are served over HTTP.`,
		Example: `  selo tl build --out sandbox-tl --territory PT --tsp-name "Example Trust Services, S.A."
  selo tl build --out /srv/tl --publish-url https://tl.example.eu --next-update-days 30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("tl build needs --out DIR")
			}
			if len(territory) != 2 {
				return usagef("--territory is a two-letter country code")
			}
			if nextDays < 1 || nextDays > 366 {
				return usagef("--next-update-days must be between 1 and 366 (TS 119 612: at most six months is usual)")
			}
			return c.buildLists(cmd.Context(), f.info, out, strings.ToUpper(territory), operator, publishURL, sequence, nextDays)
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "", "folder to write the lists and signer files to")
	fl.StringVar(&territory, "territory", "PT", "the scheme territory of the trusted list")
	fl.StringVar(&operator, "operator", "Selo sandbox supervisory body", "the scheme operator's name")
	fl.StringVar(&publishURL, "publish-url", "", "URL the lists are served under (default: the LOTL points at the TL's file name)")
	fl.IntVar(&sequence, "sequence", 0, "the lists' sequence number (default one more than the previous build's, else 1)")
	fl.IntVar(&nextDays, "next-update-days", 180, "days until the lists' next update")
	return cmd
}

// tlBuildResult is what tl build prints.
type tlBuildResult struct {
	TL         string    `json:"tl"`
	LOTL       string    `json:"lotl"`
	LOTLSigner string    `json:"lotl_signer"`
	Sequence   int       `json:"sequence"`
	Issued     time.Time `json:"issued"`
	NextUpdate time.Time `json:"next_update"`
	Services   int       `json:"services"`
}

func (c *cli) buildLists(ctx context.Context, info trustlist.ProviderInfo, dir, territory, operator, publishURL string, sequence, nextDays int) error {
	p, err := c.exportProvider(ctx, info)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	tlKey, tlCert, err := listSigner(dir, "tl-signer", operator+" TL signer", territory, now)
	if err != nil {
		return err
	}
	lotlKey, lotlCert, err := listSigner(dir, "lotl-signer", "Selo sandbox LOTL signer", "EU", now)
	if err != nil {
		return err
	}
	tlName := "tl-" + territory + ".xml"
	tlPath, lotlPath := filepath.Join(dir, tlName), filepath.Join(dir, "lotl.xml")
	if sequence == 0 {
		sequence = 1
		if old, err := os.ReadFile(tlPath); err == nil {
			if l, err := trustlist.Parse(old); err == nil {
				sequence = l.Scheme.SequenceNumber + 1
			}
		}
	}
	location := tlName
	if publishURL != "" {
		location = strings.TrimSuffix(publishURL, "/") + "/" + tlName
	}
	next := now.AddDate(0, 0, nextDays)
	tl := trustlist.NewList(trustlist.ListOptions{Type: trustlist.TypeEUGeneric, SequenceNumber: sequence, Territory: territory,
		OperatorName: operator, Operator: trustlist.ProviderInfo{Country: territory}, SchemeName: territory + ": Trusted list (Selo sandbox)",
		InformationURI: c.baseURL, LegalNotice: "Sandbox trusted list made by selo tl build, for tests only.",
		IssueDate: now, NextUpdate: next, DistributionPoint: location, Providers: []*trustlist.Provider{p}})
	lotl := trustlist.NewList(trustlist.ListOptions{Type: trustlist.TypeEULOTL, SequenceNumber: sequence, Territory: "EU",
		OperatorName: "Selo sandbox LOTL", Operator: trustlist.ProviderInfo{Country: "EU"}, SchemeName: "EU: List of trusted lists (Selo sandbox)",
		InformationURI: c.baseURL, IssueDate: now, NextUpdate: next,
		Pointers: []trustlist.PointerSpec{{Location: location, Type: trustlist.TypeEUGeneric, Territory: territory, OperatorName: operator, Signers: []*x509.Certificate{tlCert}}}})
	for _, l := range []struct {
		list *trustlist.List
		key  crypto.Signer
		cert *x509.Certificate
		path string
	}{{tl, tlKey, tlCert, tlPath}, {lotl, lotlKey, lotlCert, lotlPath}} {
		data, err := trustlist.Marshal(l.list)
		if err != nil {
			return err
		}
		signed, err := trustlist.Sign(ctx, data, l.key, l.cert, now)
		if err != nil {
			return fmt.Errorf("sign %s: %w", l.path, err)
		}
		if err := writeFileAtomic(l.path, signed, 0o644); err != nil {
			return err
		}
	}
	res := tlBuildResult{TL: tlPath, LOTL: lotlPath, LOTLSigner: filepath.Join(dir, "lotl-signer.pem"), Sequence: sequence, Issued: now, NextUpdate: next, Services: len(p.Services)}
	if c.jsonOut {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.stdout, "Trusted list %s (sequence %d, %d service(s), next update %s)\nLOTL %s, signed by %s\n",
		res.TL, sequence, res.Services, next.Format(time.RFC3339), res.LOTL, res.LOTLSigner)
	return nil
}

// listSigner reads DIR/NAME.key and DIR/NAME.pem, or creates them.
func listSigner(dir, name, cn, country string, now time.Time) (crypto.Signer, *x509.Certificate, error) {
	keyPath, certPath := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pem")
	keyPEM, kerr := os.ReadFile(keyPath)
	certPEM, cerr := os.ReadFile(certPath)
	if errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist) {
		key, cert, err := trustlist.NewListSigner(cn, country, now)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, nil, err
		}
		if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
			return nil, nil, err
		}
		return key, cert, nil
	}
	if kerr != nil || cerr != nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s: need both %s and %s (or neither, to make new ones)", dir, filepath.Base(keyPath), filepath.Base(certPath))
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s or %s is not PEM", keyPath, certPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s: %v", keyPath, err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s: %v", certPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, selo.Errorf(selo.EINVALID, "%s holds no signing key", keyPath)
	}
	return signer, cert, nil
}
