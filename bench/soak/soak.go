package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/notify"
)

// config is what one soak run does.
type config struct {
	bin, database  string
	duration       time.Duration
	killEvery      time.Duration
	grace          time.Duration
	workerInterval time.Duration
	signers        int
	issuers        int
}

const (
	holderEmail    = "soak@example.pt"
	holderPassword = "correct horse battery staple"
)

// report holds the counts a run prints and the checks decide on.
type report struct {
	Issued, Revoked, OCSPAnswers, Signatures       int64
	SADsReoffered, SADsReused                      int64
	Kills                                          map[string]int
	ErrorsInKillWindows, ErrorsOutside             int64
	FirstErrorOutside                              string
	MissingCertificates, SerialMismatch            int
	DuplicateSerials                               int
	RevocationsNotInOCSP, RevocationsNotInCRL      int
	LateOCSP                                       int64 // acknowledged revocations answered "good" after the cache bound
	StaleCRLs                                      int
	AuditVerify                                    string // "" when it passed
	CertificatesInStore                            int
	WorkerTakeovers                                int
	LongestTakeover                                time.Duration
	ocspRevokedChecked, crlChecked, leaderAtTheEnd int
}

// problems lists what the run got wrong; none means every check held.
func (r *report) problems() []string {
	var out []string
	add := func(bad bool, format string, args ...any) {
		if bad {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(r.Issued == 0 || r.Revoked == 0 || r.OCSPAnswers == 0 || r.Signatures == 0,
		"the load did nothing: %d issued, %d revoked, %d OCSP answers, %d signatures", r.Issued, r.Revoked, r.OCSPAnswers, r.Signatures)
	add(r.ErrorsOutside > 0, "%d client calls failed outside the kill windows (first: %s)", r.ErrorsOutside, r.FirstErrorOutside)
	add(r.MissingCertificates > 0, "%d acknowledged certificates are not in the store", r.MissingCertificates)
	add(r.SerialMismatch > 0, "%d stored certificates do not carry their row's serial", r.SerialMismatch)
	add(r.DuplicateSerials > 0, "%d serials listed twice", r.DuplicateSerials)
	add(r.RevocationsNotInOCSP > 0 || r.LateOCSP > 0, "%d acknowledged revocations not revoked in OCSP at the end, %d answered good after the %s cache bound during the load",
		r.RevocationsNotInOCSP, r.LateOCSP, authority.DefaultOCSPCacheTTL)
	add(r.RevocationsNotInCRL > 0, "%d acknowledged revocations not on the next CRL", r.RevocationsNotInCRL)
	add(r.StaleCRLs > 0, "%d CRLs past their nextUpdate", r.StaleCRLs)
	add(r.SADsReused > 0, "%d SADs signed twice", r.SADsReused)
	add(r.AuditVerify != "", "selo audit verify: %s", r.AuditVerify)
	add(r.leaderAtTheEnd != 1, "%d worker replicas lead at the end, want 1", r.leaderAtTheEnd)
	return out
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "load: %d certificates issued, %d revoked, %d OCSP answers, %d signatures (signHash)\n", r.Issued, r.Revoked, r.OCSPAnswers, r.Signatures)
	fmt.Fprintf(w, "kills (SIGKILL): %v; worker lock taken over %d times, the longest %s after the kill\n", r.Kills, r.WorkerTakeovers, r.LongestTakeover.Round(time.Millisecond))
	fmt.Fprintf(w, "client errors: %d inside kill windows, %d outside\n", r.ErrorsInKillWindows, r.ErrorsOutside)
	fmt.Fprintf(w, "store: %d certificates, %d acknowledged ones missing, %d serials twice, %d serial mismatches\n",
		r.CertificatesInStore, r.MissingCertificates, r.DuplicateSerials, r.SerialMismatch)
	fmt.Fprintf(w, "revocations: %d checked in OCSP at the end (%d not revoked), %d on the CRLs (%d missing), %d late OCSP answers during the load, %d stale CRLs\n",
		r.ocspRevokedChecked, r.RevocationsNotInOCSP, r.crlChecked, r.RevocationsNotInCRL, r.LateOCSP, r.StaleCRLs)
	fmt.Fprintf(w, "SADs: %d offered again to another replica after their signHash, %d signed twice\n", r.SADsReoffered, r.SADsReused)
	audit := "passed"
	if r.AuditVerify != "" {
		audit = r.AuditVerify
	}
	fmt.Fprintf(w, "selo audit verify: %s\n", audit)
}

// window is a time a replica was down: from its SIGKILL until it answered
// again plus the grace.
type window struct{ from, to time.Time }

// replica is one `selo serve` process the soak starts, kills and restarts
// on the same address.
type replica struct {
	name, role string
	addr       string // "" for a worker
	args       []string
	env        []string
	bin        string

	mu      sync.Mutex
	cmd     *exec.Cmd
	log     *lockedBuffer
	windows []window
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leaderLine is what a worker logs when it takes the worker lock (worker.Run).
const leaderLine = "worker: this replica runs the background work"

func (r *replica) start() error {
	args := []string{"serve", "--no-init", "--roles", r.role}
	if r.addr != "" {
		args = append(args, "--listen", r.addr, "--log-level", "error")
	} else {
		args = append(args, "--log-level", "info")
	}
	cmd := exec.Command(r.bin, append(args, r.args...)...)
	log := &lockedBuffer{}
	cmd.Env, cmd.Stderr = r.env, log
	if err := cmd.Start(); err != nil {
		return err
	}
	r.mu.Lock()
	r.cmd, r.log = cmd, log
	r.mu.Unlock()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if r.addr == "" {
			if strings.Contains(log.String(), "Selo worker is running") {
				return nil
			}
			continue
		}
		if resp, err := http.Get("http://" + r.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return fmt.Errorf("replica %s did not start: %s", r.name, log.String())
}

// kill sends SIGKILL and waits for the process; restart starts it again.
// The kill window runs from the SIGKILL to the grace after the restart.
func (r *replica) kill() time.Time {
	r.mu.Lock()
	r.windows = append(r.windows, window{from: time.Now(), to: time.Now().Add(24 * time.Hour)}) // open until restarted
	cmd := r.cmd
	r.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	return time.Now()
}

func (r *replica) restart(grace time.Duration) error {
	err := r.start()
	r.mu.Lock()
	r.windows[len(r.windows)-1].to = time.Now().Add(grace)
	r.mu.Unlock()
	return err
}

// down reports whether [from, to] overlaps one of r's kill windows.
func (r *replica) down(from, to time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.windows {
		if !to.Before(w.from) && !from.After(w.to) {
			return true
		}
	}
	return false
}

func (r *replica) leads() bool {
	r.mu.Lock()
	log := r.log
	r.mu.Unlock()
	return strings.Contains(log.String(), leaderLine)
}

func (r *replica) logText() string {
	r.mu.Lock()
	log := r.log
	r.mu.Unlock()
	return log.String()
}

func (r *replica) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// issued is a certificate an API replica acknowledged.
type issued struct {
	serial, ca   string
	cert, issuer *x509.Certificate
}

// soak is one run's shared state.
type soak struct {
	cfg     config
	apiKey  string
	apis    []*replica
	ocsp    *replica
	workers []*replica
	outbox  *notify.Outbox

	mu        sync.Mutex
	certs     []issued
	revokedAt map[string]time.Time
	rep       report
}

// failed counts a failed client call against the replica it went to.
func (s *soak) failed(r *replica, started time.Time, format string, args ...any) {
	inWindow := r.down(started, time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	if inWindow {
		s.rep.ErrorsInKillWindows++
		return
	}
	s.rep.ErrorsOutside++
	if s.rep.FirstErrorOutside == "" {
		s.rep.FirstErrorOutside = r.name + ": " + fmt.Sprintf(format, args...)
	}
}

func run(cfg config, out io.Writer) (*report, error) {
	if cfg.signers < 1 || cfg.issuers < 1 || cfg.duration <= 0 || cfg.workerInterval <= 0 {
		return nil, errors.New("-signers and -issuers must be at least 1, -duration and -worker-interval positive")
	}
	tmp, err := os.MkdirTemp("", "selo-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin, err := benchkit.Selo(cfg.bin, tmp)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(tmp, "data")
	env := append(os.Environ(), "SELO_DATA="+data, "SELO_DATABASE="+cfg.database)
	initOut, err := benchkit.Output(env, bin, "init", "--json")
	if err != nil {
		return nil, err
	}
	var ir struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(initOut, &ir); err != nil || ir.APIKey == "" {
		return nil, fmt.Errorf("init output %q: %v", initOut, err)
	}
	s := &soak{cfg: cfg, apiKey: ir.APIKey, revokedAt: map[string]time.Time{}}
	s.rep.Kills = map[string]int{}
	creds, err := makeCredentials(env, bin, tmp, cfg.signers)
	if err != nil {
		return nil, err
	}
	if s.outbox, err = notify.OpenOutbox(filepath.Join(data, "outbox"), selo.SystemClock{}); err != nil {
		return nil, err
	}

	// The replicas. The code limits are for people; the signers here ask
	// for a code every few hundred milliseconds.
	apiArgs := []string{"--code-interval", "0", "--codes-per-hour", "0", "--account-codes-per-hour", "0"}
	mk := func(name, role string, http bool, args ...string) (*replica, error) {
		r := &replica{name: name, role: role, args: args, env: env, bin: bin}
		if http {
			if r.addr, err = freeAddr(); err != nil {
				return nil, err
			}
		}
		return r, r.start()
	}
	var all []*replica
	defer func() {
		for _, r := range all {
			r.stop()
		}
	}()
	for i := range 2 {
		r, err := mk(fmt.Sprintf("api%d", i+1), "api", true, apiArgs...)
		if err != nil {
			return nil, err
		}
		s.apis, all = append(s.apis, r), append(all, r)
	}
	if s.ocsp, err = mk("ocsp", "ocsp", true); err != nil {
		return nil, err
	}
	all = append(all, s.ocsp)
	for i := range 2 {
		r, err := mk(fmt.Sprintf("worker%d", i+1), "worker", false, "--worker-interval", cfg.workerInterval.String())
		if err != nil {
			return nil, err
		}
		s.workers, all = append(s.workers, r), append(all, r)
	}
	fmt.Fprintf(out, "soak: 2 api, 1 ocsp, 2 worker replicas over PostgreSQL; %s of load, a SIGKILL every %s; %d issuers, %d signers; load average %s\n",
		cfg.duration, cfg.killEvery, cfg.issuers, cfg.signers, benchkit.LoadAverage())

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	csrs := make([]string, 16)
	for i := range csrs {
		if csrs[i], err = newCSR(fmt.Sprintf("soak%d.example.pt", i)); err != nil {
			return nil, err
		}
	}
	for w := range cfg.issuers {
		wg.Go(func() { s.issue(ctx, w, csrs) })
	}
	wg.Go(func() { s.revoke(ctx) })
	wg.Go(func() { s.askOCSP(ctx) })
	for i, c := range creds {
		wg.Go(func() { s.sign(ctx, i, c) })
	}
	var killErr error
	if cfg.killEvery > 0 {
		wg.Go(func() { killErr = s.killLoop(ctx, all) })
	}
	wg.Wait()
	if killErr != nil {
		return nil, killErr
	}
	fmt.Fprintf(out, "soak: load stopped; checking (load average %s)\n", benchkit.LoadAverage())
	if err := s.check(env, bin); err != nil {
		return nil, err
	}
	s.rep.print(out)
	return &s.rep, nil
}

// killLoop kills a replica every killEvery and starts it again, each
// replica once per cycle in a random order; for a worker that led, it
// measures how long the other took to take the lock.
func (s *soak) killLoop(ctx context.Context, all []*replica) error {
	t := time.NewTicker(s.cfg.killEvery)
	defer t.Stop()
	var order []int
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Every replica once per cycle, in a random order: over a cycle
		// both workers die, so the leader is killed at least once.
		if len(order) == 0 {
			order = mrand.Perm(len(all))
		}
		r := all[order[0]]
		order = order[1:]
		wasLeader := r.role == "worker" && r.leads()
		killed := r.kill()
		s.mu.Lock()
		s.rep.Kills[r.role]++
		s.mu.Unlock()
		if wasLeader {
			// The standby takes the lock at its next try, while the killed
			// leader is still down.
			var other *replica
			for _, w := range s.workers {
				if w != r {
					other = w
				}
			}
			for time.Since(killed) < 4*s.cfg.workerInterval && !other.leads() {
				time.Sleep(20 * time.Millisecond)
			}
			if !other.leads() {
				return fmt.Errorf("the standby worker did not take the lock %s after the leader was killed; its log:\n%s",
					time.Since(killed), other.logText())
			}
			s.mu.Lock()
			s.rep.WorkerTakeovers++
			s.rep.LongestTakeover = max(s.rep.LongestTakeover, time.Since(killed))
			s.mu.Unlock()
		}
		if err := r.restart(s.cfg.grace); err != nil {
			return err
		}
	}
}

// call makes one API call with the operator key.
func (s *soak) call(ctx context.Context, r *replica, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *soak) issue(ctx context.Context, w int, csrs []string) {
	for i := 0; ctx.Err() == nil; i++ {
		r := s.apis[(w+i)%len(s.apis)]
		started := time.Now()
		code, body, err := s.call(ctx, r, http.MethodPost, "/api/v1/certificates",
			map[string]string{"profile": "tls-server", "csr": csrs[(w*5+i)%len(csrs)]})
		if ctx.Err() != nil {
			return
		}
		if err != nil || code != http.StatusCreated {
			s.failed(r, started, "issue: %d %.200s %v", code, body, err)
			continue
		}
		var c struct{ Serial, CA, Certificate, Chain string }
		if err := json.Unmarshal(body, &c); err != nil {
			s.failed(r, started, "issue answer: %v", err)
			continue
		}
		certs, err := parseCertificates([]byte(c.Certificate + c.Chain))
		if err != nil || len(certs) < 2 {
			s.failed(r, started, "issue answer's certificates: %v", err)
			continue
		}
		s.mu.Lock()
		s.certs = append(s.certs, issued{serial: c.Serial, ca: c.CA, cert: certs[0], issuer: certs[1]})
		s.rep.Issued++
		s.mu.Unlock()
	}
}

// revoke revokes a random acknowledged certificate about three times a
// second, through alternating API replicas.
func (s *soak) revoke(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		time.Sleep(300 * time.Millisecond)
		s.mu.Lock()
		var c issued
		if n := len(s.certs); n > 0 {
			c = s.certs[mrand.IntN(n)]
		}
		_, done := s.revokedAt[c.serial]
		s.mu.Unlock()
		if c.serial == "" || done {
			continue
		}
		r := s.apis[i%len(s.apis)]
		started := time.Now()
		code, body, err := s.call(ctx, r, http.MethodPost, "/api/v1/certificates/"+c.serial+"/revoke", map[string]string{"reason": "superseded"})
		if ctx.Err() != nil {
			return
		}
		if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
			s.failed(r, started, "revoke %s: %d %.200s %v", c.serial, code, body, err)
			continue
		}
		s.mu.Lock()
		s.revokedAt[c.serial] = time.Now()
		s.rep.Revoked++
		s.mu.Unlock()
	}
}

// askOCSP plays the relying parties: random acknowledged certificates, and
// for every revocation acknowledged longer ago than the replicas' memory
// cache bound the answer must be "revoked".
func (s *soak) askOCSP(ctx context.Context) {
	for ctx.Err() == nil {
		s.mu.Lock()
		var c issued
		if n := len(s.certs); n > 0 {
			c = s.certs[mrand.IntN(n)]
		}
		at, revoked := s.revokedAt[c.serial]
		s.mu.Unlock()
		if c.serial == "" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		mustBeRevoked := revoked && time.Since(at) > authority.DefaultOCSPCacheTTL
		started := time.Now()
		status, err := s.ocspStatus(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.failed(s.ocsp, started, "ocsp %s: %v", c.serial, err)
			continue
		}
		s.mu.Lock()
		s.rep.OCSPAnswers++
		if mustBeRevoked && status != ocsp.Revoked {
			s.rep.LateOCSP++
		}
		s.mu.Unlock()
	}
}

func (s *soak) ocspStatus(ctx context.Context, c issued) (int, error) {
	reqDER, err := ocsp.CreateRequest(c.cert, c.issuer, nil)
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.ocsp.addr+"/ocsp", bytes.NewReader(reqDER))
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, err := ocsp.ParseResponseForCert(der, c.cert, c.issuer)
	if err != nil {
		return 0, fmt.Errorf("answer %d: %w", resp.StatusCode, err)
	}
	if time.Now().After(r.NextUpdate) {
		return 0, fmt.Errorf("stale answer: nextUpdate %s", r.NextUpdate)
	}
	return r.Status, nil
}

// credential is one SMS credential of the soak's holder.
type credential struct {
	id, mobile string
	pub        *ecdsa.PublicKey
	lastSMS    string
}

func makeCredentials(env []string, bin, tmp string, n int) ([]*credential, error) {
	pwFile := filepath.Join(tmp, "password")
	if err := os.WriteFile(pwFile, []byte(holderPassword), 0o600); err != nil {
		return nil, err
	}
	if _, err := benchkit.Output(env, bin, "account", "create", "--email", holderEmail, "--name", "Soak Holder",
		"--mobile", "+351920000000", "--password-file", pwFile); err != nil {
		return nil, err
	}
	creds := make([]*credential, n)
	for i := range creds {
		mobile := fmt.Sprintf("+3519200%05d", i+1)
		out, err := benchkit.Output(env, bin, "credential", "create", "--account", holderEmail, "--profile", "advanced-invoice",
			"--approval", "sms", "--key-type", "ecdsa-p256", "--mobile", mobile, "--cn", fmt.Sprintf("Soak Seal %d", i),
			"--org", fmt.Sprintf("Soak %d Lda", i), "--org-id", fmt.Sprintf("VATPT-6%08d", i), "--country", "PT", "--json")
		if err != nil {
			return nil, err
		}
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
			return nil, fmt.Errorf("credential create output %q: %v", out, err)
		}
		creds[i] = &credential{id: c.ID, mobile: mobile}
	}
	return creds, nil
}

// sign runs the integrator's loop for one credential: sendOTP on one API
// replica, the code from the outbox, authorize and signHash, each signature
// verified; then the same SAD is offered to the other replica, which must
// refuse it.
func (s *soak) sign(ctx context.Context, i int, c *credential) {
	clients := make([]*csc.Client, len(s.apis))
	hc := &http.Client{Timeout: 30 * time.Second}
	token := ""
	for round := 0; ctx.Err() == nil; round++ {
		a := (i + round) % len(s.apis)
		ra, rb := s.apis[a], s.apis[(a+1)%len(s.apis)]
		started := time.Now()
		if token == "" {
			cl, err := csc.NewClient("http://"+ra.addr+"/csc/v2", csc.WithHTTPClient(hc))
			if err == nil {
				_, err = cl.Login(ctx, holderEmail, holderPassword)
			}
			if err != nil {
				if ctx.Err() == nil {
					s.failed(ra, started, "csc login: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
				continue
			}
			token = cl.AccessToken()
			for j, r := range s.apis { // one session, valid on every replica
				clients[j], _ = csc.NewClient("http://"+r.addr+"/csc/v2", csc.WithHTTPClient(hc), csc.WithAccessToken(token))
			}
		}
		if c.pub == nil {
			info, err := clients[a].CredentialInfo(ctx, c.id)
			var certs []*x509.Certificate
			if err == nil {
				certs, err = info.Certificates()
			}
			if err != nil {
				if ctx.Err() == nil {
					s.failed(ra, started, "credentials/info: %v", err)
				}
				continue
			}
			c.pub, _ = certs[0].PublicKey.(*ecdsa.PublicKey)
		}
		h := sha256.Sum256(fmt.Appendf(nil, "soak %s %d", c.id, round))
		hashes := [][]byte{h[:]}
		sad, err := s.authorize(ctx, clients[a], c, hashes)
		if err != nil {
			if ctx.Err() == nil {
				s.failed(ra, started, "authorize: %v", err)
			}
			continue
		}
		sigs, err := clients[a].SignHash(ctx, c.id, sad, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if ctx.Err() != nil {
			return
		}
		if err != nil || len(sigs) != 1 || c.pub == nil || !ecdsa.VerifyASN1(c.pub, h[:], sigs[0]) {
			s.failed(ra, started, "signHash: %v (%d signatures, or one that does not verify)", err, len(sigs))
			continue
		}
		s.mu.Lock()
		s.rep.Signatures++
		s.mu.Unlock()
		again := time.Now()
		_, err = clients[(a+1)%len(s.apis)].SignHash(ctx, c.id, sad, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		var ce *csc.Error
		switch {
		case err == nil:
			s.mu.Lock()
			s.rep.SADsReused++
			s.rep.SADsReoffered++
			s.mu.Unlock()
		case errors.As(err, &ce):
			s.mu.Lock()
			s.rep.SADsReoffered++
			s.mu.Unlock()
		case ctx.Err() == nil:
			s.failed(rb, again, "signHash with a used SAD: %v", err)
		}
	}
}

// authorize gets a SAD the way an integrator does: sendOTP, the code from
// the holder's phone (the outbox), authorize.
func (s *soak) authorize(ctx context.Context, cl *csc.Client, c *credential, hashes [][]byte) (string, error) {
	if err := cl.SendOTP(ctx, c.id); err != nil {
		return "", fmt.Errorf("sendOTP: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	msgs, err := s.outbox.Wait(wctx, notify.OutboxFilter{Channel: notify.ChannelSMS, To: c.mobile, AfterID: c.lastSMS})
	if err != nil {
		return "", fmt.Errorf("the SMS from the outbox: %w", err)
	}
	m := msgs[len(msgs)-1]
	c.lastSMS = m.ID
	for _, m := range msgs { // read: every listing reads the whole directory
		_ = os.Remove(filepath.Join(s.outbox.Dir(), m.ID+".json"))
	}
	res, err := cl.Authorize(ctx, c.id, csc.OIDSHA256, hashes, benchkit.SMSCode(m.Body), "")
	if err != nil {
		return "", err
	}
	return res.SAD, nil
}

// check runs the end-of-soak checks with every replica up.
func (s *soak) check(env []string, bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Wait for the CRLs: one worker interval after the last revocation,
	// plus the margin, every revocation is on its CA's CRL.
	time.Sleep(max(authority.DefaultOCSPCacheTTL, 2*s.cfg.workerInterval) + time.Second)

	leaders := 0
	for _, w := range s.workers {
		// The log of the current process only: a replica restarted since it
		// led starts a new log.
		if w.leads() {
			leaders++
		}
	}
	s.rep.leaderAtTheEnd = leaders

	// The store, through the API: every acknowledged certificate, with its
	// own serial; no serial listed twice.
	listed := map[string]bool{}
	after := ""
	for {
		path := "/api/v1/certificates?limit=500"
		if after != "" {
			path += "&after=" + after
		}
		code, body, err := s.call(ctx, s.apis[0], http.MethodGet, path, nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("list certificates: %d %.200s %v", code, body, err)
		}
		var page struct {
			Certificates []struct{ Serial string }
			Next         string
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, c := range page.Certificates {
			if listed[c.Serial] {
				s.rep.DuplicateSerials++
			}
			listed[c.Serial] = true
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	s.rep.CertificatesInStore = len(listed)
	for _, c := range s.certs {
		if !listed[c.serial] {
			s.rep.MissingCertificates++
			continue
		}
		code, body, err := s.call(ctx, s.apis[1], http.MethodGet, "/api/v1/certificates/"+c.serial, nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("get certificate %s: %d %.200s %v", c.serial, code, body, err)
		}
		var got struct{ Certificate string }
		if err := json.Unmarshal(body, &got); err != nil {
			return err
		}
		certs, err := parseCertificates([]byte(got.Certificate))
		if err != nil || len(certs) != 1 || certs[0].SerialNumber.Text(16) != c.serial {
			s.rep.SerialMismatch++
		}
	}

	// Every acknowledged revocation: revoked in OCSP, and on its CA's CRL.
	byCA := map[string][]string{}
	for _, c := range s.certs {
		if _, ok := s.revokedAt[c.serial]; !ok {
			continue
		}
		s.rep.ocspRevokedChecked++
		if st, err := s.ocspStatus(ctx, c); err != nil || st != ocsp.Revoked {
			s.rep.RevocationsNotInOCSP++
		}
		byCA[c.ca] = append(byCA[c.ca], c.serial)
	}
	for ca, serials := range byCA {
		resp, err := http.Get("http://" + s.ocsp.addr + "/crl/" + ca + ".crl")
		if err != nil {
			return err
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("CRL of %s: %d %v", ca, resp.StatusCode, err)
		}
		if !time.Now().Before(crl.NextUpdate) {
			s.rep.StaleCRLs++
		}
		on := map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			on[e.SerialNumber.Text(16)] = true
		}
		for _, serial := range serials {
			s.rep.crlChecked++
			if !on[serial] {
				s.rep.RevocationsNotInCRL++
			}
		}
	}

	// The audit chain, as an auditor checks it.
	if out, err := benchkit.Output(env, bin, "audit", "verify"); err != nil {
		s.rep.AuditVerify = strings.TrimSpace(err.Error() + " " + string(out))
	}
	return nil
}

func newCSR(cn string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
	}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
