package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/store/postgres"
)

// Sizes of the benchmark's holder.
const (
	benchCertificates = 100
	benchHistory      = 10000
)

// BenchmarkPortalPages serves the Certificates page and the signature
// history (its first page and one deep in the past) to a holder with 100
// certificates and 10,000 signatures in the audit log (beside 10,000 of
// another holder), over SQLite and PostgreSQL, through the whole stack
// (HTTP, session, service, store), one request at a time. It reports the
// 50th and 99th percentile latency. Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench PortalPages -benchtime 400x ./portal
//
// (SELO_TEST_POSTGRES set for the PostgreSQL half).
func BenchmarkPortalPages(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) func(selo.Clock) selo.Store
	}{
		{"sqlite", func(*testing.B) func(selo.Clock) selo.Store { return nil }},
		{"postgres", func(b *testing.B) func(selo.Clock) selo.Store {
			dsn := testenv.PostgresDSN(b, "portal_bench_")
			return func(c selo.Clock) selo.Store {
				st, err := postgres.Open(context.Background(), dsn, c)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				return st
			}
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := newStackOn(b, be.open(b))
			h := seedHolder(b, s)
			c := s.client(b)
			c.signIn(s, h.acct.Email, password)
			es, err := s.env.Store.ListAuditByActor(context.Background(), "holder:"+h.acct.ID, "signature.sign", 0, 5000)
			if err != nil || len(es) != 5000 {
				b.Fatalf("history: %d %v", len(es), err)
			}
			deep := strconv.FormatInt(es[len(es)-1].Seq, 10)
			for _, page := range []struct{ name, path string }{
				{"certificates", "/account/certificates"},
				{"history", "/account/history"},
				{"history-page-200", "/account/history?before=" + deep},
			} {
				b.Run(page.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						resp := c.do("GET", page.path, nil)
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						lat = append(lat, time.Since(t0))
						if resp.StatusCode != http.StatusOK || n < 1000 {
							b.Fatalf("%s: %d, %d bytes", page.path, resp.StatusCode, n)
						}
					}
					b.StopTimer()
					slices.Sort(lat)
					ms := func(q float64) float64 {
						return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
					}
					b.ReportMetric(ms(0.50), "p50-ms")
					b.ReportMetric(ms(0.99), "p99-ms")
				})
			}
		})
	}
}

// seedHolder makes a holder with benchCertificates cloud certificates and
// benchHistory signature entries in the audit log, interleaved with as many
// of another holder.
func seedHolder(b *testing.B, s *stack) *holder {
	b.Helper()
	ctx := context.Background()
	h := s.holder(b, "bench@example.pt", "Bench Holder")
	other := s.holder(b, "other@example.pt", "Other Holder")
	for i := 2; i < benchCertificates; i++ {
		profile, how := "qualified-sign", selo.ApprovalSMS
		if i%2 == 0 {
			profile, how = "qualified-seal", selo.ApprovalAuthorizer
		}
		s.credential(b, h.acct, profile, how)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < benchHistory; i += 8 {
				for _, who := range []*holder{h, other} {
					e := &selo.AuditEntry{Actor: "holder:" + who.acct.ID, Action: "signature.sign", Object: "credential/" + who.sign.Credential.ID,
						Outcome: selo.OutcomeSuccess, Details: fmt.Sprintf(`{"approval":"sms","hashes":%d,"integrator":"ERP %d"}`, 1+i%7, i%3)}
					if err := s.env.Store.AppendAudit(ctx, e); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return h
}
