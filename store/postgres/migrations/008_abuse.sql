-- Rate limits: one row per counted event of a key (a code sent for a
-- credential, a failed login from an address), so that limits hold across
-- replicas and restarts. Rows older than selo.MaxRateWindow are deleted as
-- new events come.
CREATE TABLE rate_events (
	id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key TEXT NOT NULL,
	at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_events_key_at ON rate_events (key, at);
CREATE INDEX rate_events_at ON rate_events (at);

-- Revocation codes: the argon2id hash (PHC string) of the code a holder got
-- when the certificate was issued, to revoke it without its key. One per
-- certificate; a new one replaces the old.
CREATE TABLE revocation_codes (
	serial     TEXT PRIMARY KEY REFERENCES certificates (serial),
	hash       TEXT NOT NULL CHECK (hash <> ''),
	created_at TIMESTAMPTZ NOT NULL
);
