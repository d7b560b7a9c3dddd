/*
 * options: what an integration's verify_config may say to a provider that is a row
 * (every provider but generic-hmac, whose verify_config is its whole scheme). Today one
 * setting:
 *
 *   allow_legacy_signature  true: a row's legacy scheme (untimed, or a weaker hash) is
 *                           accepted on its own; default false: a request must carry
 *                           the preferred scheme whenever the integration's secrets can
 *                           check it, so a sender cannot pick the weaker one by dropping
 *                           a header (signature.c).
 *
 * A value of the wrong type refuses every request, with the reason (like generic-hmac's
 * verify_config, it never quietly checks less or more than was meant). Unknown keys
 * are ignored while verifying (a setting hookline does not know cannot loosen
 * anything) but reported by provider_check_verify_config, so the CLI refuses a
 * misspelt setting before it is stored.
 */
#include "providers/provider_impl.h"

#include <string.h>

#include "providers/signed.h"

#define KEY_ALLOW_LEGACY "allow_legacy_signature"

/* As verify_options_load; strict: unknown keys are an error too. */
static int options_read(const struct provider *p, const struct provider_secrets *secrets, bool strict,
                        struct verify_options *out, char *why, size_t whylen)
{
    *out = (struct verify_options){.allow_legacy = false};
    const char *text = secrets ? secrets->verify_config : NULL;
    if (p->verify == generic_hmac_verify || !text || !text[0])
        return 0;
    json_t *cfg = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    int rc = json_is_object(cfg) ? 0 : -1;
    if (rc < 0)
        provider_say(why, whylen, "verify_config is not a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach(cfg, key, value)
    {
        if (signed_option_known(p, key)) { /* its provider's code reads it: a string */
            if (json_is_string(value))
                continue;
            provider_say(why, whylen, "verify_config: %s must be a string", key);
            rc = -1;
            break;
        }
        if (strcmp(key, KEY_ALLOW_LEGACY) != 0) {
            if (!strict)
                continue;
            provider_say(why, whylen, "verify_config: unknown key for %s (known: " KEY_ALLOW_LEGACY ")", p->name);
            rc = -1;
            break;
        }
        if (!json_is_boolean(value)) {
            provider_say(why, whylen, "verify_config: " KEY_ALLOW_LEGACY " must be true or false");
            rc = -1;
            break;
        }
        out->allow_legacy = json_is_true(value);
    }
    json_decref(cfg);
    return rc;
}

int verify_options_load(const struct provider *p, const struct provider_secrets *secrets, struct verify_options *out,
                        char *why, size_t whylen)
{
    return options_read(p, secrets, false, out, why, whylen);
}

int provider_check_verify_config(const struct provider *p, const char *verify_config, char *why, size_t whylen)
{
    struct provider_secrets s = {.verify_config = verify_config};
    if (why && whylen)
        why[0] = '\0';
    if (p->verify == generic_hmac_verify)
        return generic_hmac_check(verify_config, why, whylen);
    struct verify_options o;
    return options_read(p, &s, true, &o, why, whylen);
}
