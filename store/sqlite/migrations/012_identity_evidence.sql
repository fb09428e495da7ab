-- The photos of a remote identity check (document front and back, selfie),
-- sealed by the registration desk before they reach the database: the
-- image column holds SecretBox ciphertext only. Rows are deleted once
-- expires_at has passed (the desk's retention setting). Times are INTEGER
-- microseconds, as in 001.
CREATE TABLE identity_evidence (
	check_id     TEXT NOT NULL REFERENCES identity_checks (id),
	kind         TEXT NOT NULL CHECK (kind IN ('document-front', 'document-back', 'selfie')),
	content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
	size         INTEGER NOT NULL CHECK (size > 0),
	sealed       BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (check_id, kind)
);

CREATE INDEX identity_evidence_expires_at ON identity_evidence (expires_at, check_id);
