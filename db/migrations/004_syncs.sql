-- hookline schema, version 4: syncs and their runs.
--
-- A sync subscribes an integration's webhooks (event types, '*' for all, first match
-- wins in the array's order) and names a runner: an HTTP URL, or a Kafka topic that a
-- runner consumes. hookline-syncer turns each matching routed webhook into one run per
-- (webhook, sync, connection): the run's unique key makes creation idempotent, so a
-- redelivered or replayed message creates nothing new. sync_runs is the run queue
-- (an outbox): the syncer claims due runs from it, records every attempt's outcome on
-- the row, and on success can notify the environment's app.

ALTER TABLE environments
    ADD COLUMN sync_notifications boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN environments.sync_notifications IS
    'send the app a "sync" webhook (through webhooks.notifications) when a webhook-started sync run succeeds';

CREATE TABLE syncs (
    id             bigserial PRIMARY KEY,
    integration_id bigint NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    subscriptions  text[] NOT NULL CHECK (cardinality(subscriptions) BETWEEN 1 AND 64
                                          AND array_position(subscriptions, NULL) IS NULL),
    runner_url     text,
    runner_topic   text,
    enabled        boolean NOT NULL DEFAULT true,
    max_attempts   integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT syncs_one_runner CHECK ((runner_url IS NULL) <> (runner_topic IS NULL)),
    UNIQUE (integration_id, name)
);
COMMENT ON COLUMN syncs.subscriptions IS
    'event types in order ("contact.propertyChange", "*" for all): the first equal to the webhook''s wins';

CREATE TRIGGER syncs_changed AFTER INSERT OR UPDATE OR DELETE ON syncs
    FOR EACH STATEMENT EXECUTE FUNCTION hookline_notify_change();

CREATE TABLE sync_runs (
    -- Derived from (routed id, sync id): the same webhook gives the same run id.
    id                   uuid PRIMARY KEY,
    sync_id              bigint NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    environment_id       uuid NOT NULL,           -- the sync's, for the per-environment bound
    connection_id        text NOT NULL,
    webhook_id           text NOT NULL,
    routed_id            text NOT NULL,
    event_type           text NOT NULL DEFAULT '',
    matched_subscription text NOT NULL,
    provider             text NOT NULL DEFAULT '',
    payload              bytea NOT NULL,           -- the routed value, byte for byte (may not be JSON)
    status               text NOT NULL DEFAULT 'queued'
        CONSTRAINT sync_runs_status CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'expired')),
    attempts             integer NOT NULL DEFAULT 0,
    last_error           text,
    result               jsonb,                    -- the runner's JSON object answer (counts), if any
    -- Arrival order: runs of one (sync, connection) start in seq order, one at a time.
    seq                  bigint GENERATED ALWAYS AS IDENTITY,
    webhook_received_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    queued_at            timestamptz NOT NULL DEFAULT now(), -- age for expiry; reset by `sync retry`
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    finished_at          timestamptz,
    -- Success notification: due is set with the success, cleared once Kafka has it.
    notification_due     boolean NOT NULL DEFAULT false,
    notified_at          timestamptz,
    CONSTRAINT sync_runs_once UNIQUE (routed_id, sync_id, connection_id)
);

-- The dispatcher: due queued runs, earlier runs of the same (sync, connection), the
-- running count of an environment, leases, expiry, pending notifications.
CREATE INDEX sync_runs_due_idx ON sync_runs (next_attempt_at) WHERE status = 'queued';
CREATE INDEX sync_runs_order_idx ON sync_runs (sync_id, connection_id, seq)
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_running_idx ON sync_runs (environment_id, started_at) WHERE status = 'running';
CREATE INDEX sync_runs_queued_age_idx ON sync_runs (queued_at) WHERE status = 'queued';
CREATE INDEX sync_runs_notify_idx ON sync_runs (finished_at) WHERE notification_due;
-- `hookline sync runs`: an environment's runs, newest first.
CREATE INDEX sync_runs_env_idx ON sync_runs (environment_id, created_at DESC);
