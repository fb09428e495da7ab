package signing

import "sync"

// broadcaster wakes whoever waits for news of an account: wallets waiting
// for approvals to appear, clients waiting for a decision.
type broadcaster struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

func newBroadcaster() *broadcaster {
	return &broadcaster{waiters: map[string]map[chan struct{}]struct{}{}}
}

// wait returns a channel that receives once the account has news, and a
// function that stops waiting (call it always).
func (b *broadcaster) wait(accountID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.waiters[accountID] == nil {
		b.waiters[accountID] = map[chan struct{}]struct{}{}
	}
	b.waiters[accountID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.waiters[accountID], ch)
		if len(b.waiters[accountID]) == 0 {
			delete(b.waiters, accountID)
		}
		b.mu.Unlock()
	}
}

// notify wakes every waiter of the account without blocking.
func (b *broadcaster) notify(accountID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.waiters[accountID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// count returns how many wait for news of the account.
func (b *broadcaster) count(accountID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters[accountID])
}
