-- status_changes records every change of a certificate's status (revoked,
-- a hold released, superseded) and every revocation of a CA certificate,
-- written by triggers in the transaction that makes the change, whatever
-- code path or process makes it. OCSP responders poll it to forget exactly
-- the answers that changed, instead of letting every cached answer expire
-- after a few seconds. seq orders the changes as they committed (SQLite has
-- one writer; AUTOINCREMENT never reuses a number); changed_at is the real
-- time in microseconds, for pruning.
CREATE TABLE status_changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	serial     TEXT NOT NULL,
	changed_at INTEGER NOT NULL
);
CREATE INDEX status_changes_changed_at ON status_changes (changed_at);

CREATE TRIGGER certificates_status_changed AFTER UPDATE OF status ON certificates
WHEN OLD.status <> NEW.status
BEGIN
	INSERT INTO status_changes (serial, changed_at) VALUES (NEW.serial, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER ca_revocations_status_changed AFTER INSERT ON ca_revocations
BEGIN
	INSERT INTO status_changes (serial, changed_at) VALUES (NEW.serial, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
