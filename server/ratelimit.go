package server

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
)

// ETOOMANYREQUESTS is the code of a request refused by a rate limit (429).
const ETOOMANYREQUESTS = selo.ETOOMANYREQUESTS

// RateLimit bounds how often one client (one remote IP address) may call the
// endpoints that need no API key and guard something worth guessing: holder
// revocation, logins, one-time codes. Requests refill at PerMinute; Burst may
// come at once.
type RateLimit struct {
	PerMinute int
	Burst     int
	// Off disables the limit (for a replica behind a proxy that limits).
	Off bool
}

// DefaultRateLimit is the limit when Config.PublicRateLimit is zero: enough
// for a person retrying by hand and for a script revoking a handful of
// certificates, far too few for guessing a code.
var DefaultRateLimit = RateLimit{PerMinute: 60, Burst: 20}

// maxRateClients bounds the memory of the limiter: a flood of spoofed
// sources evicts idle clients instead of growing the map.
const maxRateClients = 100_000

// rateLimiter is a token bucket per client address.
type rateLimiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(l RateLimit, now func() time.Time) *rateLimiter {
	if l.Off {
		return nil
	}
	if l.PerMinute <= 0 {
		l.PerMinute = DefaultRateLimit.PerMinute
	}
	if l.Burst <= 0 {
		l.Burst = DefaultRateLimit.Burst
	}
	return &rateLimiter{
		perSecond: float64(l.PerMinute) / 60,
		burst:     float64(l.Burst),
		now:       now,
		clients:   map[string]*bucket{},
	}
}

// allow takes a token from key's bucket. When none is left it returns false
// and how long until one is.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= maxRateClients {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.clients[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
	return false, wait
}

// evict drops clients whose buckets have refilled (they lose nothing), and
// if none has, an arbitrary tenth of them: map iteration order is random, so
// an attacker cannot choose whom to evict.
func (l *rateLimiter) evict(now time.Time) {
	for k, b := range l.clients {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.clients, k)
		}
	}
	for k := range l.clients {
		if len(l.clients) < maxRateClients*9/10 {
			break
		}
		delete(l.clients, k)
	}
}

// clientKey is the remote IP address of r: the port changes with every
// connection, so it is left out.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited wraps h with the public rate limit; a refused request gets 429 and
// Retry-After in whole seconds.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	if s.limiter == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.limiter.allow(clientKey(r)); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.writeError(w, r, selo.Errorf(ETOOMANYREQUESTS, "too many requests from your address; retry in %d s", secs))
			return
		}
		h(w, r)
	}
}
