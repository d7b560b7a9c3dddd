-- hookline schema, version 11: the W3C trace a sync run belongs to, and the circuit
-- breakers of the forwarders.
--
-- A routed webhook carries the router's span of its trace (traceparent); the run
-- created from it keeps that value, so the job the syncer sends later (at once, after
-- a retry or after a restart) is a span of the same trace as the webhook's delivery to
-- the app. NULL for runs created before traces were carried: they start a new trace.
ALTER TABLE sync_runs ADD COLUMN traceparent text;

-- The forwarders' circuit breakers, for the API's destination health. A circuit is per
-- destination endpoint (scheme://host:port, as the forwarder keys it) and per forwarder
-- process; a process writes a row only when its circuit changes (opened, half-open for
-- a probe), deletes it when the circuit closes and when the process drains, and
-- refreshes seen_at every 30 s while it holds a row: a row not seen for minutes was
-- left by a process that was killed.
CREATE TABLE destination_circuits (
    endpoint   text NOT NULL,
    forwarder  uuid NOT NULL,
    host       text NOT NULL,
    state      text NOT NULL CHECK (state IN ('open', 'half-open')),
    failures   integer NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint, forwarder)
);
