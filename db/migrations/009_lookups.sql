-- Nango's lookups: a connection imported from Nango keeps its Jira site as
-- connection_config.baseUrl ("https://acme.atlassian.net/", with or without a path),
-- while a webhook names it by a link into the site. The router compares origins;
-- this function normalises the stored side exactly as the provider module
-- (providers/attribution.c, attribution_url_origin) normalises the request's:
-- lower-case "scheme://host[:port]", without user info or the scheme's default port.
-- NULL when the value is not such a URL.
CREATE FUNCTION hookline_url_origin(url text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT m[1] || '://' || m[2] ||
           CASE WHEN (m[1] = 'https' AND m[3] = ':443') OR (m[1] = 'http' AND m[3] = ':80') THEN ''
                ELSE coalesce(m[3], '') END
    FROM (SELECT regexp_match(lower(url),
                 '^([a-z][a-z0-9+.-]*)://(?:[^/?#]*@)?(\[[^]/?#]*\]|[^][/?#:@]+)(:[0-9]*)?(?:[/?#]|$)') AS m) AS parts
$$;

-- Jira's lookup by site, per integration, without reading every connection's config.
CREATE INDEX connections_base_url_origin_idx
    ON connections (integration_id, hookline_url_origin(connection_config ->> 'baseUrl'));
