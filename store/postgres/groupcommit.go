package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/selo-qtsp/selo"
)

// Group commit of issuances. Every audited write locks the head of the audit
// log from its second-to-last round trip until its COMMIT is flushed to disk,
// so audited writes run one after the other, each paying two round trips and
// a WAL flush under the lock. Concurrent CreateCertificate calls are instead
// gathered into one transaction: the certificates and their audit entries,
// chained in the order of the group, commit together with one head lock, one
// BEGIN and COMMIT and one WAL flush. Durability is unchanged: a call returns
// only after the COMMIT that holds its rows, and a crash loses whole groups
// that no caller was told about.
//
// A group forms while the previous one is in flight: the first caller to
// find no group in flight leads; callers that arrive meanwhile queue, and
// when the leader's group is done the oldest of them leads the next group
// with everything queued by then. Nobody waits for a timer.

// maxGroupSize bounds the certificates of one transaction, and so the time
// the audit head stays locked.
const maxGroupSize = 64

// groupTimeout bounds one group's transaction. A group does not use its
// callers' contexts: one caller going away must not fail the others.
const groupTimeout = 30 * time.Second

// certificateJob is one CreateCertificate call waiting in the queue.
type certificateJob struct {
	ctx   context.Context
	cert  *selo.Certificate
	audit *selo.AuditEntry

	wake chan struct{} // receives once: done, or lead is set
	lead bool          // set, under the queue's lock, before wake when this caller leads the next group
	err  error
}

// groupQueue holds the calls waiting for the next group.
type groupQueue struct {
	mu       sync.Mutex
	waiting  []*certificateJob
	inFlight bool

	committed atomic.Int64 // group transactions committed, for tests
}

// createCertificateGrouped stores cert and its audit entry in the
// next group and returns the outcome of that certificate alone.
func (db *DB) createCertificateGrouped(ctx context.Context, cert *selo.Certificate, audit *selo.AuditEntry) error {
	job := &certificateJob{ctx: ctx, cert: cert, audit: audit, wake: make(chan struct{}, 1)}
	q := &db.groups
	q.mu.Lock()
	q.waiting = append(q.waiting, job)
	if q.inFlight {
		q.mu.Unlock()
		// Not ctx.Done(): once queued, the job may be committed at any time,
		// and the caller must learn whether it was.
		<-job.wake
		if !job.lead {
			return job.err
		}
		q.mu.Lock()
	}
	q.inFlight = true
	db.leadGroups(job)
	return job.err
}

// leadGroups runs one group with the queued jobs (self among them), then
// hands the lead to the oldest job still queued, or ends the flight. q.mu is
// held on entry and released on return.
func (db *DB) leadGroups(self *certificateJob) {
	q := &db.groups
	n := min(len(q.waiting), maxGroupSize)
	// self is queued, and the oldest queued job leads, so self is in jobs.
	jobs := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	q.mu.Unlock()

	// Deferred, so that a panic in the group (which net/http would recover
	// from for this request alone) neither strands the queue nor tells the
	// others that their certificates were stored.
	defer func() {
		q.mu.Lock()
		if len(q.waiting) > 0 {
			next := q.waiting[0]
			next.lead = true
			next.wake <- struct{}{}
		} else {
			q.inFlight = false
			q.waiting = nil
		}
		q.mu.Unlock()
		for _, j := range jobs {
			if j != self {
				j.wake <- struct{}{}
			}
		}
	}()
	for _, j := range jobs {
		j.err = errGroupUnfinished
	}
	db.commitGroup(jobs)
}

// errGroupUnfinished is the outcome of a call whose group ended without
// saying what became of it.
var errGroupUnfinished = errors.New("create certificate: the group transaction ended without an outcome")

// commitGroup stores jobs in one transaction and sets each job's err (nil
// for a stored certificate). When
// PostgreSQL refuses the transaction (an error other than a taken serial,
// which does not abort it), each job runs again in a transaction of its
// own, so that one bad certificate fails only its own call.
func (db *DB) commitGroup(jobs []*certificateJob) {
	live := jobs[:0:0]
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.err = err // gone before anything was sent: nothing stored
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	if len(live) == 1 {
		// Alone: the plain statements cost PostgreSQL less than the arrays.
		live[0].err = db.createCertificateAlone(ctx, live[0].cert, live[0].audit)
		return
	}
	err := db.tryGroup(ctx, live)
	if err == nil {
		return
	}
	if !refused(err) {
		// The connection failed, or the deadline passed: whether COMMIT
		// happened is unknown, and running the calls again could store a
		// certificate twice under two serials. Each caller learns of it.
		for _, j := range live {
			j.err = err
		}
		return
	}
	for _, j := range live {
		// Each alone with a budget of its own: the group may have spent
		// most of its own waiting for a lock before it was refused.
		ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
		j.err = db.createCertificateAlone(ctx, j.cert, j.audit)
		cancel()
	}
}

// refused reports whether err is PostgreSQL's answer that the transaction
// failed, so that nothing of it was committed: COMMIT answered with
// ROLLBACK, or an error of severity ERROR, which aborts the transaction and
// leaves the session open. A FATAL or PANIC ends the session, and can come
// after COMMIT went through (a backend terminated while it flushed
// commits, then reports the termination): not a refusal.
func refused(err error) bool {
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	severity := pgErr.SeverityUnlocalized
	if severity == "" {
		severity = pgErr.Severity
	}
	return severity == "ERROR"
}

// tryGroup is one transaction for jobs: BEGIN, one statement inserting
// every certificate (a serial already taken is skipped, not an error) and
// the audit head lock in one round trip; one statement appending the audit
// entries of the certificates that went in, and COMMIT, in the next. It sets
// err of the jobs whose serial was taken; the others succeeded when it
// returns nil.
func (db *DB) tryGroup(ctx context.Context, jobs []*certificateJob) error {
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return err
	}
	defer tx.end()
	// A serial twice in the group: the first one sent decides, the others
	// conflict with it or with the row it conflicts with.
	send := make([]*selo.Certificate, 0, len(jobs))
	owner := make(map[string]*certificateJob, len(jobs))
	for _, j := range jobs {
		if owner[j.cert.Serial] == nil {
			owner[j.cert.Serial] = j
			prepareCertificate(tx, j.cert)
			send = append(send, j.cert)
		}
	}
	inserted := make(map[string]bool, len(send))
	tx.query(func(rows pgx.Rows, err error) error {
		var serials []string
		if err == nil {
			serials, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			// An unknown CA among them, say: commitGroup retries each alone.
			return fmt.Errorf("insert %d certificates: %w", len(send), err)
		}
		for _, s := range serials {
			inserted[s] = true
		}
		return nil
	}, insertCertificatesSQL, certificateColumnArrays(send)...)

	stored := func(j *certificateJob) bool { return owner[j.cert.Serial] == j && inserted[j.cert.Serial] }
	err = tx.commitAuditedEntries(ctx, "create certificates", func() []*selo.AuditEntry {
		entries := make([]*selo.AuditEntry, 0, len(jobs))
		for _, j := range jobs {
			if stored(j) {
				entries = append(entries, j.audit)
			}
		}
		return entries
	})
	if err != nil && !tx.committed {
		return err
	}
	// COMMIT was answered COMMIT: every certificate that went in is stored
	// with its audit entry, even if the session failed right after.
	db.groups.committed.Add(1)
	for _, j := range jobs {
		j.err = nil
		if !stored(j) {
			j.err = selo.Errorf(selo.ECONFLICT, "certificate serial %s already exists", j.cert.Serial)
		}
	}
	return nil
}

// GroupCommitQueueLength returns how many certificates wait for the next
// group transaction, for the metrics.
func (db *DB) GroupCommitQueueLength() int {
	q := &db.groups
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}
