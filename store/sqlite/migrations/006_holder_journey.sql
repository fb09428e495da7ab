-- A re-issue moves every credential certified by the superseded certificate
-- to the new one in the transaction that supersedes it (issue 12): this index
-- finds them without reading every credential.
CREATE INDEX credentials_certificate_serial ON credentials (certificate_serial);

-- The approval method a cloud order chose for the credential it makes
-- (sms, authenticator, wallet, authorizer); '' for other deliveries.
ALTER TABLE orders ADD COLUMN approval TEXT NOT NULL DEFAULT '';
