-- hookline schema, version 13: replays started through the API (POST /v1/replays).
-- hookline-api runs each on a worker thread (common/replay.h: one stage's input window
-- copied to that stage's replay topic) and writes its counts here at most every
-- ~500 ms, with heartbeat_at. The id is also the replay id the copies carry (apps see
-- it as X-Hookline-Replay-Id). A row still 'running' whose heartbeat is stale when an
-- API starts belonged to a process that died: it is marked 'interrupted'. A cancel
-- asked on any API instance sets cancel_requested, which the instance running the
-- replay reads back with its next progress write.
CREATE TABLE replays (
    id               uuid PRIMARY KEY,
    environment_id   uuid,                -- the environment it is limited to; NULL: all (an unscoped key)
    stage            text NOT NULL CONSTRAINT replays_stage CHECK (stage IN ('router', 'forwarder', 'syncer')),
    from_at          timestamptz NOT NULL,
    to_at            timestamptz NOT NULL,
    filters          jsonb NOT NULL DEFAULT '{}',
    dry_run          boolean NOT NULL DEFAULT false,
    rate             double precision,    -- copies a second at most; NULL: no limit
    status           text NOT NULL DEFAULT 'running' CONSTRAINT replays_status
                         CHECK (status IN ('running', 'done', 'cancelled', 'failed', 'interrupted')),
    total            bigint NOT NULL DEFAULT 0,
    read             bigint NOT NULL DEFAULT 0,
    matched          bigint NOT NULL DEFAULT 0,
    published        bigint NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    heartbeat_at     timestamptz NOT NULL DEFAULT now(),
    error            text,
    key_id           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT replays_window CHECK (to_at > from_at)
);
CREATE INDEX replays_created_idx ON replays (created_at);
CREATE INDEX replays_running_idx ON replays (heartbeat_at) WHERE status = 'running';

COMMENT ON TABLE replays IS 'replays started through hookline-api, their progress and outcome';
