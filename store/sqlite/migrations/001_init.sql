-- Times are INTEGER microseconds since the Unix epoch, UTC: the precision
-- the audit hash covers, and exact to compare and sort.

CREATE TABLE cas (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	parent_id     TEXT REFERENCES cas (id),
	key_id        TEXT NOT NULL,
	key_algorithm TEXT NOT NULL,
	cert_der      BLOB NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('active', 'retired')),
	created_at    INTEGER NOT NULL
);

CREATE TABLE certificates (
	serial        TEXT PRIMARY KEY,
	ca_id         TEXT NOT NULL REFERENCES cas (id),
	profile       TEXT NOT NULL,
	subject       TEXT NOT NULL,
	not_before    INTEGER NOT NULL,
	not_after     INTEGER NOT NULL,
	der           BLOB NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'superseded')),
	key_id        TEXT NOT NULL DEFAULT '',
	reissued_from TEXT NOT NULL DEFAULT '',
	superseded_by TEXT NOT NULL DEFAULT '',
	lint_results  BLOB,
	created_at    INTEGER NOT NULL
);

CREATE INDEX certificates_ca_id_serial ON certificates (ca_id, serial);
CREATE INDEX certificates_status_serial ON certificates (status, serial);

-- details is TEXT, not a JSON type, because the hash covers its exact bytes.
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY CHECK (seq > 0),
	time      INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	object    TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	details   TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);

-- audit_head is the one row naming the last entry appended. It is updated in
-- the same transaction as each append, so removing entries at the end of the
-- log leaves a head that points past them, which AuditHead exposes.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);
