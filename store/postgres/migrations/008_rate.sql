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
