/*
 * provider_table: every provider hookline knows, as data (see provider_impl.h for what
 * each field means). Add a provider here, then add its cases under
 * tests/providers/<name>/; write code only for what a row cannot say.
 */
#include "providers/provider_impl.h"

#include <string.h>

const struct provider provider_table[] = {
    {
        .name = "github-app",
        .scheme = "HMAC-SHA256 of the raw body with the webhook secret, hex, "
                  "\"sha256=\" prefix, in X-Hub-Signature-256",
        .sigs = {{
            .header = "X-Hub-Signature-256",
            .alg = HMAC_SHA256,
            .prefix = "sha256=",
            .encoding = SIG_ENC_HEX,
            .parts = {{SIG_PART_BODY, NULL}},
            .secret = SIG_SECRET_WEBHOOK,
        }},
        .ordering_path = "installation.id",
        .attr = {
            .config_key = "installation_id",
            .id_path = "installation.id",
            .event_header = "X-GitHub-Event",
            .event_path = "action",
        },
    },
    {
        .name = "hubspot",
        .scheme = "v3: HMAC-SHA256 of method + URL + body + X-HubSpot-Request-Timestamp "
                  "(unix ms, within 300 s) with the client secret, base64, in X-HubSpot-Signature-v3",
        .sigs = {{
            .header = "X-HubSpot-Signature-v3",
            .alg = HMAC_SHA256,
            .encoding = SIG_ENC_BASE64,
            .parts = {{SIG_PART_METHOD, NULL}, {SIG_PART_URL_RESERVED, NULL},
                      {SIG_PART_BODY, NULL}, {SIG_PART_TIMESTAMP, NULL}},
            .ts_header = "X-HubSpot-Request-Timestamp",
            .ts_unit = SIG_TS_MILLIS,
            .ts_tolerance = 300,
            .secret = SIG_SECRET_CLIENT,
        }},
        .ordering_path = "[0].portalId",
        .attr = {
            .config_key = "portalId",
            .id_path = "[].portalId",
            .event_path = "subscriptionType",
        },
    },
    {
        /* Explicit opt-in for integrations whose provider cannot sign: nothing is
         * verified and every webhook is one unattributed group. */
        .name = "unauthenticated",
        .scheme = "none: the provider does not sign requests",
    },
};

const size_t provider_table_len = sizeof provider_table / sizeof provider_table[0];

const struct provider *provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < provider_table_len; i++)
        if (strcmp(provider_table[i].name, name) == 0)
            return &provider_table[i];
    return NULL;
}

const struct provider *provider_at(size_t i)
{
    return i < provider_table_len ? &provider_table[i] : NULL;
}
