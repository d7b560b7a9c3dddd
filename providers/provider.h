/*
 * provider: what hookline knows about each third-party API, behind one interface.
 *
 * Ingress asks a provider to verify a request on its raw bytes and for the Kafka
 * ordering key; router asks it to attribute a stored webhook to connection
 * identifiers. Providers are rows of a table (provider_table.c); code exists only for
 * what a row cannot say.
 *
 * Threads: every function here is pure and thread-safe. Strings in the request are
 * borrowed for the duration of the call.
 */
#ifndef HOOKLINE_PROVIDER_H
#define HOOKLINE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct http_header {
    const char *name; /* as received; compare case-insensitively */
    const char *value;
};

/* A webhook request as the provider sent it (ingress) or as stored in Kafka (router). */
struct webhook_request {
    const char *method; /* "POST" */
    const char *url;    /* the full public URL the provider called (with query) */
    const char *path;   /* "/webhook/<env>/<key>" */
    const char *query;  /* raw query without '?', "" if none */
    const struct http_header *headers;
    size_t nheaders;
    const unsigned char *body; /* exact bytes; not NUL-terminated */
    size_t body_len;
    time_t now; /* the time to judge timestamps against */
};

/* The integration's secrets (NULL or "" when not set). While a secret is being
 * rotated, its previous value is accepted too (verification only; signing uses the
 * current one). */
struct provider_secrets {
    const char *webhook_secret;
    const char *client_secret;
    const char *previous_webhook_secret;
    const char *previous_client_secret;
    /* Per-integration verification settings (the integration's verify_config), a JSON
     * object, or NULL. For generic-hmac its scheme, e.g. {"header":"X-Signature",
     * "algorithm":"sha256","encoding":"hex","prefix":"sha256=","template":"{body}"};
     * for the other providers at most {"allow_legacy_signature": true}, which accepts a
     * provider's weaker scheme sent alone (HubSpot v1/v2 without v3, GitHub's SHA-1
     * without SHA-256, ...; see docs/providers.md). */
    const char *verify_config;
};

enum verify_result {
    VERIFY_VALID = 0,
    VERIFY_INVALID,     /* signature present but wrong, malformed, or timestamp out of window */
    VERIFY_MISSING,     /* the signature header(s) are absent */
    VERIFY_NO_SECRET,   /* the integration has no secret to check with */
    VERIFY_UNSUPPORTED, /* the provider cannot sign requests */
};

/* Where a group's identifier names the connection. */
enum attribution_source {
    ATTR_CONNECTION_CONFIG = 0, /* connection_config->config_key, compared as attribution_match says */
    ATTR_METADATA,              /* metadata->config_key, likewise */
    ATTR_CONNECTION_ID,         /* the connection id itself is value (config_key: "connectionId") */
};

/* How the stored field is compared with the identifier. */
enum attribution_match {
    ATTR_MATCH_VALUE = 0, /* the field is the identifier (a string, or the same digits as a
                             number), or a list that contains it */
    ATTR_MATCH_KEY,       /* the field is an object with the identifier as one of its keys (or a
                             list or string as above): Nango's metadata lookup (jsonb ?) */
    ATTR_MATCH_ORIGIN,    /* the field is a URL whose origin is the identifier: "scheme://host[:port]",
                             lower case, without user info or the scheme's default port */
};

/* One way of naming the connection: the field (source, config_key) matched with value. */
struct attribution_key {
    enum attribution_source source;
    enum attribution_match match;
    char *config_key; /* owned */
    char *value;      /* owned */
};

#define ATTRIBUTION_MAX_ALTS 15

/* One group of events that concern the same connection identifier. */
struct attribution_group {
    enum attribution_source source;
    char *config_key; /* key the identifier matches, e.g. "portalId"; NULL: unattributed */
    char *value;      /* identifier value as text; NULL when config_key is NULL */
    enum attribution_match match;
    /* Further ways the provider names the connection (Nango's fields beside hookline's,
     * a fallback), tried in order when the one above names no connection. Read from the
     * group's first event. */
    struct attribution_key alts[ATTRIBUTION_MAX_ALTS];
    size_t nalts;
    char *event_type; /* e.g. "contact.creation", "pull_request.opened"; may be NULL */
    char *payload;    /* the payload for this group (byte-exact body or spliced array) */
    size_t payload_len;
};

struct attribution {
    struct attribution_group *groups; /* owned; free with attribution_free */
    size_t n;
};

struct provider;

/* Finds a provider by name or alias (an alias resolves to its row, so provider_name of
 * the result is the row's name); NULL if unknown. The result is static. */
const struct provider *provider_find(const char *name);

/* Aliases (providers/aliases.c): other key names for a row, e.g. Nango's `google-ads`
 * for the `google` row. provider_alias_at returns the i-th alias, or NULL past the end,
 * and sets *row (may be NULL) to its row's name; provider_alias_row returns the row name
 * of alias name, or NULL when name is no alias. Strings are static. */
const char *provider_alias_at(size_t i, const char **row);
const char *provider_alias_row(const char *name);

/* The i-th key Nango routes webhooks for (providers/nango_keys.c), or NULL past the
 * end; static. */
const char *provider_nango_key_at(size_t i);

/* Iterates the table: returns the i-th provider or NULL past the end. */
const struct provider *provider_at(size_t i);

const char *provider_name(const struct provider *p);
/* One-line human description of the verification scheme, for `hookline providers`. */
const char *provider_scheme(const struct provider *p);
/* The connection_config key attribution reads, or NULL. */
const char *provider_attribution_key(const struct provider *p);
/* Whether choosing p is itself the opt-in to unverified webhooks (the unauthenticated
 * provider). Another provider whose webhooks cannot be verified (VERIFY_UNSUPPORTED:
 * affinity, streak) is accepted only by an integration that allows unverified ones. */
bool provider_unverified_by_choice(const struct provider *p);
/* Whether p's webhooks can never be verified: no scheme and no code of its own
 * (provider_verify answers VERIFY_UNSUPPORTED whatever the request). */
bool provider_signs_nothing(const struct provider *p);

/* Which secret the scheme uses: "webhook_secret", "client_secret" or NULL. */
const char *provider_secret_field(const struct provider *p);

/* Whether verify_config (may be NULL) is one provider p can use: 0, or -1 with a reason
 * in why (for the CLI, before it stores an integration's settings). NULL is fine for
 * every provider but generic-hmac, which needs one. */
int provider_check_verify_config(const struct provider *p, const char *verify_config, char *why, size_t whylen)
    __attribute__((warn_unused_result));

/* Verifies req with the secrets. why (may be NULL) gets a short reason for logs and
 * the HTTP answer; it never contains a secret or a computed signature. */
enum verify_result provider_verify(const struct provider *p, const struct webhook_request *req,
                                   const struct provider_secrets *secrets, char *why, size_t whylen);

/* Writes the Kafka ordering key (e.g. the HubSpot portalId of the first event, the GitHub
 * installation id) into out and returns its length, or 0 when there is none. Cheap:
 * may scan the body but does not need it to be valid JSON. */
size_t provider_ordering_key(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen);

/* Splits a stored webhook into groups by connection identifier. Returns 0 and fills
 * out (caller frees with attribution_free), or -1 with a reason in err when the body is
 * not what the provider sends (malformed JSON, wrong shape): such a webhook is
 * rejected. A well-formed webhook without an identifier yields one unattributed group
 * with the whole body as payload. */
int provider_attribute(const struct provider *p, const struct webhook_request *req, struct attribution *out, char *err,
                       size_t errlen) __attribute__((warn_unused_result));

/* As provider_attribute, with the events of a batch whose drop[i] is set left out of
 * every group (ndrop: drop's length, the batch's number of events as
 * provider_event_ids counted them; drop NULL: none). The groups' payloads splice the
 * remaining events' original bytes; with every event left out, out->n is 0. */
int provider_attribute_except(const struct provider *p, const struct webhook_request *req, const bool *drop,
                              size_t ndrop, struct attribution *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void attribution_free(struct attribution *a);

/* Per-connection secrets (connection_trust.c). */

/* The i-th place (a query parameter, header or body path, as the row names it; *where,
 * if where is not NULL, says which: "query", "header" or "body") where
 * p's webhooks name a connection that then needs a secret of its own to get them, in the
 * row's order, or NULL past the end: the place is not covered by what verifies p's
 * webhooks (a token or Basic credential covers nothing; an HMAC of the body covers the
 * body but not a header or the URL's query), or p's connections always have their own
 * secrets. None for a row proven by published keys. For `hookline providers`, `hookline
 * import nango` (which lists the connections that need one) and the
 * docs' list, which tests/check-providers.py compares with it. Static strings. */
const char *provider_unsigned_locator(const struct provider *p, size_t i, const char **where);

/* The connection a group names may be trusted only when that connection's own secret
 * verified the webhook: the row says its connections have their own secrets, or the
 * identifier (or one of its alternatives) may come from a place the signature does not
 * cover (provider_unsigned_locator). With an integration-wide secret, anyone
 * holding one connection's signed delivery could re-post it naming another. */
bool provider_group_needs_connection_secret(const struct provider *p, const struct attribution_group *g);

/* Verifies req with a connection's own secret, used as the secret the provider's scheme
 * takes (provider_secret_field), with the integration's verify_config (may be NULL).
 * Contract as provider_verify. */
enum verify_result provider_verify_connection(const struct provider *p, const struct webhook_request *req,
                                              const char *connection_secret, const char *verify_config, char *why,
                                              size_t whylen);

/* The event type Nango's routing script would match for a webhook whose hookline event
 * type is event_type (may be NULL): the header value or body field alone, without the
 * detail hookline adds (GitHub "issues" for "issues.opened", Linear "Issue" for
 * "Issue.create"); for a row without a detail, the same. Writes it NUL-terminated into
 * out and returns its length (0: none). Pure. */
size_t provider_nango_event_type(const struct provider *p, const char *event_type, char *out, size_t outlen);

/* The provider's own id of the event req carries (X-GitHub-Delivery, Stripe's event id,
 * ...; docs/providers.md lists them), with which the router drops a re-sent copy. For a
 * batch, the ids of its events in order, joined by ","; longer than outlen-1, their
 * SHA-256 ("sha256:<hex>"). Writes it NUL-terminated into out (outlen >= 80) and returns
 * its length, or 0 when the provider has no such id or req carries none. */
size_t provider_event_id(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen);

/* For a provider that batches events and names each one (HubSpot's eventId, ...): the
 * id of every event of req's batch, in order, NULL for an event without one, in *ids
 * (free with provider_event_ids_free); returns their number. 0 (and *ids NULL) when the
 * provider does not batch, names no event, or the body is not a readable batch. */
size_t provider_event_ids(const struct provider *p, const struct webhook_request *req, char ***ids);
void provider_event_ids_free(char **ids, size_t n);

/* A synchronous answer the provider expects instead of (or besides) the usual 200:
 * Slack url_verification, Zoom endpoint.url_validation, Microsoft Graph validationToken,
 * Xero intent-to-receive, Meta/X/Dropbox GET challenges, ... */
#define HANDSHAKE_MAX_HEADERS 2
struct handshake_answer {
    unsigned status;       /* HTTP status to answer */
    char content_type[64]; /* e.g. "text/plain", "application/json" */
    char *body;            /* owned by the caller after the call (free), may be NULL */
    size_t body_len;
    bool store; /* also store and forward the request as a webhook */
    /* More response headers to send (static strings, or a value borrowed from the
     * request, which outlives the answer: Asana's X-Hook-Secret; unused slots have name
     * NULL): an answer that echoes request bytes says X-Content-Type-Options: nosniff. */
    struct http_header headers[HANDSHAKE_MAX_HEADERS];
    char why[128]; /* a refusal's (status >= 400) reason, for the log; never a
                                    secret nor the echoed bytes; "" otherwise */
};

/* Returns 1 when req is a handshake of this provider (out filled: the ingress sends that
 * answer, and stores the request only if out->store), 0 when it is an ordinary webhook
 * (out untouched), -1 on allocation failure. GET requests reach here too: a provider
 * without GET challenges returns 0 and the ingress answers 405. A handshake that must be
 * signed is verified here, and answered 401 when it is not valid. */
int provider_handshake(const struct provider *p, const struct webhook_request *req,
                       const struct provider_secrets *secrets, struct handshake_answer *out);

/* Case-insensitive header lookup; NULL if absent. */
const char *webhook_header(const struct webhook_request *req, const char *name);

/* Produces the headers that make body valid for the provider (for `hookline sign`, the
 * demo and tests): writes up to max headers into out, strings owned by the caller
 * (free each name and value). Returns the number written, or -1 if the provider cannot
 * sign. */
int provider_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                  struct http_header *out, size_t max);

#endif
