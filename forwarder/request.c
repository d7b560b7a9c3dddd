/* request: what a routed message becomes on the wire.
 *
 * Envelope mode (the default) sends the Nango-compatible envelope as application/json;
 * raw mode sends the routed payload (the provider's body, or a connection's share of a
 * batch) unchanged with the provider's original Content-Type. Both carry the
 * provider's headers that may be passed on (not hop-by-hop, not credentials, not ours)
 * and hookline's own: the Nango and Standard Webhooks signatures over the exact body
 * sent, and X-Hookline-* (webhook id, verification verdict, provider, integration,
 * connection, event type), which in raw mode are the only place those are named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "forwarder/envelope.h"
#include "forwarder/forwarder.h"

/* Request headers of the provider that are not passed on: hop-by-hop, credentials,
 * and the names hookline sets itself (Content-Type travels separately). */
static bool header_passes(const char *name)
{
    static const char *const dropped[] = {
        "host", "content-length", "content-type", "connection", "keep-alive", "proxy-authorization",
        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect", "authorization", "cookie",
        "user-agent", "accept-encoding", "webhook-id", "webhook-timestamp", "webhook-signature",
    };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (!strcasecmp(name, dropped[i]))
            return false;
    return strncasecmp(name, "x-nango-", 8) != 0 && strncasecmp(name, "x-hookline-", 11) != 0 &&
           strncasecmp(name, "x-forwarded-", 12) != 0;
}

void routed_read(struct routed *r, rd_kafka_headers_t *h)
{
    memset(r, 0, sizeof *r);
    msg_header(h, MSG_H_WEBHOOK_ID, r->webhook_id, sizeof r->webhook_id);
    msg_header(h, MSG_H_ROUTED_ID, r->routed_id, sizeof r->routed_id);
    msg_header(h, MSG_H_ENVIRONMENT, r->env, sizeof r->env);
    msg_header(h, MSG_H_INTEGRATION, r->integration, sizeof r->integration);
    msg_header(h, MSG_H_PROVIDER, r->provider, sizeof r->provider);
    msg_header(h, MSG_H_VERIFIED, r->verified, sizeof r->verified);
    msg_header(h, MSG_H_EVENT_TYPE, r->event_type, sizeof r->event_type);
    if (!msg_header(h, MSG_H_HTTP_PREFIX "content-type", r->content_type, sizeof r->content_type) ||
        strpbrk(r->content_type, "\r\n"))
        r->content_type[0] = '\0';
    r->attributed = msg_header(h, MSG_H_CONNECTION, r->connection, sizeof r->connection) != NULL;
    char kind[16];
    r->notification = msg_header(h, MSG_H_KIND, kind, sizeof kind) != NULL;
    r->npass = msg_http_headers(h, r->passthrough, ROUTED_MAX_HEADERS, header_passes);
}

void routed_free(struct routed *r)
{
    msg_http_headers_free(r->passthrough, r->npass);
    r->npass = 0;
}

/* Adds a header; the array has room for every header this file adds. */
static void add(struct forward_request *req, const char *name, const char *value)
{
    if (req->nheaders < sizeof req->headers / sizeof req->headers[0])
        req->headers[req->nheaders++] = (struct delivery_header){name, value};
}

int request_build(struct forward_request *req, const struct routed *r, const struct destination *dest,
                  const void *payload, size_t len)
{
    memset(req, 0, sizeof *req);
    req->r = r;
    req->dest = dest;
    if (dest->raw || r->notification) { /* a notification is its own body */
        req->body = len ? payload : "";
        req->len = len;
    } else {
        req->owned_body = envelope_build(r->provider, r->integration, r->attributed ? r->connection : NULL, payload,
                                         len, &req->len);
        req->body = req->owned_body;
    }
    if (!req->body) {
        log_error(r->webhook_id, "out of memory building the request for %s", r->routed_id);
        return -1;
    }
    envelope_sign_nango(dest->signing_key, req->body, req->len, req->nango_sig);
    if (dest->legacy_signature && envelope_sign_nango_legacy(dest->signing_key, req->body, req->len,
                                                              req->legacy_sig) < 0) {
        log_error(r->webhook_id, "out of memory signing the request for %s", r->routed_id);
        request_free(req);
        return -1;
    }

    /* Raw mode without a provider Content-Type sends none ("" disables curl's default). */
    add(req, "Content-Type", dest->raw && !r->notification ? r->content_type : "application/json");
    add(req, "X-Nango-Hmac-Sha256", req->nango_sig);
    if (dest->legacy_signature)
        add(req, "X-Nango-Signature", req->legacy_sig);
    add(req, "webhook-id", r->routed_id);
    add(req, "webhook-timestamp", req->ts);
    add(req, "webhook-signature", req->sw_sig);
    add(req, "X-Hookline-Webhook-Id", r->webhook_id);
    if (!r->notification)
        add(req, "X-Hookline-Verified", strcmp(r->verified, "verified") == 0 ? "true" : "false");
    add(req, "X-Hookline-Provider", r->provider);
    add(req, "X-Hookline-Integration", r->integration);
    if (r->attributed)
        add(req, "X-Hookline-Connection-Id", r->connection);
    if (r->event_type[0])
        add(req, "X-Hookline-Event-Type", r->event_type);
    for (size_t i = 0; i < r->npass; i++)
        add(req, r->passthrough[i].name, r->passthrough[i].value);
    return 0;
}

void request_stamp(struct forward_request *req, long long now)
{
    const struct destination *d = req->dest;
    const char *previous = d->previous_signing_key[0] && now < d->previous_until ? d->previous_signing_key : NULL;
    snprintf(req->ts, sizeof req->ts, "%lld", now);
    envelope_sign_standard(d->signing_key, previous, req->r->routed_id, now, req->body, req->len, req->sw_sig);
}

void request_free(struct forward_request *req)
{
    free(req->owned_body);
    req->owned_body = NULL;
    req->body = NULL;
}
