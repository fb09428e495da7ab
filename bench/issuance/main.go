// Command issuance measures end-to-end certificate issuance through a running
// `selo serve` (CSR in over the REST API, certificate stored and audited) and
// prints it as a ratio of the in-process pipeline (build, lint, sign) measured
// in the same run on the same machine, with the same concurrency. It also
// prints the CPU time per certificate of the server, its PostgreSQL backends
// and the load generator, from /proc, and the ratio of the pipeline's CPU
// per certificate to their sum: on a machine shared with other work that
// ratio is what the ratio of rates would be with the cores to ourselves.
//
//	go run ./bench/issuance                       # SQLite
//	go run ./bench/issuance -database postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	go run ./bench/issuance -server-profile cpu.prof   # then: go tool pprof -top cpu.prof
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/pki"
)

func main() {
	bin := flag.String("selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	database := flag.String("database", "", "database DSN for the server (default: SQLite in the temporary data directory)")
	clients := flag.Int("clients", 4*runtime.GOMAXPROCS(0), "concurrent clients / pipeline workers")
	duration := flag.Duration("duration", 10*time.Second, "how long each measurement runs")
	profile := flag.String("profile", "qualified-sign", "profile to issue")
	rounds := flag.Int("rounds", 1, "alternate the two measurements this many times, duration each, and report every round's ratio and their median (on a shared machine, load that drifts between the two measurements moves one round's ratio, not the median)")
	serverProfile := flag.String("server-profile", "", "have the server write a Go CPU profile to this file (selo serve --cpu-profile)")
	flag.Parse()
	if err := run(*bin, *database, *profile, *serverProfile, *clients, *duration, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, database, profileName, serverProfile string, clients int, d time.Duration, rounds int) error {
	if rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	tmp, err := os.MkdirTemp("", "selo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = benchkit.Selo(bin, tmp); err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	env := append(os.Environ(), "SELO_DATA="+data)
	appName := fmt.Sprintf("selo-bench-%d", os.Getpid())
	if database != "" {
		env = append(env, "SELO_DATABASE="+withApplicationName(database, appName))
	}
	out, err := benchkit.Output(env, bin, "init", "--json")
	if err != nil {
		return err
	}
	var ir struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &ir); err != nil {
		return fmt.Errorf("init output: %w", err)
	}

	csrs, parsed, err := makeCSRs(256)
	if err != nil {
		return err
	}
	fmt.Printf("issuance benchmark: profile %s, %d clients, %s each, GOMAXPROCS %d, database %s\n",
		profileName, clients, d, runtime.GOMAXPROCS(0), dbName(database))

	var serveArgs []string
	if serverProfile != "" {
		abs, err := filepath.Abs(serverProfile)
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
	addr := srv.Addr
	meter := &cpuMeter{serverPID: srv.PID}
	if database != "" {
		if meter.db, err = pgx.Connect(context.Background(), database); err != nil {
			return fmt.Errorf("connect to count PostgreSQL's CPU time: %w", err)
		}
		defer meter.db.Close(context.Background())
		meter.appName = appName
	}
	var ratios, cpuRatios []float64
	for r := 1; r <= rounds; r++ {
		if rounds > 1 {
			fmt.Printf("round %d (load average %s)\n", r, benchkit.LoadAverage())
		}
		before := meter.sample()
		pipeline, pipeN, err := measurePipeline(profileName, parsed, clients, d)
		if err != nil {
			return err
		}
		pipeCPU := meter.sample().sub(before).bench / float64(pipeN)
		// Cores used: CPU seconds per second. On a shared machine the two
		// measurements get different shares of the cores (the end-to-end
		// run has more processes competing for them), which moves the ratio
		// of rates; the ratio of CPU per certificate does not move.
		fmt.Printf("in-process pipeline (build, lint, sign):       %8.1f certificates/s, CPU %.2f ms/certificate, %.2f cores used\n",
			pipeline, pipeCPU*1000, pipeCPU*pipeline)
		before = meter.sample()
		e2e, n, errs, err := measureServer(addr, ir.APIKey, profileName, csrs, clients, d)
		if err != nil {
			return err
		}
		e2eCPU := meter.sample().sub(before)
		fmt.Printf("end to end over the API (stored + audited):    %8.1f certificates/s (%d errors), %.2f cores used\n",
			e2e, errs, e2eCPU.total()/float64(n)*e2e)
		per := func(s float64) float64 { return s * 1000 / float64(n) }
		fmt.Printf("  CPU ms/certificate: server %.2f, database %s, load generator %.2f, total %.2f\n",
			per(e2eCPU.server), meter.dbString(per(e2eCPU.db)), per(e2eCPU.bench), per(e2eCPU.total()))
		fmt.Printf("ratio end-to-end / pipeline:                   %8.1f%% (target >= 60%%)\n", 100*e2e/pipeline)
		cpuRatio := 100 * pipeCPU / (e2eCPU.total() / float64(n))
		fmt.Printf("ratio of CPU per certificate, pipeline / e2e:  %8.1f%% (what the ratio would be with the cores to ourselves)\n", cpuRatio)
		ratios = append(ratios, 100*e2e/pipeline)
		cpuRatios = append(cpuRatios, cpuRatio)
	}
	if rounds > 1 {
		fmt.Printf("median ratio of %d rounds:                     %8.1f%% (target >= 60%%)\n", rounds, benchkit.Median(ratios))
		fmt.Printf("median CPU ratio of %d rounds:                 %8.1f%%\n", rounds, benchkit.Median(cpuRatios))
	}
	return nil
}

// withApplicationName adds application_name to a postgres:// URL or a
// keyword/value DSN, so that the benchmark can find the server's backends.
func withApplicationName(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&application_name=" + name
		}
		return dsn + "?application_name=" + name
	}
	return dsn + " application_name=" + name
}

// cpuTimes is CPU time in seconds (user + system) of the benchmark process
// (the load generator, or the in-process pipeline), the server process, and
// the server's PostgreSQL backends.
type cpuTimes struct {
	bench, server, db float64
	backends          map[int]float64
}

func (c cpuTimes) total() float64 { return c.bench + c.server + c.db }

// sub returns c - earlier; a backend that earlier did not see counts whole.
func (c cpuTimes) sub(earlier cpuTimes) cpuTimes {
	d := cpuTimes{bench: c.bench - earlier.bench, server: c.server - earlier.server}
	for pid, t := range c.backends {
		d.db += t - earlier.backends[pid]
	}
	return d
}

// cpuMeter samples CPU times from /proc: on a shared machine, CPU per
// certificate does not depend on what else runs, unlike certificates per
// second. PostgreSQL's background processes (WAL writer, checkpointer) are
// not counted.
type cpuMeter struct {
	serverPID int
	db        *pgx.Conn
	appName   string
}

func (m *cpuMeter) sample() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t := cpuTimes{
		bench:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(),
		server:   benchkit.ProcessCPU(m.serverPID),
		backends: map[int]float64{},
	}
	if m.db != nil {
		rows, err := m.db.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, m.appName)
		if err == nil {
			pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
			for _, pid := range pids {
				t.backends[int(pid)] = benchkit.ProcessCPU(int(pid))
			}
		}
	}
	return t
}

func (m *cpuMeter) dbString(msPerCert float64) string {
	if m.db == nil {
		return "(in the server)"
	}
	return fmt.Sprintf("%.2f", msPerCert)
}

func dbName(dsn string) string {
	if dsn == "" {
		return "sqlite"
	}
	return "postgresql"
}

var (
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
)

// makeCSRs makes n P-256 CSRs for a natural person (they also fit the TLS profile's key rules).
func makeCSRs(n int) ([]string, []*x509.CertificateRequest, error) {
	var pems []string
	var parsed []*x509.CertificateRequest
	for i := 0; i < n; i++ {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{
			CommonName: fmt.Sprintf("Maria Silva %d", i), Country: []string{"PT"}, SerialNumber: fmt.Sprintf("IDCPT-%08d", i),
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidGivenName, Value: "Maria"}, {Type: oidSurname, Value: fmt.Sprintf("Silva %d", i)}},
		}}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			return nil, nil, err
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			return nil, nil, err
		}
		pems = append(pems, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
		parsed = append(parsed, csr)
	}
	return pems, parsed, nil
}

// measurePipeline issues under an issuing CA like the server's (P-384 root and
// issuing CA, as `selo init` makes) with clients workers for d.
func measurePipeline(profileName string, csrs []*x509.CertificateRequest, workers int, d time.Duration) (float64, int64, error) {
	profiles := pki.BuiltinProfiles()
	p, ok := profiles[profileName]
	if !ok {
		return 0, 0, fmt.Errorf("no built-in profile %q", profileName)
	}
	linter, err := pki.NewLinter()
	if err != nil {
		return 0, 0, err
	}
	iss, err := newIssuer(linter)
	if err != nil {
		return 0, 0, err
	}
	var n atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += workers {
				serial, err := pki.RandomSerial()
				if err == nil {
					_, err = iss.Issue(p, pki.RequestFromCSR(csrs[i%len(csrs)]), serial, time.Now(), linter)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, 0, fmt.Errorf("pipeline: %w", err)
	}
	return float64(n.Load()) / time.Since(start).Seconds(), n.Load(), nil
}

func newIssuer(l *pki.Linter) (*pki.Issuer, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	serial, _ := pki.RandomSerial()
	rootDER, err := pki.NewRootCertificate(rootKey, pki.CAOptions{Subject: pkix.Name{CommonName: "Bench Root", Organization: []string{"Bench"}, Country: []string{"PT"}},
		ValidityDays: 3650, PathLen: -1}, serial, now, l)
	if err != nil {
		return nil, err
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	urls := pki.IssuerURLs{CRL: "http://127.0.0.1/crl/bench.crl", OCSP: "http://127.0.0.1/ocsp", CAIssuers: "http://127.0.0.1/ca/bench.crt"}
	root, err := pki.NewIssuer(rootCert, rootKey, urls)
	if err != nil {
		return nil, err
	}
	serial, _ = pki.RandomSerial()
	issDER, err := pki.NewSubordinateCertificate(root, issKey.Public(), pki.CAOptions{Subject: pkix.Name{CommonName: "Bench Issuing CA", Organization: []string{"Bench"}, Country: []string{"PT"}},
		ValidityDays: 1825, ParentURLs: urls}, serial, now, l)
	if err != nil {
		return nil, err
	}
	issCert, err := x509.ParseCertificate(issDER)
	if err != nil {
		return nil, err
	}
	return pki.NewIssuer(issCert, crypto.Signer(issKey), urls)
}

func measureServer(addr, apiKey, profile string, csrs []string, clients int, d time.Duration) (float64, int64, int64, error) {
	bodies := make([][]byte, len(csrs))
	for i, c := range csrs {
		bodies[i], _ = json.Marshal(map[string]string{"profile": profile, "csr": c})
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += clients {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/certificates", bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Authorization", "Bearer "+apiKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						lastErr.Store(err.Error())
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					ok.Add(1)
				} else {
					failed.Add(1)
					lastErr.Store(fmt.Sprintf("%d %s", resp.StatusCode, b))
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if ok.Load() == 0 {
		return 0, 0, failed.Load(), fmt.Errorf("no certificate issued; last error: %v", lastErr.Load())
	}
	return float64(ok.Load()) / elapsed, ok.Load(), failed.Load(), nil
}
