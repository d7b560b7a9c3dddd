/*
 * rows: fragments the table_*.c files share, so that a row reads as what it is
 * ("an HMAC of the body in this header") rather than as a wall of initialisers.
 * Only the table files include this; each macro expands to a designated initialiser
 * of provider_impl.h's structs.
 */
#ifndef HOOKLINE_PROVIDER_ROWS_H
#define HOOKLINE_PROVIDER_ROWS_H

#include "providers/provider_impl.h"

/* ---- signed messages ---- */
#define PARTS_BODY                                                                                                     \
    {                                                                                                                  \
        {                                                                                                              \
            SIG_PART_BODY, NULL                                                                                        \
        }                                                                                                              \
    }
/* "<timestamp>.<body>" (Stripe, Calendly) */
#define PARTS_TS_DOT_BODY                                                                                              \
    {                                                                                                                  \
        {SIG_PART_TIMESTAMP, NULL}, {SIG_PART_LITERAL, "."},                                                           \
        {                                                                                                              \
            SIG_PART_BODY, NULL                                                                                        \
        }                                                                                                              \
    }
/* "v0:<timestamp>:<body>" (Slack, Zoom) */
#define PARTS_V0                                                                                                       \
    {                                                                                                                  \
        {SIG_PART_LITERAL, "v0:"}, {SIG_PART_TIMESTAMP, NULL}, {SIG_PART_LITERAL, ":"},                                \
        {                                                                                                              \
            SIG_PART_BODY, NULL                                                                                        \
        }                                                                                                              \
    }
/* "<id header>.<timestamp>.<body>" (Standard Webhooks) */
#define PARTS_STD(id)                                                                                                  \
    {                                                                                                                  \
        {SIG_PART_HEADER, id}, {SIG_PART_LITERAL, "."}, {SIG_PART_TIMESTAMP, NULL}, {SIG_PART_LITERAL, "."},           \
        {                                                                                                              \
            SIG_PART_BODY, NULL                                                                                        \
        }                                                                                                              \
    }

/* ---- whole schemes ---- */
/* The MAC of the raw body in one header, optionally after a prefix. */
#define BODY_MAC(hdr, algorithm, enc, pfx, which)                                                                      \
    .header = hdr, .alg = algorithm, .encoding = enc, .prefix = pfx, .parts = PARTS_BODY, .secret = which
#define SIG_BODY_MAC(hdr, algorithm, enc, pfx, which)                                                                  \
    {                                                                                                                  \
        BODY_MAC(hdr, algorithm, enc, pfx, which)                                                                      \
    }

/* "v0=" + hex HMAC-SHA256 of "v0:<ts>:<body>", timestamp header in seconds, 5 minutes. */
#define SIG_V0(hdr, ts_hdr)                                                                                            \
    {                                                                                                                  \
        .header = hdr, .alg = HMAC_SHA256, .prefix = "v0=", .encoding = SIG_ENC_HEX, .parts = PARTS_V0,                \
        .ts_header = ts_hdr, .ts_tolerance = 300, .secret = SIG_SECRET_WEBHOOK                                         \
    }

/* "t=<ts>,v1=<hex HMAC-SHA256 of '<ts>.<body>'>" in one header. */
#define SIG_T_V1(hdr, tolerance)                                                                                       \
    {                                                                                                                  \
        .header = hdr, .alg = HMAC_SHA256, .encoding = SIG_ENC_HEX, .list = {',', '=', "v1", "t"},                     \
        .parts = PARTS_TS_DOT_BODY, .ts_tolerance = tolerance, .secret = SIG_SECRET_WEBHOOK                            \
    }

/* Standard Webhooks v1: "v1,<base64 HMAC-SHA256>" entries, key = base64 after "whsec_"
 * (the prefix optional unless required), headers <p>-id, <p>-timestamp, <p>-signature. */
#define SIG_STD_V1(p, required)                                                                                        \
    {                                                                                                                  \
        .header = p "-signature", .alg = HMAC_SHA256, .encoding = SIG_ENC_BASE64, .list = {' ', ',', "v1", NULL},      \
        .parts = PARTS_STD(p "-id"), .ts_header = p "-timestamp", .ts_tolerance = 300, .secret = SIG_SECRET_WEBHOOK,   \
        .key_prefix = "whsec_", .key_prefix_required = required, .key_form = SIG_KEY_BASE64                            \
    }

/* Standard Webhooks v1 under either name of its headers: webhook-* and svix-* (Svix,
 * through which many providers send, names the same scheme so); a row that accepts
 * one accepts both. Two schemes of the row. */
#define SIG_STD_V1_ANY(required) SIG_STD_V1("webhook", required), SIG_STD_V1("svix", required)

/* Standard Webhooks v1a: "v1a,<base64 Ed25519 signature>", the secret is the public key
 * "whpk_<base64>" (signing takes the private key "whsk_<base64>"). */
#define SIG_STD_V1A                                                                                                    \
    {                                                                                                                  \
        .kind = SIG_ED25519, .header = "webhook-signature", .encoding = SIG_ENC_BASE64,                                \
        .list = {' ', ',', "v1a", NULL}, .parts = PARTS_STD("webhook-id"), .ts_header = "webhook-timestamp",           \
        .ts_tolerance = 300, .secret = SIG_SECRET_WEBHOOK, .key_prefix = "whpk_", .key_prefix_required = true,         \
        .key_form = SIG_KEY_BASE64                                                                                     \
    }

/* The header carries the webhook secret itself. */
#define TOKEN_IN(hdr) .kind = SIG_TOKEN, .header = hdr, .secret = SIG_SECRET_WEBHOOK
#define SIG_TOKEN_IN(hdr)                                                                                              \
    {                                                                                                                  \
        TOKEN_IN(hdr)                                                                                                  \
    }

/* A weaker alternative of a row (see sig_spec.legacy), from a scheme's fields:
 * SIG_LEGACY(BODY_MAC(...)), SIG_LEGACY(TOKEN_IN(...)). */
#define SIG_LEGACY(...)                                                                                                \
    {                                                                                                                  \
        __VA_ARGS__, .legacy = true                                                                                    \
    }

/* ---- identifiers ----
 * Listed in a row in the order they are tried: the first one a request has names its
 * group, the others are alternatives the router tries when it names no connection.
 * Comparisons (enum attribution_match): a stored value matches when it is the
 * identifier or a list that contains it, unless the macro says otherwise. */
/* connection_config.<key> = the body's <path> */
#define ID_CONFIG(path, k)                                                                                             \
    {                                                                                                                  \
        ATTR_FROM_BODY, path, k, ATTR_CONNECTION_CONFIG, ATTR_AS_IS, ATTR_MATCH_VALUE                                  \
    }
/* metadata.<key> = the body's <path> */
#define ID_METADATA(path, k)                                                                                           \
    {                                                                                                                  \
        ATTR_FROM_BODY, path, k, ATTR_METADATA, ATTR_AS_IS, ATTR_MATCH_VALUE                                           \
    }
/* metadata.<key> is an object with the body's <path> as one of its keys (or the value
 * itself, or a list with it): Nango's metadata lookup, e.g. Airtable's webhooks by id */
#define ID_METADATA_KEY(path, k)                                                                                       \
    {                                                                                                                  \
        ATTR_FROM_BODY, path, k, ATTR_METADATA, ATTR_AS_IS, ATTR_MATCH_KEY                                             \
    }
/* the origin of connection_config.<key> (a URL, e.g. "baseUrl") = the origin of the URL
 * at the body's <path>: scheme://host[:port], compared without case, path or default port */
#define ID_CONFIG_ORIGIN(path, k)                                                                                      \
    {                                                                                                                  \
        ATTR_FROM_BODY, path, k, ATTR_CONNECTION_CONFIG, ATTR_URL_ORIGIN, ATTR_MATCH_ORIGIN                            \
    }
/* connection_config.<key> = request header <hdr> */
#define ID_HEADER_CONFIG(hdr, k)                                                                                       \
    {                                                                                                                  \
        ATTR_FROM_HEADER, hdr, k, ATTR_CONNECTION_CONFIG, ATTR_AS_IS, ATTR_MATCH_VALUE                                 \
    }
/* metadata.<key> = request header <hdr> (or a list in metadata that contains it) */
#define ID_HEADER_METADATA(hdr, k)                                                                                     \
    {                                                                                                                  \
        ATTR_FROM_HEADER, hdr, k, ATTR_METADATA, ATTR_AS_IS, ATTR_MATCH_VALUE                                          \
    }
/* metadata.<key> = the percent-decoded calendar id in the resource URI of header <hdr>
 * (".../calendars/<id>/events": Google Calendar's primary calendar is the email) */
#define ID_HEADER_CALENDAR_METADATA(hdr, k)                                                                            \
    {                                                                                                                  \
        ATTR_FROM_HEADER, hdr, k, ATTR_METADATA, ATTR_CALENDAR_ID, ATTR_MATCH_VALUE                                    \
    }
/* the connection id, from the webhook URL's ?nangoConnectionId= (Nango's name for it) */
#define ID_URL_CONNECTION                                                                                              \
    {                                                                                                                  \
        ATTR_FROM_QUERY, "nangoConnectionId", "connectionId", ATTR_CONNECTION_ID, ATTR_AS_IS, ATTR_MATCH_VALUE         \
    }
/* the connection id, in request header <hdr> (a custom header the sender was told to add) */
#define ID_HEADER_CONNECTION(hdr)                                                                                      \
    {                                                                                                                  \
        ATTR_FROM_HEADER, hdr, "connectionId", ATTR_CONNECTION_ID, ATTR_AS_IS, ATTR_MATCH_VALUE                        \
    }
/* the connection id, named in the body's <path> */
#define ID_BODY_CONNECTION(path)                                                                                       \
    {                                                                                                                  \
        ATTR_FROM_BODY, path, "connectionId", ATTR_CONNECTION_ID, ATTR_AS_IS, ATTR_MATCH_VALUE                         \
    }

#endif
