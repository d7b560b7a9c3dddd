/*
 * table_business: CRM, productivity, scheduling, commerce and accounting providers.
 * See provider_impl.h for what each field means and rows.h for the shared fragments.
 */
#include "providers/rows.h"

/* HubSpot v1/v2: hex SHA-256 (not an HMAC) of the client secret + the request, told
 * apart by X-HubSpot-Signature-Version; no timestamp, so legacy: HubSpot sends them
 * next to v3, which is required unless the integration allows them alone. */
#define HUBSPOT_HASH(version, ...)                                                                                     \
    {                                                                                                                  \
        .kind = SIG_HASH, .header = "X-HubSpot-Signature", .when_header = "X-HubSpot-Signature-Version",               \
        .when_value = version, .alg = HMAC_SHA256, .encoding = SIG_ENC_HEX, .parts = {__VA_ARGS__},                    \
        .secret = SIG_SECRET_CLIENT, .legacy = true                                                                    \
    }

/* Shopify signs with the app's client secret (OAuth apps) or with the key shown next
 * to webhooks created in the shop admin; the shop names the connection. */
#define SHOPIFY_ROW(row_name, which, what)                                                                             \
    {                                                                                                                  \
        .name = row_name, .scheme = "HMAC-SHA256 of the raw body with the " what ", base64, in X-Shopify-Hmac-Sha256", \
        .sigs = {SIG_BODY_MAC("X-Shopify-Hmac-Sha256", HMAC_SHA256, SIG_ENC_BASE64, NULL, which)},                     \
        .attr = {.ids = {{ATTR_FROM_HEADER, "X-Shopify-Shop-Domain", "subdomain", ATTR_CONNECTION_CONFIG,              \
                          ATTR_FIRST_LABEL}},                                                                          \
                 .event_header = "X-Shopify-Topic",                                                                    \
                 .event_id_headers = {"X-Shopify-Event-Id", "X-Shopify-Webhook-Id"}},                                  \
    }

const struct provider provider_rows_business[] = {
    {
        .name = "hubspot",
        .scheme = "v3: HMAC-SHA256 of method + URL + body + X-HubSpot-Request-Timestamp (unix ms, within 300 s) "
                  "with the client secret, base64, in X-HubSpot-Signature-v3; v2/v1 alone (hex SHA-256 of "
                  "client secret (+ method + URL) + body in X-HubSpot-Signature) only with allow_legacy_signature",
        .sigs = {{.header = "X-HubSpot-Signature-v3",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_BASE64,
                  .parts = {{SIG_PART_METHOD, NULL},
                            {SIG_PART_URL_RESERVED, NULL},
                            {SIG_PART_BODY, NULL},
                            {SIG_PART_TIMESTAMP, NULL}},
                  .ts_header = "X-HubSpot-Request-Timestamp",
                  .ts_unit = SIG_TS_MILLIS,
                  .ts_tolerance = 300,
                  .secret = SIG_SECRET_CLIENT},
                 HUBSPOT_HASH("v2", {SIG_PART_SECRET, NULL}, {SIG_PART_METHOD, NULL}, {SIG_PART_URL, NULL},
                              {SIG_PART_BODY, NULL}),
                 HUBSPOT_HASH("v1", {SIG_PART_SECRET, NULL}, {SIG_PART_BODY, NULL})},
        .attr = {.batch = "",
                 .ids = {ID_CONFIG("portalId", "portalId")},
                 .event_paths = {"subscriptionType"},
                 .event_id_paths = {"eventId"}},
    },
    {
        .name = "attio",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, in Attio-Signature",
        .sigs = {SIG_BODY_MAC("Attio-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.batch = "events",
                 .ids = {ID_CONFIG("id.workspace_id", "workspace_id")},
                 .event_paths = {"event_type"}},
    },
    {
        .name = "airtable",
        .scheme = "HMAC-SHA256 of the raw body keyed with the base64-decoded macSecretBase64, hex, "
                  "\"hmac-sha256=\" prefix, in X-Airtable-Content-MAC",
        .sigs = {{.header = "X-Airtable-Content-MAC",
                  .alg = HMAC_SHA256,
                  .prefix = "hmac-sha256=",
                  .encoding = SIG_ENC_HEX,
                  .parts = PARTS_BODY,
                  .secret = SIG_SECRET_WEBHOOK,
                  .key_form = SIG_KEY_BASE64}},
        .attr = {.ids = {ID_METADATA("webhook.id", "airtableWebhookId"), ID_METADATA_KEY("webhook.id", "webhooks")}},
    },
    {
        .name = "notion",
        .scheme = "HMAC-SHA256 of the raw body with the verification token, hex, \"sha256=\" prefix, "
                  "in X-Notion-Signature",
        .handshakes = "POST {\"verification_token\"} (unsigned): 200, stored so the app sees the token",
        .sigs = {SIG_BODY_MAC("X-Notion-Signature", HMAC_SHA256, SIG_ENC_HEX, "sha256=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_CONFIG("workspace_id", "workspace_id")}, .event_paths = {"type"}, .event_id_paths = {"id"}},
        .handshake = handshake_notion,
    },
    {
        .name = "intercom",
        .scheme = "HMAC-SHA1 of the raw body with the app's client secret, hex, \"sha1=\" prefix, in X-Hub-Signature",
        .sigs = {SIG_BODY_MAC("X-Hub-Signature", HMAC_SHA1, SIG_ENC_HEX, "sha1=", SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_CONFIG("app_id", "appId")}, .event_paths = {"topic"}, .event_id_paths = {"id"}},
    },
    {
        .name = "calendly",
        .scheme = "Calendly-Webhook-Signature t=<unix s>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> with the "
                  "webhook signing key, within 180 s",
        .sigs = {SIG_T_V1("Calendly-Webhook-Signature", 180)},
        .attr = {.ids = {ID_CONFIG("created_by", "owner")}, .event_paths = {"event"}},
    },
    {
        .name = "cal-com",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, in X-Cal-Signature-256",
        .sigs = {SIG_BODY_MAC("X-Cal-Signature-256", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"triggerEvent"}},
    },
    {
        .name = "stripe",
        .scheme = "Stripe-Signature t=<unix s>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> with the endpoint's "
                  "signing secret (whsec_..., used as is), within 300 s",
        .sigs = {SIG_T_V1("Stripe-Signature", 300)},
        .attr = {.ids = {ID_CONFIG("account", "accountId")}, .event_paths = {"type"}, .event_id_paths = {"id"}},
    },
    SHOPIFY_ROW("shopify", SIG_SECRET_CLIENT, "app's client secret"),
    SHOPIFY_ROW("shopify-api-key", SIG_SECRET_WEBHOOK, "webhook signing key shown in the shop admin"),
    {
        .name = "xero",
        .scheme = "HMAC-SHA256 of the raw body with the webhook key, base64, in x-xero-signature",
        .handshakes = "intent to receive (POST, no events): 200 with an empty body when signed, else 401",
        .sigs = {SIG_BODY_MAC("x-xero-signature", HMAC_SHA256, SIG_ENC_BASE64, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.batch = "events",
                 .ids = {ID_CONFIG("tenantId", "tenant_id")},
                 .event_paths = {"eventCategory"},
                 .event_detail = "eventType",
                 .event_id_paths = {"resourceId", "eventDateUtc"}},
        .handshake = handshake_xero,
    },
    {
        .name = "quickbooks",
        .scheme = "HMAC-SHA256 of the raw body with the verifier token, base64, in intuit-signature",
        .sigs = {SIG_BODY_MAC("intuit-signature", HMAC_SHA256, SIG_ENC_BASE64, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.batch = "eventNotifications",
                 .ids = {ID_CONFIG("realmId", "realmId")},
                 .event_paths = {"dataChangeEvent.entities.[0].name"},
                 .event_detail = "dataChangeEvent.entities.[0].operation"},
    },
    {
        .name = "fathom",
        .scheme = "Standard Webhooks v1 (webhook-* or svix-* headers, whsec_ secret)",
        .sigs = {SIG_STD_V1("webhook", false), SIG_STD_V1("svix", false)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("recorded_by.email", "emailAddress")},
                 .event_id_headers = {"webhook-id", "svix-id"}},
    },
    {
        .name = "folk",
        .scheme = "Standard Webhooks v1 (webhook-* headers, whsec_ secret)",
        .sigs = {SIG_STD_V1("webhook", false)},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"type"}, .event_id_headers = {"webhook-id"}},
    },
};

const size_t provider_rows_business_len = sizeof provider_rows_business / sizeof provider_rows_business[0];
