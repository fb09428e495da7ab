-- Web sessions of the holder portal and the back office (internal/web).
-- token_hash is the hex SHA-256 of the cookie's random token; the token
-- itself is never stored. kind tells the portals apart (holder, officer,
-- reset); subject is the account or operator ID.
CREATE TABLE web_sessions (
	token_hash TEXT PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind <> ''),
	subject    TEXT NOT NULL,
	stage      TEXT NOT NULL,
	data       TEXT NOT NULL DEFAULT '',
	failures   INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMPTZ NOT NULL,
	seen_at    TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_subject ON web_sessions (kind, subject);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The holder's signature history reads one actor's entries of one action,
-- newest first, a page at a time (ListAuditByActor).
CREATE INDEX audit_log_actor_action ON audit_log (actor, action, seq);

-- The holder portal lists a holder's orders by the e-mail in the order's
-- holder JSON: a generated column (nothing writes it), and its index.
ALTER TABLE orders ADD COLUMN holder_email TEXT GENERATED ALWAYS AS (lower(holder::jsonb ->> 'Email')) STORED;
CREATE INDEX orders_holder_email ON orders (holder_email, created_at);
