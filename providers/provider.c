/*
 * provider: the public interface of provider.h. Each call goes to the row's custom code
 * when it has some, otherwise to the generic engines (signature.c, attribution.c).
 */
#include "providers/provider_impl.h"

#include <stdlib.h>
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
    return p->attr.config_key;
}

const char *provider_secret_field(const struct provider *p)
{
    switch (p->sigs[0].header ? p->sigs[0].secret : SIG_SECRET_NONE) {
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
    return signature_verify(p, req, secrets, why, whylen);
}

size_t provider_ordering_key(const struct provider *p, const struct webhook_request *req, char *out,
                             size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    return attribution_ordering_key(p, req, out, outlen);
}

int provider_attribute(const struct provider *p, const struct webhook_request *req, struct attribution *out,
                       char *err, size_t errlen)
{
    out->groups = NULL;
    out->n = 0;
    if (err && errlen)
        err[0] = '\0';
    if (p->attribute)
        return p->attribute(p, req, out, err, errlen);
    return attribution_split(p, req, out, err, errlen);
}

void attribution_free(struct attribution *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->groups[i].config_key);
        free(a->groups[i].value);
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

int provider_handshake(const struct provider *p, const struct webhook_request *req,
                       const struct provider_secrets *secrets, struct handshake_answer *out)
{
    return p->handshake ? p->handshake(p, req, secrets, out) : 0;
}
