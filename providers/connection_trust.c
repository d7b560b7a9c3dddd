/*
 * connection_trust: when a webhook may be attributed to the connection it names only if
 * that connection's own secret verified it, and that verification. An integration-wide
 * secret proves the integration's provider sent the bytes it signs, not which
 * connection a part it does not sign (the URL's query, a custom header) names; a
 * connection's own secret proves both. See docs/providers.md, "Per-connection secrets".
 */
#include <string.h>
#include <strings.h>

#include "providers/provider_impl.h"

/* Whether scheme s signs the part of the request that locator loc reads. */
static bool scheme_signs(const struct sig_spec *s, const struct attr_id *loc)
{
    for (int k = 0; k < SIG_MAX_PARTS && s->parts[k].kind != SIG_PART_END; k++) {
        const struct sig_part *part = &s->parts[k];
        switch (loc->from) {
        case ATTR_FROM_QUERY:
            if (part->kind == SIG_PART_URL || part->kind == SIG_PART_URL_RESERVED)
                return true;
            break;
        case ATTR_FROM_BODY:
            if (part->kind == SIG_PART_BODY || part->kind == SIG_PART_FORM_SORTED)
                return true;
            break;
        case ATTR_FROM_HEADER:
            if (part->kind == SIG_PART_HEADER && !strcasecmp(part->text, loc->name))
                return true;
            break;
        }
    }
    return false;
}

/* Whether whatever verifies the row's webhooks covers what loc reads: every scheme of a
 * generic row signs it (a token scheme signs nothing), or custom code that signs the
 * body reads it from the body. */
static bool locator_signed(const struct provider *p, const struct attr_id *loc)
{
    if (p->verify)
        return p->custom_signs_body && loc->from == ATTR_FROM_BODY;
    bool any = false;
    for (int i = 0; i < PROVIDER_MAX_SCHEMES && p->sigs[i].header; i++) {
        if (!scheme_signs(&p->sigs[i], loc))
            return false;
        any = true;
    }
    return any;
}

/* Whether an identifier stored under (source, key) may come from a part the signature
 * does not cover: some locator of the row that fills it reads such a part. */
static bool key_unsigned(const struct provider *p, enum attribution_source source, const char *key)
{
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++)
        if (p->attr.ids[i].source == source && !strcmp(p->attr.ids[i].key, key) && !locator_signed(p, &p->attr.ids[i]))
            return true;
    return false;
}

const char *provider_unsigned_locator(const struct provider *p, size_t i, const char **where)
{
    static const char *const wheres[] = {
        [ATTR_FROM_BODY] = "body", [ATTR_FROM_HEADER] = "header", [ATTR_FROM_QUERY] = "query"};
    if (!provider_secret_field(p))
        return NULL;
    for (int k = 0; k < ATTR_MAX_IDS && p->attr.ids[k].name; k++)
        if ((p->per_connection_secret || !locator_signed(p, &p->attr.ids[k])) && i-- == 0) {
            if (where)
                *where = wheres[p->attr.ids[k].from];
            return p->attr.ids[k].name;
        }
    return NULL;
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
    /* The router tries the group's alternatives when its identifier names no connection
     * and does not say which one found it: an unsigned one among them is enough. */
    if (key_unsigned(p, g->source, g->config_key))
        return true;
    for (size_t i = 0; i < g->nalts; i++)
        if (g->alts[i].config_key && key_unsigned(p, g->alts[i].source, g->alts[i].config_key))
            return true;
    return false;
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
