package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
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

// BenchmarkForEachRevocation measures the walk a full CRL is built from:
// ForEachRevocation over every revocation of one CA, with n revocations
// loaded by Backend.LoadRevocations (it skips without one). It reports
// rows/s, and peak-heap-MB, the most heap in use seen during the walks: a
// walk that streams stays near the garbage collector's 4 MB floor however
// large n is, where one that loaded every row would need over 100 MB for
// a million.
func BenchmarkForEachRevocation(b *testing.B, open OpenFunc) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			be := open(b, selo.SystemClock{})
			if be.LoadRevocations == nil {
				b.Skip("the backend has no LoadRevocations")
			}
			setupCAs(b, be.Store, "ca1")
			be.LoadRevocations(b, "ca1", n)
			var peak uint64
			var ms runtime.MemStats
			sample := func() {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			runtime.GC()
			sample()
			b.ReportAllocs()
			for b.Loop() {
				rows := 0
				err := be.Store.ForEachRevocation(ctx, "ca1", func(rev *selo.Revocation) error {
					if rows++; rows%65536 == 0 {
						sample()
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				if rows != n {
					b.Fatalf("walked %d revocations, want %d", rows, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
