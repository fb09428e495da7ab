package authority

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/selo-qtsp/selo"
)

// apiKeyPrefix marks Selo API keys so secret scanners and people recognise them.
const apiKeyPrefix = "selo_"

// CreateAPIKey makes an API key with the admin and officer roles, what
// every key could do before roles existed: for 'selo init' (the first
// admin) and tests. Anything else uses CreateAPIKeyWithRoles, and a new
// admin once two exist goes through dual control (package control).
func (a *Authority) CreateAPIKey(ctx context.Context, actor, name string) (string, *selo.APIKey, error) {
	return a.CreateAPIKeyWithRoles(ctx, actor, name, []selo.Role{selo.RoleAdmin, selo.RoleOfficer})
}

// CreateAPIKeyWithRoles makes an operator API key named name with roles and
// returns its secret, which is shown once and stored only as a SHA-256 hash.
// The key has 256 random bits, so a plain hash (not a slow password hash)
// is enough.
func (a *Authority) CreateAPIKeyWithRoles(ctx context.Context, actor, name string, roles []selo.Role) (string, *selo.APIKey, error) {
	if name == "" {
		return "", nil, selo.Errorf(selo.EINVALID, "an API key needs a name")
	}
	if len(roles) == 0 {
		return "", nil, selo.Errorf(selo.EINVALID, "an API key needs at least one role")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	secret := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", nil, err
	}
	key := &selo.APIKey{ID: hex.EncodeToString(id[:]), Name: name, Hash: hashAPIKey(secret), CreatedAt: a.clock.Now(), Roles: roles}
	entry := a.audit(actor, "apikey.create", "apikey/"+key.ID, selo.OutcomeSuccess, map[string]string{"name": name, "roles": selo.JoinRoles(roles)})
	if err := a.store.CreateAPIKey(ctx, key, entry); err != nil {
		return "", nil, err
	}
	return secret, key, nil
}

// AuthenticateAPIKey returns the enabled API key whose secret this is, or
// EUNAUTHORIZED. A key found in the store is remembered for APIKeyCacheTTL,
// so disabling a key in the store takes effect within that time.
func (a *Authority) AuthenticateAPIKey(ctx context.Context, secret string) (*selo.APIKey, error) {
	if !strings.HasPrefix(secret, apiKeyPrefix) || len(secret) > 128 {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid API key")
	}
	hash := hashAPIKey(secret)
	if key, ok := a.apiKeys.get(hash, a.clock.Now()); ok {
		return key, nil
	}
	key, err := a.store.FindAPIKeyByHash(ctx, hash)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "invalid API key")
	} else if err != nil {
		return nil, err
	}
	a.apiKeys.put(key, a.clock.Now())
	return key, nil
}

func hashAPIKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
