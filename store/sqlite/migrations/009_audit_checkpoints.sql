-- Signed audit checkpoints: each says the log had seq entries and entry seq's
-- hash was hash at time, signed by the audit key that lives in the key store
-- (never in this database). A checkpoint is only ever added; verification
-- checks the signature with the key store's public key, so a row forged or
-- changed here does not verify. time is INTEGER microseconds, as in 001.
CREATE TABLE audit_checkpoints (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	seq       INTEGER NOT NULL CHECK (seq > 0),
	hash      TEXT NOT NULL,
	time      INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	signature BLOB NOT NULL
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq, time);
