package authority

import (
	"context"
	"sync"
	"time"
)

// crlPublisher publishes CRLs in the background after revocations, one
// publication at a time per CA. Revocations that arrive while a CRL is being
// signed are covered by a single next publication, so a burst of a thousand
// revocations costs a handful of CRLs, not a thousand.
type crlPublisher struct {
	a *Authority
	// delay is how long a publication waits for more revocations to batch.
	delay time.Duration

	mu      sync.Mutex
	running map[string]bool // a goroutine is publishing this CA's CRL
	pending map[string]bool // another publication is wanted after it
	wg      sync.WaitGroup
	closed  bool
	stop    chan struct{} // closed by close: ends the waits between retries
}

// A failed publication is tried again crlRetries times, after crlRetryFirst,
// then twice as long each time (31 seconds in all): enough for a database
// fail-over, bounded so that WaitCRLs returns.
const (
	crlRetries    = 5
	crlRetryFirst = time.Second
)

func newCRLPublisher(a *Authority, delay time.Duration) *crlPublisher {
	return &crlPublisher{a: a, delay: delay, running: map[string]bool{}, pending: map[string]bool{}, stop: make(chan struct{})}
}

// schedule asks for a new CRL of caID soon.
func (p *crlPublisher) schedule(caID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.running[caID] {
		p.pending[caID] = true
		return
	}
	p.running[caID] = true
	p.wg.Add(1)
	go p.run(caID)
}

func (p *crlPublisher) run(caID string) {
	defer p.wg.Done()
	var retry time.Duration
	retries := 0
	for {
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		_, err := p.a.PublishCRL(ctx, "system", caID)
		cancel()
		if err != nil && retries < crlRetries {
			// The revocation is stored, but the status worker replaces a
			// CRL only when half of its validity is gone: until a
			// publication succeeds, the CRL would not list it for hours.
			retries++
			retry = max(2*retry, crlRetryFirst)
			p.a.log.Error("publish crl after revocation", "ca", caID, "err", err, "retry_in", retry)
			select {
			case <-time.After(retry):
				continue
			case <-p.stop:
				p.mu.Lock()
				delete(p.running, caID)
				delete(p.pending, caID)
				p.mu.Unlock()
				return
			}
		}
		if err != nil {
			p.a.log.Error("publish crl after revocation: giving up until the next revocation or the status worker renews the crl", "ca", caID, "err", err)
		}
		retry, retries = 0, 0
		p.mu.Lock()
		if !p.pending[caID] {
			delete(p.running, caID)
			p.mu.Unlock()
			return
		}
		delete(p.pending, caID)
		p.mu.Unlock()
	}
}

// wait blocks until every scheduled publication has finished.
func (p *crlPublisher) wait() { p.wg.Wait() }

// close stops taking new work and waits for what is under way, except
// publications waiting to be tried again after a failure.
func (p *crlPublisher) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
