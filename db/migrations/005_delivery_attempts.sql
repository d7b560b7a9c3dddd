-- hookline schema, version 5: every delivery attempt of the forwarder, by webhook id.
--
-- An append-only log: the forwarder inserts one row per HTTP attempt (and per pass
-- parked by an open circuit), in batches from a background writer that drops rows
-- rather than slow deliveries when the database cannot keep up. Rows are never updated;
-- `hookline deliveries prune --older-than 30d` deletes old ones. No foreign keys: the
-- attempts of a webhook outlive the environment, integration or connection they were
-- made for. `hookline deliveries WEBHOOK_ID` reads them.

CREATE TABLE delivery_attempts (
    id             bigserial PRIMARY KEY,
    webhook_id     text NOT NULL,
    routed_id      text NOT NULL,
    environment_id uuid,
    integration    text NOT NULL,
    connection_id  text,
    destination    text NOT NULL,
    pass           integer NOT NULL CHECK (pass >= 0),
    attempt        integer NOT NULL CHECK (attempt >= 0),
    status         integer NOT NULL DEFAULT 0,
    error          text,
    latency_ms     double precision NOT NULL DEFAULT 0,
    result         text NOT NULL CONSTRAINT delivery_attempts_result CHECK (result IN
                       ('delivered', 'failed', 'refused', 'gone', 'parked', 'dead-lettered', 'retry-scheduled')),
    attempted_at   timestamptz NOT NULL
);

CREATE INDEX delivery_attempts_webhook_idx ON delivery_attempts (webhook_id, attempted_at);
CREATE INDEX delivery_attempts_attempted_at_idx ON delivery_attempts (attempted_at);

COMMENT ON TABLE delivery_attempts IS
    'append-only log of the forwarder''s delivery attempts (written in batches by hookline-forwarder, '
    'best effort: rows may be dropped while the database is unavailable); pruned by '
    '`hookline deliveries prune`';
COMMENT ON COLUMN delivery_attempts.webhook_id IS 'hl.webhook-id: the id ingress gave the webhook';
COMMENT ON COLUMN delivery_attempts.environment_id IS 'the environment (no foreign key: attempts outlive it); NULL if the message named none';
COMMENT ON COLUMN delivery_attempts.routed_id IS
    'hl.routed-id: the delivery''s id per (webhook, connection), sent to the app as webhook-id';
COMMENT ON COLUMN delivery_attempts.destination IS 'the URL the attempt was made to';
COMMENT ON COLUMN delivery_attempts.pass IS '0: the first pass; n: the pass read from retry topic n';
COMMENT ON COLUMN delivery_attempts.attempt IS 'the attempt''s number across the whole delivery to this destination';
COMMENT ON COLUMN delivery_attempts.status IS 'HTTP status of the answer, 0 when there was none';
COMMENT ON COLUMN delivery_attempts.error IS 'transport error, SSRF refusal or "HTTP <status>"; NULL when delivered';
COMMENT ON COLUMN delivery_attempts.attempted_at IS 'when the attempt started (the forwarder''s clock)';
