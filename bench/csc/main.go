// Command csc measures remote signing through the CSC API v2 of a running
// `selo serve` (SQLite, the soft key store, SMS codes in the local outbox),
// started by this program over a fresh data directory:
//
//   - phase 1, latency: rounds of sendOTP, the code read from DATA/outbox,
//     credentials/authorize and signatures/signHash of one hash, one after
//     another; p50/p99 of the whole round and of authorize+signHash alone;
//
//   - phase 2, throughput: signatures/signHash of batches of 100 P-256 hashes
//     from concurrent clients, as signatures per second and as a ratio of raw
//     ecdsa.SignASN1 with the same concurrency in the same run. Every batch
//     needs its own SAD: they are obtained before the timed window, which
//     holds signHash calls only.
//
//     go run ./bench/csc                               # 10 s, 4 clients per core
//     go run ./bench/csc -duration 5s -clients 8 -rounds 100
//
// Besides the rates it reads the CPU time of both processes (/proc): the
// ratio of CPU time per signature is blind to other load on a shared
// machine, and the server's share alone is what a deployment with its
// clients on other machines would see. During signHash windows this
// process runs with -client-procs Ps (1 by default).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/csc/cscserver"
	"github.com/selo-qtsp/selo/notify"
)

const (
	email    = "bench@example.pt"
	password = "correct horse battery staple"
)

// clientProcs is GOMAXPROCS of this process while it is the load
// generator of a signHash window (the raw windows always use every CPU).
var clientProcs = flag.Int("client-procs", 1, "GOMAXPROCS of the bench process during signHash windows (0: all CPUs); the clients wait on the network most of the time and one P serves them, while more Ps spin looking for work on the cores the server needs")

// cpuProfile names the file for a CPU profile of this process (the clients)
// during the first API window.
var cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the bench process (the clients) during the first signHash window to this file")

func main() {
	bin := flag.String("selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	clients := flag.Int("clients", 4*runtime.GOMAXPROCS(0), "concurrent clients in phase 2 (each with its own SMS credential)")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase 2 measurement")
	rounds := flag.Int("rounds", 50, "phase 1 rounds (sendOTP, outbox, authorize, signHash of one hash)")
	batch := flag.Int("batch", 100, "hashes per signHash in phase 2")
	repeat := flag.Int("repeat", 3, "phase 2: alternate raw and API measurements this many times and report the median ratio (on a shared machine load drifts between two measurements)")
	flag.Parse()
	if err := run(*bin, *clients, *duration, *rounds, *batch, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// credential is one SMS credential of the bench holder, with the mobile its
// codes go to and its certificate's key.
type credential struct {
	id, mobile string
	pub        *ecdsa.PublicKey
	lastSMS    string // outbox ID of the last code read
}

func run(bin string, clients int, d time.Duration, rounds, batch, repeat int) error {
	if clients < 1 || rounds < 1 || repeat < 1 || batch < 1 || batch > cscserver.DefaultMaxHashes {
		return fmt.Errorf("-clients, -rounds and -repeat must be at least 1, -batch 1 to %d", cscserver.DefaultMaxHashes)
	}
	tmp, err := os.MkdirTemp("", "selo-bench-csc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = benchkit.Selo(bin, tmp); err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	pwFile := filepath.Join(tmp, "password")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "SELO_DATA="+data)
	if _, err := benchkit.Output(env, bin, "init", "--json"); err != nil {
		return err
	}
	if _, err := benchkit.Output(env, bin, "account", "create", "--email", email, "--name", "Bench Holder", "--mobile", "+351910000000", "--password-file", pwFile); err != nil {
		return err
	}
	creds := make([]*credential, clients)
	for i := range creds {
		mobile := fmt.Sprintf("+3519100%05d", i+1)
		out, err := benchkit.Output(env, bin, "credential", "create", "--account", email, "--profile", "advanced-invoice", "--approval", "sms",
			"--key-type", "ecdsa-p256", "--mobile", mobile, "--cn", fmt.Sprintf("Bench Seal %d", i), "--org", fmt.Sprintf("Bench %d Lda", i),
			"--org-id", fmt.Sprintf("VATPT-5%08d", i), "--country", "PT", "--json")
		if err != nil {
			return err
		}
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
			return fmt.Errorf("credential create output %q: %v", out, err)
		}
		creds[i] = &credential{id: c.ID, mobile: mobile}
	}
	outbox, err := notify.OpenOutbox(filepath.Join(data, "outbox"), selo.SystemClock{})
	if err != nil {
		return err
	}

	srv, err := benchkit.StartServer(env, bin, "--roles", "api",
		// Every round sends an SMS code to one credential: the code limits
		// (docs/operators.md, "Abuse limits") are for people, not for this.
		"--code-interval", "0", "--codes-per-hour", "0", "--account-codes-per-hour", "0")
	if err != nil {
		return err
	}
	defer srv.Stop()
	serverPID = srv.PID
	addr := srv.Addr
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 1}, Timeout: time.Minute}
	cl, err := csc.NewClient("http://"+addr+"/csc/v2", csc.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	if _, err := cl.Login(ctx, email, password); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	for _, c := range creds {
		info, err := cl.CredentialInfo(ctx, c.id)
		if err != nil {
			return err
		}
		certs, err := info.Certificates()
		if err != nil {
			return err
		}
		pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return fmt.Errorf("credential %s: not a P-256 key", c.id)
		}
		c.pub = pub
	}
	fmt.Printf("CSC signHash benchmark: GOMAXPROCS %d, load average %s, SQLite, soft key store, SMS codes in the outbox\n",
		runtime.GOMAXPROCS(0), benchkit.LoadAverage())

	if err := phase1(ctx, cl, outbox, creds[0], rounds); err != nil {
		return err
	}
	return phase2(ctx, cl, outbox, creds, batch, d, repeat)
}

// authorize gets a SAD over hashes for c the way an integrator does:
// sendOTP, the code from the holder's phone (the outbox), authorize.
func authorize(ctx context.Context, cl *csc.Client, outbox *notify.Outbox, c *credential, hashes [][]byte) (string, error) {
	if err := cl.SendOTP(ctx, c.id); err != nil {
		return "", fmt.Errorf("sendOTP: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := outbox.Wait(wctx, notify.OutboxFilter{Channel: notify.ChannelSMS, To: c.mobile, AfterID: c.lastSMS})
	if err != nil {
		return "", fmt.Errorf("read the SMS from the outbox: %w", err)
	}
	m := msgs[len(msgs)-1]
	c.lastSMS = m.ID
	read(outbox, msgs)
	res, err := cl.Authorize(ctx, c.id, csc.OIDSHA256, hashes, benchkit.SMSCode(m.Body), "")
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	return res.SAD, nil
}

// read deletes messages the holder has read from the bench's own outbox:
// every listing reads the whole directory, so without this obtaining the
// n-th SAD would cost O(n) and later rounds would prepare ever more slowly.
// (The outbox has no delete of its own; its files are named ID.json.)
func read(outbox *notify.Outbox, msgs []selo.OutboxMessage) {
	for _, m := range msgs {
		_ = os.Remove(filepath.Join(outbox.Dir(), m.ID+".json"))
	}
}

func phase1(ctx context.Context, cl *csc.Client, outbox *notify.Outbox, c *credential, rounds int) error {
	var whole, signing []time.Duration
	for i := 0; i < rounds; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "phase 1 document %d", i))
		hashes := [][]byte{h[:]}
		start := time.Now()
		if err := cl.SendOTP(ctx, c.id); err != nil {
			return fmt.Errorf("sendOTP: %w", err)
		}
		msgs, err := outbox.Wait(ctx, notify.OutboxFilter{Channel: notify.ChannelSMS, To: c.mobile, AfterID: c.lastSMS})
		if err != nil {
			return err
		}
		c.lastSMS = msgs[len(msgs)-1].ID
		code := benchkit.SMSCode(msgs[len(msgs)-1].Body)
		read(outbox, msgs)
		codeRead := time.Now()
		res, err := cl.Authorize(ctx, c.id, csc.OIDSHA256, hashes, code, "")
		if err != nil {
			return fmt.Errorf("authorize: %w", err)
		}
		sigs, err := cl.SignHash(ctx, c.id, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if err != nil {
			return fmt.Errorf("signHash: %w", err)
		}
		end := time.Now()
		if !ecdsa.VerifyASN1(c.pub, hashes[0], sigs[0]) {
			return fmt.Errorf("round %d: the signature does not verify", i)
		}
		whole = append(whole, end.Sub(start))
		signing = append(signing, end.Sub(codeRead))
	}
	fmt.Printf("phase 1: %d rounds, one hash each, one after another\n", rounds)
	fmt.Printf("  sendOTP + code from outbox + authorize + signHash: p50 %7.2f ms  p99 %7.2f ms\n", ms(percentile(whole, 50)), ms(percentile(whole, 99)))
	fmt.Printf("  authorize + signHash:                             p50 %7.2f ms  p99 %7.2f ms\n", ms(percentile(signing, 50)), ms(percentile(signing, 99)))
	return nil
}

// job is one batch with the SAD that approves it.
type job struct {
	sad    string
	hashes [][]byte
}

func phase2(ctx context.Context, cl *csc.Client, outbox *notify.Outbox, creds []*credential, batch int, d time.Duration, repeat int) error {
	clients := len(creds)
	fmt.Printf("phase 2: batches of %d P-256 hashes, %d concurrent clients, %s per measurement, %d alternations\n", batch, clients, d, repeat)
	runtime.GC() // before every window: garbage made outside it is not collected inside it
	cpu0 := cpuSeconds()
	raw, rawN := measureRaw(clients, batch, d)
	rawCPU := (cpuSeconds() - cpu0) / float64(rawN)
	fmt.Printf("  raw ecdsa.SignASN1, %d goroutines:           %9.0f signatures/s, %5.1f µs CPU each (load average %s)\n", clients, raw, 1e6*rawCPU, benchkit.LoadAverage())
	var ratios, cpuRatios, serverRatios []float64
	for r := 1; r <= repeat; r++ {
		pools, err := obtainSADs(ctx, cl, outbox, creds, batch, raw, d, r)
		if err != nil {
			return err
		}
		runtime.GC()
		if r == 1 && *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		cpu0, server0 := cpuSeconds(), serverCPU()
		procs := runtime.GOMAXPROCS(*clientProcs)
		api, apiN, err := measureAPI(ctx, cl, creds, pools, d)
		runtime.GOMAXPROCS(procs)
		if r == 1 && *cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
		apiCPU := (cpuSeconds() - cpu0) / float64(apiN)
		srvCPU := (serverCPU() - server0) / float64(apiN)
		if err := verifyFirsts(); err != nil {
			return err
		}
		fmt.Printf("  signHash over the CSC API, %d clients:       %9.0f signatures/s, %5.1f µs CPU each: server %.1f, client %.1f (load average %s)\n",
			clients, api, 1e6*apiCPU, 1e6*srvCPU, 1e6*(apiCPU-srvCPU), benchkit.LoadAverage())
		runtime.GC()
		cpu0 = cpuSeconds()
		after, afterN := measureRaw(clients, batch, d)
		afterCPU := (cpuSeconds() - cpu0) / float64(afterN)
		fmt.Printf("  raw ecdsa.SignASN1, %d goroutines:           %9.0f signatures/s, %5.1f µs CPU each (load average %s)\n", clients, after, 1e6*afterCPU, benchkit.LoadAverage())
		ratio := 100 * api / ((raw + after) / 2)
		cpuRatio := 100 * ((rawCPU + afterCPU) / 2) / apiCPU
		fmt.Printf("  ratio %d: signHash / mean of the raw runs before and after: %6.1f%%; by CPU time per signature: %6.1f%%\n", r, ratio, cpuRatio)
		ratios = append(ratios, ratio)
		cpuRatios = append(cpuRatios, cpuRatio)
		if srvCPU > 0 {
			serverRatios = append(serverRatios, 100*((rawCPU+afterCPU)/2)/srvCPU)
		}
		raw, rawCPU = after, afterCPU
	}
	fmt.Printf("median ratio signHash / raw ecdsa.SignASN1 of %d: %6.1f%% (target >= 90%%)\n", len(ratios), benchkit.Median(ratios))
	fmt.Printf("median ratio by CPU time per signature (bench and server processes, blind to other load): %6.1f%%\n", benchkit.Median(cpuRatios))
	if len(serverRatios) > 0 {
		fmt.Printf("median ratio by CPU time per signature of the server alone (the clients elsewhere):          %6.1f%%\n", benchkit.Median(serverRatios))
	}
	return nil
}

// serverPID is the selo serve process, whose CPU time cpuSeconds adds.
var serverPID int

// cpuSeconds returns the user and system CPU time this process and the
// server have used so far (from /proc; 0 where it cannot be read). A ratio
// of CPU time per signature is blind to what other processes on a shared
// machine take, which a ratio of wall-clock rates is not.
func cpuSeconds() float64 {
	t := benchkit.ProcessCPU(os.Getpid())
	if serverPID > 0 {
		t += benchkit.ProcessCPU(serverPID)
	}
	return t
}

// serverCPU is the server's share of cpuSeconds.
func serverCPU() float64 {
	if serverPID > 0 {
		return benchkit.ProcessCPU(serverPID)
	}
	return 0
}

// obtainSADs gets, before a timed window, enough SADs for the server to keep
// up with the raw rate for the whole window and a quarter more; each client
// authorizes its own credential, one SAD after another (a new sendOTP
// replaces the credential's previous code).
func obtainSADs(ctx context.Context, cl *csc.Client, outbox *notify.Outbox, creds []*credential, batch int, raw float64, d time.Duration, round int) ([][]job, error) {
	clients := len(creds)
	perClient := int(math.Ceil(raw*d.Seconds()/float64(batch)/float64(clients)*1.25)) + 1
	pools := make([][]job, clients)
	prep := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i, c := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				hashes := make([][]byte, batch)
				for k := range hashes {
					h := sha256.Sum256(fmt.Appendf(nil, "round %d client %d batch %d document %d", round, i, j, k))
					hashes[k] = h[:]
				}
				sad, err := authorize(ctx, cl, outbox, c, hashes)
				if err != nil {
					errs[i] = err
					return
				}
				pools[i] = append(pools[i], job{sad: sad, hashes: hashes})
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if time.Since(prep)+d > 5*time.Minute {
		return nil, fmt.Errorf("obtaining the SADs took %s: the first ones would expire before the window ends; use a shorter -duration", time.Since(prep).Round(time.Second))
	}
	fmt.Printf("  (%d SADs obtained ahead in %s: sendOTP, code from the outbox, authorize)\n", perClient*clients, time.Since(prep).Round(time.Millisecond))
	return pools, nil
}

// measureAPI runs signHash calls only, each client through its pool of
// SADs, until d has passed or the pool is used up, and returns signatures
// per second over the time spent. Each client's first batch is verified
// after the window.
func measureAPI(ctx context.Context, cl *csc.Client, creds []*credential, pools [][]job, d time.Duration) (float64, int64, error) {
	clients := len(creds)
	var signed, failed atomic.Int64
	var ranDry atomic.Int32
	var lastErr atomic.Value
	firsts := make([][][]byte, clients)
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for i, c := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, jb := range pools[i] {
				if !time.Now().Before(deadline) {
					return
				}
				sigs, err := cl.SignHash(ctx, c.id, jb.sad, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, jb.hashes)
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				if j == 0 {
					firsts[i] = sigs
				}
				signed.Add(int64(len(sigs)))
			}
			ranDry.Add(1)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		return 0, 0, fmt.Errorf("%d signHash calls failed; last: %v", failed.Load(), lastErr.Load())
	}
	if n := ranDry.Load(); n > 0 {
		fmt.Printf("  (%d client(s) used up their SADs after %s)\n", n, elapsed.Round(time.Millisecond))
	}
	verifyFirsts = func() error {
		for i, c := range creds {
			for k, s := range firsts[i] {
				if !ecdsa.VerifyASN1(c.pub, pools[i][0].hashes[k], s) {
					return fmt.Errorf("client %d: signature %d does not verify", i, k)
				}
			}
		}
		return nil
	}
	return float64(signed.Load()) / elapsed.Seconds(), signed.Load(), nil
}

// verifyFirsts checks every signature of each client's first batch of the
// last measureAPI window. It runs after the window's CPU time is read: the
// raw ceiling verifies nothing either.
var verifyFirsts func() error

// measureRaw signs batches of P-256 hashes with ecdsa.SignASN1 from workers
// goroutines for d and returns signatures per second.
func measureRaw(workers, batch int, d time.Duration) (float64, int64) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	hashes := make([][]byte, batch)
	for k := range hashes {
		h := sha256.Sum256(fmt.Appendf(nil, "raw document %d", k))
		hashes[k] = h[:]
	}
	var n atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				for _, h := range hashes {
					if _, err := ecdsa.SignASN1(rand.Reader, key, h); err != nil {
						panic(err)
					}
				}
				n.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), n.Load()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
