-- status_changes records every change of a certificate's status (revoked,
-- a hold released, superseded) and every revocation of a CA certificate,
-- written by triggers in the transaction that makes the change, whatever
-- code path or process makes it. OCSP responders poll it to forget exactly
-- the answers that changed, instead of letting every cached answer expire
-- after a few seconds. A sequence does not order rows by commit, so
-- responders read by changed_at (clock_timestamp() when the row was
-- written) with an overlap longer than any status-changing transaction.
CREATE TABLE status_changes (
	seq        BIGSERIAL PRIMARY KEY,
	serial     TEXT NOT NULL,
	changed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX status_changes_changed_at ON status_changes (changed_at);

CREATE FUNCTION record_status_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO status_changes (serial) VALUES (NEW.serial);
	RETURN NULL;
END;
$$;

CREATE TRIGGER certificates_status_changed AFTER UPDATE OF status ON certificates
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION record_status_change();

CREATE TRIGGER ca_revocations_status_changed AFTER INSERT ON ca_revocations
	FOR EACH ROW EXECUTE FUNCTION record_status_change();
