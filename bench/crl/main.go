// Command crl measures publishing a CRL of many revoked certificates end to
// end through Selo (revocations read from the store, authority.PublishCRL
// signs the CRL and stores it, with its CRL number and audit entry) and
// compares it, in the same run on the same machine, with a plain
// x509.CreateRevocationList over the same entries signed by the same key. It
// prints the time and the peak memory of each and their ratios; the target is
// Selo within twice x509's time and within its peak heap.
//
//	go run ./bench/crl                  # SQLite in a temporary directory
//	go run ./bench/crl -database 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// With -database the benchmark creates a fresh schema in that database and
// drops it at the end. The revoked certificates are bulk-loaded with SQL
// (a benchmark fixture: Selo itself keeps its SQL in the store packages),
// with 128-bit serials in random order, revocation times spread over the last
// year, a mix of reasons and an invalidity date on key compromises. Peak heap
// is the highest HeapInuse sampled while a phase runs, above the heap after a
// GC before it; peak RSS is the same for the resident set, which also counts
// memory outside the Go heap (SQLite's page cache, for one).
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the raw connection of the SQLite bulk loader

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/store/postgres"
	"github.com/selo-qtsp/selo/store/sqlite"
)

func main() {
	n := flag.Int("n", 1_000_000, "revoked certificates in the CRL")
	database := flag.String("database", "", "PostgreSQL DSN (default: SQLite in a temporary directory)")
	key := flag.String("key", string(selo.KeyECDSAP256), "key of the issuing CA: ecdsa-p256, ecdsa-p384 or rsa-3072")
	every := flag.Duration("sample", 2*time.Millisecond, "memory sampling interval")
	flag.Parse()
	alg := selo.KeyAlgorithm(*key)
	if alg != selo.KeyECDSAP256 && alg != selo.KeyECDSAP384 && alg != selo.KeyRSA3072 {
		fmt.Fprintf(os.Stderr, "bench: -key must be ecdsa-p256, ecdsa-p384 or rsa-3072, not %q\n", *key)
		os.Exit(2)
	}
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "bench: -n must not be negative")
		os.Exit(2)
	}
	// An interrupt cancels the run, so the temporary directory and schema
	// are still removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *database, alg, *n, *every); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// IDs of the benchmark's CAs.
const (
	rootID    = "bench-root"
	issuingID = "bench-issuing"
)

func run(ctx context.Context, database string, alg selo.KeyAlgorithm, n int, every time.Duration) (err error) {
	tmp, err := os.MkdirTemp("", "selo-bench-crl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Printf("CRL benchmark: %d entries, issuing CA %s, database %s, GOMAXPROCS %d, %s %s/%s\n",
		n, alg, dbName(database), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("load average at start: %s\n", benchkit.LoadAverage())

	db, err := openDatabase(ctx, database, tmp)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.close()) }()

	masterKey := make([]byte, soft.MasterKeySize)
	if _, err := rand.Read(masterKey); err != nil {
		return err
	}
	ks, err := soft.Open(filepath.Join(tmp, "keys"), masterKey)
	if err != nil {
		return fmt.Errorf("open key store: %w", err)
	}
	defer ks.Close()
	a, err := authority.New(authority.Config{
		Store: db.store, Keys: ks, Profiles: pki.BuiltinProfiles(),
		BaseURL: "http://pki.example.test", Logger: slog.New(slog.DiscardHandler), TempDir: tmp,
	})
	if err != nil {
		return err
	}
	if _, err := a.CreateCA(ctx, "bench", authority.CreateCAOptions{
		ID: rootID, Name: "Selo Bench Root", Organization: "Selo Bench", Country: "PT",
		KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 3650,
	}); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	ca, err := a.CreateCA(ctx, "bench", authority.CreateCAOptions{
		ID: issuingID, Name: "Selo Bench Issuing CA", Organization: "Selo Bench", Country: "PT",
		ParentID: rootID, KeyAlgorithm: alg, ValidityDays: 1825,
	})
	if err != nil {
		return fmt.Errorf("create issuing ca: %w", err)
	}
	issuerCert, err := x509.ParseCertificate(ca.CertDER)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := db.load(ctx, ca.ID, n, start); err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	fmt.Printf("bulk load: %d certificates and revocations in %s\n", n, round(time.Since(start)))

	// 1. Selo, end to end.
	var published *selo.CRL
	selo1, err := measure(every, func() error {
		var err error
		published, err = a.PublishCRL(ctx, "bench", ca.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("publish crl: %w", err)
	}
	if err := a.Close(); err != nil {
		return err
	}
	seloList, err := checkCRL(published.DER, issuerCert, n)
	if err != nil {
		return fmt.Errorf("selo crl: %w", err)
	}
	seloTBS := sha256.Sum256(seloList.RawTBSRevocationList)
	seloSum := sha256.Sum256(published.DER)
	seloNumber, seloSize := published.Number, len(published.DER)
	// The x509 CRL gets the same number, times and issuingDistributionPoint,
	// so its to-be-signed list must be the same bytes.
	template := &x509.RevocationList{
		Number: big.NewInt(published.Number), ThisUpdate: published.ThisUpdate, NextUpdate: published.NextUpdate,
	}
	for _, ext := range seloList.Extensions {
		if ext.Id.Equal(oidIssuingDistributionPoint) {
			template.ExtraExtensions = append(template.ExtraExtensions, ext)
		}
	}
	// Let go of everything that holds the CRL (the authority caches it), so
	// that the x509 phases start from the same heap as Selo's did. The
	// stored copy is read back at the end: reading it now would leave a
	// buffer of its size in the PostgreSQL driver's idle connection.
	a, published, seloList = nil, nil, nil

	// 2. crypto/x509 with the same key, the entries loaded from the same store.
	signer, err := ks.Signer(ctx, ca.KeyID)
	if err != nil {
		return err
	}
	var entries []x509.RevocationListEntry
	load, err := measure(every, func() error {
		var err error
		entries, err = loadEntries(ctx, db.store, ca.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("load entries: %w", err)
	}
	var der []byte
	create, err := measure(every, func() error {
		template.RevokedCertificateEntries = entries
		var err error
		der, err = x509.CreateRevocationList(rand.Reader, template, issuerCert, signer)
		return err
	})
	if err != nil {
		return fmt.Errorf("create revocation list: %w", err)
	}
	template.RevokedCertificateEntries, entries = nil, nil
	x509List, err := checkCRL(der, issuerCert, n)
	if err != nil {
		return fmt.Errorf("x509 crl: %w", err)
	}
	sameTBS := sha256.Sum256(x509List.RawTBSRevocationList) == seloTBS
	x509Size := len(der)
	x509List, der = nil, nil
	both, err := measure(every, func() error {
		entries, err := loadEntries(ctx, db.store, ca.ID)
		if err != nil {
			return err
		}
		template.RevokedCertificateEntries = entries
		der, err = x509.CreateRevocationList(rand.Reader, template, issuerCert, signer)
		return err
	})
	if err != nil {
		return fmt.Errorf("load and create revocation list: %w", err)
	}
	template.RevokedCertificateEntries, der = nil, nil
	// What reading the revocations costs on its own, for both.
	walk, err := measure(every, func() error {
		return db.store.ForEachRevocation(ctx, ca.ID, func(*selo.Revocation) error { return nil })
	})
	if err != nil {
		return fmt.Errorf("walk revocations: %w", err)
	}

	stored, err := db.store.LatestCRL(ctx, ca.ID)
	if err != nil {
		return fmt.Errorf("read the stored crl: %w", err)
	}
	if stored.Number != seloNumber || sha256.Sum256(stored.DER) != seloSum {
		return fmt.Errorf("the stored crl (number %d, %d bytes) is not the one published (number %d, %d bytes)",
			stored.Number, len(stored.DER), seloNumber, seloSize)
	}

	fmt.Printf("CRL: Selo %d bytes, x509 %d bytes, %d entries each, to-be-signed lists identical: %s\n",
		seloSize, x509Size, n, yesNo(sameTBS))
	fmt.Println()
	fmt.Printf("%-44s %10s %12s %12s %12s\n", "", "time", "peak heap", "peak RSS", "allocated")
	for _, row := range []struct {
		name string
		m    measurement
	}{
		{"Selo PublishCRL (store -> stored CRL)", selo1},
		{"x509: load entries from the store", load},
		{"x509: CreateRevocationList", create},
		{"x509: load + CreateRevocationList", both},
		{"(store: ForEachRevocation alone)", walk},
	} {
		fmt.Printf("%-44s %10s %12s %12s %12s\n", row.name, round(row.m.elapsed), mib(row.m.peakHeap), mib(row.m.peakRSS), mib(row.m.allocated))
	}
	fmt.Println("(peak heap, peak RSS: the most above what the process held after a GC before the phase)")
	fmt.Println()
	fmt.Printf("Selo / CreateRevocationList:           time %5.2fx (target <= 2), peak heap %5.2fx (target <= 1)\n",
		ratio(selo1.elapsed, create.elapsed), ratio(selo1.peakHeap, create.peakHeap))
	fmt.Printf("Selo / load + CreateRevocationList:    time %5.2fx, peak heap %5.2fx\n",
		ratio(selo1.elapsed, both.elapsed), ratio(selo1.peakHeap, both.peakHeap))
	fmt.Printf("load average at end: %s\n", benchkit.LoadAverage())
	return nil
}

var (
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidInvalidityDate           = asn1.ObjectIdentifier{2, 5, 29, 24}
)

// loadEntries reads the CA's revocations from the store into what
// x509.CreateRevocationList takes, as a caller of crypto/x509 must.
func loadEntries(ctx context.Context, st selo.Store, caID string) ([]x509.RevocationListEntry, error) {
	var entries []x509.RevocationListEntry
	err := st.ForEachRevocation(ctx, caID, func(rev *selo.Revocation) error {
		serial, ok := new(big.Int).SetString(rev.Serial, 16)
		if !ok {
			return fmt.Errorf("serial %q is not hex", rev.Serial)
		}
		e := x509.RevocationListEntry{SerialNumber: serial, RevocationTime: rev.RevokedAt, ReasonCode: int(rev.Reason)}
		if !rev.InvalidityDate.IsZero() {
			// RFC 5280 5.3.2: always GeneralizedTime.
			v, err := asn1.MarshalWithParams(rev.InvalidityDate.UTC().Truncate(time.Second), "generalized")
			if err != nil {
				return err
			}
			e.ExtraExtensions = []pkix.Extension{{Id: oidInvalidityDate, Value: v}}
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// checkCRL parses a CRL, checks its signature and that it lists n entries.
func checkCRL(der []byte, issuer *x509.Certificate, n int) (*x509.RevocationList, error) {
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		return nil, err
	}
	if len(list.RevokedCertificateEntries) != n {
		return nil, fmt.Errorf("%d entries, want %d", len(list.RevokedCertificateEntries), n)
	}
	return list, nil
}

// revocationRow is one bulk-loaded revoked certificate.
type revocationRow struct {
	serial              string
	reason              selo.RevocationReason
	revokedAt           time.Time
	invalidity          time.Time // zero when none
	notBefore, notAfter time.Time
}

// rowSource makes the bulk-loaded rows: the same sequence for the same now.
type rowSource struct {
	rng *mrand.Rand
	now time.Time
}

func newRowSource(now time.Time) *rowSource {
	return &rowSource{rng: mrand.New(mrand.NewPCG(1, 2)), now: now}
}

func (s *rowSource) next() revocationRow {
	// A 128-bit serial as pki.RandomSerial makes one.
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	b[0] = b[0]&0x7f | 0x01
	serial := strings.TrimLeft(hex.EncodeToString(b[:]), "0")
	const year = 365 * 24 * time.Hour
	r := revocationRow{
		serial:    serial,
		revokedAt: s.now.Add(-time.Second - time.Duration(s.rng.Int64N(int64(year)))).Truncate(time.Microsecond).UTC(),
	}
	r.notBefore = r.revokedAt.Add(-time.Duration(s.rng.Int64N(int64(2 * year)))).Truncate(time.Second)
	r.notAfter = r.notBefore.Add(3 * year)
	switch p := s.rng.IntN(100); {
	case p < 40:
		r.reason = selo.ReasonUnspecified
	case p < 65:
		r.reason = selo.ReasonSuperseded
	case p < 85:
		r.reason = selo.ReasonCessationOfOperation
	case p < 95:
		r.reason = selo.ReasonKeyCompromise
		r.invalidity = r.revokedAt.Add(-time.Duration(s.rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Second)
	default:
		r.reason = selo.ReasonAffiliationChanged
	}
	return r
}

// The columns the bulk loaders fill; the rest keep their defaults.
var (
	certificateColumns = []string{"serial", "ca_id", "profile", "subject", "not_before", "not_after", "der", "status", "created_at"}
	revocationColumns  = []string{"serial", "ca_id", "reason", "revoked_at", "invalidity_date", "actor"}
)

const (
	benchProfile = "qualified-sign"
	benchSubject = "CN=Bench Subject,C=PT"
	benchActor   = "api:bench"
)

// database is the store under test and how to bulk-load it.
type database struct {
	store selo.Store
	load  func(ctx context.Context, caID string, n int, now time.Time) error
	close func() error
}

func dbName(dsn string) string {
	if dsn == "" {
		return "sqlite"
	}
	return "postgresql"
}

func openDatabase(ctx context.Context, dsn, tmp string) (*database, error) {
	if dsn == "" {
		return openSQLite(ctx, filepath.Join(tmp, "selo.db"))
	}
	return openPostgres(ctx, dsn)
}

func openSQLite(ctx context.Context, path string) (*database, error) {
	st, err := sqlite.Open(ctx, path, selo.SystemClock{})
	if err != nil {
		return nil, err
	}
	return &database{
		store: st,
		load: func(ctx context.Context, caID string, n int, now time.Time) error {
			return loadSQLite(ctx, path, caID, n, now)
		},
		close: st.Close,
	}, nil
}

// sqliteBatch is how many rows one INSERT statement of the loader writes.
const sqliteBatch = 500

// loadSQLite inserts n revoked certificates of caID through a connection of
// its own with a large page cache, in transactions of 100,000 rows.
func loadSQLite(ctx context.Context, path, caID string, n int, now time.Time) error {
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-1048576)")
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	// Full batches go through two statements prepared once; the last,
	// shorter one is parsed on its own.
	certStmt, err := raw.PrepareContext(ctx, insertSQL("certificates", certificateColumns, sqliteBatch))
	if err != nil {
		return err
	}
	defer certStmt.Close()
	revStmt, err := raw.PrepareContext(ctx, insertSQL("revocations", revocationColumns, sqliteBatch))
	if err != nil {
		return err
	}
	defer revStmt.Close()
	exec := func(tx *sql.Tx, stmt *sql.Stmt, table string, columns []string, rows int, args []any) error {
		if rows == sqliteBatch {
			_, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
			return err
		}
		_, err := tx.ExecContext(ctx, insertSQL(table, columns, rows), args...)
		return err
	}
	src := newRowSource(now)
	rows := make([]revocationRow, 0, sqliteBatch)
	var certArgs, revArgs []any
	insert := func(tx *sql.Tx) error {
		certArgs, revArgs = certArgs[:0], revArgs[:0]
		for _, r := range rows {
			certArgs = append(certArgs, r.serial, caID, benchProfile, benchSubject, r.notBefore.UnixMicro(), r.notAfter.UnixMicro(),
				[]byte{0x30, 0x00}, "revoked", r.revokedAt.UnixMicro())
			var invalidity any
			if !r.invalidity.IsZero() {
				invalidity = r.invalidity.UnixMicro()
			}
			revArgs = append(revArgs, r.serial, caID, int(r.reason), r.revokedAt.UnixMicro(), invalidity, benchActor)
		}
		if err := exec(tx, certStmt, "certificates", certificateColumns, len(rows), certArgs); err != nil {
			return err
		}
		return exec(tx, revStmt, "revocations", revocationColumns, len(rows), revArgs)
	}
	const perTx = 100_000
	for done := 0; done < n; {
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for end := min(n, done+perTx); done < end; {
			rows = rows[:0]
			for ; done < end && len(rows) < sqliteBatch; done++ {
				rows = append(rows, src.next())
			}
			if err := insert(tx); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// insertSQL returns an INSERT of rows rows into the columns of table.
func insertSQL(table string, columns []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// openPostgres creates a fresh schema in the database of dsn and opens the
// store on it; close drops the schema.
func openPostgres(ctx context.Context, dsn string) (*database, error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		admin.Close(ctx)
		return nil, err
	}
	schema := pgx.Identifier{"selo_bench_crl_" + hex.EncodeToString(suffix[:])}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() error {
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	schemaDSN, err := withParam(dsn, "search_path", strings.Trim(schema, `"`))
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	st, err := postgres.Open(ctx, schemaDSN, selo.SystemClock{})
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	return &database{
		store: st,
		load: func(ctx context.Context, caID string, n int, now time.Time) error {
			return loadPostgres(ctx, schemaDSN, caID, n, now)
		},
		close: func() error { return errors.Join(st.Close(), drop()) },
	}, nil
}

// loadPostgres copies n revoked certificates of caID in one transaction,
// then runs VACUUM ANALYZE as autovacuum would after such a load: the
// planner learns the size and the visibility map lets the CRL's walk read
// the covering index alone.
func loadPostgres(ctx context.Context, dsn, caID string, n int, now time.Time) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	copyRows := func(tx pgx.Tx, table string, columns []string, values func(r revocationRow) []any) error {
		src := newRowSource(now)
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return values(src.next()), nil
		}))
		return err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := copyRows(tx, "certificates", certificateColumns, func(r revocationRow) []any {
			return []any{r.serial, caID, benchProfile, benchSubject, r.notBefore, r.notAfter, []byte{0x30, 0x00}, "revoked", r.revokedAt}
		}); err != nil {
			return fmt.Errorf("copy certificates: %w", err)
		}
		if err := copyRows(tx, "revocations", revocationColumns, func(r revocationRow) []any {
			var invalidity any
			if !r.invalidity.IsZero() {
				invalidity = r.invalidity
			}
			return []any{r.serial, caID, int16(r.reason), r.revokedAt, invalidity, benchActor}
		}); err != nil {
			return fmt.Errorf("copy revocations: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `VACUUM ANALYZE certificates, revocations`)
	return err
}

// withParam sets a parameter in a URL or keyword/value DSN.
func withParam(dsn, name, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database DSN: %w", err)
		}
		q := u.Query()
		q.Set(name, value)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " " + name + "=" + value, nil
}

// measurement is what one phase cost.
type measurement struct {
	elapsed   time.Duration
	peakHeap  uint64 // highest HeapInuse above the baseline
	peakRSS   uint64 // highest resident set above the baseline; 0 where unknown
	allocated uint64 // bytes allocated on the heap (the TotalAlloc delta)
}

// measure runs f after a GC, sampling the heap and the resident set every
// interval while it runs.
func measure(every time.Duration, f func() error) (measurement, error) {
	runtime.GC()
	debug.FreeOSMemory()
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
	}
	read := func() (inuse, allocs, rss uint64) {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64(), samples[2].Value.Uint64(), residentSet()
	}
	baseHeap, baseAllocs, baseRSS := read()
	peakHeap, peakRSS := baseHeap, baseRSS
	var mu sync.Mutex
	sample := func() {
		heap, _, rss := read()
		mu.Lock()
		peakHeap, peakRSS = max(peakHeap, heap), max(peakRSS, rss)
		mu.Unlock()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	start := time.Now()
	err := f()
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	sample()
	_, allocs, _ := read()
	m := measurement{elapsed: elapsed, peakHeap: peakHeap - baseHeap, allocated: allocs - baseAllocs}
	if baseRSS > 0 {
		m.peakRSS = peakRSS - baseRSS
	}
	return m, err
}

// residentSet returns the process's resident set in bytes, 0 where
// /proc/self/statm cannot tell.
func residentSet() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ratio[T time.Duration | uint64](a, b T) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
