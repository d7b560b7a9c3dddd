/*
 * handshake: the synchronous answers some providers expect before (or instead of)
 * the usual 200, behind provider_handshake (provider.h):
 *
 *   slack   POST {"type":"url_verification","challenge":C}, signed -> 200 {"challenge":C}
 *   zoom    POST {"event":"endpoint.url_validation","payload":{"plainToken":T}}, signed
 *           -> 200 {"plainToken":T,"encryptedToken":hex HMAC-SHA256(secret, T)}
 *   graph   POST or GET ?validationToken=V -> 200 text/plain V (1..1024 printable ASCII
 *           characters, else 400)
 *   xero    POST intent to receive ({"events":[]...}) -> 200 empty when signed, else 401
 *   notion  POST {"verification_token":V} (unsigned) -> 200, and stored for the app
 *           (unattributed: the router never names a connection for it); 409 when the
 *           integration already has a token, which a handshake never replaces
 *
 * A request that says it is a handshake but is malformed (Slack's url_verification
 * without a challenge, Zoom's url_validation without a plainToken, an empty Graph
 * validationToken) is refused with 400 once its signature verified, never forwarded
 * as an ordinary event.
 *
 * A handshake that the provider signs is verified here and refused with 401 when it
 * is not valid: Zoom's answer is an HMAC of a string the request chooses, so an
 * unsigned validation would let anyone have any message signed with the secret.
 * Echoed tokens are bounded and checked for their charset, and every answer with a
 * body says X-Content-Type-Options: nosniff, so an echoed token is never read as
 * anything but its content type. A refusal (status >= 400) says why in out->why.
 * Answers own their body (the caller frees it).
 */
#include "providers/provider_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX 512        /* Slack challenges, Zoom plainTokens, Notion tokens */
#define GRAPH_TOKEN_MAX 1024 /* Graph's validationToken is a sentence of about 150 */
#define UNAUTHORIZED "{\"error\":\"invalid or missing signature\"}"

/* Fills out and returns 1; body (may be NULL) is copied. -1 when out of memory. */
int handshake_reply(struct handshake_answer *out, unsigned status, const char *ctype, const char *body, size_t len,
                    bool store)
{
    char *copy = body ? provider_strndup(body, len) : NULL;
    if (body && !copy)
        return -1;
    *out = (struct handshake_answer){.status = status, .body = copy, .body_len = body ? len : 0, .store = store};
    snprintf(out->content_type, sizeof out->content_type, "%s", ctype);
    if (body)
        out->headers[0] = (struct http_header){"X-Content-Type-Options", "nosniff"};
    return 1;
}

/* A refusal without a body, and why (for the log). */
int handshake_refuse(struct handshake_answer *out, unsigned status, const char *fmt, ...)
{
    va_list ap;
    int rc = handshake_reply(out, status, "", NULL, 0, false);
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
    return rc;
}

int handshake_reply_json(struct handshake_answer *out, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = text ? handshake_reply(out, 200, "application/json", text, strlen(text), false) : -1;
    free(text);
    return rc;
}

/* 401 for a handshake whose signature did not verify; the verification's reason. */
static int refuse(struct handshake_answer *out, const char *why)
{
    int rc = handshake_reply(out, 401, "application/json", UNAUTHORIZED, strlen(UNAUTHORIZED), false);
    if (rc > 0)
        snprintf(out->why, sizeof out->why, "%s", why);
    return rc;
}

/* The body of a POST whose body is a JSON object containing the bytes of needle (a
 * cheap test first: most requests are no handshake): a new reference, or NULL. */
static json_t *post_object(const struct webhook_request *req, const char *needle)
{
    if (!req->method || strcasecmp(req->method, "POST") != 0 || !req->body || req->body_len == 0 ||
        !memmem(req->body, req->body_len, needle, strlen(needle)))
        return NULL;
    json_t *root = provider_parse_json(req, NULL, 0);
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static bool is_text(json_t *v, const char *want)
{
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* A short random token as providers send them: 1..TOKEN_MAX of [A-Za-z0-9_.~+/=-]. */
static bool token_ok(json_t *v)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~+/=-";
    size_t len = json_string_length(v);
    return json_is_string(v) && len > 0 && len <= TOKEN_MAX && strspn(json_string_value(v), allowed) == len;
}

HANDSHAKE_FN(handshake_slack)
{
    json_t *root = post_object(req, "url_verification"), *challenge = json_object_get(root, "challenge");
    int rc = 0;
    char why[sizeof out->why];
    if (root && is_text(json_object_get(root, "type"), "url_verification")) {
        if (provider_verify(p, req, secrets, why, sizeof why) != VERIFY_VALID)
            rc = refuse(out, why);
        else if (!token_ok(challenge))
            rc = handshake_refuse(out, 400, "the challenge is missing or not a short token");
        else
            rc = handshake_reply_json(out, json_pack("{s:O}", "challenge", challenge));
    }
    json_decref(root);
    return rc;
}

/* Zoom's answer: the token and its HMAC with the secret that verified the request. */
static int zoom_answer(struct handshake_answer *out, json_t *token, const char *secret)
{
    unsigned char mac[64];
    char hex[129];
    size_t len = crypto_hmac1(HMAC_SHA256, secret, strlen(secret), json_string_value(token), json_string_length(token),
                              mac);
    if (len == 0)
        return -1;
    crypto_hex(mac, len, hex);
    return handshake_reply_json(out, json_pack("{s:O, s:s}", "plainToken", token, "encryptedToken", hex));
}

HANDSHAKE_FN(handshake_zoom)
{
    json_t *root = post_object(req, "endpoint.url_validation");
    json_t *token = provider_json_path(root, "payload.plainToken");
    int rc = 0;
    char why[sizeof out->why];
    if (root && is_text(json_object_get(root, "event"), "endpoint.url_validation")) {
        const char *used = NULL;
        if (signature_verify(p, req, secrets, &used, why, sizeof why) != VERIFY_VALID)
            rc = refuse(out, why);
        else if (!token_ok(token))
            rc = handshake_refuse(out, 400, "payload.plainToken is missing or not a short token");
        else
            rc = zoom_answer(out, token, used);
    }
    json_decref(root);
    return rc;
}

HANDSHAKE_FN(handshake_graph)
{
    (void)p;
    (void)secrets;
    char *token = provider_query_param(req->query, "validationToken");
    if (!token)
        return 0;
    size_t len = strlen(token), i = 0;
    while (i < len && (unsigned char)token[i] >= 0x20 && (unsigned char)token[i] < 0x7f)
        i++; /* printable ASCII only */
    int rc;  /* never empty: provider_query_param drops empty values (no handshake) */
    if (len > GRAPH_TOKEN_MAX)
        rc = handshake_refuse(out, 400, "validationToken is longer than %d bytes", GRAPH_TOKEN_MAX);
    else if (i < len)
        rc = handshake_refuse(out, 400, "validationToken has a control or non-ASCII character");
    else
        rc = handshake_reply(out, 200, "text/plain", token, len, false);
    free(token);
    return rc;
}

HANDSHAKE_FN(handshake_xero)
{
    json_t *root = post_object(req, "events"), *events = json_object_get(root, "events");
    int rc = 0;
    char why[sizeof out->why];
    if (root && json_is_array(events) && json_array_size(events) == 0) {
        if (provider_verify(p, req, secrets, why, sizeof why) == VERIFY_VALID)
            rc = handshake_reply(out, 200, "", NULL, 0, false);
        else
            rc = handshake_refuse(out, 401, "%s", why);
    }
    json_decref(root);
    return rc;
}

HANDSHAKE_FN(handshake_notion)
{
    (void)p;
    json_t *root = post_object(req, "verification_token");
    json_t *token = json_object_get(root, "verification_token");
    bool configured = secrets && secrets->webhook_secret && secrets->webhook_secret[0];
    int rc = 0;
    /* Only the bare token: an event that also carries one is verified as usual. With a
     * token configured, a new one is refused rather than shown to the app, which could
     * take it for the integration's token (whoever sent it). */
    if (root && json_object_size(root) == 1 && token_ok(token) && configured)
        rc = handshake_refuse(out, 409,
                              "a verification token is already configured: clear the webhook secret to take a new one");
    else if (root && json_object_size(root) == 1 && token_ok(token))
        rc = handshake_reply(out, 200, "application/json", "{\"status\":\"success\"}", 20, true);
    json_decref(root);
    return rc;
}
