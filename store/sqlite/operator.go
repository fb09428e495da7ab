package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// CreateOperator inserts op and appends audit in one transaction; ECONFLICT
// when the ID or the user name exists. A zero CreatedAt is set from the
// store's clock.
func (db *DB) CreateOperator(ctx context.Context, op *selo.Operator, audit *selo.AuditEntry) error {
	if err := check.Operator(op); err != nil {
		return err
	}
	return db.update(ctx, "create operator", audit, func(tx *Tx) error {
		if op.CreatedAt.IsZero() {
			op.CreatedAt = tx.now
		}
		op.CreatedAt = fromMicros(toMicros(op.CreatedAt))
		_, err := tx.ExecContext(ctx, `INSERT INTO operators (id, username, password_hash, roles, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, op.ID, op.Username, op.PasswordHash, selo.JoinRoles(op.Roles), op.Disabled, toMicros(op.CreatedAt))
		if isUniqueViolation(err) {
			return selo.Errorf(selo.ECONFLICT, "an operator with this ID or user name already exists")
		} else if err != nil {
			return fmt.Errorf("insert operator %s: %w", op.Username, err)
		}
		return nil
	})
}

const operatorColumns = `id, username, password_hash, roles, disabled, created_at`

func scanOperator(row interface{ Scan(...any) error }) (*selo.Operator, error) {
	var op selo.Operator
	var roles string
	var created int64
	if err := row.Scan(&op.ID, &op.Username, &op.PasswordHash, &roles, &op.Disabled, &created); err != nil {
		return nil, err
	}
	op.Roles, op.CreatedAt = selo.SplitRoles(roles), fromMicros(created)
	return &op, nil
}

// FindOperator returns the account with this user name, or ENOTFOUND.
func (db *DB) FindOperator(ctx context.Context, username string) (*selo.Operator, error) {
	op, err := scanOperator(db.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "operator not found")
	} else if err != nil {
		return nil, fmt.Errorf("find operator: %w", err)
	}
	return op, nil
}

// ListOperators returns every account by user name.
func (db *DB) ListOperators(ctx context.Context) ([]*selo.Operator, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	defer rows.Close()
	var out []*selo.Operator
	for rows.Next() {
		op, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("list operators: %w", err)
		}
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// SetOperatorDisabled disables or enables an account; ENOTFOUND when there
// is none.
func (db *DB) SetOperatorDisabled(ctx context.Context, username string, disabled bool, audit *selo.AuditEntry) error {
	return db.update(ctx, "set operator disabled", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE operators SET disabled = ? WHERE username = ?`, disabled, username)
		return wantOneRow(res, err, "operator", username)
	})
}

// CountAdmins counts the enabled operators and API keys with the admin role.
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	n := 0
	for _, table := range []string{
		`SELECT roles FROM operators WHERE disabled = 0`,
		`SELECT roles FROM api_keys WHERE disabled = 0`,
	} {
		rows, err := db.read.QueryContext(ctx, table)
		if err != nil {
			return 0, fmt.Errorf("count admins: %w", err)
		}
		for rows.Next() {
			var roles string
			if err := rows.Scan(&roles); err != nil {
				rows.Close()
				return 0, fmt.Errorf("count admins: %w", err)
			}
			if selo.HasRole(selo.SplitRoles(roles), selo.RoleAdmin) {
				n++
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, fmt.Errorf("count admins: %w", err)
		}
	}
	return n, nil
}

// ListAPIKeys returns every API key by name.
func (db *DB) ListAPIKeys(ctx context.Context) ([]*selo.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, hash, created_at, disabled, roles FROM api_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*selo.APIKey
	for rows.Next() {
		var k selo.APIKey
		var created int64
		var roles string
		if err := rows.Scan(&k.ID, &k.Name, &k.Hash, &created, &k.Disabled, &roles); err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		k.CreatedAt, k.Roles = fromMicros(created), selo.SplitRoles(roles)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// SetAPIKeyDisabled disables or enables the key named name; ENOTFOUND when
// there is none.
func (db *DB) SetAPIKeyDisabled(ctx context.Context, name string, disabled bool, audit *selo.AuditEntry) error {
	return db.update(ctx, "set api key disabled", audit, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET disabled = ? WHERE name = ?`, disabled, name)
		return wantOneRow(res, err, "API key", name)
	})
}
