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
}

func newCRLPublisher(a *Authority, delay time.Duration) *crlPublisher {
	return &crlPublisher{a: a, delay: delay, running: map[string]bool{}, pending: map[string]bool{}}
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
	for {
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if _, err := p.a.PublishCRL(ctx, "system", caID); err != nil {
			// The scheduled refresh retries; the revocation itself is stored.
			p.a.log.Error("publish crl after revocation", "ca", caID, "err", err)
		}
		cancel()
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

// close stops taking new work and waits for what is under way.
func (p *crlPublisher) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}
