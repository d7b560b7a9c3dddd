/*
 * graph: Microsoft Graph change notifications (microsoft-oauth2-cc, outlook). Graph
 * does not sign its requests; a subscription carries a clientState chosen by the app,
 * echoed in every notification of the batch (value[]). A request is valid when every
 * notification's clientState equals an active webhook secret (constant time): one
 * mismatch rejects the whole request, since its bytes are forwarded unchanged.
 * (Rich notifications' validationTokens, JWTs, are not checked.)
 */
#include "providers/provider_impl.h"

#include <string.h>

static bool state_ok(json_t *state, const char *const *secrets, size_t n)
{
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        ok |= crypto_equal(json_string_value(state), json_string_length(state), secrets[i], strlen(secrets[i]));
    return ok;
}

enum verify_result graph_verify(const struct provider *p, const struct webhook_request *req,
                                const struct provider_secrets *secrets, char *why, size_t whylen)
{
    const char *keys[2];
    struct verify_options o; /* Graph has no legacy scheme: only a bad config matters */
    if (verify_options_load(p, secrets, &o, why, whylen) < 0)
        return VERIFY_INVALID;
    size_t nk = signature_secrets(p->sigs[0].secret, secrets, keys);
    if (nk == 0) {
        provider_say(why, whylen, "the integration has no webhook secret");
        return VERIFY_NO_SECRET;
    }
    json_t *root = provider_parse_json(req, NULL, 0), *value = json_object_get(root, "value");
    enum verify_result v = VERIFY_VALID;
    if (!json_is_array(value) || json_array_size(value) == 0) {
        provider_say(why, whylen, "no value[] notifications carry a clientState");
        v = VERIFY_MISSING;
    }
    for (size_t i = 0; v == VERIFY_VALID && i < json_array_size(value); i++) {
        json_t *state = json_object_get(json_array_get(value, i), "clientState");
        if (!json_is_string(state)) {
            provider_say(why, whylen, "value[%zu] has no clientState", i);
            v = VERIFY_MISSING;
        } else if (!state_ok(state, keys, nk)) {
            provider_say(why, whylen, "value[%zu].clientState does not match", i);
            v = VERIFY_INVALID;
        }
    }
    if (v == VERIFY_VALID)
        provider_say(why, whylen, "every clientState matches");
    json_decref(root);
    return v;
}
