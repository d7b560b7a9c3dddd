-- hookline schema, version 14: indexes for hookline-api's queries, so that none of them
-- reads a whole table as the log and the runs grow.
--
-- A webhook's timeline and GET /v1/sync-runs?webhook_id= find its sync runs.
CREATE INDEX sync_runs_webhook_idx ON sync_runs (webhook_id);

-- Dead letters: the list (by environment, newest first) and a redrive's lookup of one
-- dead letter by its id "<partition>-<offset>", which compares the two columns.
CREATE INDEX webhook_events_dead_letters_idx ON webhook_events (environment_id, at) WHERE kind = 'dead-lettered';
CREATE INDEX webhook_events_dead_letter_idx ON webhook_events (kafka_partition, kafka_offset)
    WHERE kind = 'dead-lettered';

-- GET /v1/webhooks?status=quarantined|dead-lettered: a webhook's status is computed per
-- row, so a rare one would be looked for through the whole log; the query also says
-- the column those two need, which these partial indexes (newest first) serve.
CREATE INDEX webhook_log_quarantined_idx ON webhook_log (received_at DESC, webhook_id DESC)
    WHERE quarantined_at IS NOT NULL;
CREATE INDEX webhook_log_dead_lettered_idx ON webhook_log (received_at DESC, webhook_id DESC)
    WHERE dead_lettered_at IS NOT NULL;
