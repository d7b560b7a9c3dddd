-- hookline schema, version 10: a connection's own webhook secret.
--
-- Some providers sign each customer's webhooks with a secret of that customer's own
-- (PagerDuty makes one per subscription), and a webhook named by its URL
-- (?nangoConnectionId=) carries a connection id that an integration-wide signature does
-- not cover. The router verifies such a webhook again with the secret of the connection
-- it names and attributes it only when that secret verifies it (docs/providers.md,
-- "Per-connection secrets"). Stored encrypted like the integrations' secrets
-- (common/secretbox.h), bound to the row "<environment uuid>/<integration key>/<connection id>".
ALTER TABLE connections ADD COLUMN webhook_secret text;

COMMENT ON COLUMN connections.webhook_secret IS
    'encrypted: hl1:<key id>:<base64> (common/secretbox.h); the secret this connection''s webhooks are signed with';
