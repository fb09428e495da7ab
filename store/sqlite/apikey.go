package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// CreateAPIKey inserts key and appends audit in one transaction; ECONFLICT
// when the ID, the name or the hash exists. A zero CreatedAt is set from the
// store's clock.
func (db *DB) CreateAPIKey(ctx context.Context, key *selo.APIKey, audit *selo.AuditEntry) error {
	if err := check.APIKey(key); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if key.CreatedAt.IsZero() {
		key.CreatedAt = tx.now
	}
	key.CreatedAt = fromMicros(toMicros(key.CreatedAt))
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, hash, created_at, disabled, roles) VALUES (?, ?, ?, ?, ?, ?)`,
		key.ID, key.Name, key.Hash, toMicros(key.CreatedAt), key.Disabled, selo.JoinRoles(key.Roles))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "an API key with this ID, name or secret already exists")
	} else if err != nil {
		return fmt.Errorf("insert api key %s: %w", key.ID, err)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("create api key")
}

// FindAPIKeyByHash returns the enabled key with this hash, or ENOTFOUND.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash string) (*selo.APIKey, error) {
	var k selo.APIKey
	var created int64
	var roles string
	err := db.read.QueryRowContext(ctx, `
		SELECT id, name, hash, created_at, disabled, roles FROM api_keys WHERE hash = ? AND disabled = 0`, hash).
		Scan(&k.ID, &k.Name, &k.Hash, &created, &k.Disabled, &roles)
	if errors.Is(err, sql.ErrNoRows) {
		// The message names no hash: it is derived from a secret.
		return nil, selo.Errorf(selo.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, fmt.Errorf("find api key: %w", err)
	}
	k.CreatedAt = fromMicros(created)
	k.Roles = selo.SplitRoles(roles)
	return &k, nil
}
