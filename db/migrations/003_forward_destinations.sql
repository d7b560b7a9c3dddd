-- hookline schema, version 3: where and how the forwarder delivers.
--
-- A connection may name its own primary URL (Nango's webhook URL override), an
-- integration may turn forwarding off (sync-only), an environment chooses the body
-- format (the Nango envelope or the provider's raw request) and whether Nango's legacy
-- X-Nango-Signature header is sent, and a rotated signing key keeps signing alongside
-- the new one until previous_signing_key_until (a grace period for receivers).
-- URLs are checked by the CLI (http/https) before they are stored.

ALTER TABLE connections
    ADD COLUMN webhook_url_override text;

ALTER TABLE integrations
    ADD COLUMN forward_enabled boolean NOT NULL DEFAULT true;

ALTER TABLE environments
    ADD COLUMN forward_mode text NOT NULL DEFAULT 'envelope'
        CONSTRAINT environments_forward_mode CHECK (forward_mode IN ('envelope', 'raw')),
    ADD COLUMN legacy_signature boolean NOT NULL DEFAULT false,
    ADD COLUMN previous_signing_key_until timestamptz;

COMMENT ON COLUMN connections.webhook_url_override IS
    'forwards of this connection go here instead of the environment''s webhook_url (the secondary URL still gets a copy)';
COMMENT ON COLUMN integrations.forward_enabled IS
    'false: webhooks of this integration are not forwarded (sync-only)';
COMMENT ON COLUMN environments.forward_mode IS
    'envelope: the Nango-compatible JSON envelope; raw: the provider''s body and headers unchanged';
COMMENT ON COLUMN environments.legacy_signature IS
    'also send X-Nango-Signature: hex SHA-256 of signing key || body (Nango''s legacy header)';
COMMENT ON COLUMN environments.previous_signing_key IS
    'encrypted; the signing key before the last rotation, still signing (webhook-signature) until previous_signing_key_until';
COMMENT ON COLUMN environments.previous_signing_key_until IS
    'end of the rotation grace period: the previous signing key signs only before this time';
