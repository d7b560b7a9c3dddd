/*
 * provider_impl: the shape of a provider row, private to providers/.
 *
 * A provider is data: how its requests are proven authentic (struct sig_spec, up to
 * PROVIDER_MAX_SCHEMES alternatives), where the connection identifier and the event
 * type live (struct attr_spec), and, only for what a row cannot describe, pointers to
 * custom code. The rows live in the table_*.c files (one per family of providers),
 * gathered by provider_table.c; signature.c and attribution.c are the generic engines
 * that read them; provider.c dispatches the public interface (provider.h).
 *
 * Adding a provider whose scheme is "HMAC of these parts with this secret, encoded so,
 * in this header; the connection is named by this field" is one row plus test cases
 * under tests/providers/<name>/.
 */
#ifndef HOOKLINE_PROVIDER_IMPL_H
#define HOOKLINE_PROVIDER_IMPL_H

#include <jansson.h>
#include <stdbool.h>

#include "common/crypto.h"
#include "providers/provider.h"

/* ---- signatures ------------------------------------------------------------- */

/* How the signature is made from the signed message (the parts concatenated). */
enum sig_kind {
    SIG_HMAC = 0, /* HMAC(alg, key, message): most providers */
    SIG_HASH,     /* plain hash(alg, message); the key is one of the parts (HubSpot v1/v2) */
    SIG_TOKEN,    /* the header carries the secret itself (GitLab, Google channel token) */
    SIG_ED25519,  /* Ed25519 signature of the message; the secret is the public key */
};

/* What one piece of the signed message is. */
enum sig_part_kind {
    SIG_PART_END = 0,      /* terminates the list (also what unset array slots are) */
    SIG_PART_BODY,         /* the raw body bytes */
    SIG_PART_METHOD,       /* req->method, e.g. "POST" */
    SIG_PART_URL,          /* req->url exactly as given */
    SIG_PART_URL_RESERVED, /* req->url with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B
                                decoded (either hex case), as HubSpot v3 signs it */
    SIG_PART_TIMESTAMP,    /* the timestamp (header or signature list entry), as received */
    SIG_PART_HEADER,       /* the value of header sig_part.text (e.g. "webhook-id"); required */
    SIG_PART_LITERAL,      /* sig_part.text, e.g. ":" or "v0:" */
    SIG_PART_SECRET,       /* the key itself (SIG_HASH only) */
    SIG_PART_FORM_SORTED,  /* the form body's fields sorted by name, each name then its
                                decoded value, no separators (Twilio); a body that is not
                                a form (or repeats a field) makes the signature invalid */
};

struct sig_part {
    enum sig_part_kind kind;
    const char *text; /* SIG_PART_LITERAL and SIG_PART_HEADER only */
};

enum sig_encoding { SIG_ENC_HEX = 0, SIG_ENC_BASE64 };
enum sig_ts_unit {
    SIG_TS_SECONDS = 0,
    SIG_TS_MILLIS,
    SIG_TS_ISO8601, /* "2023-11-14T22:13:20[.fraction](Z|+hh:mm|-hh:mm)" (Zendesk, Box, Twitch) */
};
enum sig_secret { SIG_SECRET_NONE = 0, SIG_SECRET_WEBHOOK, SIG_SECRET_CLIENT };
enum sig_key_form { SIG_KEY_RAW = 0, SIG_KEY_BASE64, SIG_KEY_HEX /* Discord's public key */ };

/* Several signatures (and possibly the timestamp) in one header value. With sep == 0
 * the header holds one signature, after the spec's prefix. */
struct sig_list {
    char sep;           /* between entries: ',' (Stripe "t=..,v1=..") or ' ' ("v1,.. v1,..") */
    char pair;          /* between an entry's tag and its value: '=' or ',' */
    const char *tag;    /* tag of the signature entries to check, e.g. "v1" */
    const char *ts_tag; /* tag of the timestamp entry ("t"), or NULL */
};

#define SIG_MAX_PARTS 10
#define PROVIDER_MAX_SCHEMES 4

/* One signature scheme. A row whose sigs[0].header is NULL has no generic signature;
 * its sigs[0].secret still names the secret its custom code uses (provider_secret_field). */
struct sig_spec {
    enum sig_kind kind;
    const char *header; /* header carrying the signature, e.g. "X-Hub-Signature-256" */
    /* The scheme applies only when header when_header has the value when_value
     * (case-insensitive): how HubSpot tells v1 from v2. NULL: always. */
    const char *when_header, *when_value;
    enum hmac_alg alg;  /* SIG_HMAC and SIG_HASH */
    const char *prefix; /* expected before the encoded signature ("sha256="), or NULL */
    enum sig_encoding encoding;
    struct sig_list list;
    struct sig_part parts[SIG_MAX_PARTS]; /* the signed message, SIG_PART_END-terminated */
    const char *ts_header;                /* timestamp header, or NULL (see also list.ts_tag, ts_path) */
    const char *ts_path;                  /* body JSON field with a timestamp the body carries (Linear):
                                  checked when present, since the body is signed */
    enum sig_ts_unit ts_unit;
    int ts_tolerance;           /* seconds either side of req->now */
    enum sig_secret secret;     /* which of the integration's secrets is the key */
    const char *key_prefix;     /* stripped from the secret ("whsec_"); see key_prefix_required */
    bool key_prefix_required;   /* a secret without key_prefix does not suit this scheme */
    enum sig_key_form key_form; /* SIG_KEY_BASE64: the key is the base64-decoded secret */
    /* A weaker alternative (untimed, or a weaker hash) kept for senders that lack the
     * preferred one. Verification uses it only when no other scheme of the row suits
     * the integration's secrets, or when verify_config says allow_legacy_signature:
     * otherwise a sender could pick it by dropping the preferred header. Legacy
     * schemes come after the preferred ones in a row. */
    bool legacy;
    /* When this scheme's header does not match, the next applicable one is tried too:
     * a sender that signs with each of several keys, one header per key (Box's primary
     * and secondary keys, DocuSign's X-DocuSign-Signature-1, -2, ...). */
    bool or_next;
};

/* ---- attribution ------------------------------------------------------------ */

enum attr_from {
    ATTR_FROM_BODY = 0, /* a dotted JSON path in the event ("installation.id", "team.id") */
    ATTR_FROM_HEADER,   /* a request header */
    ATTR_FROM_QUERY,    /* a query parameter of the webhook URL (percent-decoded) */
};

enum attr_transform {
    ATTR_AS_IS = 0,
    ATTR_FIRST_LABEL,  /* "shop.myshopify.com" -> "shop" */
    ATTR_URL_ORIGIN,   /* "https://Acme.atlassian.net:443/rest/x" -> "https://acme.atlassian.net"
                         (attribution_url_origin); not a URL: no identifier */
    ATTR_CALENDAR_ID,  /* ".../calendars/a%40b.com/events" -> "a@b.com" (the percent-decoded
                         segment after "/calendars/", Google Calendar's resource URI) */
    ATTR_PUBSUB_EMAIL, /* base64 of a JSON object -> its "emailAddress" string (Gmail's watch
                          notification inside a Pub/Sub push's message.data) */
    ATTR_URL_STORE_ID, /* "https://...?storeID=v2-123" -> "123": a URL's storeID (or store_id)
                          query parameter, after its first "-" if any (ShipStation's
                          resource_url; v2 store ids carry a prefix) */
};

/* One place a connection identifier may be. */
struct attr_id {
    enum attr_from from;
    const char *name; /* path, header name or query parameter; NULL ends the list */
    const char *key;  /* config/metadata key; "connectionId" for ATTR_CONNECTION_ID */
    enum attribution_source source;
    enum attr_transform transform;
    enum attribution_match match; /* how the stored field is compared (provider.h) */
};

enum attr_body {
    ATTR_BODY_JSON = 0, /* the body is JSON (duplicate keys rejected) */
    ATTR_BODY_NONE,     /* the body is not read (Google push: empty) */
    ATTR_BODY_FORM,     /* JSON, or form-encoded with JSON in a "payload" field, or plain
                             form fields read as a flat object (Slack) */
    ATTR_BODY_OPTIONAL, /* read when it is a JSON object; any other body has no body
                             identifiers and is no error (the unauthenticated provider) */
};

#define ATTR_MAX_IDS (ATTRIBUTION_MAX_ALTS + 1)
#define ATTR_MAX_EVENT_PATHS 3

/*
 * Where attribution finds things. With batch set, the body carries an array of events
 * (batch "" = the body itself is the array; "events" = the top-level member "events")
 * and is split into one group per identifier; body paths are then read per event.
 * Every locator that has a value gives one way of naming the connection, in the
 * row's order: the first is the group's identifier (batches are split by it), the
 * others its alternatives, which the router tries in turn when the ones before them
 * name no connection. A header or query identifier found first names the connection
 * for the whole request (no split). The Kafka
 * ordering key is the identifier of the request (or of its first event).
 */
struct attr_spec {
    enum attr_body body;
    const char *batch; /* the events array, or NULL: one event per request */
    struct attr_id ids[ATTR_MAX_IDS];
    /* Event type: [event_header value] "." [first of event_paths found] "." [event_detail],
     * the parts that exist joined by "."; with event_header set but absent: none. */
    const char *event_header;
    const char *event_paths[ATTR_MAX_EVENT_PATHS];
    const char *event_detail;
    /* The provider's own id of the event (event_id.c, for the router's duplicate
     * suppression): the first of event_id_headers present, else the body's
     * event_id_paths (strings or integers) joined by ":", all of them required; with
     * batch set, those paths are read in every event. None: the provider has none. */
    const char *event_id_headers[2];
    const char *event_id_paths[2];
};

/* ---- the row ---------------------------------------------------------------- */

struct provider {
    const char *name;
    const char *scheme;     /* one line for `hookline providers` */
    const char *handshakes; /* what provider_handshake answers, for humans; NULL: none */
    /* Alternatives in order of preference: verification uses the first that applies
     * (header present, when_* satisfied, the secret suits it; a legacy one only as its
     * flag says); signing the first whose secret suits it. Unused slots have
     * header == NULL. */
    struct sig_spec sigs[PROVIDER_MAX_SCHEMES];
    struct attr_spec attr;
    /* Each connection has a secret of its own (the provider makes one per subscription,
     * as PagerDuty does): the router attributes a verified webhook to a connection only
     * when that connection's secret (`connection create --secret`) verifies it, whatever
     * identifier named it (connection_trust.c). */
    bool per_connection_secret;
    /* For a row with custom verify code: that code checks a signature over the body (so
     * a body field names the connection as reliably as the integration's secret proves
     * the body). Unset, custom code is taken to sign nothing of the request (a token,
     * Basic credentials, a JWT over other claims): every identifier then needs the
     * connection's own secret (connection_trust.c). Generic rows say it in their parts. */
    bool custom_signs_body;
    /* The row is the choice not to verify (the unauthenticated provider): choosing it is
     * the opt-in that other rows that cannot verify need (allow_unverified). */
    bool unverified_by_choice;

    /* Custom code for what a row cannot say; NULL means the generic engine. Same
     * contracts as the provider.h functions of the same name. */
    enum verify_result (*verify)(const struct provider *p, const struct webhook_request *req,
                                 const struct provider_secrets *secrets, char *why, size_t whylen);
    int (*sign)(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                struct http_header *out, size_t max);
    int (*handshake)(const struct provider *p, const struct webhook_request *req,
                     const struct provider_secrets *secrets, struct handshake_answer *out);
};

/* The rows, one array per family of providers (table_*.c); provider_table.c chains
 * them behind provider_find and provider_at. */
extern const struct provider provider_rows_code[], provider_rows_business[], provider_rows_messaging[],
    provider_rows_platform[], provider_rows_nango[];
extern const size_t provider_rows_code_len, provider_rows_business_len, provider_rows_messaging_len,
    provider_rows_platform_len, provider_rows_nango_len;
extern const struct provider provider_rows_signed[]; /* table_signed.c */
extern const size_t provider_rows_signed_len;
/* The APIs Nango lacks (table_more.c). */
extern const struct provider provider_rows_more[];
extern const size_t provider_rows_more_len;

/* ---- custom code (what a row cannot say) --------------------------------------- */

/* Handshakes (handshake.c); contract as provider_handshake. */
#define HANDSHAKE_FN(fn)                                                                                               \
    int fn(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,        \
           struct handshake_answer *out)
HANDSHAKE_FN(handshake_slack);  /* url_verification: echo the challenge (signed) */
HANDSHAKE_FN(handshake_zoom);   /* endpoint.url_validation: HMAC the plainToken (signed) */
HANDSHAKE_FN(handshake_graph);  /* ?validationToken=: echo it as text/plain */
HANDSHAKE_FN(handshake_xero);   /* intent to receive: 200 empty when signed, else 401 */
HANDSHAKE_FN(handshake_notion); /* {"verification_token"}: 200, stored */

/* Building answers (handshake.c), for every handshake: each fills out and returns 1, or
 * -1 when out of memory. A reply copies body (may be NULL; a body gets nosniff); a
 * refusal has no body and says why for the log; a JSON reply sends body (consumed). */
int handshake_reply(struct handshake_answer *out, unsigned status, const char *ctype, const char *body, size_t len,
                    bool store);
int handshake_refuse(struct handshake_answer *out, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int handshake_reply_json(struct handshake_answer *out, json_t *body);
/* handshake_more.c */
HANDSHAKE_FN(handshake_asana);     /* X-Hook-Secret: 200 echoing it, stored */
HANDSHAKE_FN(handshake_meta);      /* GET hub.challenge with hub.verify_token = the webhook secret */
HANDSHAKE_FN(handshake_dropbox);   /* GET ?challenge=: echo it as text/plain */
HANDSHAKE_FN(handshake_x_crc);     /* GET ?crc_token=: {"response_token":"sha256=<b64 HMAC>"} */
HANDSHAKE_FN(handshake_twitch);    /* webhook_callback_verification (signed): echo the challenge */
HANDSHAKE_FN(handshake_okta);      /* GET x-okta-verification-challenge: {"verification"} */
HANDSHAKE_FN(handshake_monday);    /* POST {"challenge"} alone: echo it */
HANDSHAKE_FN(handshake_discord);   /* PING {"type":1} (signed): {"type":1} */
HANDSHAKE_FN(handshake_get_alive); /* GET (Mailchimp) or HEAD (Trello) on creation: 200 empty */

/* Microsoft Graph (graph.c): every notification's clientState equals the secret. */
enum verify_result graph_verify(const struct provider *p, const struct webhook_request *req,
                                const struct provider_secrets *secrets, char *why, size_t whylen);

/* generic-hmac (generic_hmac.c): the scheme comes from secrets->verify_config. */
int generic_hmac_check(const char *verify_config, char *why, size_t whylen); /* 0, or -1 with a reason */
enum verify_result generic_hmac_verify(const struct provider *p, const struct webhook_request *req,
                                       const struct provider_secrets *secrets, char *why, size_t whylen);
int generic_hmac_sign(const struct provider *p, const struct webhook_request *req,
                      const struct provider_secrets *secrets, struct http_header *out, size_t max);

/* Schemes of the APIs in table_more.c that a row cannot say (verify_more.c). */
enum verify_result mailgun_verify(const struct provider *p, const struct webhook_request *req,
                                  const struct provider_secrets *secrets, char *why, size_t whylen);
enum verify_result adyen_verify(const struct provider *p, const struct webhook_request *req,
                                const struct provider_secrets *secrets, char *why, size_t whylen);
enum verify_result basic_auth_verify(const struct provider *p, const struct webhook_request *req,
                                     const struct provider_secrets *secrets, char *why, size_t whylen);
int basic_auth_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                    struct http_header *out, size_t max);
/* The webhook URL's ?secret= equal to the webhook secret (Mailchimp, which cannot sign). */
enum verify_result query_secret_verify(const struct provider *p, const struct webhook_request *req,
                                       const struct provider_secrets *secrets, char *why, size_t whylen);
/* Authorization: a JWT signed HS256 with the webhook secret, unexpired (jwt_hs256.c; Monday). */
enum verify_result jwt_hs256_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, char *why, size_t whylen);
int jwt_hs256_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                   struct http_header *out, size_t max);
/* Contentful's signed canonical request (contentful.c). */
enum verify_result contentful_verify(const struct provider *p, const struct webhook_request *req,
                                     const struct provider_secrets *secrets, char *why, size_t whylen);
int contentful_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                    struct http_header *out, size_t max);

/* For rows whose proof lives in the body (provider.c): returns -1. */
int provider_cannot_sign(const struct provider *p, const struct webhook_request *req,
                         const struct provider_secrets *secrets, struct http_header *out, size_t max);

/* ---- engines ------------------------------------------------------------------ */

/* What a row provider's verify_config says (options.c). */
struct verify_options {
    bool allow_legacy; /* "allow_legacy_signature": a legacy scheme alone is accepted */
};
/* Reads secrets->verify_config for row p (defaults when there is none, and always for
 * generic-hmac, whose verify_config is its scheme; unknown keys are ignored). 0, or -1
 * with a reason when the config is not an object or a setting has the wrong type. */
int verify_options_load(const struct provider *p, const struct provider_secrets *secrets, struct verify_options *out,
                        char *why, size_t whylen);

/* Generic signature engine (signature.c) driven by p->sigs and the integration's
 * options. Contracts as provider_verify and provider_sign in provider.h; *used (may be
 * NULL) as in signature_verify_specs. */
enum verify_result signature_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, const char **used, char *why,
                                    size_t whylen);
int signature_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                   struct http_header *out, size_t max);

/* The same over an explicit list of n schemes (generic-hmac builds its one from the
 * integration's verify_config); allow_legacy as struct verify_options. *used (may be
 * NULL) gets the secret that verified: borrowed from secrets, NULL unless VERIFY_VALID. */
enum verify_result signature_verify_specs(const struct sig_spec *specs, size_t n, const char *provider,
                                          const struct webhook_request *req, const struct provider_secrets *secrets,
                                          bool allow_legacy, const char **used, char *why, size_t whylen);
int signature_sign_specs(const struct sig_spec *specs, size_t n, const struct webhook_request *req,
                         const struct provider_secrets *secrets, struct http_header *out, size_t max);
/* Whether timestamp text ts (as received) is within s's window around now, read as
 * s->ts_unit says; false with the reason in why. For custom code whose timestamp sits
 * where the generic engine does not look (Mailgun's signature.timestamp). */
bool signature_timestamp_ok(const struct sig_spec *s, const char *ts, time_t now, char *why, size_t whylen);

/* The active secrets of a kind (borrowed, non-empty): the current one, then the
 * previous one while it is being rotated. Returns how many (0..2). */
size_t signature_secrets(enum sig_secret which, const struct provider_secrets *secrets, const char *out[2]);

/* Odd schemes (schemes.c): the message digest for SIG_HASH and Ed25519 for
 * SIG_ED25519. n parts (parts[i], lens[i]). Digest: writes to out (64 bytes) and
 * returns the length, 0 on failure. Verify: true only for a valid signature.
 * Sign: the key is a 32-byte seed; writes 64 bytes; returns 0 or -1. */
size_t scheme_digest(enum hmac_alg alg, const void *const *parts, const size_t *lens, size_t n, unsigned char *out);
bool scheme_ed25519_verify(const unsigned char *pub, size_t publen, const void *msg, size_t msglen,
                           const unsigned char *sig, size_t siglen);
int scheme_ed25519_sign(const unsigned char *seed, size_t seedlen, const void *msg, size_t msglen,
                        unsigned char sig[64]);

/* Generic attribution engine (attribution.c), driven by p->attr. Contracts as
 * provider_attribute and provider_ordering_key in provider.h. */
/* drop (NULL, or one flag per event of a batch, ndrop of them): events left out. */
int attribution_split(const struct provider *p, const struct webhook_request *req, const bool *drop, size_t ndrop,
                      struct attribution *out, char *err, size_t errlen) __attribute__((warn_unused_result));
size_t attribution_ordering_key(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen);
/* The origin of URL s (len bytes) as ATTR_MATCH_ORIGIN compares it, into a new string:
 * lower-case "scheme://host[:port]" without user info or the scheme's default port
 * (80 for http, 443 for https). NULL when s is not "scheme://host...". */
char *attribution_url_origin(const char *s, size_t len);

/* Helpers shared by the engines and the custom code (util.c). */

/* printf into why (may be NULL / 0). */
void provider_say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The body parsed as JSON (duplicate keys rejected): a new reference, or NULL with a
 * reason in err (a position, never body bytes). */
json_t *provider_parse_json(const struct webhook_request *req, char *err, size_t errlen);
/* A body path ("a.b", "list.[0].c"), borrowed from root, or NULL. */
json_t *provider_json_path(json_t *root, const char *path);
/* The percent-decoded value of query parameter name ('+' is a space), as a new string,
 * or NULL when absent, empty after decoding, or out of memory. */
char *provider_query_param(const char *query, const char *name);
/* A form-encoded body (a=b&c=d, percent-decoded) as a flat JSON object of strings: a
 * new reference, or NULL when the body is not such a form (bad escape, NUL byte,
 * duplicate field). */
json_t *provider_form_object(const unsigned char *body, size_t len);
/* A form body's fields sorted by name (byte order), each name followed by its decoded
 * value, as one new string (Twilio's signed text; form_sorted.c); NULL when the body
 * is not such a form (see provider_form_object) or out of memory. */
char *provider_form_sorted(const unsigned char *body, size_t len);
/* Copies len bytes into a new NUL-terminated buffer; NULL when out of memory. */
char *provider_strndup(const void *src, size_t len);

#endif
