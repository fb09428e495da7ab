package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// rateTests are the rate-limit suite's subtests, registered in Run.
var rateTests = []struct {
	name string
	fn   func(*testing.T, OpenFunc)
}{
	{"RateWindows", testRateWindows},
	{"ConcurrentRateTakes", testConcurrentRateTakes},
	{"RevocationCode", testRevocationCode},
}

// testRevocationCode: one hash per certificate, replaced by a new one,
// audited; none for an unknown certificate.
func testRevocationCode(t *testing.T, open OpenFunc) {
	st := open(t, NewClock(start)).Store
	ctx := context.Background()
	must(t, st.CreateCA(ctx, newCA("ca", ""), entry("ca.create", "ca/ca")))
	must(t, st.CreateCertificate(ctx, newCertificate("0a01", "ca"), entry("certificate.issue", "certificate/0a01")))
	_, err := st.FindRevocationCode(ctx, "0a01")
	wantCode(t, err, selo.ENOTFOUND)
	wantCode(t, st.PutRevocationCode(ctx, "0b02", "$argon2id$x", entry("certificate.revocation_code", "certificate/0b02")), selo.ENOTFOUND)
	wantCode(t, st.PutRevocationCode(ctx, "0a01", "$argon2id$x", nil), selo.EINVALID)
	for _, h := range []string{"$argon2id$first", "$argon2id$second"} {
		must(t, st.PutRevocationCode(ctx, "0a01", h, entry("certificate.revocation_code", "certificate/0a01")))
		got, err := st.FindRevocationCode(ctx, "0a01")
		if err != nil || got != h {
			t.Fatalf("FindRevocationCode = %q, %v; want %q", got, err, h)
		}
	}
}

// testRateWindows: a take fits every window or records nothing and says
// when to retry; keys are apart; a returned event no longer counts; the
// count survives a reopen (another replica sees it).
func testRateWindows(t *testing.T, open OpenFunc) {
	clock := NewClock(start)
	b := open(t, clock)
	st := b.Store
	ctx := context.Background()
	windows := []selo.RateWindow{{Max: 1, Per: 30 * time.Second}, {Max: 3, Per: time.Hour}}

	for _, bad := range [][]selo.RateWindow{nil, {{Max: 0, Per: time.Minute}}, {{Max: 1, Per: 0}}, {{Max: 1, Per: 25 * time.Hour}}} {
		_, _, err := st.TakeRate(ctx, "k", clock.Now(), bad)
		wantCode(t, err, selo.EINVALID)
	}

	take := func(st selo.Store, key string) (time.Time, bool) {
		t.Helper()
		retry, ok, err := st.TakeRate(ctx, key, clock.Now(), windows)
		if err != nil {
			t.Fatal(err)
		}
		return retry, ok
	}
	t0 := clock.Now()
	if _, ok := take(st, "a"); !ok {
		t.Fatal("first take refused")
	}
	clock.Add(10 * time.Second)
	retry, ok := take(st, "a")
	if ok || !retry.Equal(micro(t0.Add(30*time.Second))) {
		t.Fatalf("second take within 30 s: ok=%v retry=%v, want refused until %v", ok, retry, micro(t0.Add(30*time.Second)))
	}
	if _, ok := take(st, "b"); !ok {
		t.Fatal("another key is limited by the first")
	}
	clock.Add(20 * time.Second) // 30 s after the first: it left the short window
	if _, ok := take(st, "a"); !ok {
		t.Fatal("take after 30 s refused")
	}
	t2 := clock.Now()
	clock.Add(30 * time.Second)
	if _, ok := take(st, "a"); !ok {
		t.Fatal("third take refused")
	}
	clock.Add(30 * time.Second)
	// Three in the hour: the first leaves the hour window at t0+1h.
	retry, ok = take(b.Reopen(t), "a")
	if ok || !retry.Equal(micro(t0.Add(time.Hour))) {
		t.Fatalf("fourth take in the hour (reopened store): ok=%v retry=%v, want until %v", ok, retry, micro(t0.Add(time.Hour)))
	}
	// Returning an event frees its place.
	if err := st.ReturnRate(ctx, "a", t2); err != nil {
		t.Fatal(err)
	}
	if err := st.ReturnRate(ctx, "a", t2); err != nil {
		t.Fatalf("returning an event twice: %v, want nothing", err)
	}
	if _, ok := take(st, "a"); !ok {
		t.Fatal("take after a return refused")
	}
	clock.Add(time.Hour)
	if _, ok := take(st, "a"); !ok {
		t.Fatal("take an hour later refused")
	}
}

// testConcurrentRateTakes: of many concurrent takes of one key, exactly Max
// are allowed, also from two store handles (two replicas).
func testConcurrentRateTakes(t *testing.T, open OpenFunc) {
	clock := NewClock(start)
	b := open(t, clock)
	stores := []selo.Store{b.Store, b.Reopen(t)}
	windows := []selo.RateWindow{{Max: 5, Per: time.Hour}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(st selo.Store) {
			defer wg.Done()
			_, ok, err := st.TakeRate(context.Background(), "pump", clock.Now(), windows)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}(stores[i%2])
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d of 20 concurrent takes allowed, want 5", allowed)
	}
}
