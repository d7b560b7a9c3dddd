/*
 * connection_trust: when a webhook may be attributed to the connection it names only if
 * that connection's own secret verified it, and that verification. An integration-wide
 * secret proves the integration's provider sent the bytes it signs, not which
 * connection a part it does not sign (the URL's query, a custom header) names; a
 * connection's own secret proves both. See docs/providers.md, "Per-connection secrets".
 */
#include <string.h>

#include "providers/provider_impl.h"

/* True if every scheme of the row signs the URL the provider called (query included). */
static bool signs_url(const struct provider *p)
{
    bool any = false;
    for (int i = 0; i < PROVIDER_MAX_SCHEMES && p->sigs[i].header; i++) {
        bool url = false;
        for (int k = 0; k < SIG_MAX_PARTS && p->sigs[i].parts[k].kind != SIG_PART_END; k++)
            url |= p->sigs[i].parts[k].kind == SIG_PART_URL || p->sigs[i].parts[k].kind == SIG_PART_URL_RESERVED;
        if (!url)
            return false;
        any = true;
    }
    return any;
}

/* The row's locator that produced g's identifier, or NULL. */
static const struct attr_id *locator_of(const struct provider *p, const struct attribution_group *g)
{
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        if (p->attr.ids[i].source == g->source && !strcmp(p->attr.ids[i].key, g->config_key))
            return &p->attr.ids[i];
    return NULL;
}

bool provider_url_connection_needs_secret(const struct provider *p)
{
    if (p->per_connection_secret)
        return true;
    if (!provider_secret_field(p) || signs_url(p))
        return false;
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        if (p->attr.ids[i].from == ATTR_FROM_QUERY)
            return true;
    return false;
}

bool provider_group_needs_connection_secret(const struct provider *p, const struct attribution_group *g)
{
    if (!g->config_key || !g->value)
        return false; /* unattributed: nothing to trust */
    if (p->per_connection_secret)
        return true;
    /* Proven by the provider's published keys (google-mail, microsoft-teams, ...), not by
     * a secret a connection could hold of its own: nothing to ask of the connection. */
    if (!provider_secret_field(p))
        return false;
    const struct attr_id *loc = locator_of(p, g);
    return loc && loc->from == ATTR_FROM_QUERY && !signs_url(p);
}

enum verify_result provider_verify_connection(const struct provider *p, const struct webhook_request *req,
                                              const char *connection_secret, const char *verify_config, char *why,
                                              size_t whylen)
{
    struct provider_secrets s = {.verify_config = verify_config};
    const char *field = provider_secret_field(p);
    if (field && !strcmp(field, "client_secret"))
        s.client_secret = connection_secret;
    else
        s.webhook_secret = connection_secret;
    return provider_verify(p, req, &s, why, whylen);
}
