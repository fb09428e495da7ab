-- Remote signing hardening (issue 13): what a session may reach, which
-- authorizer approved a SAD, and the lockout of an authenticator secret.
--
-- sessions.scope: 'account' (the holder logged in to the holder API) or 'csc'
-- (an integrator's CSC access token, refused on the holder account API).
-- Sessions opened before this migration get 'csc', the least privilege.
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT 'csc' CHECK (scope IN ('account', 'csc'));

-- signature_activations.authorizer_id names the authorizer whose code
-- approved the SAD ('' for other approvals), so that disabling the
-- authorizer ends its outstanding SADs.
ALTER TABLE signature_activations ADD COLUMN authorizer_id TEXT NOT NULL DEFAULT '';
CREATE INDEX signature_activations_account_id ON signature_activations (account_id, used_at);

-- A wrong authenticator code counts against every confirmed authenticator
-- secret of the account, not against the credential it was sent for, so N
-- credentials sharing one app do not give N times the guesses.
ALTER TABLE authenticators ADD COLUMN failed_approvals INTEGER NOT NULL DEFAULT 0 CHECK (failed_approvals >= 0);
ALTER TABLE authenticators ADD COLUMN locked_until INTEGER;
ALTER TABLE authenticators ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0 CHECK (lockouts >= 0);
