/*
 * table_signed: providers that prove a request with a private key's signature or a
 * signed token rather than a shared secret: JWTs (Gong, Google Pub/Sub push, Bot
 * Framework, Plaid), public-key signatures of the body (HighLevel, SendGrid) and
 * ConnectWise's key-URL HMAC. Their checks are code (signed.h); published keys are
 * fetched by common/remote_keys.h. What each row's secret and verify_config hold is in
 * docs/providers.md. See provider_impl.h for the fields and rows.h for the fragments.
 */
#include "providers/rows.h"
#include "providers/signed.h"

/* The mailbox of a Gmail notification (message.data), looked up in metadata.k. */
#define ID_PUBSUB_EMAIL_METADATA(k)                                                                                    \
    {                                                                                                                  \
        ATTR_FROM_BODY, "message.data", k, ATTR_METADATA, ATTR_PUBSUB_EMAIL, ATTR_MATCH_VALUE                          \
    }

/* Gong's payload names no connection: the webhook URL does (?nangoConnectionId=). */
#define GONG_ROW(n)                                                                                                    \
    {                                                                                                                  \
        .name = n,                                                                                                     \
        .scheme =                                                                                                      \
            "Authorization: RS256 JWT by the rule's key pair (public key = webhook secret, PEM or base64 "             \
            "DER); exp, webhook_url = the URL called, body_sha256 = hex SHA-256 of the body",                          \
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}}, .attr = {.ids = {ID_URL_CONNECTION}}, .custom_signs_body = true,     \
        .verify = gong_verify, .sign = provider_cannot_sign,                                                           \
    }

/* HighLevel names the sub-account (location) or else the agency (company); an event
 * without either names its location as altId (with altType "location"), as Nango reads. */
#define HIGHLEVEL_ROW(n)                                                                                               \
    {                                                                                                                  \
        .name = n,                                                                                                     \
        .scheme = "x-wh-signature: base64 RSA-SHA256 of the body (HighLevel's public key = webhook secret)",           \
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},                                                                      \
        .attr = {.ids = {ID_CONFIG("locationId", "locationId"), ID_CONFIG("companyId", "companyId"),                   \
                         ID_CONFIG("altId", "locationId")},                                                            \
                 .event_paths = {"type"}},                                                                             \
        .custom_signs_body = true, .verify = highlevel_verify, .sign = provider_cannot_sign,                           \
    }

/* Bot Framework activities: the webhook URL may name the connection; otherwise the
 * tenant (channelData.tenant.id) does, as Nango looks it up in connection_config. */
#define TEAMS_ROW(n)                                                                                                   \
    {                                                                                                                  \
        .name = n,                                                                                                     \
        .scheme =                                                                                                      \
            "Authorization: Bearer RS256 JWT by Bot Framework's published keys; iss "                                  \
            "https://api.botframework.com, aud = verify_config.audience (the bot's app id), exp, serviceUrl",          \
        .attr = {.ids = {ID_URL_CONNECTION, ID_CONFIG("channelData.tenant.id", "tenantId")},                           \
                 .event_paths = {"type"},                                                                              \
                 .event_id_paths = {"id"}},                                                                            \
        .verify = botframework_verify, .sign = provider_cannot_sign,                                                   \
    }

/* ConnectWise names the connection by the product instance (Nango's metadata key). */
#define CONNECTWISE_ROW(n)                                                                                             \
    {                                                                                                                  \
        .name = n,                                                                                                     \
        .scheme =                                                                                                      \
            "x-content-signature: base64 HMAC-SHA256 of the body keyed with SHA-256 of the signing key "               \
            "fetched from Metadata.key_url (https, ConnectWise hosts only)",                                           \
        .attr = {.ids = {ID_METADATA("ProductInstanceId", "productInstanceId")}, .event_paths = {"Type"}},             \
        .custom_signs_body = true, .verify = connectwise_verify, .sign = provider_cannot_sign,                         \
    }

const struct provider provider_rows_signed[] = {
    GONG_ROW("gong"),
    GONG_ROW("gong-oauth"),
    {
        /* Gmail's watch() publishes to Pub/Sub, which pushes {"message": {"data":
         * base64({"emailAddress", "historyId"}), "messageId"}, "subscription"}. The URL
         * may name the connection; otherwise the mailbox does, looked up in metadata as
         * Nango does (Nango first tries a hash of it in connection_config, whose salt is
         * Nango's own). */
        .name = "google-mail",
        .scheme = "Pub/Sub push: Authorization: Bearer RS256 OIDC token by Google's published keys; iss "
                  "accounts.google.com, aud = verify_config.audience or the URL called, exp "
                  "(verify_config.email pins the service account)",
        .attr = {.ids = {ID_URL_CONNECTION, ID_PUBSUB_EMAIL_METADATA("emailAddress"),
                         ID_PUBSUB_EMAIL_METADATA("email")},
                 .event_id_paths = {"message.messageId"}},
        .verify = google_push_verify,
        .sign = provider_cannot_sign,
    },
    TEAMS_ROW("microsoft-teams"),
    TEAMS_ROW("microsoft-teams-bot"),
    HIGHLEVEL_ROW("highlevel"),
    HIGHLEVEL_ROW("highlevel-white-label"),
    CONNECTWISE_ROW("connectwise-psa"),
    CONNECTWISE_ROW("connectwise-psa-staging"),
    {
        /* The Event Webhook posts an array of events. The webhook URL may name the
         * connection (the array stays whole); otherwise each event's custom argument
         * nangoConnectionId, set when the mail was sent, splits it by connection. */
        .name = "sendgrid",
        .scheme = "X-Twilio-Email-Event-Webhook-Signature: base64 ECDSA P-256 SHA-256 of \"<timestamp><body>\" "
                  "(public key = webhook secret), X-Twilio-Email-Event-Webhook-Timestamp within 300 s",
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {.batch = "",
                 .ids = {ID_URL_CONNECTION,
                         {ATTR_FROM_BODY, "nangoConnectionId", "connectionId", ATTR_CONNECTION_ID, ATTR_AS_IS}},
                 .event_paths = {"event"},
                 .event_id_paths = {"sg_event_id"}},
        .custom_signs_body = true,
        .verify = sendgrid_verify,
        .sign = provider_cannot_sign,
    },
    {
        .name = "plaid",
        .scheme = "Plaid-Verification: ES256 JWT whose kid names a key Plaid serves (client secret + "
                  "verify_config.client_id); iat within 5 min, request_body_sha256 = hex SHA-256 of the body",
        .sigs = {{.secret = SIG_SECRET_CLIENT}},
        .attr = {.ids = {ID_URL_CONNECTION, ID_CONFIG("item_id", "itemId")}, .event_paths = {"webhook_code"}},
        .custom_signs_body = true,
        .verify = plaid_verify,
        .sign = provider_cannot_sign,
    },
};

const size_t provider_rows_signed_len = sizeof provider_rows_signed / sizeof provider_rows_signed[0];
