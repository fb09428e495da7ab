-- Remote signing: accounts, sessions, credentials and what approves their
-- signatures. A time that may be unset (locked_until, decided_at, used_at) is
-- NULL while unset. This migration depends only on 001 (it references certificates),
-- so it applies the same whether 003 is applied before or after it.

-- email_key is the e-mail lower-cased by the store (Go's strings.ToLower, not
-- the database's lower(), which depends on the locale), so that uniqueness and look-up agree.
CREATE TABLE accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	email_key     TEXT NOT NULL UNIQUE CHECK (email_key <> ''),
	name          TEXT NOT NULL,
	mobile        TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	failed_logins INTEGER NOT NULL CHECK (failed_logins >= 0),
	locked_until  TIMESTAMPTZ,
	lockouts      INTEGER NOT NULL CHECK (lockouts >= 0),
	disabled      BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);

-- token_hash is the SHA-256 of the bearer token: the token is never stored.
CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_account_id ON sessions (account_id);

-- UNIQUE (id, account_id) lets the tables below hold a credential and its
-- owner in one foreign key, so no row can tie a credential to another account.
-- certificate_serial is NULL until the certificate is issued.
CREATE TABLE credentials (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id),
	key_id             TEXT NOT NULL,
	key_algorithm      TEXT NOT NULL CHECK (key_algorithm IN ('ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096')),
	certificate_serial TEXT COLLATE "C" REFERENCES certificates (serial),
	profile            TEXT NOT NULL,
	approval_type      TEXT NOT NULL CHECK (approval_type IN ('sms', 'authenticator', 'wallet', 'authorizer')),
	mobile             TEXT NOT NULL,
	description        TEXT NOT NULL,
	status             TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
	failed_approvals   INTEGER NOT NULL CHECK (failed_approvals >= 0),
	locked_until       TIMESTAMPTZ,
	lockouts           INTEGER NOT NULL CHECK (lockouts >= 0),
	created_at         TIMESTAMPTZ NOT NULL,
	UNIQUE (id, account_id),
	CHECK (approval_type <> 'authorizer' OR profile = 'qualified-seal')
);
CREATE INDEX credentials_account_id ON credentials (account_id, created_at, id);

-- last_step is the TOTP time step of the last accepted code (-1 before the
-- first): a code is accepted only for a later step, so none is used twice.
CREATE TABLE authenticators (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id),
	name          TEXT NOT NULL,
	sealed_secret BYTEA NOT NULL CHECK (length(sealed_secret) > 0),
	otp_algorithm TEXT NOT NULL CHECK (otp_algorithm IN ('SHA1', 'SHA256', 'SHA512')),
	otp_digits    INTEGER NOT NULL CHECK (otp_digits BETWEEN 6 AND 10),
	otp_period    INTEGER NOT NULL CHECK (otp_period > 0),
	last_step     BIGINT NOT NULL CHECK (last_step >= -1),
	confirmed     BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX authenticators_account_id ON authenticators (account_id, created_at, id);

CREATE TABLE wallet_enrollments (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id),
	sealed_secret BYTEA NOT NULL CHECK (length(sealed_secret) > 0),
	expires_at    TIMESTAMPTZ NOT NULL,
	used          BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	UNIQUE (id, account_id)
);

-- enrollment_id is UNIQUE: one enrolment registers one wallet, and only
-- for the account it was made for.
CREATE TABLE wallets (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts (id),
	enrollment_id TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	public_key    BYTEA NOT NULL CHECK (length(public_key) > 0),
	disabled      BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	FOREIGN KEY (enrollment_id, account_id) REFERENCES wallet_enrollments (id, account_id)
);
CREATE INDEX wallets_account_id ON wallets (account_id, created_at, id);

CREATE TABLE authorizers (
	id            TEXT PRIMARY KEY,
	credential_id TEXT NOT NULL,
	account_id    TEXT NOT NULL,
	name          TEXT NOT NULL,
	sealed_secret BYTEA NOT NULL CHECK (length(sealed_secret) > 0),
	otp_algorithm TEXT NOT NULL CHECK (otp_algorithm IN ('SHA1', 'SHA256', 'SHA512')),
	otp_digits    INTEGER NOT NULL CHECK (otp_digits BETWEEN 6 AND 10),
	otp_period    INTEGER NOT NULL CHECK (otp_period > 0),
	last_step     BIGINT NOT NULL CHECK (last_step >= -1),
	enabled       BOOLEAN NOT NULL,
	confirmed     BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	UNIQUE (credential_id, name),
	CHECK (confirmed OR NOT enabled),
	FOREIGN KEY (credential_id, account_id) REFERENCES credentials (id, account_id)
);
CREATE INDEX authorizers_credential_id ON authorizers (credential_id, created_at, id);

CREATE TABLE authorizations (
	id            TEXT PRIMARY KEY,
	authorizer_id TEXT NOT NULL REFERENCES authorizers (id),
	not_before    TIMESTAMPTZ NOT NULL,
	not_after     TIMESTAMPTZ NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	CHECK (not_after > not_before)
);
CREATE INDEX authorizations_authorizer_id ON authorizations (authorizer_id, created_at, not_after);

-- hashes is a length-prefixed list (store/internal/hashlist), NULL when the
-- approval precedes the hashes. credential_id is NULL when the approval is
-- about no credential (a wallet enrolment, say). wallet_id has no foreign
-- key on purpose: the approval keeps the wallet that answered as evidence
-- after the wallet is removed.
CREATE TABLE approvals (
	id                 TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL REFERENCES accounts (id),
	credential_id      TEXT,
	purpose            TEXT NOT NULL CHECK (purpose <> ''),
	type               TEXT NOT NULL CHECK (type IN ('sms', 'authenticator', 'wallet', 'authorizer')),
	hash_algorithm_oid TEXT NOT NULL,
	hashes             BYTEA,
	description        TEXT NOT NULL,
	code_hash          BYTEA,
	wallet_id          TEXT NOT NULL,
	subject            TEXT NOT NULL,
	failures           INTEGER NOT NULL CHECK (failures >= 0),
	status             TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'dead', 'consumed')),
	created_at         TIMESTAMPTZ NOT NULL,
	expires_at         TIMESTAMPTZ NOT NULL,
	decided_at         TIMESTAMPTZ,
	FOREIGN KEY (credential_id, account_id) REFERENCES credentials (id, account_id)
);
CREATE INDEX approvals_account_id_status ON approvals (account_id, status, created_at);

-- sad_hash is the SHA-256 of the SAD: the SAD itself is never stored. The
-- foreign key on (credential_id, account_id) refuses a SAD for a credential
-- of another account.
CREATE TABLE signature_activations (
	sad_hash           TEXT PRIMARY KEY,
	account_id         TEXT NOT NULL,
	credential_id      TEXT NOT NULL,
	hash_algorithm_oid TEXT NOT NULL CHECK (hash_algorithm_oid <> ''),
	hashes             BYTEA NOT NULL,
	created_at         TIMESTAMPTZ NOT NULL,
	expires_at         TIMESTAMPTZ NOT NULL,
	used_at            TIMESTAMPTZ,
	FOREIGN KEY (credential_id, account_id) REFERENCES credentials (id, account_id)
);
