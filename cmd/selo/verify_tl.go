package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/docsign/xades"
	"github.com/selo-qtsp/selo/trustlist"
)

// tlVerifyFlags are verify's trusted-list options.
type tlVerifyFlags struct {
	lotl, tl          string
	lotlCerts, tlCert []string
	cache             string
}

func (f *tlVerifyFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.lotl, "lotl", "", "grade signatures QES / AdES-QC / AdES from this list of trusted lists (`FILE|URL`), following its pointers")
	fl.StringArrayVar(&f.lotlCerts, "lotl-cert", nil, "PEM file of the certificates that may sign the LOTL (as the Official Journal publishes them), repeatable; needed with --lotl")
	fl.StringVar(&f.tl, "tl", "", "grade signatures from this one trusted list (`FILE|URL`) instead of a LOTL")
	fl.StringArrayVar(&f.tlCert, "tl-cert", nil, "PEM file of the certificates that may sign the --tl list, repeatable")
	fl.StringVar(&f.cache, "tl-cache", "", "folder keeping downloaded lists until their next update (default the user cache folder's selo/trusted-lists)")
}

// loadTrustedLists loads the lists the flags name into c.trustedLists, or
// does nothing without --lotl and --tl. A LOTL or TL that cannot be used
// (unavailable, badly signed, stale) is an error: signatures are never
// graded from a list that did not check out. A national list behind a good
// LOTL that fails is reported and left out.
func (c *cli) loadTrustedLists(ctx context.Context, f tlVerifyFlags, offline bool) error {
	if f.lotl == "" && f.tl == "" {
		if len(f.lotlCerts) > 0 || len(f.tlCert) > 0 {
			return usagef("--lotl-cert and --tl-cert go with --lotl or --tl")
		}
		return nil
	}
	if f.lotl != "" && f.tl != "" {
		return usagef("give --lotl or --tl, not both")
	}
	location, certFiles, flag := f.lotl, f.lotlCerts, "--lotl-cert"
	if f.tl != "" {
		location, certFiles, flag = f.tl, f.tlCert, "--tl-cert"
	}
	if len(certFiles) == 0 {
		return usagef("%s is needed: the certificates that may sign %s (a list is trusted only through its signer)", flag, location)
	}
	var signers []*x509.Certificate
	for _, file := range certFiles {
		certs, err := readPEMCertificates(file)
		if err != nil {
			return err
		}
		signers = append(signers, certs...)
	}
	cache := f.cache
	if cache == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(dir, "selo", "trusted-lists")
		}
	}
	loader := &trustlist.Loader{CacheDir: cache, Offline: offline}
	var set *trustlist.Set
	if f.lotl != "" {
		set = loader.LoadLOTL(ctx, location, signers)
	} else {
		set = loader.LoadTL(ctx, location, signers)
	}
	if top := set.Lists[0]; top.Status != trustlist.ListOK {
		return selo.Errorf(selo.EINVALID, "the list %s is %s and was not used: %s", location, top.Status, top.Problem)
	}
	c.trustedLists = set
	return nil
}

func readPEMCertificates(file string) ([]*x509.Certificate, error) {
	data, err := readLimitedFile(file, maxTrustFileSize)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, selo.Errorf(selo.EINVALID, "%s: %v", file, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "%s holds no PEM certificate", file)
	}
	return certs, nil
}

// trustedListsSource says where the roots came from, for the trust line.
func (c *cli) trustedListsSource() string {
	return fmt.Sprintf("%d service certificate(s) from %d trusted list(s)", c.trustedLists.Services(), len(c.trustedLists.Lists))
}

// gradeReport grades every signature of a verification report from the
// loaded lists, in the report's order; nil without lists. A document
// timestamp is not a signature and is not graded.
func (c *cli) gradeReport(report any) []*trustlist.Qualification {
	if c.trustedLists == nil {
		return nil
	}
	var sigs []*cades.SignatureReport
	switch r := report.(type) {
	case *cades.Report:
		sigs = r.Signatures
	case *xades.Report:
		sigs = r.Signatures
	case *pades.Report:
		for _, s := range r.Signatures {
			if !s.DocumentTimestamp {
				sigs = append(sigs, s.SignatureReport)
			}
		}
	}
	grades := make([]*trustlist.Qualification, 0, len(sigs))
	for _, s := range sigs {
		var q *trustlist.Qualification
		if s.Status == cades.StatusInvalid {
			q = &trustlist.Qualification{Level: "none", At: s.ValidatedAt, Reasons: []string{"the signature is invalid: it is no electronic signature of any level"}}
		} else {
			q = c.trustedLists.Grade(s.Chain, s.ValidatedAt)
			if s.TimestampOK {
				q.Reasons = append([]string{"graded at the time the signature timestamp proves (TSA " + s.TSA + ")"}, q.Reasons...)
			} else {
				q.Reasons = append([]string{"no valid signature timestamp: graded at the validation time, now"}, q.Reasons...)
			}
			if s.Status != cades.StatusValid {
				q.Reasons = append(q.Reasons, "the signature is indeterminate: the level holds only once its problems are resolved")
			}
		}
		q.Signer = s.Signer
		grades = append(grades, q)
	}
	return grades
}

// printGrades prints the lists used and each signature's grade.
func (c *cli) printGrades(grades []*trustlist.Qualification) {
	if c.trustedLists == nil {
		return
	}
	w := c.stdout
	fmt.Fprintln(w, "\nTrusted lists:")
	for _, l := range c.trustedLists.Lists {
		line := fmt.Sprintf("  %-13s %s", l.Status, l.Location)
		if l.Territory != "" {
			line += fmt.Sprintf(" (%s, sequence %d, %d service(s)", l.Territory, l.Sequence, l.Services)
			if l.NextUpdate != nil {
				line += ", next update " + l.NextUpdate.Format(time.RFC3339)
			}
			line += ", " + l.Source + ")"
		}
		if l.Problem != "" {
			line += ": " + l.Problem
		}
		fmt.Fprintln(w, line)
	}
	for i, q := range grades {
		fmt.Fprintf(w, "Qualification of signature %d (%s): %s at %s\n", i+1, q.Signer, q.Level, q.At.Format(time.RFC3339))
		if len(q.Qualifiers) > 0 {
			fmt.Fprintf(w, "  qualifiers  %s\n", strings.Join(q.Qualifiers, ", "))
		}
		for _, r := range q.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
}
