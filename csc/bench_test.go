package csc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/server"
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
	for _, f := range strings.Fields(l.text) {
		f = strings.TrimRight(f, ".,:")
		if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	b.Fatalf("no code in %q", l.text)
	return ""
}

// BenchmarkSignHash100 measures signatures/signHash of 100 P-256 hashes
// through the HTTP API (the real signing service over SQLite and the soft
// key store, the server's handler on a loopback listener, the Go client):
// SAD consumed, credential and certificate status read, 100 signatures,
// audit entry, JSON both ways. Each iteration's SAD (sendOTP, code,
// authorize) is obtained with the timer stopped.
func BenchmarkSignHash100(b *testing.B) {
	ctx := context.Background()
	env := testenv.New(b)
	master := make([]byte, soft.MasterKeySize)
	_, _ = rand.Read(master)
	box, _ := soft.NewSecretBox(master)
	codeKey := make([]byte, 32)
	_, _ = rand.Read(codeKey)
	sms := &lastSMS{}
	svc, err := signing.New(signing.Config{
		Store: env.Store.(signing.Store), Keys: env.Keys, Authority: env.Authority, Secrets: box, CodeKey: codeKey, SMS: sms,
		Password: signing.PasswordParams{Memory: 64, Time: 1, Threads: 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Signing: svc,
		Logger: slog.New(slog.DiscardHandler), PublicRateLimit: server.RateLimit{Off: true}}).Handler())
	b.Cleanup(srv.Close)
	acct, err := svc.CreateAccount(ctx, "operator", signing.CreateAccountRequest{Email: "bench@example.pt", Name: "Bench", Mobile: "+351912000000", Password: password})
	if err != nil {
		b.Fatal(err)
	}
	req := pkitest.Request("qualified-sign", nil)
	ci, err := svc.CreateCredential(ctx, "operator", signing.CreateCredentialRequest{AccountID: acct.ID, Profile: "qualified-sign",
		ApprovalType: selo.ApprovalSMS, KeyAlgorithm: selo.KeyECDSAP256, Subject: req.Subject, EmailAddresses: req.EmailAddresses})
	if err != nil {
		b.Fatal(err)
	}
	cred := ci.Credential.ID
	c, err := csc.NewClient(srv.URL + server.CSCPrefix)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Login(ctx, "bench@example.pt", password); err != nil {
		b.Fatal(err)
	}
	hashes := digests(benchBatch, "bench")
	pub := ci.Certificate.PublicKey.(*ecdsa.PublicKey)

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
