/*
 * table_messaging: communication and workspace-suite providers (Slack, Zoom,
 * Microsoft Graph, Google push notifications). Their handshakes are in handshake.c.
 * See provider_impl.h for what each field means and rows.h for the shared fragments.
 */
#include "providers/rows.h"

/* Microsoft Graph does not sign: each notification's clientState must equal the
 * webhook secret (graph.c). Notifications arrive in batches (value[]). */
#define GRAPH_SCHEME "no signature: every value[].clientState must equal the webhook secret"
#define GRAPH_HANDSHAKE "?validationToken= (POST or GET): 200 text/plain echoing the token"
#define GRAPH_EVENTS .batch = "value", .event_paths = {"changeType", "lifecycleEvent"}

/* Google push notifications: an empty body, everything in X-Goog-* headers. */
#define GOOGLE_ROW(row_name, ...)                                                                                      \
    {                                                                                                                  \
        .name = row_name, .scheme = "X-Goog-Channel-Token equal to the webhook secret (the watch's token)",            \
        .sigs = {SIG_TOKEN_IN("X-Goog-Channel-Token")},                                                                \
        .attr = {.body = ATTR_BODY_NONE,                                                                               \
                 .ids = {ID_URL_CONNECTION, GOOGLE_CHANNEL, __VA_ARGS__},                                              \
                 .event_header = "X-Goog-Resource-State"},                                                             \
    }
/* hookline's own: the watch's channel id, kept in metadata when the watch is made */
#define GOOGLE_CHANNEL ID_HEADER_METADATA("X-Goog-Channel-ID", "googleChannelId")
/* Nango's: the watched calendars' resource URIs, a list in metadata */
#define GOOGLE_CALENDAR_URIS ID_HEADER_METADATA("X-Goog-Resource-URI", "googleCalendarWatchResourceUris")

const struct provider provider_rows_messaging[] = {
    {
        .name = "slack",
        .scheme = "X-Slack-Signature v0=<hex HMAC-SHA256 of \"v0:<ts>:<body>\"> with the signing secret, "
                  "X-Slack-Request-Timestamp within 300 s",
        .handshakes = "url_verification (POST, signed): 200 {\"challenge\"}",
        .sigs = {SIG_V0("X-Slack-Signature", "X-Slack-Request-Timestamp")},
        .attr = {.body = ATTR_BODY_FORM,
                 .ids = {ID_CONFIG("team_id", "team.id"), ID_CONFIG("team.id", "team.id")},
                 .event_paths = {"event.type", "type", "command"},
                 .event_id_paths = {"event_id"}},
        .handshake = handshake_slack,
    },
    {
        .name = "zoom",
        .scheme = "x-zm-signature v0=<hex HMAC-SHA256 of \"v0:<ts>:<body>\"> with the secret token, "
                  "x-zm-request-timestamp within 300 s",
        .handshakes = "endpoint.url_validation (POST, signed): 200 {\"plainToken\", \"encryptedToken\"}",
        .sigs = {SIG_V0("x-zm-signature", "x-zm-request-timestamp")},
        .attr = {.ids = {ID_CONFIG("payload.account_id", "accountId"), ID_METADATA("payload.account_id", "accountId")},
                 .event_paths = {"event"},
                 .event_id_paths = {"event_ts", "event"}},
        .handshake = handshake_zoom,
    },
    {
        .name = "microsoft-oauth2-cc",
        .scheme = GRAPH_SCHEME,
        .handshakes = GRAPH_HANDSHAKE,
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {GRAPH_EVENTS, .ids = {ID_CONFIG("tenantId", "tenantId")}},
        .verify = graph_verify,
        .sign = provider_cannot_sign,
        .handshake = handshake_graph,
    },
    {
        .name = "outlook",
        .scheme = GRAPH_SCHEME,
        .handshakes = GRAPH_HANDSHAKE,
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {GRAPH_EVENTS, .ids = {ID_URL_CONNECTION, ID_METADATA("subscriptionId", "subscriptionId"),
                                       ID_METADATA("subscriptionId", "subscriptionIds")}},
        .verify = graph_verify,
        .sign = provider_cannot_sign,
        .handshake = handshake_graph,
    },
    /* Nango: the resource URI in the watched calendars' list, else the calendar's id (the
     * primary calendar's is the account's email) in metadata.emailAddress or .email. */
    GOOGLE_ROW("google-calendar", GOOGLE_CALENDAR_URIS,
               ID_HEADER_CALENDAR_METADATA("X-Goog-Resource-URI", "emailAddress"),
               ID_HEADER_CALENDAR_METADATA("X-Goog-Resource-URI", "email")),
    /* Nango: the watched resource id in connection_config (or a list of them in
     * metadata), else the resource URI as for calendars. */
    GOOGLE_ROW("google-drive", ID_HEADER_CONFIG("X-Goog-Resource-ID", "googleDriveWatchResourceId"),
               ID_HEADER_METADATA("X-Goog-Resource-ID", "googleDriveWatchResourceIds"), GOOGLE_CALENDAR_URIS),
};

const size_t provider_rows_messaging_len = sizeof provider_rows_messaging / sizeof provider_rows_messaging[0];
