package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/selo-qtsp/selo"
)

// BenchmarkCreateCertificate measures issuance as the store sees it: one
// transaction that inserts a certificate with a 1 KB DER and appends its
// audit entry. "sequential" is one caller; "parallel" is 4×GOMAXPROCS
// callers, as a server handling many requests is, which gives the store's
// ceiling in certificates per second.
func BenchmarkCreateCertificate(b *testing.B, open OpenFunc) {
	for _, parallel := range []bool{false, true} {
		name := "sequential"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			st := open(b, selo.SystemClock{}).Store
			setupCAs(b, st, "ca1")
			template := newCertificate("0", "ca1")
			var n atomic.Int64
			issue := func() error {
				c := *template
				c.Serial = fmt.Sprintf("%x", 0x7000000000000000+n.Add(1))
				return st.CreateCertificate(ctx, &c, entry("certificate.issue", "certificate/"+c.Serial))
			}
			b.ReportAllocs()
			b.ResetTimer()
			if parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := issue(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := issue(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
		})
	}
}
