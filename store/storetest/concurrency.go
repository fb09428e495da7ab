package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
)

// writers is how many goroutines write at once in the concurrency tests.
const writers = 16

// testConcurrentWrites has many goroutines issue, append and fail at once,
// then checks that every success has exactly one audit entry and the chain
// neither forks nor skips.
func testConcurrentWrites(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	const perWriter = 12

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				serial := fmt.Sprintf("%x", 0x1000+w*perWriter+i)
				var err error
				switch i % 3 {
				case 0:
					err = st.CreateCertificate(ctx, newCertificate(serial, "ca1"), entry("certificate.issue", "certificate/"+serial))
				case 1:
					err = st.AppendAudit(ctx, entry("key.generate", "key/"+serial))
				case 2:
					// Fails: nothing may be appended for it.
					if err = st.CreateCertificate(ctx, newCertificate(serial, "no-such-ca"), entry("certificate.issue", "certificate/"+serial)); selo.ErrorCode(err) == selo.ENOTFOUND {
						err = nil
					} else {
						err = fmt.Errorf("certificate under unknown CA: %v, want not found", err)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d op %d: %w", w, i, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	successes := 1 + writers*perWriter*2/3
	all := wantIntactAudit(t, st, successes)
	issued := map[string]bool{}
	for _, e := range all {
		if e.Action == "certificate.issue" {
			issued[e.Object] = true
		}
	}
	certs, err := st.ListCertificates(ctx, selo.CertificateFilter{})
	must(t, err)
	if len(certs) != writers*perWriter/3 || len(issued) != len(certs) {
		t.Fatalf("%d certificates and %d issuance entries, want %d of each", len(certs), len(issued), writers*perWriter/3)
	}
	for _, c := range certs {
		if !issued["certificate/"+c.Serial] {
			t.Fatalf("certificate %s has no audit entry", c.Serial)
		}
	}
}

// testConcurrentSameSerial has many goroutines store the same serial at the
// same moment: the database, not a check before the insert, must let exactly
// one win.
func testConcurrentSameSerial(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")
	const rounds = 4
	for r := 0; r < rounds; r++ {
		serial := fmt.Sprintf("5e%d", r)
		go1 := make(chan struct{})
		results := make(chan error, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				<-go1
				c := newCertificate(serial, []string{"ca1", "ca2"}[w%2])
				c.Subject = fmt.Sprintf("CN=writer %d", w)
				results <- st.CreateCertificate(ctx, c, entry("certificate.issue", "certificate/"+serial))
			}(w)
		}
		close(go1)
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			switch selo.ErrorCode(err) {
			case "":
				won++
			case selo.ECONFLICT:
			default:
				t.Fatalf("round %d: error %v, want success or conflict", r, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers stored serial %s, want exactly 1", r, won, serial)
		}
	}
	all := wantIntactAudit(t, st, 2+rounds)
	seen := map[string]int{}
	for _, e := range all {
		seen[e.Object]++
	}
	for r := 0; r < rounds; r++ {
		if n := seen[fmt.Sprintf("certificate/5e%d", r)]; n != 1 {
			t.Fatalf("serial 5e%d has %d audit entries, want 1", r, n)
		}
	}
}
