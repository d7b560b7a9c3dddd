/*
 * provider_impl: the shape of a provider row, private to providers/.
 *
 * A provider is data: how its signature is made (struct sig_spec), where the Kafka
 * ordering key and the connection identifier live in the body (struct attr_spec), and,
 * only for schemes a row cannot describe, pointers to custom code. provider_table.c
 * holds the rows; signature.c and attribution.c are the generic engines that read
 * them; provider.c dispatches the public interface (provider.h) to one or the other.
 *
 * Adding a provider whose scheme is "HMAC of these parts with this secret, encoded so,
 * in this header; the connection is named by this field" is one row plus test cases
 * under tests/providers/<name>/.
 */
#ifndef HOOKLINE_PROVIDER_IMPL_H
#define HOOKLINE_PROVIDER_IMPL_H

#include "common/crypto.h"
#include "providers/provider.h"

/* What one piece of the signed message is; the message is the parts concatenated. */
enum sig_part_kind {
    SIG_PART_END = 0,        /* terminates the list (also what unset array slots are) */
    SIG_PART_BODY,           /* the raw body bytes */
    SIG_PART_METHOD,         /* req->method, e.g. "POST" */
    SIG_PART_URL,            /* req->url exactly as given */
    SIG_PART_URL_RESERVED,   /* req->url with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B
                                decoded (either hex case), as HubSpot v3 signs it */
    SIG_PART_TIMESTAMP,      /* the timestamp header's value, as received */
    SIG_PART_LITERAL,        /* sig_part.text, e.g. ":" or "v0:" */
};

struct sig_part {
    enum sig_part_kind kind;
    const char *text;        /* SIG_PART_LITERAL only */
};

enum sig_encoding { SIG_ENC_HEX, SIG_ENC_BASE64 };
enum sig_ts_unit { SIG_TS_SECONDS, SIG_TS_MILLIS };
enum sig_secret { SIG_SECRET_NONE = 0, SIG_SECRET_WEBHOOK, SIG_SECRET_CLIENT };

#define SIG_MAX_PARTS 8
#define PROVIDER_MAX_SCHEMES 3

/* One HMAC signature scheme. A row with header == NULL has no (generic) signature. */
struct sig_spec {
    const char *header;        /* header carrying the signature, e.g. "X-Hub-Signature-256" */
    enum hmac_alg alg;
    const char *prefix;        /* expected before the encoded MAC ("sha256="), or NULL */
    enum sig_encoding encoding;
    struct sig_part parts[SIG_MAX_PARTS]; /* the signed message, SIG_PART_END-terminated */
    const char *ts_header;     /* timestamp header, or NULL when the scheme has none */
    enum sig_ts_unit ts_unit;
    int ts_tolerance;          /* seconds either side of req->now; used when ts_header set */
    enum sig_secret secret;    /* which of the integration's secrets is the HMAC key */
};

/*
 * Where attribution finds things in a JSON body. Paths are dotted keys with optional
 * array indexes: "installation.id", "[0].portalId". An id_path that starts with "[]."
 * means "a top-level array of events; the rest of the path is read per element", and
 * the body is split into one group per identifier value.
 */
struct attr_spec {
    const char *config_key;    /* connection_config key the identifier matches, or NULL */
    const char *id_path;       /* where the identifier is, or NULL (never attributed) */
    const char *event_header;  /* event type header ("X-GitHub-Event"), or NULL */
    const char *event_path;    /* event type field (per element for batches), or NULL;
                                  with event_header set it is appended as ".value" */
};

struct provider {
    const char *name;
    const char *scheme;        /* one line for `hookline providers` */
    /* Alternatives in order of preference: verification uses the first whose header is
     * present in the request; signing uses sigs[0]. Unused slots have header == NULL. */
    struct sig_spec sigs[PROVIDER_MAX_SCHEMES];
    const char *ordering_path; /* Kafka key source ("installation.id", "[0].portalId"), or NULL */
    struct attr_spec attr;

    /* Custom code for what a row cannot say; NULL means the generic engine. Same
     * contracts as the provider.h functions of the same name. */
    enum verify_result (*verify)(const struct provider *p, const struct webhook_request *req,
                                 const struct provider_secrets *secrets, char *why, size_t whylen);
    int (*sign)(const struct provider *p, const struct webhook_request *req,
                const struct provider_secrets *secrets, struct http_header *out, size_t max);
    int (*attribute)(const struct provider *p, const struct webhook_request *req, struct attribution *out,
                     char *err, size_t errlen);
    int (*handshake)(const struct provider *p, const struct webhook_request *req,
                     const struct provider_secrets *secrets, struct handshake_answer *out);
};

/* The table (provider_table.c). */
extern const struct provider provider_table[];
extern const size_t provider_table_len;

/* Generic HMAC engine (signature.c), driven by p->sigs. Contracts as provider_verify
 * and provider_sign in provider.h. */
enum verify_result signature_verify(const struct provider *p, const struct webhook_request *req,
                                    const struct provider_secrets *secrets, char *why, size_t whylen);
int signature_sign(const struct provider *p, const struct webhook_request *req,
                   const struct provider_secrets *secrets, struct http_header *out, size_t max);

/* Generic JSON attribution (attribution.c), driven by p->attr and p->ordering_path.
 * Contracts as provider_attribute and provider_ordering_key in provider.h. */
int attribution_split(const struct provider *p, const struct webhook_request *req, struct attribution *out,
                      char *err, size_t errlen) __attribute__((warn_unused_result));
size_t attribution_ordering_key(const struct provider *p, const struct webhook_request *req, char *out,
                                size_t outlen);

#endif
