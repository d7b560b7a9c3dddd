/*
 * table_more: common APIs that Nango's webhook routing lacks: messaging and social
 * platforms, commerce and payments, support desks, developer tools. Their handshakes
 * are in handshake_more.c and the schemes a row cannot say in verify_more.c.
 * See provider_impl.h for what each field means and rows.h for the shared fragments;
 * docs/providers.md says where each secret comes from and why each identifier.
 */
#include "providers/rows.h"

/* Meta's platforms (Facebook pages, WhatsApp Business, Instagram): the app secret
 * signs the body; the GET subscription check echoes hub.challenge when
 * hub.verify_token is the webhook secret. entry[] batches one event per object. */
#define META_ROW(row_name, k)                                                                                          \
    {                                                                                                                  \
        .name = row_name,                                                                                              \
        .scheme =                                                                                                      \
            "HMAC-SHA256 of the raw body with the app secret (client secret), hex, \"sha256=\" prefix, in "            \
            "X-Hub-Signature-256",                                                                                     \
        .handshakes =                                                                                                  \
            "GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C: 200 text/plain C when T is the "              \
            "webhook secret, else 403",                                                                                \
        .sigs = {SIG_BODY_MAC("X-Hub-Signature-256", HMAC_SHA256, SIG_ENC_HEX, "sha256=", SIG_SECRET_CLIENT)},         \
        .attr = {.batch = "entry", .ids = {ID_CONFIG("id", k)}, .event_paths = {"changes.[0].field"}},                 \
        .handshake = handshake_meta,                                                                                   \
    }

/* Standard Webhooks as Svix sends them (svix-* headers; webhook-* accepted too). */
#define SVIX_ROW(row_name)                                                                                             \
    {                                                                                                                  \
        .name = row_name, .scheme = "Standard Webhooks v1 (svix-* or webhook-* headers, whsec_ signing secret)",       \
        .sigs = {SIG_STD_V1("svix", false), SIG_STD_V1("webhook", false)},                                             \
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"type"}, .event_id_headers = {"svix-id", "webhook-id"}},  \
    }

/* HTTP Basic credentials set on the webhook, checked against "user:password". */
#define BASIC_SCHEME "Authorization: Basic credentials equal to the webhook secret \"user:password\""
#define BASIC_SIG                                                                                                      \
    {                                                                                                                  \
        .kind = SIG_TOKEN, .secret = SIG_SECRET_WEBHOOK /* credentials, not a signature of the body */                 \
    }

/* One of several signatures, each by one of the sender's keys (see or_next). */
#define KEYED(hdr, ...)                                                                                                \
    {                                                                                                                  \
        .header = hdr, .alg = HMAC_SHA256, .encoding = SIG_ENC_BASE64, .parts = {__VA_ARGS__},                         \
        .secret = SIG_SECRET_WEBHOOK, .or_next = true                                                                  \
    }
/* Box signs body + BOX-DELIVERY-TIMESTAMP (RFC 3339) and wants it refused after 10 minutes. */
#define BOX_KEYED(hdr)                                                                                                 \
    {                                                                                                                  \
        .header = hdr, .alg = HMAC_SHA256, .encoding = SIG_ENC_BASE64,                                                 \
        .parts = {{SIG_PART_BODY, NULL}, {SIG_PART_TIMESTAMP, NULL}}, .ts_header = "BOX-DELIVERY-TIMESTAMP",           \
        .ts_unit = SIG_TS_ISO8601, .ts_tolerance = 600, .secret = SIG_SECRET_WEBHOOK, .or_next = true                  \
    }

const struct provider provider_rows_more[] = {
    {
        .name = "asana",
        .scheme = "HMAC-SHA256 of the raw body with the X-Hook-Secret of the handshake, hex, in X-Hook-Signature",
        .handshakes = "POST with X-Hook-Secret: S: 200 answering X-Hook-Secret: S (not stored)",
        .sigs = {SIG_BODY_MAC("X-Hook-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        /* events[] is not split: Asana names no workspace, so the URL names the
         * connection of every event; the first event gives the type. */
        .attr = {.ids = {ID_URL_CONNECTION},
                 .event_paths = {"events.[0].resource.resource_type"},
                 .event_detail = "events.[0].action"},
        .handshake = handshake_asana,
    },
    {
        .name = "twilio",
        .scheme = "base64 HMAC-SHA1 of the webhook URL + the form fields sorted by name (name then value) with the "
                  "auth token, in X-Twilio-Signature",
        .sigs = {{.header = "X-Twilio-Signature",
                  .alg = HMAC_SHA1,
                  .encoding = SIG_ENC_BASE64,
                  .parts = {{SIG_PART_URL, NULL}, {SIG_PART_FORM_SORTED, NULL}},
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.body = ATTR_BODY_FORM,
                 .ids = {ID_CONFIG("AccountSid", "accountSid")},
                 .event_paths = {"MessageStatus", "SmsStatus", "CallStatus"},
                 .event_id_headers = {"I-Twilio-Idempotency-Token"}},
    },
    {
        .name = "square",
        .scheme = "base64 HMAC-SHA256 of the notification URL + the raw body with the signature key, in "
                  "x-square-hmacsha256-signature",
        .sigs = {{.header = "x-square-hmacsha256-signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_BASE64,
                  .parts = {{SIG_PART_URL, NULL}, {SIG_PART_BODY, NULL}},
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_CONFIG("merchant_id", "merchantId")},
                 .event_paths = {"type"},
                 .event_id_paths = {"event_id"}},
    },
    {
        .name = "typeform",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, base64, \"sha256=\" prefix, in "
                  "Typeform-Signature",
        .sigs = {SIG_BODY_MAC("Typeform-Signature", HMAC_SHA256, SIG_ENC_BASE64, "sha256=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("form_response.form_id", "typeformFormId")},
                 .event_paths = {"event_type"},
                 .event_id_paths = {"event_id"}},
    },
    {
        .name = "zendesk",
        .scheme = "base64 HMAC-SHA256 of X-Zendesk-Webhook-Signature-Timestamp + the raw body with the webhook "
                  "signing secret, in X-Zendesk-Webhook-Signature; the timestamp (ISO 8601) within 600 s",
        .sigs = {{.header = "X-Zendesk-Webhook-Signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_BASE64,
                  .parts = {{SIG_PART_TIMESTAMP, NULL}, {SIG_PART_BODY, NULL}},
                  .ts_header = "X-Zendesk-Webhook-Signature-Timestamp",
                  .ts_unit = SIG_TS_ISO8601,
                  .ts_tolerance = 600,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_URL_CONNECTION, ID_CONFIG("account_id", "accountId")},
                 .event_paths = {"type"},
                 .event_id_paths = {"id"}},
    },
    {
        .name = "dropbox",
        .scheme = "HMAC-SHA256 of the raw body with the app secret (client secret), hex, in X-Dropbox-Signature",
        .handshakes = "GET ?challenge=C: 200 text/plain C",
        .sigs = {SIG_BODY_MAC("X-Dropbox-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_CONFIG("list_folder.accounts.[0]", "accountId")}},
        .handshake = handshake_dropbox,
    },
    {
        .name = "box",
        .scheme = "base64 HMAC-SHA256 of the raw body + BOX-DELIVERY-TIMESTAMP with the primary or the secondary "
                  "signature key (the webhook secret), in BOX-SIGNATURE-PRIMARY or BOX-SIGNATURE-SECONDARY; the "
                  "timestamp (ISO 8601) within 600 s",
        .sigs = {BOX_KEYED("BOX-SIGNATURE-PRIMARY"), BOX_KEYED("BOX-SIGNATURE-SECONDARY")},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("webhook.id", "boxWebhookId")},
                 .event_paths = {"trigger"},
                 .event_id_paths = {"id"}},
    },
    {
        .name = "trello",
        .scheme = "base64 HMAC-SHA1 of the raw body + the callback URL with the app's OAuth secret (client secret), "
                  "in X-Trello-Webhook",
        .handshakes = "HEAD (on webhook creation): 200 empty",
        .sigs = {{.header = "X-Trello-Webhook",
                  .alg = HMAC_SHA1,
                  .encoding = SIG_ENC_BASE64,
                  .parts = {{SIG_PART_BODY, NULL}, {SIG_PART_URL, NULL}},
                  .secret = SIG_SECRET_CLIENT}},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("model.id", "trelloModelId")},
                 .event_paths = {"action.type"},
                 .event_id_paths = {"action.id"}},
        .handshake = handshake_get_alive,
    },
    META_ROW("meta", "pageId"),
    META_ROW("whatsapp", "whatsappBusinessAccountId"),
    META_ROW("instagram", "instagramAccountId"),
    {
        .name = "discord",
        .scheme = "Ed25519 signature (hex, X-Signature-Ed25519) of X-Signature-Timestamp + the raw body, with the "
                  "application's public key (hex) as the webhook secret, timestamp within 300 s",
        .handshakes =
            "PING (signed): interactions {\"type\":1} -> 200 {\"type\":1}; webhook events {\"type\":0} -> 204",
        .sigs = {{.kind = SIG_ED25519,
                  .header = "X-Signature-Ed25519",
                  .encoding = SIG_ENC_HEX,
                  .parts = {{SIG_PART_TIMESTAMP, NULL}, {SIG_PART_BODY, NULL}},
                  .ts_header = "X-Signature-Timestamp",
                  .ts_tolerance = 300,
                  .secret = SIG_SECRET_WEBHOOK,
                  .key_form = SIG_KEY_HEX}},
        .attr = {.ids = {ID_CONFIG("event.data.guild.id", "guildId"), ID_CONFIG("guild_id", "guildId"),
                         ID_URL_CONNECTION},
                 .event_paths = {"event.type"}},
        .handshake = handshake_discord,
    },
    {
        .name = "x",
        .scheme = "HMAC-SHA256 of the raw body with the consumer secret (client secret), base64, \"sha256=\" prefix, "
                  "in x-twitter-webhooks-signature",
        .handshakes = "GET ?crc_token=T: 200 {\"response_token\":\"sha256=<base64 HMAC-SHA256(consumer secret, T)>\"}",
        .sigs = {SIG_BODY_MAC("x-twitter-webhooks-signature", HMAC_SHA256, SIG_ENC_BASE64,
                              "sha256=", SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_CONFIG("for_user_id", "userId")}},
        .handshake = handshake_x_crc,
    },
    {
        .name = "twitch",
        .scheme = "HMAC-SHA256 of Twitch-Eventsub-Message-Id + Twitch-Eventsub-Message-Timestamp + the raw body with "
                  "the subscription secret, hex, \"sha256=\" prefix, in Twitch-Eventsub-Message-Signature; the "
                  "timestamp (ISO 8601) within 600 s",
        .handshakes = "webhook_callback_verification (POST, signed): 200 text/plain <challenge>",
        .sigs = {{.header = "Twitch-Eventsub-Message-Signature",
                  .alg = HMAC_SHA256,
                  .prefix = "sha256=",
                  .encoding = SIG_ENC_HEX,
                  .parts = {{SIG_PART_HEADER, "Twitch-Eventsub-Message-Id"},
                            {SIG_PART_TIMESTAMP, NULL},
                            {SIG_PART_BODY, NULL}},
                  .ts_header = "Twitch-Eventsub-Message-Timestamp",
                  .ts_unit = SIG_TS_ISO8601,
                  .ts_tolerance = 600,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_CONFIG("subscription.condition.broadcaster_user_id", "broadcasterUserId"),
                         ID_URL_CONNECTION},
                 .event_paths = {"subscription.type"},
                 .event_id_headers = {"Twitch-Eventsub-Message-Id"}},
        .handshake = handshake_twitch,
    },
    {
        .name = "mailgun",
        .scheme = "the body's signature.signature: hex HMAC-SHA256 of signature.timestamp + signature.token with the "
                  "webhook signing key, signature.timestamp within 300 s",
        /* No header: verify_more.c verifies, and reads the window from here. */
        .sigs = {{.ts_path = "signature.timestamp", .ts_tolerance = 300, .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"event-data.event"}, .event_id_paths = {"event-data.id"}},
        .verify = mailgun_verify,
        .sign = provider_cannot_sign,
    },
    {
        .name = "paddle",
        .scheme = "Paddle-Signature ts=<unix s>;h1=<hex HMAC-SHA256 of \"<ts>:<body>\"> with the endpoint's secret "
                  "key, within 300 s",
        .sigs = {{.header = "Paddle-Signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_HEX,
                  .list = {';', '=', "h1", "ts"},
                  .parts = {{SIG_PART_TIMESTAMP, NULL}, {SIG_PART_LITERAL, ":"}, {SIG_PART_BODY, NULL}},
                  .ts_tolerance = 300,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"event_type"}, .event_id_paths = {"event_id"}},
    },
    {
        .name = "okta",
        .scheme = "the event hook's Authorization header value equal to the webhook secret",
        .handshakes = "GET with x-okta-verification-challenge: C (authorised): 200 {\"verification\":C}",
        .sigs = {SIG_TOKEN_IN("Authorization")},
        .attr = {.ids = {ID_URL_CONNECTION},
                 .event_paths = {"data.events.[0].eventType"},
                 .event_id_paths = {"eventId"}},
        .handshake = handshake_okta,
    },
    {
        .name = "clickup",
        .scheme = "HMAC-SHA256 of the raw body with the webhook's secret, hex, in X-Signature",
        .sigs = {SIG_BODY_MAC("X-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("webhook_id", "clickupWebhookId")}, .event_paths = {"event"}},
    },
    {
        .name = "monday",
        .scheme = "Authorization: a JWT (HS256) signed with the app's signing secret (webhook secret), not expired",
        .handshakes = "POST {\"challenge\":C} alone: 200 {\"challenge\":C}",
        .sigs = {{.kind = SIG_TOKEN, .secret = SIG_SECRET_WEBHOOK}}, /* the JWT does not cover the body */
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("event.boardId", "mondayBoardId")},
                 .event_paths = {"event.type"},
                 .event_id_paths = {"event.triggerUuid"}},
        .verify = jwt_hs256_verify,
        .sign = jwt_hs256_sign,
        .handshake = handshake_monday,
    },
    {
        .name = "pipedrive",
        .scheme = BASIC_SCHEME,
        .sigs = {BASIC_SIG},
        .attr = {.ids = {ID_CONFIG("meta.company_id", "companyId")}, .event_paths = {"event", "meta.entity"}},
        .verify = basic_auth_verify,
        .sign = basic_auth_sign,
    },
    {
        .name = "freshdesk",
        .scheme = BASIC_SCHEME,
        .sigs = {BASIC_SIG},
        .attr = {.ids = {ID_URL_CONNECTION}},
        .verify = basic_auth_verify,
        .sign = basic_auth_sign,
    },
    {
        .name = "docusign",
        .scheme = "base64 HMAC-SHA256 of the raw body with a Connect HMAC key (the webhook secret), in "
                  "X-DocuSign-Signature-1 (or -2, -3: one per active key)",
        .sigs = {KEYED("X-DocuSign-Signature-1", {SIG_PART_BODY, NULL}),
                 KEYED("X-DocuSign-Signature-2", {SIG_PART_BODY, NULL}),
                 KEYED("X-DocuSign-Signature-3", {SIG_PART_BODY, NULL})},
        .attr = {.ids = {ID_CONFIG("data.accountId", "accountId")},
                 .event_paths = {"event"},
                 .event_id_paths = {"data.envelopeId", "generatedDateTime"}},
    },
    {
        .name = "mailchimp",
        .scheme = "no signature: the webhook URL's ?secret= must equal the webhook secret",
        .handshakes = "GET (the URL check when a webhook is created): 200 empty",
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {.body = ATTR_BODY_FORM, .ids = {ID_CONFIG("data[list_id]", "listId")}, .event_paths = {"type"}},
        .verify = query_secret_verify,
        .sign = provider_cannot_sign,
        .handshake = handshake_get_alive,
    },
    {
        .name = "bitbucket",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, \"sha256=\" prefix, in X-Hub-Signature",
        .sigs = {SIG_BODY_MAC("X-Hub-Signature", HMAC_SHA256, SIG_ENC_HEX, "sha256=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("repository.workspace.uuid", "bitbucketWorkspaceUuid")},
                 .event_header = "X-Event-Key",
                 .event_id_headers = {"X-Request-UUID"}},
    },
    {
        .name = "circleci",
        .scheme = "circleci-signature v1=<hex HMAC-SHA256 of the raw body> with the webhook secret",
        .sigs = {{.header = "circleci-signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_HEX,
                  .list = {',', '=', "v1", NULL},
                  .parts = PARTS_BODY,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_CONFIG("organization.id", "organizationId")},
                 .event_paths = {"type"},
                 .event_id_paths = {"id"}},
    },
    {
        .name = "vercel",
        .scheme = "HMAC-SHA1 of the raw body, hex, in x-vercel-signature, with the webhook secret (account "
                  "webhooks) or else the integration's client secret",
        .sigs = {SIG_BODY_MAC("x-vercel-signature", HMAC_SHA1, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK),
                 SIG_BODY_MAC("x-vercel-signature", HMAC_SHA1, SIG_ENC_HEX, NULL, SIG_SECRET_CLIENT)},
        .attr = {.ids = {ID_CONFIG("payload.team.id", "teamId"), ID_CONFIG("payload.user.id", "userId")},
                 .event_paths = {"type"},
                 .event_id_paths = {"id"}},
    },
    {
        .name = "adyen",
        .scheme = "every notificationItems[].NotificationRequestItem's additionalData.hmacSignature: base64 "
                  "HMAC-SHA256 of its fields joined by \":\", keyed with the hex-decoded HMAC key (webhook secret)",
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {.batch = "notificationItems",
                 .ids = {ID_CONFIG("NotificationRequestItem.merchantAccountCode", "merchantAccount")},
                 .event_paths = {"NotificationRequestItem.eventCode"},
                 .event_id_paths = {"NotificationRequestItem.pspReference", "NotificationRequestItem.eventCode"}},
        .custom_signs_body = true, /* the HMAC covers merchantAccountCode */
        .verify = adyen_verify,
        .sign = provider_cannot_sign,
    },
    SVIX_ROW("resend"),
    SVIX_ROW("clerk"),
    {
        .name = "lemon-squeezy",
        .scheme = "HMAC-SHA256 of the raw body with the webhook signing secret, hex, in X-Signature",
        .sigs = {SIG_BODY_MAC("X-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_CONFIG("data.attributes.store_id", "storeId")}, .event_paths = {"meta.event_name"}},
    },
    {
        .name = "razorpay",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, in X-Razorpay-Signature",
        .sigs = {SIG_BODY_MAC("X-Razorpay-Signature", HMAC_SHA256, SIG_ENC_HEX, NULL, SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_CONFIG("account_id", "accountId")},
                 .event_paths = {"event"},
                 .event_id_headers = {"x-razorpay-event-id"}},
    },
    {
        .name = "contentful",
        .scheme = "hex HMAC-SHA256 of the canonical request (method, path, the headers named in "
                  "x-contentful-signed-headers, body) with the signing secret, in x-contentful-signature; "
                  "x-contentful-timestamp (ms) within 300 s",
        /* No header: contentful.c verifies; the timestamp header says the scheme is timed. */
        .sigs = {{.ts_header = "x-contentful-timestamp",
                  .ts_unit = SIG_TS_MILLIS,
                  .ts_tolerance = 300,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_URL_CONNECTION, ID_CONFIG("sys.space.sys.id", "spaceId")},
                 .event_header = "X-Contentful-Topic"},
        .custom_signs_body = true,
        .verify = contentful_verify,
        .sign = contentful_sign,
    },
};

const size_t provider_rows_more_len = sizeof provider_rows_more / sizeof provider_rows_more[0];
