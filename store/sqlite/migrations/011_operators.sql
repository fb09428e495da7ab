-- Roles and dual control. API keys made before roles existed held every
-- power of the operator API; they keep it as admin and officer, so nothing
-- breaks, and operators narrow them (docs/operators.md, "Roles and dual
-- control"). Times are INTEGER microseconds, as in 001.
ALTER TABLE api_keys ADD COLUMN roles TEXT NOT NULL DEFAULT 'admin,officer';

CREATE TABLE operators (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL CHECK (roles <> ''),
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL
);

-- A proposal is an operation one admin asks for and a different admin
-- approves; the CHECK keeps a proposer from being their own approver even
-- for a row written past the service.
CREATE TABLE proposals (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	params      TEXT NOT NULL,
	reason      TEXT NOT NULL,
	proposed_by TEXT NOT NULL,
	proposed_at INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'executing', 'executed', 'failed')),
	decided_by  TEXT NOT NULL DEFAULT '',
	decided_at  INTEGER,
	comment     TEXT NOT NULL DEFAULT '',
	executed_by TEXT NOT NULL DEFAULT '',
	executed_at INTEGER,
	result      TEXT NOT NULL DEFAULT '',
	CHECK (status IN ('pending', 'rejected') OR decided_by <> proposed_by)
);
CREATE INDEX proposals_status ON proposals (status, proposed_at);
