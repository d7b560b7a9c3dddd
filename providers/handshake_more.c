/*
 * handshake_more: the handshakes of the APIs in table_more.c, behind
 * provider_handshake (provider.h):
 *
 *   asana    POST with X-Hook-Secret: S      -> 200 empty, X-Hook-Secret: S
 *   meta     GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C
 *            -> 200 text/plain C when T is the webhook secret, else 403
 *   dropbox  GET ?challenge=C                 -> 200 text/plain C
 *   x        GET ?crc_token=T -> 200 {"response_token":"sha256=<base64 HMAC-SHA256(client secret, T)>"}
 *   twitch   POST, Twitch-Eventsub-Message-Type: webhook_callback_verification, signed
 *            -> 200 text/plain <body's challenge>; 401 when not validly signed
 *   okta     GET with x-okta-verification-challenge: C, authorised -> 200 {"verification":C}
 *   monday   POST {"challenge":C} and nothing else -> 200 {"challenge":C}
 *   discord  PING, signed: interactions {"type":1} -> 200 {"type":1}; webhook events
 *            {"type":0} -> 204; 401 when not validly signed
 *   mailchimp GET, trello HEAD (the URL check when a webhook is created) -> 200 empty
 *
 * Echoed values are bounded and checked for their charset, and an answer that echoes
 * request bytes says X-Content-Type-Options: nosniff. X's answer is an HMAC of a
 * string the request chooses, as Zoom's is, but X defines it so (its CRC check) and
 * the HMAC uses the consumer secret that X already holds; the webhook secret is never
 * part of an answer. A refusal says why in out->why.
 */
#include "providers/provider_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ECHO_MAX 512 /* challenges, CRC tokens, hook secrets */

static bool is_method(const struct webhook_request *req, const char *m)
{
    return req->method && strcasecmp(req->method, m) == 0;
}

/* A short random token as providers send them: 1..ECHO_MAX of [A-Za-z0-9_.~+/=-]. */
static bool echo_ok(const char *v, size_t len)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~+/=-";
    if (!v || len == 0 || len > ECHO_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!v[i] || !strchr(allowed, v[i]))
            return false;
    return true;
}

/* 200 text/plain echoing value, or 400 when it is not a short token. */
static int reply_echo(struct handshake_answer *out, const char *what, const char *value)
{
    size_t len = value ? strlen(value) : 0;
    if (!echo_ok(value, len))
        return handshake_refuse(out, 400, "%s is not a short token", what);
    return handshake_reply(out, 200, "text/plain", value, len, false);
}

/* The body as a JSON object (POST only): a new reference, or NULL. */
static json_t *post_object(const struct webhook_request *req)
{
    if (!is_method(req, "POST") || !req->body || req->body_len == 0)
        return NULL;
    json_t *root = provider_parse_json(req, NULL, 0);
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

HANDSHAKE_FN(handshake_asana)
{
    (void)p;
    (void)secrets;
    const char *secret = webhook_header(req, "X-Hook-Secret");
    if (!is_method(req, "POST") || !secret)
        return 0;
    if (!echo_ok(secret, strlen(secret)))
        return handshake_refuse(out, 400, "X-Hook-Secret is not a short token");
    int rc = handshake_reply(out, 200, "", NULL, 0, false);
    /* Borrowed from req, which outlives the answer (provider.h). */
    out->headers[0] = (struct http_header){"X-Hook-Secret", secret};
    return rc;
}

/* Whether token is one of the active webhook secrets (constant-time). */
static bool is_webhook_secret(const char *token, const struct provider_secrets *secrets)
{
    const char *active[2];
    size_t n = signature_secrets(SIG_SECRET_WEBHOOK, secrets, active);
    bool ok = false;
    for (size_t i = 0; i < n; i++)
        ok |= crypto_equal(token, strlen(token), active[i], strlen(active[i]));
    return ok;
}

HANDSHAKE_FN(handshake_meta)
{
    (void)p;
    if (!is_method(req, "GET"))
        return 0;
    char *mode = provider_query_param(req->query, "hub.mode");
    char *token = provider_query_param(req->query, "hub.verify_token");
    char *challenge = provider_query_param(req->query, "hub.challenge");
    int rc = 0;
    if (mode && strcmp(mode, "subscribe") == 0) {
        if (!token || !is_webhook_secret(token, secrets))
            rc = handshake_refuse(out, 403, "hub.verify_token is not the webhook secret");
        else
            rc = reply_echo(out, "hub.challenge", challenge);
    }
    free(mode);
    free(token);
    free(challenge);
    return rc;
}

HANDSHAKE_FN(handshake_dropbox)
{
    (void)p;
    (void)secrets;
    char *challenge = is_method(req, "GET") ? provider_query_param(req->query, "challenge") : NULL;
    int rc = challenge ? reply_echo(out, "challenge", challenge) : 0;
    free(challenge);
    return rc;
}

HANDSHAKE_FN(handshake_x_crc)
{
    (void)p;
    char *token = is_method(req, "GET") ? provider_query_param(req->query, "crc_token") : NULL;
    if (!token)
        return 0;
    const char *active[2];
    unsigned char mac[64];
    char b64[96], value[104];
    int rc;
    if (!echo_ok(token, strlen(token)))
        rc = handshake_refuse(out, 400, "crc_token is not a short token");
    else if (signature_secrets(SIG_SECRET_CLIENT, secrets, active) == 0)
        rc = handshake_refuse(out, 401, "no consumer secret (client secret) to answer the CRC check with");
    else {
        size_t len = crypto_hmac1(HMAC_SHA256, active[0], strlen(active[0]), token, strlen(token), mac);
        crypto_base64(mac, len, b64);
        snprintf(value, sizeof value, "sha256=%s", b64);
        rc = len ? handshake_reply_json(out, json_pack("{s:s}", "response_token", value)) : -1;
    }
    free(token);
    return rc;
}

HANDSHAKE_FN(handshake_twitch)
{
    const char *type = webhook_header(req, "Twitch-Eventsub-Message-Type");
    if (!type || strcasecmp(type, "webhook_callback_verification") != 0)
        return 0;
    char why[sizeof out->why];
    if (provider_verify(p, req, secrets, why, sizeof why) != VERIFY_VALID)
        return handshake_refuse(out, 401, "%s", why);
    json_t *root = post_object(req);
    json_t *challenge = json_object_get(root, "challenge");
    int rc = reply_echo(out, "challenge", json_is_string(challenge) ? json_string_value(challenge) : NULL);
    json_decref(root);
    return rc;
}

HANDSHAKE_FN(handshake_okta)
{
    const char *challenge = webhook_header(req, "x-okta-verification-challenge");
    if (!is_method(req, "GET") || !challenge)
        return 0;
    char why[sizeof out->why];
    if (provider_verify(p, req, secrets, why, sizeof why) != VERIFY_VALID)
        return handshake_refuse(out, 401, "%s", why);
    if (!echo_ok(challenge, strlen(challenge)))
        return handshake_refuse(out, 400, "x-okta-verification-challenge is not a short token");
    return handshake_reply_json(out, json_pack("{s:s}", "verification", challenge));
}

HANDSHAKE_FN(handshake_monday)
{
    (void)p;
    (void)secrets;
    json_t *root = post_object(req), *challenge = json_object_get(root, "challenge");
    int rc = 0;
    /* Only the bare challenge: an event is verified as usual. */
    if (json_is_string(challenge) && json_object_size(root) == 1) {
        if (!echo_ok(json_string_value(challenge), json_string_length(challenge)))
            rc = handshake_refuse(out, 400, "challenge is not a short token");
        else
            rc = handshake_reply_json(out, json_pack("{s:O}", "challenge", challenge));
    }
    json_decref(root);
    return rc;
}

/* Interactions PING {"type":1} (no "event") wants {"type":1}; webhook events' PING
 * {"type":0} wants 204; type 1 with an "event" is a webhook event (stored). */
HANDSHAKE_FN(handshake_discord)
{
    json_t *root = post_object(req), *type = json_object_get(root, "type");
    json_int_t t = json_is_integer(type) ? json_integer_value(type) : -1;
    bool interaction_ping = t == 1 && !json_object_get(root, "event"), event_ping = t == 0;
    int rc = 0;
    char why[sizeof out->why];
    if (interaction_ping || event_ping) {
        if (provider_verify(p, req, secrets, why, sizeof why) != VERIFY_VALID)
            rc = handshake_refuse(out, 401, "%s", why);
        else if (interaction_ping)
            rc = handshake_reply(out, 200, "application/json", "{\"type\":1}", 10, false);
        else
            rc = handshake_reply(out, 204, "", NULL, 0, false);
    }
    json_decref(root);
    return rc;
}

HANDSHAKE_FN(handshake_get_alive)
{
    (void)p;
    (void)secrets;
    if (!is_method(req, "GET") && !is_method(req, "HEAD"))
        return 0;
    return handshake_reply(out, 200, "text/plain", NULL, 0, false);
}
