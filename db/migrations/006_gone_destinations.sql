-- hookline schema, version 6: destinations that answered 410 Gone.
--
-- A receiver that answers 410 says the endpoint is gone for good, so the forwarder
-- stops sending to that URL: it records the URL here (every forwarder process sees it
-- through the configuration-change notification) and dead-letters later deliveries
-- to it without a request. `hookline destinations clear URL` lifts the flag, and
-- `hookline dlq redrive --destination URL` sends what was held back.

CREATE TABLE gone_destinations (
    url        text PRIMARY KEY,
    status     integer NOT NULL,
    webhook_id text,
    flagged_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE gone_destinations IS
    'destination URLs that answered 410 Gone: the forwarder sends them nothing until the flag is cleared';

CREATE TRIGGER gone_destinations_changed AFTER INSERT OR UPDATE OR DELETE ON gone_destinations
    FOR EACH STATEMENT EXECUTE FUNCTION hookline_notify_change();
