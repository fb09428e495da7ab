package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	if key.CreatedAt.IsZero() {
		key.CreatedAt = tx.now
	}
	key.CreatedAt = micro(key.CreatedAt)
	id := key.ID
	tx.exec(func(_ pgconn.CommandTag, err error) error {
		if isUniqueViolation(err) {
			return selo.Errorf(selo.ECONFLICT, "an API key with this ID, name or secret already exists")
		} else if err != nil {
			return fmt.Errorf("insert api key %s: %w", id, err)
		}
		return nil
	}, `INSERT INTO api_keys (id, name, hash, created_at, disabled, roles) VALUES ($1, $2, $3, $4, $5, $6)`,
		key.ID, key.Name, key.Hash, key.CreatedAt, key.Disabled, selo.JoinRoles(key.Roles))
	return tx.commitAudited(ctx, audit, "create api key")
}

// FindAPIKeyByHash returns the enabled key with this hash, or ENOTFOUND.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash string) (*selo.APIKey, error) {
	var k selo.APIKey
	var roles string
	err := db.pool.QueryRow(ctx, `
		SELECT id, name, hash, created_at, disabled, roles FROM api_keys WHERE hash = $1 AND NOT disabled`, hash).
		Scan(&k.ID, &k.Name, &k.Hash, &k.CreatedAt, &k.Disabled, &roles)
	if errors.Is(err, pgx.ErrNoRows) {
		// The message names no hash: it is derived from a secret.
		return nil, selo.Errorf(selo.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, fmt.Errorf("find api key: %w", err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.Roles = selo.SplitRoles(roles)
	return &k, nil
}
