-- Tables live in the first schema of the connection's search_path, so one
-- database can hold several Selo instances (and tests) side by side.

CREATE TABLE cas (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	parent_id     TEXT REFERENCES cas (id),
	key_id        TEXT NOT NULL,
	key_algorithm TEXT NOT NULL,
	cert_der      BYTEA NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('active', 'retired')),
	created_at    TIMESTAMPTZ NOT NULL
);

-- serial sorts bytewise (COLLATE "C") whatever the database's locale, so
-- keyset pagination orders exactly as the SQLite store does, on the index.
CREATE TABLE certificates (
	serial        TEXT COLLATE "C" PRIMARY KEY,
	ca_id         TEXT NOT NULL REFERENCES cas (id),
	profile       TEXT NOT NULL,
	subject       TEXT NOT NULL,
	not_before    TIMESTAMPTZ NOT NULL,
	not_after     TIMESTAMPTZ NOT NULL,
	der           BYTEA NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'superseded')),
	key_id        TEXT NOT NULL DEFAULT '',
	reissued_from TEXT NOT NULL DEFAULT '',
	superseded_by TEXT NOT NULL DEFAULT '',
	lint_results  BYTEA,
	created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX certificates_ca_id_serial ON certificates (ca_id, serial);
CREATE INDEX certificates_status_serial ON certificates (status, serial);

-- details is TEXT, not JSONB, because the hash covers its exact bytes and
-- JSONB would reorder keys and drop whitespace.
CREATE TABLE audit_log (
	seq       BIGINT PRIMARY KEY CHECK (seq > 0),
	time      TIMESTAMPTZ NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	object    TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	details   TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);

-- audit_head is the one row naming the last entry appended. Every append
-- locks it (SELECT ... FOR UPDATE) and moves it in the same transaction, so
-- appends from any number of replicas form one chain that never forks, and
-- removing entries at the end of the log leaves a head pointing past them.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	hash       TEXT NOT NULL UNIQUE,
	created_at TIMESTAMPTZ NOT NULL,
	disabled   BOOLEAN NOT NULL DEFAULT FALSE
);
