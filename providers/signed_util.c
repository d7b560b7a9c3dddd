/* signed_util: helpers of the signed providers (see signed.h). */
#include "providers/signed.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The verify_config settings each signed provider reads. */
static const struct {
    const char *provider, *keys[4];
} known_options[] = {
    {"google-mail", {"audience", "email", "jwks_url"}},
    {"microsoft-teams", {"audience", "jwks_url"}},
    {"microsoft-teams-bot", {"audience", "jwks_url"}},
    {"plaid", {"client_id", "key_url"}},
};

bool signed_option_known(const struct provider *p, const char *key)
{
    for (size_t i = 0; i < sizeof known_options / sizeof known_options[0]; i++)
        if (strcmp(known_options[i].provider, p->name) == 0)
            for (size_t k = 0; k < 4 && known_options[i].keys[k]; k++)
                if (strcmp(known_options[i].keys[k], key) == 0)
                    return true;
    return false;
}

char *signed_option(const struct provider_secrets *secrets, const char *key, bool *bad)
{
    const char *text = secrets ? secrets->verify_config : NULL;
    if (!text || !text[0])
        return NULL;
    json_t *cfg = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *v = json_object_get(cfg, key);
    char *out = NULL;
    if (json_is_string(v))
        out = strdup(json_string_value(v));
    else if (v || !json_is_object(cfg))
        *bad = true;
    json_decref(cfg);
    return out;
}

const char *signed_bearer(const struct webhook_request *req, const char *header, bool bearer_optional)
{
    const char *v = webhook_header(req, header);
    if (!v)
        return NULL;
    if (strncasecmp(v, "Bearer ", 7) == 0) {
        v += 7;
        while (*v == ' ')
            v++;
    } else if (!bearer_optional) {
        return NULL;
    }
    return v[0] ? v : NULL;
}

bool signed_body_sha256_ok(const struct webhook_request *req, const char *hex)
{
    unsigned char want[32], got[32];
    crypto_sha256(req->body, req->body_len, want);
    return hex && crypto_unhex(hex, strlen(hex), got, sizeof got) == 32 && crypto_equal(got, 32, want, 32);
}
