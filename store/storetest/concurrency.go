package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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

// testConcurrentRevocation has many goroutines revoke one certificate at the
// same moment, each with another reason, while others store "good" OCSP
// responses for it: exactly one revocation wins, every caller is told about
// it, one audit entry is appended, and no "good" response outlives it.
func testConcurrentRevocation(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1")
	reasons := []selo.RevocationReason{selo.ReasonKeyCompromise, selo.ReasonCertificateHold, selo.ReasonSuperseded, selo.ReasonCessationOfOperation}
	const rounds = 4
	for r := 0; r < rounds; r++ {
		serial := fmt.Sprintf("7e%d", r)
		issue(t, st, "ca1", serial)
		go1 := make(chan struct{})
		type result struct {
			rev     *selo.Revocation
			created bool
			err     error
		}
		results := make(chan result, writers)
		saves := make(chan error, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				<-go1
				if w%4 == 3 {
					saves <- st.SaveOCSPResponse(ctx, &selo.OCSPResponse{Serial: serial, Status: "good",
						ThisUpdate: start, NextUpdate: start.Add(time.Hour), DER: []byte("good")})
					return
				}
				rev := &selo.Revocation{Serial: serial, Reason: reasons[w%len(reasons)], Actor: fmt.Sprintf("writer %d", w)}
				got, created, err := st.RevokeCertificate(ctx, rev, entry("certificate.revoke", "certificate/"+serial))
				results <- result{got, created, err}
			}(w)
		}
		close(go1)
		wg.Wait()
		close(results)
		close(saves)
		stored, err := st.FindRevocation(ctx, serial)
		must(t, err)
		won := 0
		for res := range results {
			if res.err != nil {
				t.Fatalf("round %d: %v", r, res.err)
			}
			if res.created {
				won++
			}
			if d := diffRevocation(res.rev, stored); d != "" {
				t.Fatalf("round %d: a revoker was told %s; want the stored revocation", r, d)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d revocations created, want exactly 1", r, won)
		}
		for err := range saves {
			if code := selo.ErrorCode(err); code != "" && code != selo.ECONFLICT {
				t.Fatalf("round %d: saving a good response: %v, want success or conflict", r, err)
			}
		}
		if resp, err := st.FindOCSPResponse(ctx, serial); err == nil {
			t.Fatalf("round %d: a %q response outlived the revocation", r, resp.Status)
		} else {
			wantCode(t, err, selo.ENOTFOUND)
		}
		wantStatus(t, st, serial, selo.CertRevoked, "")
	}
	all := wantIntactAudit(t, st, 1+2*rounds)
	seen := map[string]int{}
	for _, e := range all {
		if e.Action == "certificate.revoke" {
			seen[e.Object]++
		}
	}
	for r := 0; r < rounds; r++ {
		if n := seen[fmt.Sprintf("certificate/7e%d", r)]; n != 1 {
			t.Fatalf("serial 7e%d has %d revocation entries, want 1", r, n)
		}
	}
}

// testConcurrentRevokeAndSupersede revokes and supersedes one certificate at
// the same moment: whichever goes first, the certificate ends up revoked,
// never superseded over its revocation.
func testConcurrentRevokeAndSupersede(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "old-ca", "new-ca")
	const rounds = 8
	audited := 2
	for r := 0; r < rounds; r++ {
		old, repl := fmt.Sprintf("a%d", r), fmt.Sprintf("b%d", r)
		issue(t, st, "old-ca", old)
		audited++
		go1 := make(chan struct{})
		var revokeErr, supersedeErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-go1
			_, _, revokeErr = st.RevokeCertificate(ctx, &selo.Revocation{Serial: old, Reason: selo.ReasonKeyCompromise},
				entry("certificate.revoke", "certificate/"+old))
		}()
		go func() {
			defer wg.Done()
			<-go1
			supersedeErr = st.SupersedeCertificate(ctx, old, newCertificate(repl, "new-ca"), entry("certificate.reissue", "certificate/"+repl))
		}()
		close(go1)
		wg.Wait()
		must(t, revokeErr)
		audited++
		switch selo.ErrorCode(supersedeErr) {
		case "":
			audited++
			wantStatus(t, st, old, selo.CertRevoked, repl)
		case selo.ECONFLICT:
			wantStatus(t, st, old, selo.CertRevoked, "")
			_, err := st.FindCertificate(ctx, repl)
			wantCode(t, err, selo.ENOTFOUND)
		default:
			t.Fatalf("round %d: supersession failed with %v, want success or conflict", r, supersedeErr)
		}
		if _, err := st.FindRevocation(ctx, old); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	wantIntactAudit(t, st, audited)
}

// testConcurrentCRLNumber has many goroutines take CRL numbers of one CA at
// once: together they get 1 to n, each number once, and each caller's
// numbers increase.
func testConcurrentCRLNumber(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	setupCAs(t, st, "ca1", "ca2")
	const perWriter = 6
	numbers := make(chan int64, writers*perWriter)
	errs := make(chan error, writers)
	go1 := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-go1
			last := int64(0)
			for i := 0; i < perWriter; i++ {
				n, err := st.NextCRLNumber(ctx, "ca1")
				if err != nil {
					errs <- err
					return
				}
				if n <= last {
					errs <- fmt.Errorf("writer %d got %d after %d", w, n, last)
					return
				}
				last = n
				numbers <- n
			}
		}(w)
	}
	close(go1)
	wg.Wait()
	close(numbers)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for n := range numbers {
		if seen[n] {
			t.Fatalf("CRL number %d handed out twice", n)
		}
		seen[n] = true
	}
	for n := int64(1); n <= writers*perWriter; n++ {
		if !seen[n] {
			t.Fatalf("CRL number %d never handed out; got %d numbers", n, len(seen))
		}
	}
	if n, err := st.NextCRLNumber(ctx, "ca2"); err != nil || n != 1 {
		t.Fatalf("first CRL number of another CA = %d, %v; want 1", n, err)
	}
}
