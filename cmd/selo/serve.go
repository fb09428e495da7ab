package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/web"
	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/tsa"
	"github.com/selo-qtsp/selo/worker"
)

// loopbackListen reports whether addr (host:port) listens on the loopback
// interface only.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startCPUProfile starts Go's CPU profiler writing to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func (c *cli) serveCommand() *cobra.Command {
	var listen, roles, cpuProfile string
	var noInit bool
	var workerInterval time.Duration
	var gcPercent int
	var checkpoints authority.CheckpointPolicy
	var loadTSA func(context.Context, *authority.Authority) (*tsa.Responder, error) // sign.go
	var limits abuseLimits
	var tlsOpts tlsFlags         // serve_tls.go
	var metricsOpts metricsFlags // serve_metrics.go
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--roles api,ocsp,worker,portal]",
		Short: "Run the Selo server (REST API, OCSP, CRLs, CA files, background worker)",
		Long: `Serve runs Selo's HTTP server:

  GET  /healthz                 liveness and database check
  GET  /readyz                  readiness: store and key store reachable; on an ocsp
                                replica also CRLs and OCSP responder certificates current
  GET  /ca/{id}.crt             a CA certificate, DER (the AIA caIssuers URL)
  GET  /ca/{id}.pem             a CA's chain up to the root, PEM
  GET  /ca/{id}.p7b             the same chain as PKCS#7 (.p7b)
  GET  /crl/{id}.crl            the CA's current CRL, DER (the CRL distribution point)
  GET  /ocsp/{base64 request}   OCSP (RFC 6960, RFC 5019); POST /ocsp too
  POST /tsa                     RFC 3161 timestamps (after 'selo tsa init')
  POST /api/v1/holder/revoke    revocation by the holder, signed with the certificate's key
  POST /api/v1/holder/revoke-with-code   revocation with the code shown at issuance (no key)
  /api/v1/account/...           the holder API (login, then Authorization: Bearer TOKEN)
  /api/v1/wallet/...            wallet devices (requests signed with the device key)
  /api/v1/orders/...            the registration desk (docs/orders.md); payments at /api/v1/payments/webhook
  /api/v1/...                   the operator REST API (Authorization: Bearer API-KEY)
  /account/...                  the holder portal: sign in, certificates, authorizers,
                                revocation, signature history (docs/portal.md)
  /account/orders/{id}/identity the holder's identity check: document photos and a selfie
                                from the camera, the MRZ typed (docs/desk.md)
  /desk/...                     the registration desk's back office: officers, admins and
                                auditors sign in with their operator accounts (docs/desk.md)
  GET  /outbox                  the local outbox as a web page (only when listening on
                                loopback and no SMTP server / SMS gateway is set)

--roles chooses what this replica does: "api" (REST API), "ocsp" (OCSP and
CRLs), "portal" (the holder portal's web pages under /account/ and the back
office under /desk/) and "worker" (re-signs CRLs and OCSP responses before
they expire and renews OCSP responder certificates, resends "ready to lift"
e-mails that could not be sent, deletes identity photos older than
--identity-photo-retention, and signs audit checkpoints with the audit key: every
--audit-checkpoint-entries entries or --audit-checkpoint-interval, and when
it stops; see 'selo audit verify --help'). Run OCSP replicas with --roles ocsp over
PostgreSQL; the worker runs on exactly one replica at a time (a lock in the
store elects it: a PostgreSQL advisory lock, or with SQLite a lock on a file
beside the database; the others stand by and take over when it stops).
Replicas without the worker role run none of its work.

TLS: --tls-cert and --tls-key serve HTTPS (TLS 1.2 and 1.3, Go's default
ciphers) with HSTS on every answer; the files are read again on SIGHUP and
when they change on disk. --tls-self issues the server's own certificate from
Selo's CA (tls-server profile) on the first run and re-uses it while valid.
--listen-http adds a plain-HTTP listener that serves only OCSP, CRLs, CA
files, timestamps and the probes, which relying parties fetch over http://;
other GETs there redirect to https. --metrics-listen serves Prometheus
metrics at /metrics on an address of its own (docs/operators.md, Production).

Abuse limits, counted in the database so that they hold across replicas
(give every replica the same values): one-time codes (SMS codes of
credentials and authorizers, e-mailed lift and verification codes) at most
one per --code-interval and --codes-per-hour per credential or order, and
--account-codes-per-hour per account; failed logins and wrong order codes
at most --failures-per-address per client address in --failure-window;
--login-failures-per-email failed logins lock an e-mail address (known or
not, with the same answer) for the rest of the window, except for the
password with an authenticator code. A refusal is HTTP 429 with Retry-After
and an audit entry. Behind a proxy, the client address is the proxy's.

On its first run with an empty data directory it initializes one on the
embedded defaults (as 'selo init' with its default flags) and prints the
operator API key once. Stop it with Ctrl-C: it finishes the requests in flight.`,
		Example: `  selo serve
  selo serve --listen 0.0.0.0:8443 --base-url https://pki.example.pt --database postgres://selo@db/selo
  selo serve --roles ocsp --listen 0.0.0.0:8080 --database postgres://selo@db/selo
  selo serve --listen 0.0.0.0:8443 --tls-cert /etc/selo/tls.crt --tls-key /etc/selo/tls.key --listen-http 0.0.0.0:8080 --metrics-listen 127.0.0.1:9101`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			roleSet := map[string]bool{}
			for _, r := range strings.Split(roles, ",") {
				r = strings.TrimSpace(r)
				switch r {
				case server.RoleAPI, server.RoleOCSP, server.RolePortal, "worker":
					roleSet[r] = true
				case "":
				default:
					return usagef("unknown role %q: use api, ocsp, portal and/or worker", r)
				}
			}
			if len(roleSet) == 0 {
				return usagef("--roles needs at least one of api, ocsp, portal, worker")
			}
			if err := limits.check(); err != nil {
				return err
			}
			c.limits = &limits
			if err := tlsOpts.check(); err != nil {
				return err
			}
			if gcPercent < 0 {
				return usagef("--gc-percent must be 1 or more, or 0 for Go's default")
			}
			setGCPercent(gcPercent)
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			if metricsOpts.listen != "" {
				// Before the services are built: they count into it.
				m := c.newMetrics()
				c.metrics = m
				mln, err := net.Listen("tcp", metricsOpts.listen)
				if err != nil {
					return fmt.Errorf("listen on %s: %w", metricsOpts.listen, err)
				}
				defer mln.Close()
				fmt.Fprintf(c.stderr, "Selo serves metrics on http://%s/metrics\n", mln.Addr())
				mctx, stopMetrics := context.WithCancel(ctx)
				defer stopMetrics()
				go func() { _ = serveMetrics(mctx, m, mln) }()
			}
			if !c.initialized() {
				if noInit {
					return fmt.Errorf("%s is not initialized: run 'selo init' first", c.dataDir)
				}
				fmt.Fprintf(c.stderr, "first run: initializing %s on the embedded defaults\n", c.dataDir)
				if err := c.initialize(cmd, defaultInitOptions()); err != nil {
					return err
				}
			}
			a, err := c.authority(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			if roleSet["worker"] {
				// The audit key is made on the first start of a data
				// directory from before checkpoints, before the worker
				// appends anything.
				if created, err := a.EnsureAuditKey(ctx, "system"); err != nil {
					return err
				} else if created {
					fmt.Fprintln(c.stderr, "made the audit key: audit checkpoints are signed from now on ('selo audit verify' says what came before)")
				}
			}
			var httpRoles []string
			for _, r := range []string{server.RoleAPI, server.RoleOCSP, server.RolePortal} {
				if roleSet[r] {
					httpRoles = append(httpRoles, r)
				}
			}
			// Before the worker starts: an early return must not wait for it.
			timestamps, err := loadTSA(ctx, a)
			if err != nil {
				var usage *usageError
				if errors.As(err, &usage) {
					return err
				}
				c.log.Warn("the timestamp authority is off", "err", err)
				fmt.Fprintf(c.stderr, "the timestamp authority is off: %s\n", selo.ErrorMessage(err))
			}
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			var wg sync.WaitGroup
			if roleSet["worker"] {
				// One replica of the worker role, elected by the store's
				// lock, runs the background work; the others stand by.
				var lock worker.Locker
				if l, ok := c.store.(worker.Locker); ok {
					lock = l
				}
				tasks := []worker.Task{a.StatusTask()}
				if reg, err := c.registration(ctx); err == nil { // resend "ready to lift" e-mails that failed
					// and delete identity photos past their retention
					tasks = append(tasks, reg.ReadyNoticeTask(), reg.EvidenceTask())
				}
				tasks = append(tasks, worker.Task{Name: "web sessions", Run: func(ctx context.Context) error {
					_, err := web.SweepExpired(ctx, c.store, time.Now()) // ended portal sessions
					return err
				}})
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = worker.RunReporting(ctx, lock, workerInterval, c.log, metrics.OrNop(c.metrics).WorkerLeading, tasks...)
				}()
				// The first checkpoint is signed at once, the last when
				// the server stops.
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.RunAuditCheckpoints(ctx, checkpoints, min(workerInterval, checkpoints.Interval))
				}()
			}
			// Stop the workers before waiting for them, on every return: a
			// plain deferred Wait would run before the deferred stop and hang
			// an early error return (a listen address in use) for ever.
			defer func() { stop(); wg.Wait() }()
			if len(httpRoles) == 0 {
				c.log.Info("selo worker running", "data", c.dataDir)
				fmt.Fprintln(c.stderr, "Selo worker is running (no HTTP roles)")
				<-ctx.Done()
				return nil
			}
			cfg := server.Config{Authority: a, Logger: c.log, Roles: httpRoles}
			cfg.TSA = timestamps
			if roleSet[server.RoleAPI] {
				// The holder API and wallet endpoints; without a master key
				// (a PKCS#11 key store and no --master-key-file) there is none.
				svc, err := c.signing(ctx)
				if err != nil {
					c.log.Warn("remote signing is off", "err", err)
					fmt.Fprintf(c.stderr, "remote signing is off: %v\n", err)
				} else {
					cfg.Signing = svc
				}
				reg, err := c.registration(ctx)
				if err != nil {
					c.log.Warn("the registration desk is off", "err", err)
					fmt.Fprintf(c.stderr, "the registration desk is off: %v\n", err)
				} else {
					cfg.Registration = reg
				}
				if n, err := c.notifiers(); err == nil && n.Outbox != nil {
					// The page shows one-time codes: only to this machine,
					// and only when Selo listens on loopback alone.
					cfg.Outbox, cfg.OutboxPage = n.Outbox, loopbackListen(listen)
				}
			}
			if roleSet[server.RoleAPI] {
				if cfg.Control, err = c.control(ctx); err != nil { // dual control: /api/v1/proposals
					return err
				}
			}
			if roleSet[server.RolePortal] {
				if err := c.wirePortal(ctx, &cfg); err != nil {
					c.log.Warn("the holder portal is off", "err", err)
					fmt.Fprintf(c.stderr, "the holder portal is off: %v\n", err)
				}
			}
			srv := server.New(cfg)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			c.log.Info("selo serving", "addr", ln.Addr().String(), "data", c.dataDir, "base_url", c.baseURL, "roles", roles)
			err = c.serveHTTP(ctx, srv, a, ln, &tlsOpts) // serve_tls.go: TLS, --listen-http
			stop()
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			c.log.Info("selo stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&roles, "roles", "api,ocsp,worker,portal", "what this replica runs: api, ocsp, worker, portal (comma-separated)")
	cmd.Flags().DurationVar(&workerInterval, "worker-interval", time.Minute, "how often the worker checks CRLs and OCSP responses")
	cmd.Flags().Int64Var(&checkpoints.Entries, "audit-checkpoint-entries", authority.DefaultCheckpointEntries, "the worker signs an audit checkpoint once this many audit entries were appended since the last one")
	cmd.Flags().DurationVar(&checkpoints.Interval, "audit-checkpoint-interval", authority.DefaultCheckpointInterval, "the worker signs an audit checkpoint at least this often while entries are appended (and one when it stops)")
	cmd.Flags().IntVar(&gcPercent, "gc-percent", defaultGCPercent, "Go garbage collector target (GOGC): the heap may grow this many percent over live data between collections; higher trades memory for CPU, 0 keeps Go's default (100); a GOGC variable wins")
	loadTSA = c.tsaServeFlag(cmd)
	addLimitFlags(cmd, &limits)
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a Go CPU profile of the server to `FILE` when it stops (for 'go tool pprof'; costs a few percent of CPU)")
	tlsOpts.add(cmd)
	metricsOpts.add(cmd)
	cmd.Flags().DurationVar(&c.photoRetention, "identity-photo-retention", registration.DefaultEvidenceRetention, "how long the photos of an identity check (document and selfie) are kept after they were sent; the worker deletes them afterwards")
	cmd.Flags().BoolVar(&noInit, "no-init", false, "refuse to start on an uninitialized data directory instead of initializing it")
	return cmd
}

// defaultGCPercent is selo serve's garbage collector target. Signing
// allocates about 5 KB per ECDSA signature (the hedged nonce's HMAC-DRBG)
// and a few more per request, so with Go's default of 100 a busy signing
// service collects many times a second; at 400 it collects a quarter as
// often (docs/benchmarks.md; bench/csc's server peaked at 72 MB resident
// either way).
const defaultGCPercent = 400

// setGCPercent applies --gc-percent unless the operator set GOGC, which
// the Go runtime has already applied.
func setGCPercent(percent int) {
	if percent == 0 || os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(percent)
}
