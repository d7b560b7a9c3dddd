-- hookline schema, version 8: the providers' event ids the router has seen, so that a
-- second copy of the same provider event (GitHub re-sending a delivery after a timeout,
-- Stripe retrying for days) is dropped instead of reaching the app as a new webhook.
--
-- One row per (environment, integration, provider event id): the router inserts it
-- before it publishes a webhook (INSERT .. ON CONFLICT, so two routers racing on two
-- copies see exactly one of them win). The row names the webhook that won: the same
-- webhook read again (a router restart re-reads its last batch) still passes. A row
-- older than the router's window (HOOKLINE_ROUTER_DEDUP_WINDOW_S, 72 h by default) no
-- longer counts and is deleted by the routers' periodic cleanup.
CREATE TABLE provider_events (
    environment_id uuid NOT NULL,
    integration    text NOT NULL,
    event_id       text NOT NULL,
    webhook_id     text NOT NULL,
    seen_at        timestamptz NOT NULL DEFAULT now(),
    duplicates     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, integration, event_id)
);
CREATE INDEX provider_events_seen_at_idx ON provider_events (seen_at);

-- The copies the router dropped, by their own webhook id (for `hookline deliveries`).
-- Written best effort with the claim; pruned with provider_events.
CREATE TABLE dropped_duplicates (
    webhook_id       text PRIMARY KEY,
    original_webhook text NOT NULL,
    environment_id   uuid NOT NULL,
    integration      text NOT NULL,
    event_id         text NOT NULL,
    dropped_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dropped_duplicates_dropped_at_idx ON dropped_duplicates (dropped_at);

COMMENT ON TABLE provider_events IS
    'provider event ids seen by hookline-router, for dropping re-sent copies within the dedup window';
COMMENT ON TABLE dropped_duplicates IS 'webhooks hookline-router dropped as a copy of an earlier provider event';
