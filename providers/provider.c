/*
 * provider: the public interface of provider.h (and the descriptions of
 * provider_info.h). Each call goes to the row's custom code when it has some,
 * otherwise to the generic engines (signature.c, attribution.c).
 */
#include "providers/provider_impl.h"
#include "providers/provider_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *provider_name(const struct provider *p)
{
    return p->name;
}

const char *provider_scheme(const struct provider *p)
{
    return p->scheme;
}

const char *provider_attribution_key(const struct provider *p)
{
    return p->attr.ids[0].name ? p->attr.ids[0].key : NULL;
}

bool provider_unverified_by_choice(const struct provider *p)
{
    return p->unverified_by_choice;
}

bool provider_signs_nothing(const struct provider *p)
{
    return !p->verify && !p->sigs[0].header;
}

const char *provider_secret_field(const struct provider *p)
{
    switch (p->sigs[0].secret) {
    case SIG_SECRET_WEBHOOK:
        return "webhook_secret";
    case SIG_SECRET_CLIENT:
        return "client_secret";
    case SIG_SECRET_NONE:
    default:
        return NULL;
    }
}

enum verify_result provider_verify(const struct provider *p, const struct webhook_request *req,
                                   const struct provider_secrets *secrets, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (p->verify)
        return p->verify(p, req, secrets, why, whylen);
    return signature_verify(p, req, secrets, NULL, why, whylen);
}

size_t provider_ordering_key(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    return attribution_ordering_key(p, req, out, outlen);
}

int provider_attribute_except(const struct provider *p, const struct webhook_request *req, const bool *drop,
                              size_t ndrop, struct attribution *out, char *err, size_t errlen)
{
    out->groups = NULL;
    out->n = 0;
    if (err && errlen)
        err[0] = '\0';
    return attribution_split(p, req, drop, ndrop, out, err, errlen);
}

int provider_attribute(const struct provider *p, const struct webhook_request *req, struct attribution *out, char *err,
                       size_t errlen)
{
    return provider_attribute_except(p, req, NULL, 0, out, err, errlen);
}

void attribution_free(struct attribution *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->groups[i].config_key);
        free(a->groups[i].value);
        for (size_t k = 0; k < a->groups[i].nalts; k++) {
            free(a->groups[i].alts[k].config_key);
            free(a->groups[i].alts[k].value);
        }
        free(a->groups[i].event_type);
        free(a->groups[i].payload);
    }
    free(a->groups);
    a->groups = NULL;
    a->n = 0;
}

const char *webhook_header(const struct webhook_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

int provider_sign(const struct provider *p, const struct webhook_request *req, const struct provider_secrets *secrets,
                  struct http_header *out, size_t max)
{
    if (p->sign)
        return p->sign(p, req, secrets, out, max);
    return signature_sign(p, req, secrets, out, max);
}

int provider_cannot_sign(const struct provider *p, const struct webhook_request *req,
                         const struct provider_secrets *secrets, struct http_header *out, size_t max)
{
    (void)p;
    (void)req;
    (void)secrets;
    (void)out;
    (void)max;
    return -1;
}

int provider_handshake(const struct provider *p, const struct webhook_request *req,
                       const struct provider_secrets *secrets, struct handshake_answer *out)
{
    return p->handshake ? p->handshake(p, req, secrets, out) : 0;
}

/* ---- provider_info.h ------------------------------------------------------------ */

const char *provider_handshakes(const struct provider *p)
{
    return p->handshakes;
}

static const char *source_name(enum attribution_source s)
{
    return s == ATTR_METADATA ? "metadata" : s == ATTR_CONNECTION_ID ? "connection id" : "connection_config";
}

static const char *from_name(enum attr_from f)
{
    return f == ATTR_FROM_HEADER ? "header " : f == ATTR_FROM_QUERY ? "URL ?" : "";
}

size_t provider_attribution(const struct provider *p, char *out, size_t outlen)
{
    size_t o = 0;
    if (!out || !outlen)
        return 0;
    out[0] = '\0';
    for (int i = 0; i < ATTR_MAX_IDS && p->attr.ids[i].name; i++) {
        const struct attr_id *id = &p->attr.ids[i];
        int n = snprintf(out + o, outlen - o, "%s%s%s%s%s -> %s%s%s", i ? ", else " : "", from_name(id->from),
                         p->attr.batch && id->from == ATTR_FROM_BODY ? p->attr.batch : "",
                         p->attr.batch && p->attr.batch[0] && id->from == ATTR_FROM_BODY ? "[]." : "", id->name,
                         source_name(id->source), id->source == ATTR_CONNECTION_ID ? "" : ".",
                         id->source == ATTR_CONNECTION_ID ? "" : id->key);
        if (n < 0 || (size_t)n >= outlen - o)
            return o;
        o += (size_t)n;
    }
    return o;
}
