package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/server"
)

// fakeNow is a clock the test moves by hand.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestHolderRevokeRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeNow{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *server.Config) {
		c.PublicRateLimit = server.RateLimit{PerMinute: 60, Burst: 3}
		c.Now = clock.now
	})
	post := func() (*http.Response, []byte) {
		return ts.do(t, http.MethodPost, "/api/v1/holder/revoke", strings.NewReader(`{}`), "Content-Type", "application/json", "Authorization", "")
	}
	for i := 0; i < 3; i++ {
		if resp, body := post(); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d within the burst: status %d: %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := post()
	wantError(t, resp, body, http.StatusTooManyRequests, server.ETOOMANYREQUESTS, "too many requests")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1 (one token a second)", got)
	}
	// The API key routes are not limited: an operator's script is not a guesser.
	if resp, body := ts.get(t, "/api/v1/profiles"); resp.StatusCode != http.StatusOK {
		t.Fatalf("profiles after the holder limit: %d: %s", resp.StatusCode, body)
	}
	clock.add(time.Second)
	if resp, body := post(); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("after a second the bucket holds a token again: status %d: %s", resp.StatusCode, body)
	}
	if resp, body := post(); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("and only one: status %d: %s", resp.StatusCode, body)
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *server.Config) {
		c.PublicRateLimit = server.RateLimit{Off: true, Burst: 1}
	})
	for i := 0; i < 5; i++ {
		resp, body := ts.do(t, http.MethodPost, "/api/v1/holder/revoke", strings.NewReader(`{}`), "Content-Type", "application/json", "Authorization", "")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d with the limit off: status %d: %s", i+1, resp.StatusCode, body)
		}
	}
}
