package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/server"
)

// tlsFlags are serve's TLS settings (docs/operators.md, "Production").
type tlsFlags struct {
	certFile, keyFile string
	self              bool
	listenHTTP        string
}

func (f *tlsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.certFile, "tls-cert", "", "serve HTTPS with the certificate chain in this PEM `FILE` (leaf first); re-read on SIGHUP and when the file changes")
	cmd.Flags().StringVar(&f.keyFile, "tls-key", "", "the private key of --tls-cert, PEM `FILE`")
	cmd.Flags().BoolVar(&f.self, "tls-self", false, "serve HTTPS with a certificate Selo issues itself from the tls-server profile for the host of --base-url (a domain name); its key sealed in the key store; re-used while valid")
	cmd.Flags().StringVar(&f.listenHTTP, "listen-http", "", "with TLS, also listen on this `ADDR` over plain HTTP for the public OCSP, CRL, CA-file and timestamp endpoints only (RFC 5280/6960 relying parties fetch those over http://); other paths redirect to https")
}

func (f *tlsFlags) on() bool { return f.certFile != "" || f.keyFile != "" || f.self }

func (f *tlsFlags) check() error {
	if (f.certFile == "") != (f.keyFile == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if f.self && f.certFile != "" {
		return usagef("--tls-self and --tls-cert exclude each other")
	}
	if f.listenHTTP != "" && !f.on() {
		return usagef("--listen-http is the plain-HTTP listener beside a TLS one: give --tls-cert/--tls-key or --tls-self")
	}
	return nil
}

// certReloader hands the TLS stack the current certificate. GetCertificate
// never waits on disk: at most once a second it starts a check of the files'
// modification times in the background and answers with the certificate it
// has; a changed pair is loaded and used from the next handshake on. A pair
// that does not load (a key written before its certificate) leaves the old
// one in use, and is tried again at the next check.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	cert      atomic.Pointer[tls.Certificate]
	stamp     atomic.Pointer[fileStamps] // of the loaded pair
	lastCheck atomic.Int64               // unix nanoseconds
	checking  sync.Mutex
}

type fileStamps struct{ cert, key time.Time }

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	r.lastCheck.Store(time.Now().UnixNano())
	return r, nil
}

func (r *certReloader) stamps() (fileStamps, error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return fileStamps{}, err
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return fileStamps{}, err
	}
	return fileStamps{ci.ModTime(), ki.ModTime()}, nil
}

// load reads the pair and makes it current.
func (r *certReloader) load() error {
	st, err := r.stamps()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&pair)
	r.stamp.Store(&st)
	return nil
}

// reload loads the pair again, logging the outcome (SIGHUP, or a change seen).
func (r *certReloader) reload(why string) {
	if err := r.load(); err != nil {
		r.log.Error("tls: keeping the certificate in use", "why", why, "err", err)
		return
	}
	leaf := r.cert.Load().Leaf
	r.log.Info("tls: certificate loaded", "why", why, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
}

// checkFiles reloads when a file's modification time changed.
func (r *certReloader) checkFiles() {
	defer r.checking.Unlock()
	st, err := r.stamps()
	if err != nil {
		return // being replaced: look again at the next check
	}
	if old := r.stamp.Load(); old != nil && st.cert.Equal(old.cert) && st.key.Equal(old.key) {
		return
	}
	r.reload("the files changed")
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now().UnixNano()
	if last := r.lastCheck.Load(); now-last > int64(time.Second) && r.lastCheck.CompareAndSwap(last, now) && r.checking.TryLock() {
		go r.checkFiles()
	}
	return r.cert.Load(), nil
}

// tlsConfig is TLS 1.2 and up with Go's default cipher suites and curves.
func tlsConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get, NextProtos: []string{"h2", "http/1.1"}}
}

// hstsMaxAge is one year, what browsers' preload lists ask for.
const hstsMaxAge = "max-age=31536000"

// withHSTS tells browsers to use HTTPS only, on every response of the TLS
// listener.
func withHSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		h.ServeHTTP(w, r)
	})
}

// plainPublic says whether the plain listener serves path: what relying
// parties fetch over http:// (RFC 5280 CRL and caIssuers URLs, RFC 6960
// OCSP), RFC 3161 timestamps, and the probes.
func plainPublic(path string) bool {
	switch path {
	case "/ocsp", "/tsa", "/healthz", "/readyz":
		return true
	}
	return strings.HasPrefix(path, "/ocsp/") || strings.HasPrefix(path, "/crl/") || strings.HasPrefix(path, "/ca/")
}

// plainOnly serves the public paths with h; a GET or HEAD of anything else
// is redirected to the same path over https at httpsHost, other methods get
// 404 (a password must not travel in the clear, not even once).
func plainOnly(h http.Handler, httpsHost string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if plainPublic(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			// The name the client used, on the TLS listener's port.
			host := httpsHost
			name := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				name = h
			}
			if _, port, err := net.SplitHostPort(httpsHost); err == nil && name != "" {
				host = net.JoinHostPort(name, port)
			}
			target := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
			http.Redirect(w, r, target.String(), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"this address serves only OCSP, CRLs and CA files over plain HTTP: use https"}}` + "\n"))
	})
}

// serveHTTP serves srv on ln, over TLS when flags say so, and on the plain
// listener of --listen-http; SIGHUP reloads the certificate files. It
// returns when ctx ends and every listener has shut down.
func (c *cli) serveHTTP(ctx context.Context, srv *server.Server, a *authority.Authority, ln net.Listener, f *tlsFlags) error {
	if !f.on() {
		fmt.Fprintf(c.stderr, "Selo is listening on http://%s\n", ln.Addr())
		return srv.Serve(ctx, ln)
	}
	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if f.self {
		pair, err := c.selfTLSCertificate(ctx, a)
		if err != nil {
			return err
		}
		get = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return pair, nil }
	} else {
		r, err := newCertReloader(f.certFile, f.keyFile, c.log)
		if err != nil {
			return err
		}
		get = r.GetCertificate
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					r.reload("SIGHUP")
				}
			}
		}()
	}
	var plain net.Listener
	if f.listenHTTP != "" {
		var err error
		if plain, err = net.Listen("tcp", f.listenHTTP); err != nil {
			return fmt.Errorf("listen on %s: %w", f.listenHTTP, err)
		}
	}
	errc := make(chan error, 2)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	fmt.Fprintf(c.stderr, "Selo is listening on https://%s\n", ln.Addr())
	go func() {
		errc <- srv.ServeHandler(ctx, tls.NewListener(ln, tlsConfig(get)), withHSTS(srv.Handler()))
	}()
	n := 1
	if plain != nil {
		n++
		fmt.Fprintf(c.stderr, "Selo serves OCSP, CRLs and CA files on http://%s\n", plain.Addr())
		go func() { errc <- srv.ServeHandler(ctx, plain, plainOnly(srv.Handler(), ln.Addr().String())) }()
	}
	var first error
	for range n {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
		}
		stop() // one listener failing stops the other
	}
	return first
}

// selfTLSFile records the certificate --tls-self issued, so that a restart
// uses it again while it is valid.
const selfTLSFile = "tls-self.json"

type selfTLSRecord struct {
	Serial string `json:"serial"`
	KeyID  string `json:"key_id"`
}

// selfRenewBefore is how long before its notAfter a --tls-self certificate
// is replaced at start-up.
const selfRenewBefore = 30 * 24 * time.Hour

// selfTLSCertificate returns the server's own certificate from Selo's CA
// (the tls-server profile), issuing one with a new key in the key store
// when there is none, or the one there is expires within selfRenewBefore or
// was revoked.
func (c *cli) selfTLSCertificate(ctx context.Context, a *authority.Authority) (*tls.Certificate, error) {
	path := filepath.Join(c.dataDir, selfTLSFile)
	if b, err := os.ReadFile(path); err == nil {
		var rec selfTLSRecord
		if json.Unmarshal(b, &rec) == nil {
			pair, err := c.selfTLSPair(ctx, a, rec)
			if err == nil && time.Until(pair.Leaf.NotAfter) > selfRenewBefore {
				return pair, nil
			}
			c.log.Info("tls-self: issuing a new certificate", "previous", rec.Serial, "err", err)
		}
	}
	// The tls-server profile certifies fully qualified domain names only
	// (no IP addresses, no "localhost"): the host of the base URL.
	u, err := url.Parse(c.baseURL)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil || !strings.Contains(u.Hostname(), ".") {
		return nil, selo.Errorf(selo.EINVALID, "--tls-self certifies the host of --base-url, which must be a domain name (not %q): set --base-url, or give --tls-cert and --tls-key", c.baseURL)
	}
	names := []string{u.Hostname()}
	keyID := "tls/server-" + time.Now().UTC().Format("20060102T150405")
	signer, err := c.keys.GenerateKey(ctx, keyID, selo.KeyECDSAP256, selo.KeyOptions{})
	if err != nil {
		return nil, fmt.Errorf("tls-self: make the key: %w", err)
	}
	cert, err := a.Issue(ctx, "system", authority.IssueRequest{Profile: "tls-server", PublicKey: signer.Public(), KeyID: keyID, DNSNames: names})
	if err != nil {
		_ = c.keys.DeleteKey(ctx, keyID)
		return nil, fmt.Errorf("tls-self: issue from the tls-server profile: %w", err)
	}
	rec := selfTLSRecord{Serial: cert.Serial, KeyID: keyID}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("tls-self: %w", err)
	}
	fmt.Fprintf(c.stderr, "tls-self: issued the server certificate %s for %s (tls-server profile)\n", cert.Serial, strings.Join(names, ", "))
	return c.selfTLSPair(ctx, a, rec)
}

// selfTLSPair builds the TLS certificate of rec: its certificate, the CA
// chain, and the key store's signer.
func (c *cli) selfTLSPair(ctx context.Context, a *authority.Authority, rec selfTLSRecord) (*tls.Certificate, error) {
	cert, err := a.FindCertificate(ctx, rec.Serial)
	if err != nil {
		return nil, err
	}
	if cert.Status != selo.CertValid {
		return nil, fmt.Errorf("certificate %s is %s", cert.Serial, cert.Status)
	}
	leaf, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return nil, err
	}
	signer, err := c.keys.Signer(ctx, rec.KeyID)
	if err != nil {
		return nil, err
	}
	pair := &tls.Certificate{Certificate: [][]byte{cert.DER}, PrivateKey: signer, Leaf: leaf}
	chain, err := a.Chain(ctx, cert.CAID)
	if err != nil {
		return nil, err
	}
	for _, ca := range chain {
		if !ca.IsCA || string(ca.RawIssuer) == string(ca.RawSubject) {
			continue // the root stays out: clients have it or not
		}
		pair.Certificate = append(pair.Certificate, ca.Raw)
	}
	return pair, nil
}
