-- hookline schema, version 2: secret rotation and per-integration verification settings.
--
-- Secret columns stay text but hold ciphertext written by the CLI:
-- 'hl1:<key id>:<base64(nonce | ciphertext | tag)>' (AES-256-GCM, see common/secretbox.h),
-- bound to their column and row. Values written before this version are plain text
-- until `hookline secrets reencrypt` encrypts them; the daemons read both.

ALTER TABLE integrations
    ADD COLUMN previous_webhook_secret text,
    ADD COLUMN previous_client_secret  text,
    ADD COLUMN allow_unverified        boolean NOT NULL DEFAULT false,
    ADD COLUMN verify_config           jsonb
        CONSTRAINT integrations_verify_config_object
        CHECK (verify_config IS NULL OR jsonb_typeof(verify_config) = 'object');

ALTER TABLE environments
    ADD COLUMN previous_signing_key text;

COMMENT ON COLUMN integrations.webhook_secret IS 'encrypted: hl1:<key id>:<base64> (common/secretbox.h)';
COMMENT ON COLUMN integrations.client_secret IS 'encrypted: hl1:<key id>:<base64> (common/secretbox.h)';
COMMENT ON COLUMN integrations.previous_webhook_secret IS
    'encrypted; the webhook secret before the last rotation, still accepted while set';
COMMENT ON COLUMN integrations.previous_client_secret IS
    'encrypted; the client secret before the last rotation, still accepted while set';
COMMENT ON COLUMN integrations.allow_unverified IS
    'accept webhooks that cannot be verified because no secret is set (forwarded as unverified)';
COMMENT ON COLUMN integrations.verify_config IS
    'per-integration verification settings (a JSON object) for configurable providers such as generic-hmac';
COMMENT ON COLUMN environments.signing_key IS 'encrypted: hl1:<key id>:<base64> (common/secretbox.h)';
COMMENT ON COLUMN environments.previous_signing_key IS 'encrypted; the signing key before the last rotation';
