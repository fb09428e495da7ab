package authority

import (
	"fmt"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// TestAPIKeyCache checks the cache's bounds: entries expire after
// APIKeyCacheTTL, it never holds more than apiKeyCacheSize keys, a full cache
// drops expired entries before live ones, and callers get copies.
func TestAPIKeyCache(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var c apiKeyCache
	key := func(i int) *selo.APIKey {
		return &selo.APIKey{ID: fmt.Sprint(i), Name: "k", Hash: fmt.Sprintf("h%d", i)}
	}

	c.put(key(0), now)
	got, ok := c.get("h0", now.Add(APIKeyCacheTTL-time.Nanosecond))
	if !ok || got.ID != "0" {
		t.Fatalf("get before the TTL = %+v, %v", got, ok)
	}
	got.Name = "changed"
	if again, _ := c.get("h0", now); again.Name != "k" {
		t.Fatal("changing a returned key changed the cache")
	}
	if _, ok := c.get("h0", now.Add(APIKeyCacheTTL)); ok {
		t.Fatal("get at the TTL returned the key")
	}
	if _, ok := c.get("h1", now); ok {
		t.Fatal("get of a key never put returned one")
	}

	// Fill the cache with live keys put at now, then add one later, after
	// key 0 expired: only the expired entry goes.
	for i := 1; i < apiKeyCacheSize; i++ {
		c.put(key(i), now.Add(time.Second))
	}
	later := now.Add(APIKeyCacheTTL)
	c.put(key(apiKeyCacheSize), later)
	if n := len(c.entries); n != apiKeyCacheSize {
		t.Fatalf("%d entries after dropping one expired, want %d", n, apiKeyCacheSize)
	}
	if _, ok := c.get("h1", later); !ok {
		t.Fatal("a live key was dropped while an expired one could go")
	}
	// Full of live keys: the cache starts over instead of growing.
	c.put(key(apiKeyCacheSize+1), later)
	if n := len(c.entries); n > apiKeyCacheSize {
		t.Fatalf("%d entries, more than %d", n, apiKeyCacheSize)
	}
	if _, ok := c.get(fmt.Sprintf("h%d", apiKeyCacheSize+1), later); !ok {
		t.Fatal("the key just put is not cached")
	}
}
