-- hookline schema, version 12: the router drops copies event by event inside a batch
-- (HubSpot re-sends a batch whose events were partly sent before), so one webhook may
-- have several dropped events: dropped_duplicates is keyed by (webhook, event id). A
-- webhook dropped whole has a row for each of its events; one routed with some of its
-- events left out has rows for those.
ALTER TABLE dropped_duplicates DROP CONSTRAINT dropped_duplicates_pkey;
ALTER TABLE dropped_duplicates ADD PRIMARY KEY (webhook_id, event_id);

COMMENT ON TABLE dropped_duplicates IS
    'provider events hookline-router dropped as a copy of an earlier one, by the webhook that carried them';
