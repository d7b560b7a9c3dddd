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
#include "common/envelope.h"
#include "forwarder/forwarder.h"

/* Request headers of the provider that are not passed on: hop-by-hop and framing
 * headers (they describe the provider's connection to the ingress, not ours to the app,
 * and would let a stranger bend how the app reads the request), the headers frameworks
 * read as another method or URL (X-HTTP-Method-Override, X-Original-URL, ...),
 * credentials, headers that claim where the request came from, and the names hookline
 * sets itself (Content-Type travels separately). name is trimmed and a token
 * (msg_http_headers). */
bool header_passes(const char *name)
{
    static const char *const dropped[] = {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "http2-settings",
        "via",
        "authorization",
        "cookie",
        "user-agent",
        "accept-encoding",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
        "x-original-method",
        "forwarded",
        "x-forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-cluster-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "traceparent", /* hookline sends its own span of the trace (common/traceparent.h) */
        "tracestate",
    };
    static const char *const dropped_prefixes[] = {"proxy-", "x-forwarded-", "x-nango-", "x-hookline-"};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (!strcasecmp(name, dropped[i]))
            return false;
    for (size_t i = 0; i < sizeof dropped_prefixes / sizeof dropped_prefixes[0]; i++)
        if (!strncasecmp(name, dropped_prefixes[i], strlen(dropped_prefixes[i])))
            return false;
    return true;
}

/* Removes CR, LF and every other C0 control but tab from s, in place. */
static void strip_controls(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x20 || *p == '\t')
            *w++ = *p;
    *w = '\0';
}

const char *routed_read(struct msg_routed *r, rd_kafka_headers_t *h)
{
    const char *why = msg_routed_decode(r, h, header_passes);
    /* Values that are only passed on are cleaned instead of refused: a bad event type
     * is sent without its control characters (one too long is left out). */
    strip_controls(r->event_type);
    strip_controls(r->content_type);
    return why;
}

/* Adds a header; the array has room for every header this file adds. The last gate
 * before the wire: a value with CR or LF (none should get here) is left out. */
static void add(struct forward_request *req, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n")) {
        log_warn(req->r->webhook_id, "header %s of %s left out: its value holds CR or LF", name, req->r->routed_id);
        return;
    }
    if (req->nheaders < sizeof req->headers / sizeof req->headers[0])
        req->headers[req->nheaders++] = (struct delivery_header){name, value};
}

int request_build(struct forward_request *req, const struct msg_routed *r, const struct destination *dest,
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
    if (dest->legacy_signature &&
        envelope_sign_nango_legacy(dest->signing_key, req->body, req->len, req->legacy_sig) < 0) {
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
    else if (r->unattributed_reason != MSG_UNATTRIBUTED_NONE)
        add(req, "X-Hookline-Unattributed-Reason", msg_unattributed_reason_name(r->unattributed_reason));
    if (r->event_type[0])
        add(req, "X-Hookline-Event-Type", r->event_type);
    if (r->replay_id[0])
        add(req, "X-Hookline-Replay-Id", r->replay_id);
    /* The forwarder's span: a child of the router's, or a new trace for a message
     * without one (written before traces were carried). */
    if (traceparent_next(r->traceparent, req->traceparent)[0])
        add(req, "traceparent", req->traceparent);
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
