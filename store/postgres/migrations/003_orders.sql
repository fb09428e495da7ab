-- Orders, their history, identity checks, processed payment webhooks and
-- one-time codes. Times are TIMESTAMPTZ; NULL means unset.

-- holder and subject are JSON: they describe the order and are never
-- searched. version is the compare-and-set token of every update.
CREATE TABLE orders (
	id                   TEXT COLLATE "C" PRIMARY KEY,
	number               TEXT NOT NULL UNIQUE,
	holder               TEXT NOT NULL,
	profile              TEXT NOT NULL,
	delivery             TEXT NOT NULL CHECK (delivery IN ('software', 'token', 'cloud')),
	subject              TEXT NOT NULL,
	state                TEXT NOT NULL CHECK (state IN ('created', 'identity_validated', 'paid', 'ready',
		'email_verified', 'key_ready', 'issued', 'delivered', 'rejected', 'cancelled')),
	identity_status      TEXT NOT NULL DEFAULT '',
	identity_attempts    INTEGER NOT NULL DEFAULT 0,
	paid_at              TIMESTAMPTZ,
	payment_reference    TEXT NOT NULL DEFAULT '',
	payment_amount_cents BIGINT NOT NULL DEFAULT 0,
	payment_currency     TEXT NOT NULL DEFAULT '',
	ready_notified_at    TIMESTAMPTZ,
	public_key_sha256    TEXT NOT NULL DEFAULT '',
	csr                  BYTEA,
	key_id               TEXT NOT NULL DEFAULT '',
	reserved_serial      TEXT NOT NULL DEFAULT '',
	certificate_serial   TEXT NOT NULL DEFAULT '',
	created_by           TEXT NOT NULL,
	created_at           TIMESTAMPTZ NOT NULL,
	updated_at           TIMESTAMPTZ NOT NULL,
	version              BIGINT NOT NULL CHECK (version > 0)
);

-- The officer's queues: orders in a state, page by page.
CREATE INDEX orders_state_id ON orders (state, id);

CREATE TABLE order_events (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id   TEXT NOT NULL REFERENCES orders (id),
	from_state TEXT NOT NULL,
	to_state   TEXT NOT NULL,
	actor      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	time       TIMESTAMPTZ NOT NULL
);

CREATE INDEX order_events_order_id ON order_events (order_id, id);

CREATE TABLE identity_checks (
	id               TEXT COLLATE "C" PRIMARY KEY,
	order_id         TEXT NOT NULL REFERENCES orders (id),
	document_type    TEXT NOT NULL,
	country          TEXT NOT NULL,
	document_number  TEXT NOT NULL,
	document_expiry  TIMESTAMPTZ,
	mrz              TEXT NOT NULL,
	copy             BOOLEAN NOT NULL,
	mrz_result       TEXT NOT NULL,
	machine_reason   TEXT NOT NULL,
	pending          TEXT NOT NULL,
	status           TEXT NOT NULL CHECK (status IN ('pending', 'refused', 'approved', 'rejected')),
	officer          TEXT NOT NULL,
	decision_reasons TEXT NOT NULL,
	submitted_at     TIMESTAMPTZ NOT NULL,
	decided_at       TIMESTAMPTZ
);

CREATE INDEX identity_checks_status_id ON identity_checks (status, id);
CREATE INDEX identity_checks_order_id ON identity_checks (order_id, id);

-- One row per payment webhook event processed: the primary key refuses a
-- replay.
CREATE TABLE payment_webhook_events (
	event_id    TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL REFERENCES orders (id),
	received_at TIMESTAMPTZ NOT NULL
);

-- hash is HMAC-SHA256 of the code under the service's code key: the codes
-- themselves are never stored.
CREATE TABLE one_time_codes (
	owner      TEXT NOT NULL,
	purpose    TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	failures   INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (owner, purpose)
);
