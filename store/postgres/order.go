package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	defer tx.rollback()
	if order.CreatedAt.IsZero() {
		order.CreatedAt = tx.now
	}
	order.CreatedAt = micro(order.CreatedAt)
	order.UpdatedAt, order.Version = order.CreatedAt, 1
	_, err = tx.Exec(ctx, `INSERT INTO orders (`+orderColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		order.ID, order.Number, holder, order.Profile, string(order.Delivery), subject, string(order.State),
		string(order.IdentityStatus), order.IdentityAttempts, nullTime(order.PaidAt), order.PaymentReference,
		order.PaymentAmountCents, order.PaymentCurrency, nullTime(order.ReadyNotifiedAt), order.PublicKeySHA256,
		order.CSR, order.KeyID, order.ReservedSerial, order.CertificateSerial, order.CreatedBy,
		order.CreatedAt, order.UpdatedAt, order.Version, string(order.Approval))
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
	return tx.commit(ctx, "create order")
}

// FindOrder returns the order with this ID, or ENOTFOUND.
func (db *DB) FindOrder(ctx context.Context, id string) (*selo.Order, error) {
	return findOrder(ctx, db.pool, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id)
}

// FindOrderByNumber returns the order with this number, or ENOTFOUND.
func (db *DB) FindOrderByNumber(ctx context.Context, number string) (*selo.Order, error) {
	return findOrder(ctx, db.pool, `SELECT `+orderColumns+` FROM orders WHERE number = $1`, number)
}

// ListOrders returns the orders that match filter, ordered by ID, a page at
// a time (AfterID, Limit).
func (db *DB) ListOrders(ctx context.Context, filter selo.OrderFilter) ([]*selo.Order, error) {
	if filter.Limit < 0 {
		return nil, selo.Errorf(selo.EINVALID, "negative limit %d", filter.Limit)
	}
	var limit *int64 // LIMIT NULL is no limit
	if filter.Limit > 0 {
		n := int64(filter.Limit)
		limit = &n
	}
	var rows pgx.Rows
	var err error
	if filter.State != "" {
		rows, err = db.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3`, string(filter.State), filter.AfterID, limit)
	} else {
		rows, err = db.pool.Query(ctx, `SELECT `+orderColumns+` FROM orders
			WHERE id > $1 ORDER BY id LIMIT $2`, filter.AfterID, limit)
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
	rows, err := db.pool.Query(ctx, `SELECT id, order_id, from_state, to_state, actor, reason, time
		FROM order_events WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("list order events: %w", err)
	}
	defer rows.Close()
	var events []*selo.OrderEvent
	for rows.Next() {
		var e selo.OrderEvent
		var from, to string
		if err := rows.Scan(&e.ID, &e.OrderID, &from, &to, &e.Actor, &e.Reason, &e.Time); err != nil {
			return nil, fmt.Errorf("list order events: %w", err)
		}
		e.From, e.To, e.Time = selo.OrderState(from), selo.OrderState(to), e.Time.UTC()
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
	defer tx.rollback()
	o := u.Order
	stored, err := findOrder(ctx, tx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, o.ID)
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
	updatedAt := micro(tx.now)
	res, err := tx.Exec(ctx, `UPDATE orders SET holder = $1, subject = $2, state = $3, identity_status = $4,
		identity_attempts = $5, paid_at = $6, payment_reference = $7, payment_amount_cents = $8, payment_currency = $9,
		ready_notified_at = $10, public_key_sha256 = $11, csr = $12, key_id = $13, reserved_serial = $14,
		certificate_serial = $15, updated_at = $16, version = version + 1
		WHERE id = $17 AND version = $18 AND state = $19`,
		holder, subject, string(o.State), string(o.IdentityStatus), o.IdentityAttempts, nullTime(o.PaidAt),
		o.PaymentReference, o.PaymentAmountCents, o.PaymentCurrency, nullTime(o.ReadyNotifiedAt),
		o.PublicKeySHA256, o.CSR, o.KeyID, o.ReservedSerial, o.CertificateSerial, updatedAt,
		o.ID, o.Version, string(stored.State))
	if err != nil {
		return fmt.Errorf("update order %s: %w", o.Number, err)
	}
	if res.RowsAffected() != 1 {
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
		_, err := tx.Exec(ctx, `INSERT INTO payment_webhook_events (event_id, order_id, received_at) VALUES ($1, $2, $3)`,
			u.WebhookEventID, o.ID, micro(tx.now))
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
	if err := tx.commit(ctx, "update order"); err != nil {
		return err
	}
	o.UpdatedAt, o.Version = micro(updatedAt), o.Version+1
	o.CreatedAt = stored.CreatedAt
	return nil
}

// FindIdentityCheck returns the check with this ID, or ENOTFOUND.
func (db *DB) FindIdentityCheck(ctx context.Context, id string) (*selo.IdentityCheck, error) {
	c, err := scanIdentityCheck(db.pool.QueryRow(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	var limit *int64 // LIMIT NULL is no limit
	if filter.Limit > 0 {
		n := int64(filter.Limit)
		limit = &n
	}
	var rows pgx.Rows
	var err error
	switch {
	case filter.OrderID != "" && filter.Status != "":
		rows, err = db.pool.Query(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE order_id = $1 AND status = $2 AND id > $3 ORDER BY id LIMIT $4`, filter.OrderID, string(filter.Status), filter.AfterID, limit)
	case filter.OrderID != "":
		rows, err = db.pool.Query(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE order_id = $1 AND id > $2 ORDER BY id LIMIT $3`, filter.OrderID, filter.AfterID, limit)
	case filter.Status != "":
		rows, err = db.pool.Query(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3`, string(filter.Status), filter.AfterID, limit)
	default:
		rows, err = db.pool.Query(ctx, `SELECT `+identityCheckColumns+` FROM identity_checks
			WHERE id > $1 ORDER BY id LIMIT $2`, filter.AfterID, limit)
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
	defer tx.rollback()
	if err := putOneTimeCode(ctx, tx, code); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "put one-time code")
}

// TryOneTimeCode counts an attempt and returns the code, in one statement.
func (db *DB) TryOneTimeCode(ctx context.Context, owner, purpose string, maxFailures int) (*selo.OneTimeCode, error) {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	c, err := scanOneTimeCode(tx.QueryRow(ctx, `UPDATE one_time_codes SET failures = failures + 1
		WHERE owner = $1 AND purpose = $2 AND failures < $3
		RETURNING owner, purpose, hash, expires_at, failures, created_at`, owner, purpose, maxFailures))
	if errors.Is(err, pgx.ErrNoRows) {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM one_time_codes WHERE owner = $1 AND purpose = $2`, owner, purpose).Scan(&n); err != nil {
			return nil, fmt.Errorf("find one-time code: %w", err)
		}
		if n == 0 {
			return nil, selo.Errorf(selo.ENOTFOUND, "no %s code for %s", purpose, owner)
		}
		return nil, selo.Errorf(selo.EFORBIDDEN, "the %s code was entered wrongly too many times and no longer works", purpose)
	} else if err != nil {
		return nil, fmt.Errorf("try one-time code: %w", err)
	}
	return c, tx.commit(ctx, "try one-time code")
}

// ReleaseOneTimeCodeTry takes back one counted attempt.
func (db *DB) ReleaseOneTimeCodeTry(ctx context.Context, owner, purpose string) error {
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if _, err := tx.Exec(ctx, `UPDATE one_time_codes SET failures = failures - 1
		WHERE owner = $1 AND purpose = $2 AND failures > 0`, owner, purpose); err != nil {
		return fmt.Errorf("release one-time code try: %w", err)
	}
	return tx.commit(ctx, "release one-time code try")
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
	defer tx.rollback()
	res, err := tx.Exec(ctx, `DELETE FROM one_time_codes WHERE owner = $1 AND purpose = $2`, owner, purpose)
	if err != nil {
		return fmt.Errorf("delete one-time code: %w", err)
	}
	if res.RowsAffected() == 0 {
		return selo.Errorf(selo.ENOTFOUND, "no %s code for %s", purpose, owner)
	}
	if err := appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	return tx.commit(ctx, "delete one-time code")
}

// insertOrderEvent appends e to its order's history inside tx.
func insertOrderEvent(ctx context.Context, tx *Tx, e *selo.OrderEvent) error {
	if e.Time.IsZero() {
		e.Time = tx.now
	}
	e.Time = micro(e.Time)
	err := tx.QueryRow(ctx, `INSERT INTO order_events (order_id, from_state, to_state, actor, reason, time)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, e.OrderID, string(e.From), string(e.To), e.Actor, e.Reason, e.Time).Scan(&e.ID)
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
	c.SubmittedAt = micro(c.SubmittedAt)
	pending, err := json.Marshal(nonNil(c.Pending))
	if err != nil {
		return fmt.Errorf("encode identity check: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO identity_checks (`+identityCheckColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.OrderID, c.DocumentType, c.Country, c.DocumentNumber, nullTime(c.DocumentExpiry), c.MRZ,
		c.Copy, c.MRZResult, c.MachineReason, string(pending), string(c.Status), c.Officer, c.DecisionReasons,
		c.SubmittedAt, nullTime(c.DecidedAt))
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
	c.DecidedAt = micro(c.DecidedAt)
	res, err := tx.Exec(ctx, `UPDATE identity_checks SET status = $1, officer = $2, decision_reasons = $3, decided_at = $4
		WHERE id = $5 AND order_id = $6 AND status = 'pending'`,
		string(c.Status), c.Officer, c.DecisionReasons, c.DecidedAt, c.ID, c.OrderID)
	if err != nil {
		return fmt.Errorf("decide identity check %s: %w", c.ID, err)
	}
	if res.RowsAffected() != 1 {
		return selo.Errorf(selo.ECONFLICT, "identity check %s is not pending: it was already decided", c.ID)
	}
	return nil
}

// putOneTimeCode inserts or replaces c inside tx.
func putOneTimeCode(ctx context.Context, tx *Tx, c *selo.OneTimeCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = tx.now
	}
	c.CreatedAt, c.ExpiresAt = micro(c.CreatedAt), micro(c.ExpiresAt)
	_, err := tx.Exec(ctx, `INSERT INTO one_time_codes (owner, purpose, hash, expires_at, failures, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (owner, purpose) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at,
			failures = excluded.failures, created_at = excluded.created_at`,
		c.Owner, c.Purpose, c.Hash, c.ExpiresAt, c.Failures, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("store %s code: %w", c.Purpose, err)
	}
	return nil
}

// findOrder runs a query for one order; ENOTFOUND when there is none.
func findOrder(ctx context.Context, q querier, query string, arg string) (*selo.Order, error) {
	o, err := scanOrder(q.QueryRow(ctx, query, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, selo.Errorf(selo.ENOTFOUND, "order %s not found", arg)
	} else if err != nil {
		return nil, fmt.Errorf("find order %s: %w", arg, err)
	}
	return o, nil
}

// scanOrder reads one row of orderColumns.
func scanOrder(row pgx.Row) (*selo.Order, error) {
	var o selo.Order
	var holder, subject, delivery, state, identity, approval string
	var paid, notified *time.Time
	if err := row.Scan(&o.ID, &o.Number, &holder, &o.Profile, &delivery, &subject, &state, &identity,
		&o.IdentityAttempts, &paid, &o.PaymentReference, &o.PaymentAmountCents, &o.PaymentCurrency,
		&notified, &o.PublicKeySHA256, &o.CSR, &o.KeyID, &o.ReservedSerial, &o.CertificateSerial,
		&o.CreatedBy, &o.CreatedAt, &o.UpdatedAt, &o.Version, &approval); err != nil {
		return nil, err
	}
	if err := decodeOrderJSON(&o, holder, subject); err != nil {
		return nil, err
	}
	o.Delivery, o.State, o.IdentityStatus = selo.Delivery(delivery), selo.OrderState(state), selo.IdentityCheckStatus(identity)
	o.Approval = selo.ApprovalType(approval)
	o.PaidAt, o.ReadyNotifiedAt = fromNullTime(paid), fromNullTime(notified)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return &o, nil
}

// scanIdentityCheck reads one row of identityCheckColumns.
func scanIdentityCheck(row pgx.Row) (*selo.IdentityCheck, error) {
	var c selo.IdentityCheck
	var status, pending string
	var expiry, decided *time.Time
	if err := row.Scan(&c.ID, &c.OrderID, &c.DocumentType, &c.Country, &c.DocumentNumber, &expiry, &c.MRZ, &c.Copy,
		&c.MRZResult, &c.MachineReason, &pending, &status, &c.Officer, &c.DecisionReasons, &c.SubmittedAt, &decided); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(pending), &c.Pending); err != nil {
		return nil, fmt.Errorf("decode identity check %s: %w", c.ID, err)
	}
	c.Status = selo.IdentityCheckStatus(status)
	c.DocumentExpiry, c.SubmittedAt, c.DecidedAt = fromNullTime(expiry), c.SubmittedAt.UTC(), fromNullTime(decided)
	return &c, nil
}

// scanOneTimeCode reads owner, purpose, hash, expires_at, failures, created_at.
func scanOneTimeCode(row pgx.Row) (*selo.OneTimeCode, error) {
	var c selo.OneTimeCode
	if err := row.Scan(&c.Owner, &c.Purpose, &c.Hash, &c.ExpiresAt, &c.Failures, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.ExpiresAt, c.CreatedAt = c.ExpiresAt.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// normalizeOrderTimes sets o's times to what the store keeps: UTC, to the
// microsecond, so that o equals the order read back.
func normalizeOrderTimes(o *selo.Order) {
	o.PaidAt = fromNullTime(nullTime(o.PaidAt))
	o.ReadyNotifiedAt = fromNullTime(nullTime(o.ReadyNotifiedAt))
	o.Holder.BirthDate = fromNullTime(nullTime(o.Holder.BirthDate))
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

// nullTime stores the zero time as NULL, meaning unset.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	m := micro(t)
	return &m
}

// fromNullTime reads NULL back as the zero time.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nonNil returns s, or an empty slice for nil, so it encodes as [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
