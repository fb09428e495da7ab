package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/store/internal/check"
)

// orderColumns is the column list every order query selects, in the order
// scanOrder reads.
const orderColumns = `id, number, holder, profile, delivery, subject, state, identity_status,
	identity_attempts, paid_at, payment_reference, payment_amount_cents, payment_currency,
	ready_notified_at, public_key_sha256, csr, key_id, reserved_serial, certificate_serial,
	created_by, created_at, updated_at, version, approval`

// identityCheckColumns is the column list of identity check queries, in the
// order scanIdentityCheck reads.
const identityCheckColumns = `id, order_id, document_type, country, document_number, document_expiry,
	mrz, copy, mrz_result, machine_reason, pending, status, officer, decision_reasons,
	submitted_at, decided_at`

// CreateOrder inserts order in state created with its first event and audit
// entry, in one transaction; ECONFLICT when the ID or number exists. Zero
// CreatedAt and UpdatedAt are set from the store's clock, and Version to 1.
func (db *DB) CreateOrder(ctx context.Context, order *selo.Order, audit *selo.AuditEntry) error {
	if err := check.Order(order); err != nil {
		return err
	}
	if audit == nil {
		return check.ErrNoAudit
	}
	normalizeOrderTimes(order)
	holder, subject, err := orderJSON(order)
	if err != nil {
		return err
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if order.CreatedAt.IsZero() {
		order.CreatedAt = tx.now
	}
	order.CreatedAt = fromMicros(toMicros(order.CreatedAt))
	order.UpdatedAt, order.Version = order.CreatedAt, 1
	_, err = tx.ExecContext(ctx, `INSERT INTO orders (`+orderColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		order.ID, order.Number, holder, order.Profile, string(order.Delivery), subject, string(order.State),
		string(order.IdentityStatus), order.IdentityAttempts, toMicrosOrZero(order.PaidAt), order.PaymentReference,
		order.PaymentAmountCents, order.PaymentCurrency, toMicrosOrZero(order.ReadyNotifiedAt), order.PublicKeySHA256,
		order.CSR, order.KeyID, order.ReservedSerial, order.CertificateSerial, order.CreatedBy,
		toMicros(order.CreatedAt), toMicros(order.UpdatedAt), order.Version, string(order.Approval))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "an order with ID %s or number %s already exists", order.ID, order.Number)
	} else if err != nil {
		return fmt.Errorf("insert order %s: %w", order.Number, err)
	}
	if err := insertOrderEvent(ctx, tx, &selo.OrderEvent{OrderID: order.ID, To: selo.OrderCreated, Actor: audit.Actor, Reason: "order created"}); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("create order")
}

// FindOrder returns the order with this ID, or ENOTFOUND.
func (db *DB) FindOrder(ctx context.Context, id string) (*selo.Order, error) {
	return findOrder(ctx, db.read, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id)
}

// FindOrderByNumber returns the order with this number, or ENOTFOUND.
func (db *DB) FindOrderByNumber(ctx context.Context, number string) (*selo.Order, error) {
	return findOrder(ctx, db.read, `SELECT `+orderColumns+` FROM orders WHERE number = ?`, number)
}

// ListOrders returns the orders that match filter, ordered by ID, a page at
// a time (AfterID, Limit).
func (db *DB) ListOrders(ctx context.Context, filter selo.OrderFilter) ([]*selo.Order, error) {
	if filter.Limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", filter.Limit)
	}
	limit := int64(filter.Limit)
	if limit == 0 {
		limit = -1
	}
	var rows *sql.Rows
	var err error
	if filter.State != "" {
		rows, err = db.read.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE state = ? AND id > ? ORDER BY id LIMIT ?`, string(filter.State), filter.AfterID, limit)
	} else {
		rows, err = db.read.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE id > ? ORDER BY id LIMIT ?`, filter.AfterID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	var orders []*selo.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return orders, nil
}

// ListOrderEvents returns the order's history, oldest first.
func (db *DB) ListOrderEvents(ctx context.Context, orderID string) ([]*selo.OrderEvent, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, order_id, from_state, to_state, actor, reason, time
		FROM order_events WHERE order_id = ? ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("list order events: %w", err)
	}
	defer rows.Close()
	var events []*selo.OrderEvent
	for rows.Next() {
		var e selo.OrderEvent
		var from, to string
		var t int64
		if err := rows.Scan(&e.ID, &e.OrderID, &from, &to, &e.Actor, &e.Reason, &t); err != nil {
			return nil, fmt.Errorf("list order events: %w", err)
		}
		e.From, e.To, e.Time = selo.OrderState(from), selo.OrderState(to), fromMicros(t)
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list order events: %w", err)
	}
	return events, nil
}

// UpdateOrder applies u in one transaction: a compare-and-set of the order on
// (id, version, state), its events, the identity check written with it, the
// webhook event ID, the codes and the audit entry.
func (db *DB) UpdateOrder(ctx context.Context, u *selo.OrderUpdate) error {
	if u == nil || u.Order == nil {
		return selo.Errorf(selo.EINVALID, "no order given")
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	o := u.Order
	stored, err := findOrder(ctx, tx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, o.ID)
	if err != nil {
		return err
	}
	if stored.Version != o.Version {
		return selo.Errorf(selo.ECONFLICT, "order %s changed since it was read (it is now %s); read it again", stored.Number, stored.State)
	}
	if err := check.OrderUpdate(u, stored.State); err != nil {
		return err
	}
	normalizeOrderTimes(o)
	holder, subject, err := orderJSON(o)
	if err != nil {
		return err
	}
	updatedAt := tx.now
	res, err := tx.ExecContext(ctx, `UPDATE orders SET holder = ?, subject = ?, state = ?, identity_status = ?,
		identity_attempts = ?, paid_at = ?, payment_reference = ?, payment_amount_cents = ?, payment_currency = ?,
		ready_notified_at = ?, public_key_sha256 = ?, csr = ?, key_id = ?, reserved_serial = ?,
		certificate_serial = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ? AND state = ?`,
		holder, subject, string(o.State), string(o.IdentityStatus), o.IdentityAttempts, toMicrosOrZero(o.PaidAt),
		o.PaymentReference, o.PaymentAmountCents, o.PaymentCurrency, toMicrosOrZero(o.ReadyNotifiedAt),
		o.PublicKeySHA256, o.CSR, o.KeyID, o.ReservedSerial, o.CertificateSerial, toMicros(updatedAt),
		o.ID, o.Version, string(stored.State))
	if err != nil {
		return fmt.Errorf("update order %s: %w", o.Number, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update order %s: %w", o.Number, err)
	} else if n != 1 {
		return selo.Errorf(selo.ECONFLICT, "order %s changed since it was read; read it again", o.Number)
	}
	for _, e := range u.Events {
		e.OrderID = o.ID
		if e.Actor == "" {
			e.Actor = u.Audit.Actor
		}
		if err := insertOrderEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	if u.WebhookEventID != "" {
		_, err := tx.ExecContext(ctx, `INSERT INTO payment_webhook_events (event_id, order_id, received_at) VALUES (?, ?, ?)`,
			u.WebhookEventID, o.ID, toMicros(tx.now))
		if isUniqueViolation(err) {
			return selo.Errorf(selo.ECONFLICT, "payment event %s was already processed", u.WebhookEventID)
		} else if err != nil {
			return fmt.Errorf("record payment event: %w", err)
		}
	}
	if c := u.CreateCheck; c != nil {
		if err := insertIdentityCheck(ctx, tx, c); err != nil {
			return err
		}
	}
	for _, e := range u.Evidence {
		if err := insertEvidence(ctx, tx, e); err != nil {
			return err
		}
	}
	if c := u.DecideCheck; c != nil {
		if err := decideIdentityCheck(ctx, tx, c); err != nil {
			return err
		}
	}
	for _, c := range u.PutCodes {
		if err := putOneTimeCode(ctx, tx, c); err != nil {
			return err
		}
	}
	if err := appendAudit(ctx, tx, u.Audit); err != nil {
		return err
	}
	if err := tx.commit("update order"); err != nil {
		return err
	}
	o.UpdatedAt, o.Version = fromMicros(toMicros(updatedAt)), o.Version+1
	o.CreatedAt = stored.CreatedAt
	return nil
}

// FindIdentityCheck returns the check with this ID, or ENOTFOUND.
func (db *DB) FindIdentityCheck(ctx context.Context, id string) (*selo.IdentityCheck, error) {
	c, err := scanIdentityCheck(db.read.QueryRowContext(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "identity check %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find identity check %s: %w", id, err)
	}
	return c, nil
}

// ListIdentityChecks returns the checks that match filter, ordered by ID.
func (db *DB) ListIdentityChecks(ctx context.Context, filter selo.IdentityCheckFilter) ([]*selo.IdentityCheck, error) {
	if filter.Limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", filter.Limit)
	}
	limit := int64(filter.Limit)
	if limit == 0 {
		limit = -1
	}
	var rows *sql.Rows
	var err error
	switch {
	case filter.OrderID != "" && filter.Status != "":
		rows, err = db.read.QueryContext(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE order_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`, filter.OrderID, string(filter.Status), filter.AfterID, limit)
	case filter.OrderID != "":
		rows, err = db.read.QueryContext(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE order_id = ? AND id > ? ORDER BY id LIMIT ?`, filter.OrderID, filter.AfterID, limit)
	case filter.Status != "":
		rows, err = db.read.QueryContext(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE status = ? AND id > ? ORDER BY id LIMIT ?`, string(filter.Status), filter.AfterID, limit)
	default:
		rows, err = db.read.QueryContext(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE id > ? ORDER BY id LIMIT ?`, filter.AfterID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list identity checks: %w", err)
	}
	defer rows.Close()
	var checks []*selo.IdentityCheck
	for rows.Next() {
		c, err := scanIdentityCheck(rows)
		if err != nil {
			return nil, fmt.Errorf("list identity checks: %w", err)
		}
		checks = append(checks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list identity checks: %w", err)
	}
	return checks, nil
}

// PutOneTimeCode stores code with its audit entry, replacing any code of the
// same owner and purpose (and its failures).
func (db *DB) PutOneTimeCode(ctx context.Context, code *selo.OneTimeCode, audit *selo.AuditEntry) error {
	if err := check.OneTimeCode(code); err != nil {
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
	if err := putOneTimeCode(ctx, tx, code); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("put one-time code")
}

// TryOneTimeCode counts an attempt and returns the code, in one statement.
func (db *DB) TryOneTimeCode(ctx context.Context, owner, purpose string, maxFailures int) (*selo.OneTimeCode, error) {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	c, err := scanOneTimeCode(tx.QueryRowContext(ctx, `UPDATE one_time_codes SET failures = failures + 1
		WHERE owner = ? AND purpose = ? AND failures < ?
		RETURNING owner, purpose, hash, expires_at, failures, created_at`, owner, purpose, maxFailures))
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM one_time_codes WHERE owner = ? AND purpose = ?`, owner, purpose).Scan(&n); err != nil {
			return nil, fmt.Errorf("find one-time code: %w", err)
		}
		if n == 0 {
			return nil, selo.Errorf(selo.ENOTFOUND, "no %s code for %s", purpose, owner)
		}
		return nil, selo.Errorf(selo.EFORBIDDEN, "the %s code was entered wrongly too many times and no longer works", purpose)
	} else if err != nil {
		return nil, fmt.Errorf("try one-time code: %w", err)
	}
	return c, tx.commit("try one-time code")
}

// ReleaseOneTimeCodeTry takes back one counted attempt.
func (db *DB) ReleaseOneTimeCodeTry(ctx context.Context, owner, purpose string) error {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE one_time_codes SET failures = failures - 1
		WHERE owner = ? AND purpose = ? AND failures > 0`, owner, purpose); err != nil {
		return fmt.Errorf("release one-time code try: %w", err)
	}
	return tx.commit("release one-time code try")
}

// DeleteOneTimeCode removes a code with its audit entry; ENOTFOUND when there
// is none.
func (db *DB) DeleteOneTimeCode(ctx context.Context, owner, purpose string, audit *selo.AuditEntry) error {
	if audit == nil {
		return check.ErrNoAudit
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM one_time_codes WHERE owner = ? AND purpose = ?`, owner, purpose)
	if err != nil {
		return fmt.Errorf("delete one-time code: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete one-time code: %w", err)
	} else if n == 0 {
		return selo.Errorf(selo.ENOTFOUND, "no %s code for %s", purpose, owner)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit("delete one-time code")
}

// insertOrderEvent appends e to its order's history inside tx.
func insertOrderEvent(ctx context.Context, tx *Tx, e *selo.OrderEvent) error {
	if e.Time.IsZero() {
		e.Time = tx.now
	}
	e.Time = fromMicros(toMicros(e.Time))
	err := tx.QueryRowContext(ctx, `INSERT INTO order_events (order_id, from_state, to_state, actor, reason, time)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, e.OrderID, string(e.From), string(e.To), e.Actor, e.Reason, toMicros(e.Time)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("insert order event: %w", err)
	}
	return nil
}

// insertIdentityCheck inserts c inside tx.
func insertIdentityCheck(ctx context.Context, tx *Tx, c *selo.IdentityCheck) error {
	if c.SubmittedAt.IsZero() {
		c.SubmittedAt = tx.now
	}
	c.SubmittedAt = fromMicros(toMicros(c.SubmittedAt))
	pending, err := json.Marshal(nonNil(c.Pending))
	if err != nil {
		return fmt.Errorf("encode identity check: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO identity_checks (`+identityCheckColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OrderID, c.DocumentType, c.Country, c.DocumentNumber, toMicrosOrZero(c.DocumentExpiry), c.MRZ,
		c.Copy, c.MRZResult, c.MachineReason, string(pending), string(c.Status), c.Officer, c.DecisionReasons,
		toMicros(c.SubmittedAt), toMicrosOrZero(c.DecidedAt))
	if isUniqueViolation(err) {
		return selo.Errorf(selo.ECONFLICT, "identity check %s already exists", c.ID)
	} else if err != nil {
		return fmt.Errorf("insert identity check %s: %w", c.ID, err)
	}
	return nil
}

// decideIdentityCheck writes an officer's decision on a pending check inside
// tx; ECONFLICT when the check is no longer pending.
func decideIdentityCheck(ctx context.Context, tx *Tx, c *selo.IdentityCheck) error {
	if c.DecidedAt.IsZero() {
		c.DecidedAt = tx.now
	}
	c.DecidedAt = fromMicros(toMicros(c.DecidedAt))
	res, err := tx.ExecContext(ctx, `UPDATE identity_checks SET status = ?, officer = ?, decision_reasons = ?, decided_at = ?
		WHERE id = ? AND order_id = ? AND status = 'pending'`,
		string(c.Status), c.Officer, c.DecisionReasons, toMicros(c.DecidedAt), c.ID, c.OrderID)
	if err != nil {
		return fmt.Errorf("decide identity check %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("decide identity check %s: %w", c.ID, err)
	} else if n != 1 {
		return selo.Errorf(selo.ECONFLICT, "identity check %s is not pending: it was already decided", c.ID)
	}
	return nil
}

// putOneTimeCode inserts or replaces c inside tx.
func putOneTimeCode(ctx context.Context, tx *Tx, c *selo.OneTimeCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = tx.now
	}
	c.CreatedAt, c.ExpiresAt = fromMicros(toMicros(c.CreatedAt)), fromMicros(toMicros(c.ExpiresAt))
	_, err := tx.ExecContext(ctx, `INSERT INTO one_time_codes (owner, purpose, hash, expires_at, failures, created_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner, purpose) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at,
			failures = excluded.failures, created_at = excluded.created_at`,
		c.Owner, c.Purpose, c.Hash, toMicros(c.ExpiresAt), c.Failures, toMicros(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("store %s code: %w", c.Purpose, err)
	}
	return nil
}

// findOrder runs a query for one order; ENOTFOUND when there is none.
func findOrder(ctx context.Context, q querier, query string, arg string) (*selo.Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "order %s not found", arg)
	} else if err != nil {
		return nil, fmt.Errorf("find order %s: %w", arg, err)
	}
	return o, nil
}

// scanOrder reads one row of orderColumns.
func scanOrder(s scanner) (*selo.Order, error) {
	var o selo.Order
	var holder, subject, delivery, state, identity, approval string
	var paid, notified, created, updated int64
	if err := s.Scan(&o.ID, &o.Number, &holder, &o.Profile, &delivery, &subject, &state, &identity,
		&o.IdentityAttempts, &paid, &o.PaymentReference, &o.PaymentAmountCents, &o.PaymentCurrency,
		&notified, &o.PublicKeySHA256, &o.CSR, &o.KeyID, &o.ReservedSerial, &o.CertificateSerial,
		&o.CreatedBy, &created, &updated, &o.Version, &approval); err != nil {
		return nil, err
	}
	if err := decodeOrderJSON(&o, holder, subject); err != nil {
		return nil, err
	}
	o.Delivery, o.State, o.IdentityStatus = selo.Delivery(delivery), selo.OrderState(state), selo.IdentityCheckStatus(identity)
	o.Approval = selo.ApprovalType(approval)
	o.PaidAt, o.ReadyNotifiedAt = fromMicrosOrZero(paid), fromMicrosOrZero(notified)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &o, nil
}

// scanIdentityCheck reads one row of identityCheckColumns.
func scanIdentityCheck(s scanner) (*selo.IdentityCheck, error) {
	var c selo.IdentityCheck
	var status, pending string
	var expiry, submitted, decided int64
	if err := s.Scan(&c.ID, &c.OrderID, &c.DocumentType, &c.Country, &c.DocumentNumber, &expiry, &c.MRZ, &c.Copy,
		&c.MRZResult, &c.MachineReason, &pending, &status, &c.Officer, &c.DecisionReasons, &submitted, &decided); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(pending), &c.Pending); err != nil {
		return nil, fmt.Errorf("decode identity check %s: %w", c.ID, err)
	}
	c.Status = selo.IdentityCheckStatus(status)
	c.DocumentExpiry, c.SubmittedAt, c.DecidedAt = fromMicrosOrZero(expiry), fromMicros(submitted), fromMicrosOrZero(decided)
	return &c, nil
}

// scanOneTimeCode reads owner, purpose, hash, expires_at, failures, created_at.
func scanOneTimeCode(s scanner) (*selo.OneTimeCode, error) {
	var c selo.OneTimeCode
	var expires, created int64
	if err := s.Scan(&c.Owner, &c.Purpose, &c.Hash, &expires, &c.Failures, &created); err != nil {
		return nil, err
	}
	c.ExpiresAt, c.CreatedAt = fromMicros(expires), fromMicros(created)
	return &c, nil
}

// normalizeOrderTimes sets o's times to what the store keeps: UTC, to the
// microsecond, so that o equals the order read back.
func normalizeOrderTimes(o *selo.Order) {
	o.PaidAt = fromMicrosOrZero(toMicrosOrZero(o.PaidAt))
	o.ReadyNotifiedAt = fromMicrosOrZero(toMicrosOrZero(o.ReadyNotifiedAt))
	o.Holder.BirthDate = fromMicrosOrZero(toMicrosOrZero(o.Holder.BirthDate))
}

// orderJSON encodes the holder and subject columns.
func orderJSON(o *selo.Order) (holder, subject string, err error) {
	h := o.Holder
	if !h.BirthDate.IsZero() {
		h.BirthDate = h.BirthDate.UTC()
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", "", fmt.Errorf("encode order holder: %w", err)
	}
	sb, err := json.Marshal(o.Subject)
	if err != nil {
		return "", "", fmt.Errorf("encode order subject: %w", err)
	}
	return string(hb), string(sb), nil
}

// decodeOrderJSON decodes the holder and subject columns into o.
func decodeOrderJSON(o *selo.Order, holder, subject string) error {
	if err := json.Unmarshal([]byte(holder), &o.Holder); err != nil {
		return fmt.Errorf("decode order holder: %w", err)
	}
	if err := json.Unmarshal([]byte(subject), &o.Subject); err != nil {
		return fmt.Errorf("decode order subject: %w", err)
	}
	return nil
}

// toMicrosOrZero stores the zero time as 0, meaning unset.
func toMicrosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMicros(t)
}

// fromMicrosOrZero reads 0 back as the zero time.
func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// nonNil returns s, or an empty slice for nil, so it encodes as [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
