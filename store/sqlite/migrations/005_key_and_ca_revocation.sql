-- Key-compromise twins, CA revocation and CRL freshness. Times are INTEGER
-- microseconds, as in 001.

-- spki_sha256 is the hex SHA-256 of the certificate's SubjectPublicKeyInfo:
-- a key-compromise revocation finds every certificate Selo issued for the
-- same key (a re-issued twin under a new CA) through this index. Rows from
-- before this migration get it when the store opens.
ALTER TABLE certificates ADD COLUMN spki_sha256 TEXT NOT NULL DEFAULT '';
CREATE INDEX certificates_spki_sha256 ON certificates (spki_sha256);

-- The newest revocation of a CA, which decides whether its CRL is behind,
-- is one step down this index.
CREATE INDEX revocations_ca_id_revoked_at ON revocations (ca_id, revoked_at);

-- A revoked CA certificate. The CA's own row keeps its status column; a row
-- here makes it revoked (FindCA and ListCAs say so). parent_id is the CA
-- that issued the certificate, whose CRL (an ARL for a root) lists it, and
-- serial the CA certificate's serial.
CREATE TABLE ca_revocations (
	ca_id           TEXT PRIMARY KEY REFERENCES cas (id),
	parent_id       TEXT NOT NULL REFERENCES cas (id),
	serial          TEXT NOT NULL,
	reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason NOT IN (7, 8)),
	revoked_at      INTEGER NOT NULL,
	invalidity_date INTEGER,
	actor           TEXT NOT NULL
);
CREATE INDEX ca_revocations_parent_id ON ca_revocations (parent_id, revoked_at);
