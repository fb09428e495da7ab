package authority

import (
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
)

// APIKeyCacheTTL is how long AuthenticateAPIKey remembers a key it found in
// the store, and so the longest a key disabled or deleted in the store still
// authenticates. Unknown and disabled keys are never remembered: they are
// looked up every time.
const APIKeyCacheTTL = 5 * time.Second

// apiKeyCacheSize bounds how many keys the cache holds. Operators have few
// keys; the bound only matters if many are used at once, and then the
// cache starts over rather than grow.
const apiKeyCacheSize = 256

// apiKeyCache remembers enabled API keys by the hash of their secret for
// APIKeyCacheTTL, so that each request of the operator API does not cost a
// store lookup. It is safe for concurrent use.
type apiKeyCache struct {
	mu      sync.Mutex
	entries map[string]apiKeyCacheEntry // by key hash
}

type apiKeyCacheEntry struct {
	key     selo.APIKey
	expires time.Time
}

// get returns a copy of the key cached for hash, unless it expired by now.
func (c *apiKeyCache) get(hash string, now time.Time) (*selo.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	k := e.key
	return &k, true
}

// put caches a copy of key until now + APIKeyCacheTTL. When the cache is
// full it first drops expired entries, then, if still full, everything.
func (c *apiKeyCache) put(key *selo.APIKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]apiKeyCacheEntry)
	}
	if _, ok := c.entries[key.Hash]; !ok && len(c.entries) >= apiKeyCacheSize {
		for h, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= apiKeyCacheSize {
			clear(c.entries)
		}
	}
	c.entries[key.Hash] = apiKeyCacheEntry{key: *key, expires: now.Add(APIKeyCacheTTL)}
}
