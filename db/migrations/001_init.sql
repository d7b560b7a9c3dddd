-- hookline schema, version 1: environments, integrations, connections.
-- Applied by `hookline migrate` inside one transaction per file.

CREATE TABLE environments (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL UNIQUE,
    webhook_url           text,
    secondary_webhook_url text,
    signing_key           text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE integrations (
    id             bigserial PRIMARY KEY,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key            text NOT NULL CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    provider       text NOT NULL,
    webhook_secret text,
    client_secret  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (environment_id, key)
);

CREATE TABLE connections (
    id                bigserial PRIMARY KEY,
    integration_id    bigint NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    connection_id     text NOT NULL,
    connection_config jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(connection_config) = 'object'),
    metadata          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (integration_id, connection_id)
);

-- The router finds connections by one key/value of connection_config or metadata,
-- with containment (@>), which these indexes serve.
CREATE INDEX connections_config_idx ON connections USING gin (connection_config jsonb_path_ops);
CREATE INDEX connections_metadata_idx ON connections USING gin (metadata jsonb_path_ops);

-- Daemons cache configuration and LISTEN on this channel to drop their caches.
CREATE FUNCTION hookline_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hookline_config', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER environments_changed AFTER INSERT OR UPDATE OR DELETE ON environments
    FOR EACH STATEMENT EXECUTE FUNCTION hookline_notify_change();
CREATE TRIGGER integrations_changed AFTER INSERT OR UPDATE OR DELETE ON integrations
    FOR EACH STATEMENT EXECUTE FUNCTION hookline_notify_change();
CREATE TRIGGER connections_changed AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION hookline_notify_change();
