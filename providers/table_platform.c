/*
 * table_platform: providers that are a standard or a configuration rather than one
 * API: Standard Webhooks (any sender that follows it), generic HMAC (described per
 * integration by its verify_config) and the explicit opt-out of verification.
 * See provider_impl.h for what each field means and rows.h for the shared fragments.
 */
#include "providers/rows.h"

const struct provider provider_rows_platform[] = {
    {
        .name = "standard-webhooks",
        .scheme = "Standard Webhooks: v1 base64 HMAC-SHA256 of \"<id>.<timestamp>.<body>\" (whsec_ secret) or "
                  "v1a Ed25519 (whpk_ public key) in webhook-signature (or svix-*), timestamp within 300 s",
        .sigs = {SIG_STD_V1_ANY(false), SIG_STD_V1A},
        .attr = {.ids = {ID_URL_CONNECTION}, .event_paths = {"type"}, .event_id_headers = {"webhook-id", "svix-id"}},
    },
    {
        /* The scheme is the integration's verify_config (generic_hmac.c). */
        .name = "generic-hmac",
        .scheme = "HMAC as the integration's verify_config describes (header, algorithm, encoding, prefix, "
                  "template, timestamp)",
        .sigs = {{.secret = SIG_SECRET_WEBHOOK}},
        .attr = {.ids = {ID_URL_CONNECTION}},
        .verify = generic_hmac_verify,
        .sign = generic_hmac_sign,
    },
    {
        /* Explicit opt-in for integrations whose provider cannot sign: nothing is
         * verified; the webhook URL may name the connection. */
        .name = "unauthenticated",
        .scheme = "none: the provider does not sign requests",
        .attr = {.body = ATTR_BODY_OPTIONAL, .ids = {ID_URL_CONNECTION, ID_BODY_CONNECTION("connectionId")}},
        .unverified_by_choice = true,
    },
};

const size_t provider_rows_platform_len = sizeof provider_rows_platform / sizeof provider_rows_platform[0];
