-- hookline schema, version 11: the W3C trace a sync run belongs to.
--
-- A routed webhook carries the router's span of its trace (traceparent); the run
-- created from it keeps that value, so the job the syncer sends later (at once, after
-- a retry or after a restart) is a span of the same trace as the webhook's delivery to
-- the app. NULL for runs created before traces were carried: they start a new trace.
ALTER TABLE sync_runs ADD COLUMN traceparent text;
