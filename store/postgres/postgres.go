// Package postgres implements selo.Store over PostgreSQL with pgx, for
// deployments of several stateless replicas.
//
// Each replica migrates the schema at Open under an advisory lock, so
// replicas starting together apply each migration once. Every change is
// written with its audit entry in one transaction that ends by locking the
// one-row audit_head table, so the hash chain stays linear however many
// replicas write at once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/selo-qtsp/selo"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockClass is the first key of the advisory lock taken while
// migrating ("SELO" in ASCII); the second is a hash of the schema, so
// instances in different schemas of one database do not wait on each other.
const migrationLockClass = 0x53454c4f

// DB is a selo.Store over a PostgreSQL connection pool. It is safe for
// concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	clock selo.Clock

	groups    groupQueue // CreateCertificate calls waiting to commit together (groupcommit.go)
	closeOnce sync.Once

	locksMu sync.Mutex
	locks   map[string]*heldLock // advisory locks this store holds, by name (lock.go)
}

var (
	_ selo.Store           = (*DB)(nil)
	_ selo.RevocationStore = (*DB)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, as pgxpool.ParseConfig reads it), brings the schema
// up to date and returns the store. The tables live in the first schema of
// the search_path, so "?search_path=selo" (URL) or "search_path=selo"
// (keyword/value) puts them in schema selo, which must exist. Pool settings
// such as pool_max_conns may be given in dsn too. clock fills in times the
// caller left zero (CreatedAt, audit entry Time).
func Open(ctx context.Context, dsn string, clock selo.Clock) (*DB, error) {
	if clock == nil {
		clock = selo.SystemClock{}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, selo.Errorf(selo.EINVALID, "cannot parse the PostgreSQL connection string")
	}
	if err := migrate(ctx, cfg.ConnConfig.Copy(), clock.Now()); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	db := &DB{pool: pool, clock: clock}
	if err := db.backfillKeyHashes(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection of the pool. It is safe to call more than
// once.
func (db *DB) Close() error {
	db.closeOnce.Do(db.pool.Close)
	return nil
}

// Tx is a write transaction (READ COMMITTED) with the store's time.
type Tx struct {
	pgx.Tx
	db  *DB
	now time.Time // the store's clock when the transaction began
}

// beginTx starts a write transaction.
func (db *DB) beginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.clock.Now()}, nil
}

// rollback ends tx when it was not committed. It uses a fresh context so a
// cancelled request still returns its connection to the pool clean.
func (tx *Tx) rollback() { tx.Rollback(context.Background()) }

// commit commits tx, wrapping the error with what was being done.
func (tx *Tx) commit(ctx context.Context, what string) error {
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// querier is what the find and list helpers need: a transaction or the pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations. It runs on a connection of its own holding a
// session-level advisory lock, so replicas starting at once take turns; the
// lock goes with the connection when it closes, even after an error.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, now time.Time) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("read current schema: %w", err)
	}
	if schema == nil {
		return selo.Errorf(selo.EINVALID, "the search_path names no existing schema: create the schema first")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, int32(migrationLockClass), *schema); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}

	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		version, err := migrationVersion(name)
		if err != nil {
			return err
		}
		var applied bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&applied); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if applied {
			continue
		}
		body, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		// Without arguments pgx uses the simple protocol, which runs the
		// file's several statements in one call.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, now); err != nil {
			return fmt.Errorf("record %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// migrationVersion reads the number a migration file name starts with.
func migrationVersion(name string) (int, error) {
	base := strings.TrimPrefix(name, "migrations/")
	num, _, ok := strings.Cut(base, "_")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %s: name must start with a positive number and '_'", name)
	}
	return v, nil
}

// micro returns t as stored: UTC, truncated to the microsecond that
// TIMESTAMPTZ keeps.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// pgErrorCode returns the SQLSTATE of err, or "".
func pgErrorCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUniqueViolation reports whether err is a primary key or UNIQUE violation.
func isUniqueViolation(err error) bool { return pgErrorCode(err) == "23505" }

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool { return pgErrorCode(err) == "23503" }
