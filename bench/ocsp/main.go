// Command ocsp measures Selo's OCSP responder against a ceiling and a
// like-for-like peer, in alternated rounds on the same machine:
//
//   - ceiling: a plain net/http handler that answers each request with the
//     bytes Selo gave for it, looked up by the request's own bytes (the
//     least work any responder can do per request over net/http);
//   - peer: a Go responder over golang.org/x/crypto/ocsp that parses each
//     request and answers from pre-signed responses by CertID (what a
//     pre-signing responder such as a CDN origin does);
//   - selo: `selo serve --roles ocsp` over SQLite.
//
// Two workloads: "single", one cached request repeated (the best case the
// old run.sh measured), and "mix", requests drawn at random from -requests
// distinct ones over -certs certificates bulk-loaded into the store
// (-revoked of them revoked), with -unknown of the serials never issued,
// SHA-1 and SHA-256 CertIDs half and half, and 70% GET / 30% POST. Every
// server is its own process; the load generator is this one, with
// keep-alive connections. Each round runs the three servers in a rotating
// order and prints their rates, the ratios and each server's CPU time per
// answer (from /proc, blind to other load); the end prints medians and
// min–max.
//
//	go run ./bench/ocsp                            # 100,000 certificates, 5 rounds of 5 s
//	go run ./bench/ocsp -certs 20000 -rounds 3 -duration 3s
//	go run ./bench/ocsp -server-profile cpu.prof   # then: go tool pprof -top cpu.prof
//
// A warm-up pass sends every distinct request to Selo once (it signs and
// stores the answers it does not have yet) and keeps the answers the
// ceiling and the peer serve; a sample of them is checked with
// ocsp.ParseResponseForCert-style verification (signature and status).
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"
	_ "modernc.org/sqlite" // the bulk loader's own connection

	"github.com/selo-qtsp/selo/bench/internal/benchkit"
)

func main() {
	serve := flag.String("serve", "", "internal: run as the ceiling or the peer server (ceiling|peer) with -answers and -listen")
	answers := flag.String("answers", "", "internal: the answers file of -serve")
	listen := flag.String("listen", "", "internal: the address of -serve")
	bin := flag.String("selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	certs := flag.Int("certs", 100_000, "certificates bulk-loaded into the store")
	requests := flag.Int("requests", 100_000, "distinct requests in the mix")
	revoked := flag.Float64("revoked", 0.1, "share of the certificates that are revoked")
	unknown := flag.Float64("unknown", 0.05, "share of the mix's serials that were never issued")
	conns := flag.Int("connections", 64, "keep-alive connections of the load generator")
	duration := flag.Duration("duration", 5*time.Second, "length of each measurement")
	rounds := flag.Int("rounds", 5, "alternated rounds (each runs ceiling, peer and Selo in a rotating order)")
	profile := flag.String("server-profile", "", "have Selo write a CPU profile of the whole run to this file (selo serve --cpu-profile)")
	flag.Parse()
	if *serve != "" {
		if err := serveAnswers(*serve, *answers, *listen); err != nil {
			fmt.Fprintln(os.Stderr, "ocsp bench server:", err)
			os.Exit(1)
		}
		return
	}
	cfg := config{bin: *bin, certs: *certs, requests: *requests, revoked: *revoked, unknown: *unknown, conns: *conns, duration: *duration, rounds: *rounds, profile: *profile}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	bin              string
	certs, requests  int
	revoked, unknown float64
	conns, rounds    int
	duration         time.Duration
	profile          string
}

// request is one OCSP request of the mix, as sent.
type request struct {
	Get    bool
	Path   string // "/ocsp/<base64>" for a GET, "/ocsp" for a POST
	Body   []byte // the DER request
	Serial string
	Want   int // ocsp.Good, Revoked or Unknown
	SHA256 bool
}

// answerSet is what the ceiling and the peer serve: Selo's answer for each
// distinct request, by the request's bytes (ceiling) and by CertID (peer).
type answerSet struct {
	ByRequest map[string][]byte // GET path or POST body -> DER
	ByCertID  map[string][]byte // certIDKey -> DER
}

func certIDKey(hash crypto.Hash, issuerKeyHash []byte, serial *big.Int) string {
	return strconv.Itoa(int(hash)) + "/" + hex.EncodeToString(issuerKeyHash) + "/" + serial.Text(16)
}

func run(cfg config) error {
	if cfg.certs < 1 || cfg.requests < 1 || cfg.conns < 1 || cfg.rounds < 1 || cfg.duration <= 0 {
		return fmt.Errorf("-certs, -requests, -connections and -rounds must be at least 1, -duration positive")
	}
	tmp, err := os.MkdirTemp("", "selo-bench-ocsp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := benchkit.Selo(cfg.bin, tmp)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	env := append(os.Environ(), "SELO_DATA="+data)
	if _, err := benchkit.Output(env, bin, "init", "--json"); err != nil {
		return err
	}
	const caID = "qualified-ecc-v1"
	out, err := benchkit.Output(env, bin, "ca", "chain", caID, "--format", "pem")
	if err != nil {
		return err
	}
	chain, err := parsePEM(out)
	if err != nil || len(chain) == 0 {
		return fmt.Errorf("the chain of %s: %v", caID, err)
	}
	issuer := chain[0]

	fmt.Printf("OCSP benchmark: %d certificates (%.0f%% revoked), %d distinct requests (%.0f%% unknown serials, SHA-1/SHA-256 CertIDs 50/50, GET/POST 70/30), %d connections, %s per measurement, GOMAXPROCS %d, load average %s\n",
		cfg.certs, 100*cfg.revoked, cfg.requests, 100*cfg.unknown, cfg.conns, cfg.duration, runtime.GOMAXPROCS(0), benchkit.LoadAverage())
	start := time.Now()
	serials, status, err := load(filepath.Join(data, "selo.db"), caID, cfg.certs, cfg.revoked)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	fmt.Printf("loaded %d certificates in %s\n", cfg.certs, time.Since(start).Round(time.Millisecond))
	mix, err := makeMix(issuer, serials, status, cfg)
	if err != nil {
		return err
	}

	serveArgs := []string{"--roles", "ocsp"}
	if cfg.profile != "" {
		abs, err := filepath.Abs(cfg.profile)
		if err != nil {
			return err
		}
		serveArgs = append(serveArgs, "--cpu-profile", abs)
	}
	srv, err := benchkit.StartServer(env, bin, serveArgs...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	client := newClient(cfg.conns)

	// Warm-up: every distinct request through Selo once.
	start = time.Now()
	set := answerSet{ByRequest: map[string][]byte{}, ByCertID: map[string][]byte{}}
	var checked int
	for i, rq := range mix {
		der, err := send(client, srv.Addr, rq)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if i%(len(mix)/min(len(mix), 2000)+1) == 0 {
			if err := checkAnswer(der, issuer, rq); err != nil {
				return err
			}
			checked++
		}
		set.ByRequest[requestKey(rq)] = der
		parsed, err := ocsp.ParseRequest(rq.Body)
		if err != nil {
			return err
		}
		set.ByCertID[certIDKey(parsed.HashAlgorithm, parsed.IssuerKeyHash, parsed.SerialNumber)] = der
	}
	fmt.Printf("warm-up: %d requests through Selo in %s; %d answers checked (signature by the responder, status as loaded)\n",
		len(mix), time.Since(start).Round(time.Millisecond), checked)
	answersFile := filepath.Join(tmp, "answers.gob")
	if err := writeAnswers(answersFile, set); err != nil {
		return err
	}
	servers := []*target{{name: "ceiling", pid: 0}, {name: "peer"}, {name: "selo", addr: srv.Addr, pid: srv.PID}}
	for _, t := range servers[:2] {
		if t.addr, t.pid, t.stop, err = startAnswerServer(self, t.name, answersFile); err != nil {
			return err
		}
		defer t.stop()
	}
	single := []request{mix[0]}
	for _, rq := range mix { // a good certificate, SHA-1, GET: RFC 5019's request
		if rq.Get && !rq.SHA256 && rq.Want == ocsp.Good {
			single = []request{rq}
			break
		}
	}
	results := map[string]map[string][]measurement{"single": {}, "mix": {}}
	for r := 1; r <= cfg.rounds; r++ {
		for _, w := range []struct {
			name string
			reqs []request
		}{{"single", single}, {"mix", mix}} {
			order := slices.Clone(servers)
			rot := (r - 1) % len(order)
			order = append(order[rot:], order[:rot]...)
			line := fmt.Sprintf("round %d %-6s", r, w.name)
			for _, t := range order {
				m, err := measure(client, t, w.reqs, cfg.conns, cfg.duration)
				if err != nil {
					return fmt.Errorf("%s %s: %w", w.name, t.name, err)
				}
				results[w.name][t.name] = append(results[w.name][t.name], m)
				line += fmt.Sprintf("  %s %7.0f/s %5.1f µs CPU", t.name, m.rate, m.cpuMicros)
			}
			res := results[w.name]
			n := len(res["selo"]) - 1
			fmt.Printf("%s  | selo/ceiling %5.1f%%, selo/peer %5.1f%% (load %s)\n", line,
				100*res["selo"][n].rate/res["ceiling"][n].rate, 100*res["selo"][n].rate/res["peer"][n].rate, benchkit.LoadAverage())
		}
	}
	for _, w := range []string{"single", "mix"} {
		res := results[w]
		var vsCeiling, vsPeer, cpuVsCeiling []float64
		for i := range res["selo"] {
			vsCeiling = append(vsCeiling, 100*res["selo"][i].rate/res["ceiling"][i].rate)
			vsPeer = append(vsPeer, 100*res["selo"][i].rate/res["peer"][i].rate)
			cpuVsCeiling = append(cpuVsCeiling, 100*res["ceiling"][i].cpuMicros/res["selo"][i].cpuMicros)
		}
		rates := func(name string) []float64 {
			var out []float64
			for _, m := range res[name] {
				out = append(out, m.rate)
			}
			return out
		}
		fmt.Printf("%s: medians of %d rounds: ceiling %.0f/s, peer %.0f/s, selo %.0f/s (min %.0f, max %.0f)\n", w, cfg.rounds,
			benchkit.Median(rates("ceiling")), benchkit.Median(rates("peer")), benchkit.Median(rates("selo")), slices.Min(rates("selo")), slices.Max(rates("selo")))
		fmt.Printf("%s: selo/ceiling %.1f%% (%.1f–%.1f), selo/peer %.1f%% (%.1f–%.1f); by server CPU per answer, selo/ceiling %.1f%% (%.1f–%.1f)\n", w,
			benchkit.Median(vsCeiling), slices.Min(vsCeiling), slices.Max(vsCeiling),
			benchkit.Median(vsPeer), slices.Min(vsPeer), slices.Max(vsPeer),
			benchkit.Median(cpuVsCeiling), slices.Min(cpuVsCeiling), slices.Max(cpuVsCeiling))
	}
	fmt.Println("targets on the mix: >= 90% of the ceiling, >= 50,000 answers/s")
	return nil
}

// load bulk-loads n certificates of caID into the SQLite store (a benchmark
// fixture: Selo keeps its own SQL in the store packages) and returns their
// serials and statuses. The rows carry no real certificate: the responder
// reads the status, never the DER.
func load(path, caID string, n int, revokedShare float64) ([]*big.Int, map[string]int, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rng := mrand.New(mrand.NewPCG(3, 4))
	now := time.Now().UTC()
	serials := make([]*big.Int, 0, n)
	status := map[string]int{}
	tx, err := db.Begin()
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	cert, err := tx.Prepare(`INSERT INTO certificates (serial, ca_id, profile, subject, not_before, not_after, der, status, spki_sha256, created_at)
		VALUES (?, ?, 'qualified-sign', 'CN=Bench Subject,C=PT', ?, ?, X'3000', ?, 'bench', ?)`)
	if err != nil {
		return nil, nil, err
	}
	rev, err := tx.Prepare(`INSERT INTO revocations (serial, ca_id, reason, revoked_at, actor) VALUES (?, ?, 1, ?, 'api:bench')`)
	if err != nil {
		return nil, nil, err
	}
	for range n {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = b[0]&0x7f | 0x01
		s := new(big.Int).SetBytes(b[:])
		hexSerial := s.Text(16)
		st, dbStatus := ocsp.Good, "valid"
		if rng.Float64() < revokedShare {
			st, dbStatus = ocsp.Revoked, "revoked"
		}
		if _, err := cert.Exec(hexSerial, caID, now.AddDate(0, -1, 0).UnixMicro(), now.AddDate(2, 0, 0).UnixMicro(), dbStatus, now.UnixMicro()); err != nil {
			return nil, nil, err
		}
		if st == ocsp.Revoked {
			if _, err := rev.Exec(hexSerial, caID, now.Add(-time.Hour).UnixMicro()); err != nil {
				return nil, nil, err
			}
		}
		serials = append(serials, s)
		status[hexSerial] = st
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return serials, status, err
}

// makeMix draws the distinct requests of the mix.
func makeMix(issuer *x509.Certificate, serials []*big.Int, status map[string]int, cfg config) ([]request, error) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	out := make([]request, 0, cfg.requests)
	seen := map[string]bool{}
	for len(out) < cfg.requests {
		serial, want := serials[rng.IntN(len(serials))], 0
		if rng.Float64() < cfg.unknown {
			var b [16]byte
			rand.Read(b[:])
			b[0] = b[0]&0x7f | 0x01
			serial, want = new(big.Int).SetBytes(b[:]), ocsp.Unknown
		} else {
			want = status[serial.Text(16)]
		}
		sha := rng.IntN(2) == 1
		hash := crypto.SHA1
		if sha {
			hash = crypto.SHA256
		}
		der, err := buildRequest(issuer, serial, hash)
		if err != nil {
			return nil, err
		}
		rq := request{Get: rng.Float64() < 0.7, Body: der, Serial: serial.Text(16), Want: want, SHA256: sha}
		if rq.Get {
			rq.Path = "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))
		} else {
			rq.Path = "/ocsp"
		}
		if seen[requestKey(rq)] {
			continue
		}
		seen[requestKey(rq)] = true
		out = append(out, rq)
	}
	return out, nil
}

// buildRequest makes the DER OCSP request for serial under issuer with the
// CertID hash alg (x/crypto/ocsp.CreateRequest wants the leaf certificate).
func buildRequest(issuer *x509.Certificate, serial *big.Int, hash crypto.Hash) ([]byte, error) {
	tmpl := &x509.Certificate{SerialNumber: serial}
	return ocsp.CreateRequest(tmpl, issuer, &ocsp.RequestOptions{Hash: hash})
}

func requestKey(rq request) string {
	if rq.Get {
		return "GET " + rq.Path
	}
	return "POST " + string(rq.Body)
}

func checkAnswer(der []byte, issuer *x509.Certificate, rq request) error {
	r, err := ocsp.ParseResponse(der, issuer)
	if err != nil {
		return fmt.Errorf("answer for %s: %w", rq.Serial, err)
	}
	if r.Status != rq.Want || r.SerialNumber.Text(16) != rq.Serial {
		return fmt.Errorf("answer for %s says %d for %s, want %d", rq.Serial, r.Status, r.SerialNumber.Text(16), rq.Want)
	}
	return nil
}

func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true,
	}}
}

func send(client *http.Client, addr string, rq request) ([]byte, error) {
	var resp *http.Response
	var err error
	if rq.Get {
		resp, err = client.Get("http://" + addr + rq.Path)
	} else {
		resp, err = client.Post("http://"+addr+rq.Path, "application/ocsp-request", bytes.NewReader(rq.Body))
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		return nil, fmt.Errorf("%s %s: HTTP %d", map[bool]string{true: "GET", false: "POST"}[rq.Get], rq.Serial, resp.StatusCode)
	}
	return body, nil
}

// target is one server under measurement.
type target struct {
	name, addr string
	pid        int
	stop       func()
}

type measurement struct {
	rate      float64 // answers per second
	cpuMicros float64 // server CPU time per answer
}

// measure sends random requests of reqs to t from conns goroutines for d.
func measure(client *http.Client, t *target, reqs []request, conns int, d time.Duration) (measurement, error) {
	runtime.GC()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	cpu0 := benchkit.ProcessCPU(t.pid)
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 7))
			for ctx.Err() == nil {
				if _, err := send(client, t.addr, reqs[rng.IntN(len(reqs))]); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return measurement{}, firstErr
	}
	m := measurement{rate: float64(n.Load()) / took.Seconds()}
	if n.Load() > 0 {
		m.cpuMicros = 1e6 * (benchkit.ProcessCPU(t.pid) - cpu0) / float64(n.Load())
	}
	return m, nil
}

func writeAnswers(path string, set answerSet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(set); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startAnswerServer runs this program as the ceiling or the peer server.
func startAnswerServer(self, mode, answers string) (addr string, pid int, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr = ln.Addr().String()
	ln.Close()
	cmd := exec.Command(self, "-serve", mode, "-answers", answers, "-listen", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, fmt.Errorf("%s server did not start", mode)
}

// serveAnswers is the ceiling or the peer: Selo's answers from memory.
func serveAnswers(mode, answers, listen string) error {
	f, err := os.Open(answers)
	if err != nil {
		return err
	}
	var set answerSet
	err = gob.NewDecoder(f).Decode(&set)
	f.Close()
	if err != nil {
		return err
	}
	write := func(w http.ResponseWriter, der []byte) {
		h := w.Header()
		h.Set("Content-Type", "application/ocsp-response")
		h.Set("Content-Length", strconv.Itoa(len(der)))
		h.Set("Cache-Control", "public, max-age=3600, no-transform, must-revalidate")
		w.Write(der)
	}
	var handler http.HandlerFunc
	switch mode {
	case "ceiling":
		// The request's bytes are the key: no parsing at all.
		handler = func(w http.ResponseWriter, r *http.Request) {
			key := "GET " + r.URL.EscapedPath()
			if r.Method == http.MethodPost {
				body, _ := io.ReadAll(io.LimitReader(r.Body, 10_000))
				key = "POST " + string(body)
			}
			der, ok := set.ByRequest[key]
			if !ok {
				http.Error(w, "unknown request", http.StatusNotFound)
				return
			}
			write(w, der)
		}
	case "peer":
		// What a pre-signing responder does: parse the request, find the
		// pre-signed answer by its CertID.
		handler = func(w http.ResponseWriter, r *http.Request) {
			var der []byte
			if r.Method == http.MethodPost {
				der, _ = io.ReadAll(io.LimitReader(r.Body, 10_000))
			} else {
				raw, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/"))
				if err == nil {
					der, err = base64.StdEncoding.DecodeString(raw)
				}
				if err != nil {
					http.Error(w, "malformed request", http.StatusBadRequest)
					return
				}
			}
			req, err := ocsp.ParseRequest(der)
			if err != nil {
				write(w, ocsp.MalformedRequestErrorResponse)
				return
			}
			ans, ok := set.ByCertID[certIDKey(req.HashAlgorithm, req.IssuerKeyHash, req.SerialNumber)]
			if !ok {
				write(w, ocsp.UnauthorizedErrorResponse)
				return
			}
			write(w, ans)
		}
	default:
		return fmt.Errorf("-serve %q: want ceiling or peer", mode)
	}
	return http.ListenAndServe(listen, handler)
}

func parsePEM(b []byte) ([]*x509.Certificate, error) {
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
