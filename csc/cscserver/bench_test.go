package cscserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/signing"
)

// benchBatch is the batch the benchmark signs: 100 P-256 hashes.
const benchBatch = 100

// lastSMS keeps the last text message, so a benchmark reads each code
// without listing a growing outbox.
type lastSMS struct {
	mu   sync.Mutex
	text string
}

func (l *lastSMS) SendSMS(_ context.Context, _, text string) error {
	l.mu.Lock()
	l.text = text
	l.mu.Unlock()
	return nil
}

func (l *lastSMS) code(b *testing.B) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	code := codeIn(l.text)
	if code == "" {
		b.Fatalf("no code in %q", l.text)
	}
	return code
}

// benchFixture is the signing service behind the HTTP API, one holder
// logged in through the Go client and one SMS credential.
type benchFixture struct {
	client *csc.Client
	sms    *lastSMS
	cred   string
	hashes [][]byte
	pub    *ecdsa.PublicKey
	svc    *signing.Service
}

func newBenchFixture(b *testing.B) *benchFixture {
	sms := &lastSMS{}
	s := newStackSMS(b, sms)
	acct := s.holder(b, "bench@example.pt", "+351912000000")
	cred, ci := s.credential(b, acct, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	return &benchFixture{client: s.client(b, "bench@example.pt"), sms: sms, cred: cred, hashes: digests(benchBatch, "bench"),
		pub: ci.Certificate.PublicKey.(*ecdsa.PublicKey), svc: s.svc}
}

// sads obtains n SADs over f.hashes, each by sendOTP, the texted code and
// authorize, before a benchmark's timed window.
func (f *benchFixture) sads(b *testing.B, n int) []string {
	ctx := context.Background()
	sads := make([]string, n)
	for i := range sads {
		if err := f.client.SendOTP(ctx, f.cred); err != nil {
			b.Fatal(err)
		}
		res, err := f.client.Authorize(ctx, f.cred, csc.OIDSHA256, f.hashes, f.sms.code(b), "")
		if err != nil {
			b.Fatal(err)
		}
		sads[i] = res.SAD
	}
	return sads
}

// BenchmarkSignHash100 measures signatures/signHash of 100 P-256 hashes
// through the HTTP API (the real signing service over SQLite and the soft
// key store, the server's handler on a loopback listener, the Go client):
// SAD consumed, credential and certificate status read, 100 signatures,
// audit entry, JSON both ways. Each iteration's SAD (sendOTP, code,
// authorize) is obtained with the timer stopped.
func BenchmarkSignHash100(b *testing.B) {
	ctx := context.Background()
	f := newBenchFixture(b)
	c, sms, cred, hashes, pub := f.client, f.sms, f.cred, f.hashes, f.pub
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := c.SendOTP(ctx, cred); err != nil {
			b.Fatal(err)
		}
		res, err := c.Authorize(ctx, cred, csc.OIDSHA256, hashes, sms.code(b), "")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		sigs, err := c.SignHash(ctx, cred, res.SAD, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, hashes)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 && !ecdsa.VerifyASN1(pub, hashes[0], sigs[0]) {
			b.Fatal("the first signature does not verify")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "sigs/s")
}

// BenchmarkSignHash100Parallel is BenchmarkSignHash100 from
// 4×GOMAXPROCS concurrent clients, as bench/csc's phase 2 runs it: the
// per-batch work outside signing overlaps the signatures of other batches,
// so what counts is CPU, not latency. All SADs are obtained before the
// timer starts. Compare with BenchmarkRawECDSA100Parallel.
func BenchmarkSignHash100Parallel(b *testing.B) {
	ctx := context.Background()
	f := newBenchFixture(b)
	f.signParallel(b, func(sad string) ([][]byte, error) {
		return f.client.SignHash(ctx, f.cred, sad, csc.OIDSHA256, csc.OIDECDSAWithSHA256, nil, f.hashes)
	})
}

// signParallel obtains b.N SADs, then times sign over them from
// 4×GOMAXPROCS goroutines and reports signatures per second and CPU time per
// signature. The raw ceiling verifies nothing, so neither does the timed
// window; every signature of each goroutine's last batch is checked after.
func (f *benchFixture) signParallel(b *testing.B, sign func(sad string) ([][]byte, error)) {
	sads := f.sads(b, b.N)
	var next atomic.Int64
	var mu sync.Mutex
	var last [][][]byte // each goroutine's last batch
	b.SetParallelism(4)
	runtime.GC() // garbage made before the window is not collected in it
	cpu := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var sigs [][]byte
		for pb.Next() {
			var err error
			if sigs, err = sign(sads[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
		mu.Lock()
		last = append(last, sigs)
		mu.Unlock()
	})
	b.StopTimer()
	reportPerSignature(b, cpuTime(b)-cpu)
	for _, sigs := range last {
		for i, sig := range sigs {
			if !ecdsa.VerifyASN1(f.pub, f.hashes[i], sig) {
				b.Fatalf("signature %d does not verify", i)
			}
		}
	}
}

// reportPerSignature reports the signatures per second of b.N batches and
// the CPU time used per signature.
func reportPerSignature(b *testing.B, used time.Duration) {
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "sigs/s")
	b.ReportMetric(float64(used)/float64(time.Microsecond)/float64(b.N*benchBatch), "cpu-µs/sig")
}

// BenchmarkServiceSignHash100Parallel is BenchmarkSignHash100Parallel
// without HTTP, JSON and the client: the signing service's SignHash called
// directly (SAD consumed in one store transaction, credential and
// certificate read, audit entry, 100 signatures). Between it and
// BenchmarkRawECDSA100Parallel lies what the service adds to signing;
// between it and BenchmarkSignHash100Parallel what the HTTP API adds.
func BenchmarkServiceSignHash100Parallel(b *testing.B) {
	ctx := context.Background()
	f := newBenchFixture(b)
	sess, err := f.svc.Authenticate(ctx, f.client.AccessToken())
	if err != nil {
		b.Fatal(err)
	}
	f.signParallel(b, func(sad string) ([][]byte, error) {
		return f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: sess.AccountID, CredentialID: f.cred, SAD: sad,
			HashAlgorithmOID: csc.OIDSHA256, Hashes: f.hashes, SignAlgo: csc.OIDECDSAWithSHA256})
	})
}

// cpuTime returns the user and system CPU time of the process so far. CPU
// time per signature, unlike signatures per second, does not drop when
// other processes share the machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRawECDSA100Parallel is the ceiling of
// BenchmarkSignHash100Parallel: batches of 100 hashes signed with
// ecdsa.SignASN1 from as many goroutines, one batch each at a time.
func BenchmarkRawECDSA100Parallel(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	hashes := digests(benchBatch, "bench")
	b.SetParallelism(4)
	runtime.GC() // garbage made before the window is not collected in it
	cpu := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, h := range hashes {
				if _, err := ecdsa.SignASN1(rand.Reader, key, h); err != nil {
					panic(err)
				}
			}
		}
	})
	b.StopTimer()
	reportPerSignature(b, cpuTime(b)-cpu)
}

// BenchmarkRawECDSA100 is the ceiling of BenchmarkSignHash100: the same 100
// hashes signed with ecdsa.SignASN1 and a P-256 key, spread over the CPUs
// the way the signing service spreads a batch (GOMAXPROCS workers, at most
// one per 16 hashes), with no HTTP, store or audit.
func BenchmarkRawECDSA100(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	hashes := digests(benchBatch, "bench")
	workers := min(runtime.GOMAXPROCS(0), benchBatch/16+1)
	sigs := make([][]byte, benchBatch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < benchBatch; j += workers {
					s, err := ecdsa.SignASN1(rand.Reader, key, hashes[j])
					if err != nil {
						panic(err)
					}
					sigs[j] = s
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "sigs/s")
	if !ecdsa.VerifyASN1(&key.PublicKey, hashes[0], sigs[0]) {
		b.Fatal("the first signature does not verify")
	}
}
