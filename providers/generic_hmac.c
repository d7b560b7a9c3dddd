/*
 * generic_hmac: the "generic-hmac" provider, whose scheme is not a row but the
 * integration's verify_config (struct provider_secrets), a JSON object:
 *
 *   header            required: the header with the signature, e.g. "X-Signature"
 *   algorithm         "sha1" | "sha256" (default) | "sha512"
 *   encoding          "hex" (default) | "base64"
 *   prefix            text before the signature, e.g. "sha256="
 *   template          the signed message, default "{body}": text with the placeholders
 *                     {body} {timestamp} {method} {url} {header:Name}
 *   timestamp_header  the header {timestamp} comes from (unix time)
 *   timestamp_unit    "s" (default) | "ms"
 *   tolerance         seconds the timestamp may be off, default 300 (1..86400)
 *   signatures        several signatures in the header: {"separator": "," | " ",
 *                     "pair": "=" | ",", "tag": "v1", "timestamp_tag": "t"}
 *   secret            "webhook_secret" (default) | "client_secret"
 *   secret_prefix     stripped from the secret when present (e.g. "whsec_")
 *   secret_encoding   "raw" (default) | "base64": the key is the decoded secret
 *
 * The config is turned into one sig_spec and handed to the generic engine
 * (signature.c). Without a verify_config verification answers VERIFY_NO_SECRET; unknown
 * keys and bad values make it VERIFY_INVALID with the reason (every request refused,
 * loudly), rather than quietly checking less than was meant or nothing at all.
 */
#include "providers/provider_impl.h"

#include <stdlib.h>
#include <string.h>

#define TOLERANCE_DEFAULT 300
#define TOLERANCE_MAX 86400

struct generic {
    struct sig_spec spec;
    json_t *cfg; /* owns the strings spec points to */
    char *text;  /* owns the template's literals and header names */
};

static void generic_free(struct generic *g)
{
    json_decref(g->cfg);
    free(g->text);
}

/* An optional non-empty string member into *out (NULL when absent). 0, or -1 with a
 * reason when present but not a non-empty string. */
static int opt_string(json_t *cfg, const char *key, const char **out, char *why, size_t whylen)
{
    json_t *v = json_object_get(cfg, key);
    *out = json_string_value(v);
    if (v && (!*out || !**out)) {
        provider_say(why, whylen, "verify_config: %s must be a non-empty string", key);
        return -1;
    }
    return 0;
}

/* An optional member that is one of names: its index into *out (def when absent). */
static int opt_choice(json_t *cfg, const char *key, const char *const *names, int n, int def, int *out, char *why,
                      size_t whylen)
{
    const char *v;
    *out = def;
    if (opt_string(cfg, key, &v, why, whylen) < 0)
        return -1;
    for (int i = 0; v && i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    if (v)
        provider_say(why, whylen, "verify_config: %s must be one of %s|%s%s%s", key, names[0], names[1],
                     n > 2 ? "|" : "", n > 2 ? names[2] : "");
    return v ? -1 : 0;
}

static int check_keys(json_t *cfg, char *why, size_t whylen)
{
    static const char *const known[] = {"header",     "algorithm",        "encoding",       "prefix",
                                        "template",   "timestamp_header", "timestamp_unit", "tolerance",
                                        "signatures", "secret",           "secret_prefix",  "secret_encoding"};
    const char *key;
    json_t *value;
    json_object_foreach(cfg, key, value)
    {
        bool found = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            found |= strcmp(key, known[i]) == 0;
        if (!found) {
            provider_say(why, whylen,
                         "verify_config: unknown key (known: header, algorithm, encoding, prefix, "
                         "template, timestamp_*, tolerance, signatures, secret*)");
            return -1;
        }
    }
    return 0;
}

/* One placeholder ("body", "header:X-Id", ...) as a part; header names are copied to
 * *w. 0, or -1 with a reason. */
static int placeholder(const char *name, size_t len, struct sig_part *part, char **w, char *why, size_t whylen)
{
    static const struct {
        const char *name;
        enum sig_part_kind kind;
    } simple[] = {
        {"body", SIG_PART_BODY}, {"timestamp", SIG_PART_TIMESTAMP}, {"method", SIG_PART_METHOD}, {"url", SIG_PART_URL}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strlen(simple[i].name) == len && memcmp(name, simple[i].name, len) == 0) {
            part->kind = simple[i].kind;
            return 0;
        }
    if (len > 7 && memcmp(name, "header:", 7) == 0) {
        part->kind = SIG_PART_HEADER;
        part->text = memcpy(*w, name + 7, len - 7);
        (*w)[len - 7] = '\0';
        *w += len - 6;
        return 0;
    }
    provider_say(why, whylen,
                 "verify_config: template has an unknown placeholder (known: {body} {timestamp} "
                 "{method} {url} {header:Name})");
    return -1;
}

/* The template as parts; literals and header names are copied into g->text. */
static int parse_template(struct generic *g, const char *tmpl, char *why, size_t whylen)
{
    size_t n = 0, len = strlen(tmpl);
    char *w = g->text = malloc(len + SIG_MAX_PARTS + 1);
    if (!w) {
        provider_say(why, whylen, "out of memory");
        return -1;
    }
    for (const char *t = tmpl; *t; n++) {
        if (n == SIG_MAX_PARTS) {
            provider_say(why, whylen, "verify_config: template has more than %d parts", SIG_MAX_PARTS);
            return -1;
        }
        struct sig_part *part = &g->spec.parts[n];
        const char *close = *t == '{' ? strchr(t, '}') : NULL;
        if (close) {
            if (placeholder(t + 1, (size_t)(close - t - 1), part, &w, why, whylen) < 0)
                return -1;
            t = close + 1;
            continue;
        }
        size_t lit = 1 + strcspn(t + 1, "{");
        *part = (struct sig_part){SIG_PART_LITERAL, memcpy(w, t, lit)};
        w[lit] = '\0';
        w += lit + 1;
        t += lit;
    }
    return 0;
}

static int parse_list(struct generic *g, json_t *list, char *why, size_t whylen)
{
    const char *sep = json_string_value(json_object_get(list, "separator"));
    const char *pair = json_string_value(json_object_get(list, "pair"));
    struct sig_list *l = &g->spec.list;
    l->tag = json_string_value(json_object_get(list, "tag"));
    l->ts_tag = json_string_value(json_object_get(list, "timestamp_tag"));
    bool ok = json_is_object(list) && sep && strlen(sep) == 1 && strchr(", ;", sep[0]) && pair && strlen(pair) == 1 &&
              strchr("=,:", pair[0]) && l->tag && l->tag[0];
    if (!ok) {
        provider_say(why, whylen,
                     "verify_config: signatures needs separator (one of \", ;\"), pair (one of "
                     "\"=,:\") and tag");
        return -1;
    }
    l->sep = sep[0];
    l->pair = pair[0];
    return 0;
}

static int parse_timestamp(struct generic *g, char *why, size_t whylen)
{
    static const char *const units[] = {"s", "ms"};
    int unit;
    json_t *tol = json_object_get(g->cfg, "tolerance");
    if (opt_string(g->cfg, "timestamp_header", &g->spec.ts_header, why, whylen) < 0 ||
        opt_choice(g->cfg, "timestamp_unit", units, 2, 0, &unit, why, whylen) < 0)
        return -1;
    g->spec.ts_unit = unit ? SIG_TS_MILLIS : SIG_TS_SECONDS;
    g->spec.ts_tolerance = TOLERANCE_DEFAULT;
    if (tol && (!json_is_integer(tol) || json_integer_value(tol) < 1 || json_integer_value(tol) > TOLERANCE_MAX)) {
        provider_say(why, whylen, "verify_config: tolerance must be 1..%d seconds", TOLERANCE_MAX);
        return -1;
    }
    if (tol)
        g->spec.ts_tolerance = (int)json_integer_value(tol);
    return 0;
}

/* Everything but the template and the timestamp. */
static int parse_scheme(struct generic *g, char *why, size_t whylen)
{
    static const char *const algs[] = {"sha1", "sha256", "sha512"}, *const encs[] = {"hex", "base64"},
                             *const fields[] = {"webhook_secret", "client_secret"}, *const forms[] = {"raw", "base64"};
    static const enum hmac_alg alg_of[] = {HMAC_SHA1, HMAC_SHA256, HMAC_SHA512};
    int alg, enc, field, form;
    struct sig_spec *s = &g->spec;
    if (opt_string(g->cfg, "header", &s->header, why, whylen) < 0 || !s->header) {
        provider_say(why, whylen, "verify_config: header is required");
        return -1;
    }
    if (opt_choice(g->cfg, "algorithm", algs, 3, 1, &alg, why, whylen) < 0 ||
        opt_choice(g->cfg, "encoding", encs, 2, 0, &enc, why, whylen) < 0 ||
        opt_choice(g->cfg, "secret", fields, 2, 0, &field, why, whylen) < 0 ||
        opt_choice(g->cfg, "secret_encoding", forms, 2, 0, &form, why, whylen) < 0 ||
        opt_string(g->cfg, "prefix", &s->prefix, why, whylen) < 0 ||
        opt_string(g->cfg, "secret_prefix", &s->key_prefix, why, whylen) < 0)
        return -1;
    s->alg = alg_of[alg];
    s->encoding = enc ? SIG_ENC_BASE64 : SIG_ENC_HEX;
    s->secret = field ? SIG_SECRET_CLIENT : SIG_SECRET_WEBHOOK;
    s->key_form = form ? SIG_KEY_BASE64 : SIG_KEY_RAW;
    json_t *list = json_object_get(g->cfg, "signatures");
    return list ? parse_list(g, list, why, whylen) : 0;
}

static bool uses_timestamp(const struct sig_spec *s)
{
    for (size_t i = 0; i < SIG_MAX_PARTS; i++)
        if (s->parts[i].kind == SIG_PART_TIMESTAMP)
            return true;
    return false;
}

/* The integration's scheme into g (free with generic_free). 0; -1 (with a reason)
 * when there is no verify_config; -2 when it is unusable. */
static int generic_load(const struct provider_secrets *secrets, struct generic *g, char *why, size_t whylen)
{
    *g = (struct generic){.cfg = NULL};
    const char *text = secrets ? secrets->verify_config : NULL;
    if (!text || !text[0]) {
        provider_say(why, whylen, "the integration has no verify_config");
        return -1;
    }
    g->cfg = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(g->cfg)) {
        provider_say(why, whylen, "verify_config is not a JSON object");
        return -2;
    }
    const char *tmpl;
    if (check_keys(g->cfg, why, whylen) < 0 || parse_scheme(g, why, whylen) < 0 ||
        parse_timestamp(g, why, whylen) < 0 || opt_string(g->cfg, "template", &tmpl, why, whylen) < 0 ||
        parse_template(g, tmpl ? tmpl : "{body}", why, whylen) < 0)
        return -2;
    if (uses_timestamp(&g->spec) && !g->spec.ts_header && !g->spec.list.ts_tag) {
        provider_say(why, whylen, "verify_config: {timestamp} needs timestamp_header or signatures.timestamp_tag");
        return -2;
    }
    return 0;
}

int generic_hmac_check(const char *verify_config, char *why, size_t whylen)
{
    struct provider_secrets s = {.verify_config = verify_config};
    struct generic g;
    int rc = generic_load(&s, &g, why, whylen);
    generic_free(&g);
    return rc < 0 ? -1 : 0;
}

enum verify_result generic_hmac_verify(const struct provider *p, const struct webhook_request *req,
                                       const struct provider_secrets *secrets, char *why, size_t whylen)
{
    struct generic g;
    int rc = generic_load(secrets, &g, why, whylen);
    enum verify_result v = rc == -1 ? VERIFY_NO_SECRET : VERIFY_INVALID;
    if (rc == 0)
        v = signature_verify_specs(&g.spec, 1, p->name, req, secrets, false, NULL, why, whylen);
    generic_free(&g);
    return v;
}

int generic_hmac_sign(const struct provider *p, const struct webhook_request *req,
                      const struct provider_secrets *secrets, struct http_header *out, size_t max)
{
    (void)p;
    struct generic g;
    int n = -1;
    if (generic_load(secrets, &g, NULL, 0) == 0)
        n = signature_sign_specs(&g.spec, 1, req, secrets, out, max);
    generic_free(&g);
    return n;
}
