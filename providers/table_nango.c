/*
 * table_nango: the providers Nango routes webhooks for that the other families lack,
 * named by Nango's keys (its other keys for the same API are aliases, aliases.c). Each
 * row attributes by the field Nango's routing uses; each verifies as the provider
 * documents it, also where Nango itself checks nothing.
 * See provider_impl.h for what each field means and rows.h for the shared fragments.
 */
#include "providers/rows.h"

/* A header the sender was configured to send with the integration's webhook secret in
 * it: what providers that cannot sign but can add headers to their calls offer. */
#define SECRET_HEADER_SCHEME(hdr) "no signature: the " hdr " header (set on the sender) must equal the webhook secret"

const struct provider provider_rows_nango[] = {
    {
        /* Affinity's webhook subscriptions take a URL only and sign nothing. */
        .name = "affinity",
        .scheme = "none: Affinity does not sign webhooks (name the connection with ?nangoConnectionId=)",
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"type"}},
    },
    {
        /* Each webhook's SecretKey signs its callouts; the webhook's Guid names the
         * connection (connection_config.webhookGuid, as Nango routes it). */
        .name = "autotask",
        .scheme = "HMAC-SHA1 of the raw body with the webhook's SecretKey, base64, \"sha1=\" prefix, in "
                  "X-Hook-Signature",
        .sigs = {SIG_BODY_MAC("X-Hook-Signature", HMAC_SHA1, SIG_ENC_BASE64, "sha1=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_CONFIG("Guid", "webhookGuid")}, .event_paths = {"EntityType"}},
    },
    {
        .name = "checkr-partner",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret (the partner API key), hex, in "
                  "X-Checkr-Signature",
        .sigs = {SIG_BODY_MAC("X-Checkr-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_CONFIG("account_id", "checkr_account_id")},
                 .event_paths = {"type"},
                 .event_id_paths = {"id"}},
    },
    {
        /* Fillout does not sign; its webhooks can carry custom headers. */
        .name = "fillout",
        .scheme = SECRET_HEADER_SCHEME("X-Nango-Webhook-Secret"),
        .sigs = {SIG_TOKEN_IN("X-Nango-Webhook-Secret")},
        .attr = {.ids = {ID_METADATA("formId", "formId")}, .event_paths = {"type"}},
    },
    {
        /* Push notifications of any Google API (the aliases are Google's products);
         * the watched resource's URI names the connection. */
        .name = "google",
        .scheme = "X-Goog-Channel-Token equal to the webhook secret (the watch's token)",
        .sigs = {SIG_TOKEN_IN("X-Goog-Channel-Token")},
        .attr = {.body = ATTR_BODY_NONE,
                 .ids = {ID_URL_CONNECTION,
                         ID_HEADER_METADATA("X-Goog-Resource-URI", "googleCalendarWatchResourceUris")},
                 .event_header = "X-Goog-Resource-State"},
    },
    {
        .name = "granola",
        .scheme = "Standard Webhooks v1 (webhook-* or svix-* headers, whsec_ secret)",
        .sigs = {SIG_STD_V1_ANY(false)},
        .attr = {.ids = {ID_URL_CONNECTION},
                 .event_paths = {"event_type"},
                 .event_id_headers = {"webhook-id", "svix-id"}},
    },
    {
        /* Jobber signs with the app's OAuth client secret; the event sits in
         * data.webHookEvent, its accountId naming the connection. */
        .name = "jobber",
        .scheme = "HMAC-SHA256 of the raw body with the app's client secret, base64, in X-Jobber-Hmac-SHA256",
        .sigs = {SIG_BODY_MAC("X-Jobber-Hmac-SHA256", HMAC_SHA256, SIG_ENC_BASE64, NULL, SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_CONFIG("data.webHookEvent.accountId", "accountId")},
                 .event_paths = {"data.webHookEvent.topic"}},
    },
    {
        /* JobDiva names no account in its events: the webhook URL names the connection. */
        .name = "jobdiva",
        .scheme = "HMAC-SHA1 of the raw body with the webhook secret, hex, \"sha1=\" prefix, in X-Hub-Signature",
        .sigs = {SIG_BODY_MAC("X-Hub-Signature", HMAC_SHA1, SIG_ENC_HEX, "sha1=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"type"}, .event_detail = "operation"},
    },
    {
        /* Each subscription has its own secret; the subscription's custom header
         * X-Nango-Connection-Id names the connection. */
        .name = "pagerduty",
        .scheme = "X-PagerDuty-Signature: one or more v1=<hex HMAC-SHA256 of the raw body> (comma-separated), "
                  "one made with the webhook subscription's secret",
        .sigs = {{.header = "X-PagerDuty-Signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_HEX,
                  .list = {',', '=', "v1", NULL},
                  .parts = PARTS_BODY,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_HEADER_CONNECTION("X-Nango-Connection-Id")},
                 .event_paths = {"event.event_type"},
                 .event_id_paths = {"event.id"}},
        /* One secret per webhook subscription, and the connection is named by a header
         * the signature does not cover: each connection proves it with its own. */
        .per_connection_secret = true,
    },
    {
        /* Events come from an Apex trigger the customer installs, not from Salesforce:
         * no signature exists, the trigger sends the secret and the connection id. */
        .name = "salesforce",
        .scheme = SECRET_HEADER_SCHEME("X-Nango-Webhook-Secret") " (sent by the Apex trigger)",
        .sigs = {SIG_TOKEN_IN("X-Nango-Webhook-Secret")},
        .attr = {.ids = {ID_BODY_CONNECTION("nango.connectionId")}, .event_paths = {"nango.eventType"}},
    },
    {
        /* Sellsy hashes the key and the body together (no HMAC). */
        .name = "sellsy",
        .scheme = "hex SHA-1 of the webhook secret followed by the raw body, in X-Webhook-Signature",
        .sigs = {{.kind = SIG_HASH,
                  .header = "X-Webhook-Signature",
                  .alg = HMAC_SHA1,
                  .encoding = SIG_ENC_HEX,
                  .parts = {{SIG_PART_SECRET, NULL}, {SIG_PART_BODY, NULL}},
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_CONFIG("corpid", "corpid")}, .event_paths = {"thirdtype"}, .event_detail = "event"},
    },
    {
        .name = "sentry-oauth",
        .scheme = "HMAC-SHA256 of the raw body with the integration's client secret, hex, in Sentry-Hook-Signature",
        .sigs = {SIG_BODY_MAC("Sentry-Hook-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_CONFIG("installation.id", "installation_id"),
                         ID_CONFIG("installation.uuid", "installation_id")},
                 .event_paths = {"action"},
                 .event_id_headers = {"Request-ID"}},
    },
    {
        /* ShipStation does not sign; v2 webhooks carry custom headers (the connection id).
         * Without one, the store in resource_url's query names it (metadata.storeId). */
        .name = "shipstation",
        .scheme = SECRET_HEADER_SCHEME("X-Nango-Webhook-Secret"),
        .sigs = {SIG_TOKEN_IN("X-Nango-Webhook-Secret")},
        .attr = {.ids = {ID_HEADER_CONNECTION("X-Nango-Connection-Id"),
                         {ATTR_FROM_BODY, "resource_url", "storeId", ATTR_METADATA, ATTR_URL_STORE_ID,
                          ATTR_MATCH_VALUE}},
                 .event_paths = {"resource_type"}},
    },
    {
        /* Streak does not sign: the token set when the webhook was registered comes back
         * in every request and names the connection; an unknown token attributes to
         * nobody. */
        .name = "streak",
        .scheme = "none: Streak does not sign; X-Streak-Webhook-Token names the connection",
        .attr = {.ids = {ID_HEADER_CONFIG("X-Streak-Webhook-Token", "streakWebhookToken")}},
    },
    {
        /* VideoAsk does not sign; a form's webhook can carry custom headers. */
        .name = "videoask",
        .scheme = SECRET_HEADER_SCHEME("Nango-Webhook-Secret"),
        .sigs = {SIG_TOKEN_IN("Nango-Webhook-Secret")},
        .attr = {.ids = {ID_HEADER_CONNECTION("Nango-Connection-Id")}, .event_paths = {"type", "event_type"}},
    },
};

const size_t provider_rows_nango_len = sizeof provider_rows_nango / sizeof provider_rows_nango[0];
