// Package sqlite implements selo.Store over a SQLite file with the pure-Go
// driver modernc.org/sqlite, for single-machine deployments.
//
// The database runs in WAL mode with synchronous=NORMAL: a committed
// transaction survives a crash of the process (not necessarily a power loss).
// All writes go through one connection that begins every transaction with
// BEGIN IMMEDIATE, so concurrent writers queue in Go instead of failing with
// "database is locked", and the audit chain is appended by one writer at a
// time. Reads use a separate pool of read-only connections, which WAL lets
// run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/selo-qtsp/selo"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeoutMS bounds how long a connection waits for a lock held by another
// process (the CLI beside a running server, say) before giving up.
const busyTimeoutMS = 10000

// DB is a selo.Store over one SQLite file. It is safe for concurrent use.
type DB struct {
	write *sql.DB // one connection: the only writer in this process
	read  *sql.DB // read-only connections
	clock selo.Clock
	path  string

	// Statements of the hot paths, prepared once per pool: modernc SQLite
	// parses and plans every statement handed to QueryContext afresh.
	writeStmts, readStmts stmtCache

	closeOnce sync.Once
	closeErr  error
}

var (
	_ selo.Store           = (*DB)(nil)
	_ selo.RevocationStore = (*DB)(nil)
)

// Open opens (creating it if needed) the SQLite database at path, brings its
// schema up to date and returns the store. clock fills in times the caller
// left zero (CreatedAt, audit entry Time). path is a file name; it must not
// contain '?', which would be read as the start of driver options.
func Open(ctx context.Context, path string, clock selo.Clock) (*DB, error) {
	if path == "" || strings.Contains(path, "?") || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, selo.Errorf(selo.EINVALID, "sqlite path %q must be a plain file name without '?'", path)
	}
	if clock == nil {
		clock = selo.SystemClock{}
	}
	if err := restrictFiles(path); err != nil {
		return nil, err
	}
	// busy_timeout comes first so the switch to WAL waits for other processes.
	pragmas := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")&_pragma=foreign_keys(1)"
	write, err := sql.Open("sqlite", path+"?_txlock=immediate&"+pragmas+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One writer connection: database/sql queues writers for it, so they never
	// meet SQLITE_BUSY from each other, and keeping it idle-open keeps its
	// page cache warm.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	db := &DB{write: write, clock: clock, path: path}
	db.writeStmts.db = write
	if err := retryBusy(ctx, func() error { return db.migrate(ctx) }); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if err := db.backfillKeyHashes(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	if err := db.prepareWrites(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	db.read = read
	db.readStmts.db = read
	return db, nil
}

// restrictFiles creates the database file readable by its owner only (0600)
// before the driver opens it, and takes group and world access away from an
// existing one and its -wal and -shm files. SQLite gives the -wal and -shm
// files it creates the permissions of the database file, so they are 0600
// too, whatever the umask and wherever the file lies (--database may point
// outside the 0700 data directory).
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", p, err)
			}
		}
	}
	return nil
}

// Close closes the database. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		errs := []error{db.readStmts.close(), db.writeStmts.close()}
		if db.read != nil {
			errs = append(errs, db.read.Close())
		}
		errs = append(errs, db.write.Close())
		if err := errors.Join(errs...); err != nil {
			db.closeErr = fmt.Errorf("close %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// Tx is a write transaction. It began with BEGIN IMMEDIATE on the writer
// connection, so it holds SQLite's write lock from its first statement and
// nothing it reads can change under it.
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time // the store's clock when the transaction began
}

// beginTx starts a write transaction.
func (db *DB) beginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.clock.Now()}, nil
}

// commit commits tx, wrapping the error with what was being done.
func (tx *Tx) commit(what string) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// stmtCache holds statements prepared once on one pool. database/sql
// prepares a *sql.Stmt lazily on each connection that runs it and keeps it
// there, and Tx.StmtContext reuses the one already prepared on the
// transaction's connection.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt

	closed bool
}

// lookup returns the statement prepared for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// get returns the statement for query, preparing it on first use. Never on
// the writer's pool once it is in use: its one connection may be held by
// the transaction asking, and preparing would wait for it forever. Those
// statements are prepared by Open and found with lookup.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if c.m == nil && c.closed {
		return nil, errors.New("statement cache closed")
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st, nil
}

// close closes every statement; the cache must not be used after.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m, c.closed = nil, true
	return errors.Join(errs...)
}

// readRow runs query on the read pool as a prepared statement.
func (db *DB) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.readStmts.get(ctx, query)
	if err != nil {
		return db.read.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// writeQueries are the writer's statements prepared by Open: the audit
// append and the use of a SAD, which every signature batch runs, and the
// save of a signed OCSP response.
var writeQueries = []string{
	auditHeadSQL, appendAuditSQL, advanceAuditHeadSQL,
	consumeSignatureActivationSQL, findCredentialSQL, findCertificateSQL, findCASQL,
	certificateStatusSQL, saveOCSPResponseSQL,
}

// prepareWrites prepares writeQueries on the writer, before any transaction
// can hold its connection.
func (db *DB) prepareWrites(ctx context.Context) error {
	for _, q := range writeQueries {
		if _, err := db.writeStmts.get(ctx, q); err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
	}
	return nil
}

// queryRow runs query inside tx, as the statement Open prepared when there
// is one.
func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.db.writeStmts.lookup(query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// exec runs query inside tx, as the statement Open prepared when there is one.
func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.db.writeStmts.lookup(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// querier is what the find and list helpers need: a write transaction or the
// read pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one immediate transaction so that two processes
// opening a new file at once cannot both apply them.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		version, err := migrationVersion(name)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			version, toMicros(tx.now)); err != nil {
			return fmt.Errorf("record %s: %w", name, err)
		}
	}
	return tx.commit("migrate")
}

// retryBusy runs f again while it fails with a plain SQLITE_BUSY, for up to
// busyTimeoutMS. SQLite answers BUSY without waiting in the busy handler
// when a connection opened before another one switched a new file to WAL
// begins its first transaction (the CI run of stop 12 met it with eight
// opens of one new file; TestOpenConcurrently failed 2 times in 100), so
// the busy_timeout alone does not cover processes opening one new file at
// once.
func retryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := f()
		var e *sqlite.Error
		if err == nil || !errors.As(err, &e) || e.Code() != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
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

// toMicros encodes a time as stored: microseconds since the Unix epoch. It
// floors, as time.Truncate does, so stored times equal truncated ones.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a stored time, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// constraintCode returns SQLite's extended result code when err is a
// constraint violation, else 0.
func constraintCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return e.Code()
	}
	return 0
}

// isUniqueViolation reports whether err is a primary key or UNIQUE violation.
func isUniqueViolation(err error) bool {
	c := constraintCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool {
	return constraintCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
