-- hookline schema, version 7: the admin API (hookline-api): keys, audit, webhook log.
--
-- API keys: `hookline api-key create` prints "hlk_<key id>_<secret>" once; only the
-- SHA-256 of the whole key is stored (the secret has 256 random bits, so a plain hash
-- is enough), and hookline-api compares it in constant time after finding the row by
-- its key id. A key sees every environment (all_environments) or the listed ones.
CREATE TABLE api_keys (
    id               text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    key_hash         bytea NOT NULL CHECK (length(key_hash) = 32),
    name             text NOT NULL DEFAULT '',
    scope            text NOT NULL CONSTRAINT api_keys_scope CHECK (scope IN ('read', 'write')),
    all_environments boolean NOT NULL DEFAULT false,
    environment_ids  uuid[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    CONSTRAINT api_keys_some_environment CHECK (all_environments OR cardinality(environment_ids) > 0)
);

-- Every write the API performed (or refused past authentication), for who-did-what.
CREATE TABLE api_audit (
    id         bigserial PRIMARY KEY,
    key_id     text NOT NULL,
    action     text NOT NULL,          -- "POST /v1/environments/{env}/connections"
    target     text NOT NULL,          -- the resource, e.g. "<env>/<integration>/<connection>"
    status     integer NOT NULL,       -- the HTTP status answered
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_audit_at_idx ON api_audit (at);
CREATE INDEX api_audit_key_idx ON api_audit (key_id, at);

-- The webhook log: hookline-api's consumer (its own group) copies what the pipeline's
-- topics say about each webhook, in batches, off the hot path. One row per message read
-- (received on webhooks.raw, routed per connection, dead-lettered, quarantined) and per
-- redrive made through the API; (topic, partition, kafka_offset) makes a batch read
-- again after a crash insert nothing new. Pruned after HOOKLINE_API_LOG_RETENTION_DAYS.
CREATE TABLE webhook_events (
    id             bigserial PRIMARY KEY,
    webhook_id     text NOT NULL,
    kind           text NOT NULL CONSTRAINT webhook_events_kind
                       CHECK (kind IN ('received', 'routed', 'dead-lettered', 'quarantined', 'redriven')),
    at             timestamptz NOT NULL,
    environment_id uuid,
    integration    text,
    provider       text,
    connection_id  text,
    event_type     text,
    detail         jsonb NOT NULL DEFAULT '{}',
    topic          text,
    kafka_partition integer,
    kafka_offset   bigint,
    logged_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_events_once UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX webhook_events_webhook_idx ON webhook_events (webhook_id, at);
CREATE INDEX webhook_events_at_idx ON webhook_events (at);

-- One row per webhook for the searchable list (newest first), kept up to date from the
-- same batches: connections and event type from its routed messages, whether it was
-- dead-lettered or quarantined.
CREATE TABLE webhook_log (
    webhook_id       text PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    environment_id   uuid,
    integration      text,
    provider         text,
    verified         text,
    event_type       text,
    connections      text[] NOT NULL DEFAULT '{}',
    attributed       boolean,
    dead_lettered_at timestamptz,
    quarantined_at   timestamptz
);
CREATE INDEX webhook_log_env_idx ON webhook_log (environment_id, received_at DESC, webhook_id DESC);
CREATE INDEX webhook_log_received_idx ON webhook_log (received_at);
CREATE INDEX webhook_log_connections_idx ON webhook_log USING gin (connections);

-- The destinations view reads recent attempts by destination.
CREATE INDEX delivery_attempts_destination_idx ON delivery_attempts (destination, attempted_at);
