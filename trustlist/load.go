package trustlist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/docsign/cades"
	"github.com/selo-qtsp/selo/docsign/xades"
)

// Limits on what a list may be, so a hostile one costs little. The EU LOTL
// is about 0.3 MB and the largest national list a few MB.
const (
	MaxListSize = 32 << 20
	MaxPointers = 200
	// MaxLists bounds the national lists one LOTL may bring in.
	MaxLists = 100
)

// Parse reads a trusted list or LOTL (TS 119 612 v2, TSLVersionIdentifier
// 5). It checks the form only, not the signature (see Loader).
func Parse(data []byte) (*List, error) {
	if len(data) > MaxListSize {
		return nil, selo.Errorf(selo.EINVALID, "the trusted list is larger than %d MiB", MaxListSize>>20)
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) {
		return nil, selo.Errorf(selo.EINVALID, "the trusted list has a DTD, which TS 119 612 lists never have")
	}
	var l List
	if err := xml.Unmarshal(data, &l); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "not a TS 119 612 trusted list: %v", err)
	}
	s := &l.Scheme
	switch {
	case l.TSLTag != TSLTag:
		return nil, selo.Errorf(selo.EINVALID, "not a TS 119 612 v2 trusted list: TSLTag is %q", l.TSLTag)
	case s.Version != VersionID:
		return nil, selo.Errorf(selo.EINVALID, "the trusted list's TSLVersionIdentifier is %d, want %d (TS 119 612 v2)", s.Version, VersionID)
	case s.Type == "":
		return nil, selo.Errorf(selo.EINVALID, "the trusted list has no TSLType")
	case s.IssueDateTime.IsZero():
		return nil, selo.Errorf(selo.EINVALID, "the trusted list has no ListIssueDateTime")
	case s.Pointers != nil && len(s.Pointers.Pointers) > MaxPointers:
		return nil, selo.Errorf(selo.EINVALID, "the trusted list has more than %d pointers to other lists", MaxPointers)
	}
	return &l, nil
}

// Certificates decodes the X509Certificate entries of an identity; bad
// entries are skipped.
func (d DigitalIdentity) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, id := range d.IDs {
		if id.Certificate == "" {
			continue
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(id.Certificate), ""))
		if err != nil {
			continue
		}
		if c, err := x509.ParseCertificate(der); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Status values of a ListReport.
const (
	ListOK           = "ok"
	ListStale        = "stale"         // past its NextUpdate: not used
	ListBadSignature = "bad-signature" // not signed by a certificate its pointer names: not used
	ListUnavailable  = "unavailable"   // could not be read or downloaded
	ListInvalid      = "invalid"       // not a TS 119 612 v2 list
)

// ListReport says what became of one list.
type ListReport struct {
	Location   string     `json:"location"`
	Type       string     `json:"type,omitempty"`
	Territory  string     `json:"territory,omitempty"`
	Sequence   int        `json:"sequence,omitempty"`
	IssueDate  *time.Time `json:"issue_date,omitempty"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	Signer     string     `json:"signer,omitempty"`
	Source     string     `json:"source,omitempty"` // file, download or cache
	Services   int        `json:"services"`
	Status     string     `json:"status"`
	Problem    string     `json:"problem,omitempty"`
}

// Name is how reasons refer to the list: its territory and sequence number.
func (r *ListReport) Name() string {
	if r.Territory != "" {
		return fmt.Sprintf("%s TL #%d (%s)", r.Territory, r.Sequence, r.Location)
	}
	return r.Location
}

// Loader loads lists from files and URLs, checks their signatures and
// caches downloaded ones on disk until their NextUpdate.
type Loader struct {
	// Now is the time lists are judged fresh at; zero is the present.
	Now time.Time
	// CacheDir keeps downloaded lists; empty caches nothing.
	CacheDir string
	// Client downloads lists; nil is a client with a 30 s timeout.
	Client *http.Client
	// Offline reads only files and the cache.
	Offline bool
}

func (l *Loader) now() time.Time {
	if l.Now.IsZero() {
		return time.Now()
	}
	return l.Now
}

// LoadLOTL loads the list of lists at location, signed by one of signers,
// and every national list it points at whose pointer names a TSL XML copy,
// each checked against the certificates its pointer names. Lists that are
// stale, badly signed or unavailable are reported in the Set and not used.
func (l *Loader) LoadLOTL(ctx context.Context, location string, signers []*x509.Certificate) *Set {
	set := newSet()
	lotl, rep := l.load(ctx, location, "", signers)
	set.Lists = append(set.Lists, rep)
	if lotl == nil || lotl.Scheme.Pointers == nil {
		return set
	}
	n := 0
	for _, p := range lotl.Scheme.Pointers.Pointers {
		var typ, mime string
		for _, info := range p.Info {
			typ, mime = or(info.Type, typ), or(info.MimeType, mime)
		}
		// The LOTL points at itself and at PDF copies of the lists: only the
		// XML national lists are followed.
		if typ == TypeEULOTL || (mime != "" && mime != MimeTypeTSL) || p.Location == "" {
			continue
		}
		if n++; n > MaxLists {
			set.Lists = append(set.Lists, &ListReport{Location: p.Location, Status: ListUnavailable, Problem: fmt.Sprintf("the LOTL points at more than %d lists: the rest are not read", MaxLists)})
			break
		}
		tl, rep := l.load(ctx, p.Location, location, certificatesOf(p.Identities))
		set.Lists = append(set.Lists, rep)
		if tl != nil {
			set.add(tl, rep)
		}
	}
	return set
}

// LoadTL loads one trusted list signed by one of signers.
func (l *Loader) LoadTL(ctx context.Context, location string, signers []*x509.Certificate) *Set {
	set := newSet()
	tl, rep := l.load(ctx, location, "", signers)
	set.Lists = append(set.Lists, rep)
	if tl != nil {
		set.add(tl, rep)
	}
	return set
}

func certificatesOf(ids []DigitalIdentity) []*x509.Certificate {
	var out []*x509.Certificate
	for _, id := range ids {
		out = append(out, id.Certificates()...)
	}
	return out
}

// load reads, parses and checks one list; the list is nil unless it may be
// used (status ok).
func (l *Loader) load(ctx context.Context, location, parent string, signers []*x509.Certificate) (*List, *ListReport) {
	rep := &ListReport{Location: location}
	fail := func(status, format string, args ...any) (*List, *ListReport) {
		rep.Status, rep.Problem = status, fmt.Sprintf(format, args...)
		return nil, rep
	}
	if len(signers) == 0 {
		return fail(ListBadSignature, "no certificate to check the list's signature against")
	}
	if isRemote(parent) {
		// A list downloaded from the network points at other lists on the
		// network only: relative locations resolve against its URL, and a
		// local file is never read on a remote list's word.
		base, err := url.Parse(parent)
		ref, err2 := url.Parse(location)
		if err != nil || err2 != nil {
			return fail(ListUnavailable, "bad list location %q", location)
		}
		location = base.ResolveReference(ref).String()
		rep.Location = location
		if !isRemote(location) {
			return fail(ListUnavailable, "a list downloaded from %s points at %s, which is not an http(s) URL: not read", parent, location)
		}
	}
	remote := isRemote(location)
	var data []byte
	var err error
	if remote {
		data, rep.Source, err = l.fetch(ctx, location, signers)
	} else {
		rep.Source = "file"
		data, err = readFile(resolve(location, parent))
	}
	if err != nil {
		return fail(ListUnavailable, "%s", selo.ErrorMessage(err))
	}
	list, problem, status := l.check(data, signers, rep)
	if status != ListOK {
		return fail(status, "%s", problem)
	}
	rep.Status = ListOK
	return list, rep
}

// check parses data and checks its signature and freshness, filling rep.
func (l *Loader) check(data []byte, signers []*x509.Certificate, rep *ListReport) (*List, string, string) {
	list, err := Parse(data)
	if err != nil {
		return nil, selo.ErrorMessage(err), ListInvalid
	}
	s := &list.Scheme
	rep.Type, rep.Territory, rep.Sequence = s.Type, s.Territory, s.SequenceNumber
	issued := s.IssueDateTime.UTC()
	rep.IssueDate = &issued
	if s.NextUpdate.DateTime != nil {
		next := s.NextUpdate.DateTime.UTC()
		rep.NextUpdate = &next
	}
	rep.Services = 0
	if list.Providers != nil {
		for _, p := range list.Providers.Providers {
			rep.Services += len(p.Services)
		}
	}
	if problem := checkSignature(data, signers, l.now(), rep); problem != "" {
		return nil, problem, ListBadSignature
	}
	now := l.now()
	switch {
	case rep.NextUpdate == nil:
		return nil, "the list is closed (no NextUpdate)", ListStale
	case !now.Before(*rep.NextUpdate):
		return nil, fmt.Sprintf("the list's next update was due %s: it is stale", rep.NextUpdate.Format(time.RFC3339)), ListStale
	case now.Before(issued):
		return nil, fmt.Sprintf("the list is issued in the future (%s)", issued.Format(time.RFC3339)), ListInvalid
	}
	return list, "", ListOK
}

// checkSignature checks the list's enveloped XAdES signature: intact, over
// the whole list, and made by one of signers (the certificates the pointer
// names, used as they are: a list signer is trusted because the pointer
// names it, not because of a CA).
func checkSignature(data []byte, signers []*x509.Certificate, now time.Time, rep *ListReport) string {
	roots := x509.NewCertPool()
	for _, c := range signers {
		roots.AddCert(c)
	}
	vr, err := xades.Verify(data, xades.VerifyOptions{Roots: roots, Now: now})
	if err != nil {
		return selo.ErrorMessage(err)
	}
	if len(vr.Signatures) != 1 {
		return fmt.Sprintf("the list holds %d signatures, want 1", len(vr.Signatures))
	}
	sig := vr.Signatures[0]
	rep.Signer = sig.Signer
	if sig.Status != cades.StatusValid {
		return "the list's signature is " + sig.Status + ": " + strings.Join(sig.Problems, "; ")
	}
	for _, c := range signers {
		if len(sig.Chain) > 0 && sig.Chain[0].Equal(c) {
			return ""
		}
	}
	return "the list is not signed by a certificate its pointer names"
}

func isRemote(location string) bool {
	return strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://")
}

func resolve(location, parent string) string {
	location = strings.TrimPrefix(location, "file://")
	if filepath.IsAbs(location) || parent == "" || strings.Contains(parent, "://") {
		return location
	}
	return filepath.Join(filepath.Dir(parent), location)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "read the trusted list: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxListSize+1))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "read the trusted list: %v", err)
	}
	return data, nil
}

// fetch returns a downloaded list: the cached copy while it is fresh and
// well signed, else a new download (cached when it checks out).
func (l *Loader) fetch(ctx context.Context, location string, signers []*x509.Certificate) ([]byte, string, error) {
	var cachePath string
	if l.CacheDir != "" {
		sum := sha256.Sum256([]byte(location))
		cachePath = filepath.Join(l.CacheDir, hex.EncodeToString(sum[:12])+".xml")
		if data, err := readFile(cachePath); err == nil {
			if _, _, status := l.check(data, signers, &ListReport{}); status == ListOK {
				return data, "cache", nil
			}
		}
	}
	if l.Offline {
		return nil, "", selo.Errorf(selo.EINVALID, "offline, and no fresh copy of %s in the cache", location)
	}
	if _, err := url.Parse(location); err != nil {
		return nil, "", selo.Errorf(selo.EINVALID, "bad list location %q", location)
	}
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, "", selo.Errorf(selo.EINVALID, "bad list location %q: %v", location, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", selo.Errorf(selo.EINVALID, "download %s: %v", location, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", selo.Errorf(selo.EINVALID, "download %s: %s", location, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return nil, "", selo.Errorf(selo.EINVALID, "download %s: %v", location, err)
	}
	if cachePath != "" {
		if _, _, status := l.check(data, signers, &ListReport{}); status == ListOK {
			if err := os.MkdirAll(l.CacheDir, 0o700); err == nil {
				tmp := cachePath + ".tmp"
				if os.WriteFile(tmp, data, 0o600) == nil {
					_ = os.Rename(tmp, cachePath)
				}
			}
		}
	}
	return data, "download", nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
