package server

import (
	"fmt"
	"testing"
	"time"
)

func TestRateLimiterPerClient(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := newRateLimiter(RateLimit{PerMinute: 6, Burst: 2}, func() time.Time { return now })
	for i := 0; i < 2; i++ {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("192.0.2.1")
	if ok || wait != 10*time.Second {
		t.Fatalf("third request: allowed %v, wait %v; want refused, 10s (6 a minute)", ok, wait)
	}
	if ok, _ := l.allow("192.0.2.2"); !ok {
		t.Fatal("another client is refused because of the first")
	}
	now = now.Add(10 * time.Second)
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatal("refused after the refill time")
	}
}

func TestRateLimiterBoundedMemory(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := newRateLimiter(RateLimit{PerMinute: 60, Burst: 5}, func() time.Time { return now })
	for i := 0; i < maxRateClients+1000; i++ {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.clients); n > maxRateClients {
		t.Fatalf("%d clients kept, bound is %d", n, maxRateClients)
	}
}
