/*
 * table_code: providers of software development tools (GitHub, GitLab, Linear, Jira).
 * See provider_impl.h for what each field means and rows.h for the shared fragments.
 */
#include "providers/rows.h"

/* GitHub Apps sign every delivery with the app's webhook secret and name the
 * installation, which connection_config.installation_id holds. */
#define GITHUB_SHA256 SIG_BODY_MAC("X-Hub-Signature-256", HMAC_SHA256, SIG_ENC_HEX, "sha256=", SIG_SECRET_WEBHOOK)
#define GITHUB_SCHEME                                                                                                  \
    "HMAC-SHA256 of the raw body with the webhook secret, hex, \"sha256=\" prefix, in X-Hub-Signature-256"
#define GITHUB_APP_ROW(row_name)                                                                                       \
    {                                                                                                                  \
        .name = row_name, .scheme = GITHUB_SCHEME, .sigs = {GITHUB_SHA256},                                            \
        .attr = {.ids = {ID_CONFIG("installation.id", "installation_id")},                                             \
                 .event_header = "X-GitHub-Event",                                                                     \
                 .event_detail = "action",                                                                             \
                 .event_id_headers = {"X-GitHub-Delivery"}},                                                           \
    }

/* Nango's Jira lookup: the site (connection_config.baseUrl) is the origin of the first
 * of these objects' "self" links, in this order. */
#define JIRA_SITE(object) ID_CONFIG_ORIGIN(object ".self", "baseUrl")

const struct provider provider_rows_code[] = {
    GITHUB_APP_ROW("github-app"),
    GITHUB_APP_ROW("github-app-oauth"),
    {
        /* Repository and organisation webhooks name no installation: the webhook URL
         * names the connection, or the webhook is unattributed. */
        .name = "github",
        .scheme = GITHUB_SCHEME "; HMAC-SHA1 (\"sha1=\", X-Hub-Signature) alone only with allow_legacy_signature",
        .sigs = {GITHUB_SHA256,
                 SIG_LEGACY(BODY_MAC("X-Hub-Signature", HMAC_SHA1, SIG_ENC_HEX, "sha1=", SIG_SECRET_WEBHOOK))},
        .attr = {.ids = {ID_URL_CONNECTION},
                 .event_header = "X-GitHub-Event",
                 .event_id_headers = {"X-GitHub-Delivery"}},
    },
    {
        /* A signing token (whsec_...) signs Standard Webhooks headers; a secret token is
         * sent as is and covers neither body nor time: with a signing token configured
         * it is legacy (a request must be signed). */
        .name = "gitlab",
        .scheme = "Standard Webhooks (webhook-signature) with a signing token (whsec_...), else X-Gitlab-Token "
                  "equal to the secret token (with a signing token only with allow_legacy_signature)",
        .sigs = {SIG_STD_V1("webhook", true), SIG_LEGACY(TOKEN_IN("X-Gitlab-Token"))},
        .attr = {.body = ATTR_BODY_OPTIONAL,
                 .ids = {ID_URL_CONNECTION, ID_BODY_CONNECTION("nangoConnectionId")},
                 .event_header = "X-Gitlab-Event",
                 .event_id_headers = {"webhook-id", "X-Gitlab-Event-UUID"}},
    },
    {
        .name = "linear",
        .scheme = "HMAC-SHA256 of the raw body with the webhook signing secret, hex, in Linear-Signature; "
                  "the body's webhookTimestamp (ms) within 60 s",
        .sigs = {{.header = "Linear-Signature",
                  .alg = HMAC_SHA256,
                  .encoding = SIG_ENC_HEX,
                  .parts = PARTS_BODY,
                  .ts_path = "webhookTimestamp",
                  .ts_unit = SIG_TS_MILLIS,
                  .ts_tolerance = 60,
                  .secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_CONFIG("organizationId", "organizationId")},
                 .event_paths = {"type"},
                 .event_detail = "action",
                 .event_id_headers = {"Linear-Delivery"}},
    },
    {
        /* Admin and dynamic webhooks registered with a secret (WebSub style). */
        .name = "jira",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, \"sha256=\" prefix, in X-Hub-Signature",
        .sigs = {SIG_BODY_MAC("X-Hub-Signature", HMAC_SHA256, SIG_ENC_HEX, "sha256=", SIG_SECRET_WEBHOOK)},
        .attr = {.ids = {ID_URL_CONNECTION, ID_METADATA("matchedWebhookIds.[0]", "jiraWebhookId"), JIRA_SITE("issue"),
                         JIRA_SITE("comment"), JIRA_SITE("sprint"), JIRA_SITE("board"), JIRA_SITE("worklog"),
                         JIRA_SITE("version"), JIRA_SITE("issueLink"), JIRA_SITE("project"), JIRA_SITE("attachment"),
                         JIRA_SITE("issuetype"), JIRA_SITE("filter"), JIRA_SITE("user")},
                 .event_paths = {"webhookEvent"},
                 .event_id_headers = {"X-Atlassian-Webhook-Identifier"}},
    },
};

const size_t provider_rows_code_len = sizeof provider_rows_code / sizeof provider_rows_code[0];
