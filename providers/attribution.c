/*
 * attribution: the generic engine behind provider_attribute and
 * provider_ordering_key, driven by a row's attr_spec (provider_impl.h).
 *
 * The body is validated with jansson (duplicate keys rejected, so that every reader
 * of the payload sees the same identifier); rows that read nothing from the body do
 * not require it to be JSON. A form-encoded body (Slack) is read through its JSON
 * "payload" field, or as a flat object of its fields.
 *
 * The identifier comes from the first of the row's locators that has one: a header
 * or query parameter names the connection for the whole request; a body path is read
 * from the event, or from each event of a batch. The locators after it that have a
 * value too become the group's alternatives (Nango's lookups beside hookline's), read
 * from the group's first event, which the router tries in order. Transforms turn a
 * value into what is stored (a URL's origin, a calendar id); a value a transform finds
 * nothing in is no identifier. A batch (an array of events, the body
 * itself or one top-level member) is split into one group per identifier, in order of
 * first appearance; each group's payload is the events' original bytes joined by ","
 * inside "[" "]" (and, for a member array, with the rest of the body around it), with
 * element boundaries found by a small string-aware scanner over the raw bytes, so
 * nothing is re-serialised. When every event lands in one group the payload is the
 * body unchanged. Events without an identifier form the unattributed group. A group's
 * event type is read from its first event. Memory and time are linear in the body
 * size (bounded by ingress); the identifier index is a hash table.
 */
#include "providers/provider_impl.h"

#include "common/crypto.h"
#include "common/json_depth.h"
#include "common/json_scan.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX
#define ID_MAX_LEN 512 /* longer "identifiers" are not identifiers */

struct span {
    size_t off, len;
};

/* An identifier found for an event: which locator, and its text (owned). */
struct found {
    int which; /* index into attr_spec.ids, -1: none */
    char *value;
};

/* Per-batch working state; every array has one slot per element. */
struct batch {
    size_t n;
    struct span arr;    /* the array in the body */
    struct span *spans; /* element bytes in the body */
    struct found *ids;
    size_t *next;         /* next element of the same group, NONE at the end */
    size_t *first, *last; /* per group: its first and last element */
    size_t ngroups;
    size_t none;                /* the unattributed group, NONE until one is needed */
    size_t *slots;              /* open-addressing index: group + 1, 0 when empty */
    size_t nslots;              /* a power of two, more than twice n */
    const bool *drop;           /* per element: left out (a duplicate the router drops), or NULL */
    size_t ndropped;            /* how many elements drop leaves out */
    const struct found *forced; /* the request-level identifier naming every element, or NULL */
};

/* ---- identifiers and event types ----------------------------------------------- */

static char lower_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool scheme_char(char c, bool first)
{
    c = lower_ascii(c);
    return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

/* Kept in step with db/migrations/009_lookups.sql's hookline_url_origin, which
 * normalises the stored side the same way. */
char *attribution_url_origin(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && scheme_char(s[i], i == 0))
        i++;
    size_t scheme_len = i;
    if (scheme_len == 0 || len - i < 3 || memcmp(s + i, "://", 3) != 0)
        return NULL;
    size_t auth = i + 3, end = auth;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    size_t host = auth;
    for (size_t k = auth; k < end; k++)
        if (s[k] == '@')
            host = k + 1; /* user info ends at the last '@' */
    size_t h = host;
    if (h < end && s[h] == '[') { /* an IPv6 literal */
        while (h < end && s[h] != ']')
            h++;
        if (h == end)
            return NULL;
        h++;
    } else {
        while (h < end && s[h] != ':' && s[h] != '[' && s[h] != ']')
            h++;
    }
    if (h == host)
        return NULL;
    size_t port = h;
    if (port < end && s[port] == ':')
        for (h = port + 1; h < end; h++)
            if (s[h] < '0' || s[h] > '9')
                return NULL;
    if (h != end)
        return NULL;
    char *out = malloc(scheme_len + 3 + (end - host) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t k = 0; k < scheme_len; k++)
        out[o++] = lower_ascii(s[k]);
    memcpy(out + o, "://", 3);
    o += 3;
    bool default_port = (end - port == 4 && memcmp(s + port, ":443", 4) == 0 && strncmp(out, "https:", 6) == 0) ||
                        (end - port == 3 && memcmp(s + port, ":80", 3) == 0 && strncmp(out, "http:", 5) == 0);
    for (size_t k = host; k < (default_port ? port : end); k++)
        out[o++] = lower_ascii(s[k]);
    out[o] = '\0';
    return out;
}

static int hex_digit(char c)
{
    c = lower_ascii(c);
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The percent-decoded path segment after "/calendars/" in a Google Calendar resource
 * URI: a new string, or NULL (none, empty, a bad escape or a NUL byte). */
static char *calendar_id(const char *s, size_t len)
{
    static const char mark[] = "/calendars/";
    const char *at = NULL;
    for (size_t i = 0; !at && i + sizeof mark - 1 <= len; i++)
        if (memcmp(s + i, mark, sizeof mark - 1) == 0)
            at = s + i + sizeof mark - 1;
    if (!at)
        return NULL;
    size_t n = 0, rest = len - (size_t)(at - s);
    while (n < rest && at[n] != '/' && at[n] != '?' && at[n] != '#')
        n++;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (at[i] != '%') {
            out[o++] = at[i];
        } else if (i + 2 < n && (hi = hex_digit(at[i + 1])) >= 0 && (lo = hex_digit(at[i + 2])) >= 0 && (hi || lo)) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    if (o == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Gmail's notification: base64 of {"emailAddress": ..., "historyId": ...}. */
static char *pubsub_email(const char *s, size_t len)
{
    unsigned char decoded[ID_MAX_LEN];
    long n = crypto_unbase64(s, len, decoded, sizeof decoded);
    if (n <= 0 || !json_depth_within(decoded, (size_t)n, JSON_NESTING_MAX))
        return NULL;
    json_t *root = json_loadb((const char *)decoded, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    json_t *email = json_object_get(root, "emailAddress");
    char *out = NULL;
    if (json_is_string(email) && json_string_length(email) > 0 && json_string_length(email) <= ID_MAX_LEN)
        out = provider_strndup(json_string_value(email), json_string_length(email));
    json_decref(root);
    return out;
}

/* ShipStation's resource_url names the store in its query; a v2 id has a prefix. */
static char *url_store_id(const char *s, size_t len)
{
    const char *q = memchr(s, '?', len);
    if (!q)
        return NULL;
    const char *end = memchr(q, '#', len - (size_t)(q - s));
    char *query = provider_strndup(q + 1, (size_t)((end ? end : s + len) - (q + 1)));
    char *id = query ? provider_query_param(query, "storeID") : NULL;
    if (query && !id)
        id = provider_query_param(query, "store_id");
    free(query);
    const char *dash = id ? strchr(id, '-') : NULL;
    if (dash) {
        char *rest = dash[1] ? provider_strndup(dash + 1, strlen(dash + 1)) : NULL;
        free(id);
        id = rest;
    }
    return id;
}

/* s as an identifier: a new string, or NULL for an empty or overlong one (or, with a
 * transform, one it finds nothing in). */
static char *id_from(const char *s, size_t len, enum attr_transform t)
{
    if (len == 0 || len > ID_MAX_LEN)
        return NULL;
    if (t == ATTR_URL_ORIGIN)
        return attribution_url_origin(s, len);
    if (t == ATTR_CALENDAR_ID)
        return calendar_id(s, len);
    if (t == ATTR_PUBSUB_EMAIL)
        return pubsub_email(s, len);
    if (t == ATTR_URL_STORE_ID)
        return url_store_id(s, len);
    if (t == ATTR_FIRST_LABEL) {
        const char *dot = memchr(s, '.', len);
        len = dot ? (size_t)(dot - s) : len;
    }
    return len ? provider_strndup(s, len) : NULL;
}

/* The identifier at a body path: a non-empty string as-is, an integer in decimal. */
static char *id_in_json(json_t *node, const struct attr_id *id)
{
    json_t *v = node ? provider_json_path(node, id->name) : NULL;
    if (json_is_string(v))
        return id_from(json_string_value(v), json_string_length(v), id->transform);
    if (json_is_integer(v)) {
        char digits[32];
        int n = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return id_from(digits, (size_t)n, ATTR_AS_IS);
    }
    return NULL;
}

static char *id_in_request(const struct attr_id *id, const struct webhook_request *req)
{
    if (id->from == ATTR_FROM_HEADER) {
        const char *v = webhook_header(req, id->name);
        return v ? id_from(v, strlen(v), id->transform) : NULL;
    }
    char *v = provider_query_param(req->query, id->name);
    char *out = v ? id_from(v, strlen(v), id->transform) : NULL;
    free(v);
    return out;
}

static bool request_level(const struct attr_id *id)
{
    return id->from != ATTR_FROM_BODY;
}

/* The first identifier among the locators wanted (request-level, body, or both) into
 * *f (which -1 and value NULL when there is none). node (may be NULL) is the event
 * body paths are read from. Out of memory reads as "absent": unattributed, which never
 * fans out. */
static void find_id(const struct attr_spec *a, const struct webhook_request *req, json_t *node, bool req_ids,
                    bool body_ids, struct found *f)
{
    f->which = -1;
    f->value = NULL;
    for (int i = 0; i < ATTR_MAX_IDS && a->ids[i].name; i++) {
        bool rl = request_level(&a->ids[i]);
        if ((rl && !req_ids) || (!rl && !body_ids))
            continue;
        char *v = rl ? id_in_request(&a->ids[i], req) : id_in_json(node, &a->ids[i]);
        if (v) {
            f->which = i;
            f->value = v;
            return;
        }
    }
}

/* Event type of node into *out (new string or NULL): see attr_spec. Returns 0, or -1
 * when out of memory. */
static int event_text(const struct attr_spec *a, const struct webhook_request *req, json_t *node, char **out)
{
    *out = NULL;
    const char *hv = a->event_header ? webhook_header(req, a->event_header) : NULL;
    if (a->event_header && !hv)
        return 0;
    const char *bv = NULL, *dv = NULL;
    for (int i = 0; node && !bv && i < ATTR_MAX_EVENT_PATHS && a->event_paths[i]; i++)
        bv = json_string_value(provider_json_path(node, a->event_paths[i]));
    if (node && a->event_detail)
        dv = json_string_value(provider_json_path(node, a->event_detail));
    const char *parts[3] = {hv, bv, dv};
    size_t len = 1;
    for (int i = 0; i < 3; i++)
        len += parts[i] ? strlen(parts[i]) + 1 : 0;
    if (len == 1)
        return 0;
    if (!(*out = malloc(len)))
        return -1;
    size_t o = 0;
    for (int i = 0; i < 3; i++)
        if (parts[i])
            o += (size_t)snprintf(*out + o, len - o, "%s%s", o ? "." : "", parts[i]);
    return 0;
}

/* ---- the body ---------------------------------------------------------------- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && is_ws(s[i]))
        i++;
    return i;
}

static bool reads_body(const struct attr_spec *a)
{
    if (a->body == ATTR_BODY_NONE)
        return false;
    bool body_id = false;
    for (int i = 0; i < ATTR_MAX_IDS && a->ids[i].name; i++)
        body_id |= !request_level(&a->ids[i]);
    return body_id || a->batch || a->event_paths[0] || a->event_detail;
}

/* A form body (ATTR_BODY_FORM that is not JSON) as the JSON it carries. */
static json_t *form_root(const struct webhook_request *req, char *err, size_t errlen)
{
    json_t *form = provider_form_object(req->body, req->body_len);
    if (!form) {
        provider_say(err, errlen, "body is neither JSON nor a form");
        return NULL;
    }
    json_t *payload = json_object_get(form, "payload");
    if (!json_is_string(payload))
        return form;
    json_t *inner = json_loadb(json_string_value(payload), json_string_length(payload), JSON_REJECT_DUPLICATES, NULL);
    json_decref(form);
    if (!inner)
        provider_say(err, errlen, "the form's payload field is not valid JSON");
    return inner;
}

/* The JSON attribution reads: a new reference, or NULL with a reason in err. */
static json_t *body_root(const struct attr_spec *a, const struct webhook_request *req, char *err, size_t errlen)
{
    const char *s = req->body ? (const char *)req->body : "";
    size_t i = skip_ws(s, req->body ? req->body_len : 0, 0);
    bool json = req->body && i < req->body_len && (s[i] == '{' || s[i] == '[');
    if (a->body == ATTR_BODY_FORM && !json)
        return form_root(req, err, errlen);
    if (a->body == ATTR_BODY_OPTIONAL) { /* anything but a JSON object: no body identifiers */
        json_t *root = json ? provider_parse_json(req, NULL, 0) : NULL;
        if (json_is_object(root))
            return root;
        json_decref(root);
        return json_object();
    }
    return provider_parse_json(req, err, errlen);
}

/* ---- groups ------------------------------------------------------------------ */

/* Whether g names the connection by (id's field, value) already. */
static bool group_has(const struct attribution_group *g, const struct attr_id *id, const char *value)
{
    if (g->source == id->source && g->match == id->match && !strcmp(g->config_key, id->key) && !strcmp(g->value, value))
        return true;
    for (size_t i = 0; i < g->nalts; i++) {
        const struct attribution_key *k = &g->alts[i];
        if (k->source == id->source && k->match == id->match && !strcmp(k->config_key, id->key) &&
            !strcmp(k->value, value))
            return true;
    }
    return false;
}

/* Fills g's identifier from f (which -1: unattributed) and its alternatives: the
 * values of the locators after f's, request-level ones read from req, body ones from
 * node (the group's first event; may be NULL). Returns 0 or -1 (no memory). */
static int group_init(struct attribution_group *g, const struct attr_spec *a, const struct webhook_request *req,
                      json_t *node, const struct found *f)
{
    if (f->which < 0)
        return 0;
    const struct attr_id *id = &a->ids[f->which];
    g->source = id->source;
    g->match = id->match;
    g->config_key = strdup(id->key);
    g->value = strdup(f->value);
    if (!g->config_key || !g->value)
        return -1;
    for (int i = f->which + 1; i < ATTR_MAX_IDS && a->ids[i].name; i++) {
        const struct attr_id *alt = &a->ids[i];
        char *v = request_level(alt) ? id_in_request(alt, req) : id_in_json(node, alt);
        if (!v || group_has(g, alt, v)) {
            free(v);
            continue;
        }
        struct attribution_key *k = &g->alts[g->nalts++];
        *k = (struct attribution_key){alt->source, alt->match, strdup(alt->key), v};
        if (!k->config_key)
            return -1;
    }
    return 0;
}

/* One group with the whole body. */
static int whole_body(const struct attr_spec *a, const struct webhook_request *req, json_t *node, const struct found *f,
                      struct attribution *out)
{
    out->groups = calloc(1, sizeof *out->groups);
    if (!out->groups)
        return -1;
    out->n = 1;
    struct attribution_group *g = &out->groups[0];
    g->payload = provider_strndup(req->body ? (const void *)req->body : "", req->body ? req->body_len : 0);
    g->payload_len = req->body ? req->body_len : 0;
    if (!g->payload || group_init(g, a, req, node, f) < 0)
        return -1;
    return event_text(a, req, node, &g->event_type);
}

/* ---- raw JSON scanning --------------------------------------------------------- */

/* From the start of a value, the index of the ',' ']' or '}' that ends it (depth 0,
 * outside strings), or len. */
static size_t value_end(const char *s, size_t len, size_t i)
{
    size_t depth = 0;
    bool in_string = false;
    for (; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                return i;
            depth--;
        } else if (c == ',' && depth == 0) {
            return i;
        }
    }
    return len;
}

/* The value starting at i, whitespace after it excluded; *end gets its terminator. */
static struct span value_span(const char *s, size_t len, size_t i, size_t *end)
{
    *end = value_end(s, len, i);
    size_t e = *end;
    while (e > i && is_ws(s[e - 1]))
        e--;
    return (struct span){i, e - i};
}

/* The byte spans of the n elements of the array at s (valid JSON), whitespace around
 * each element excluded, relative to s. Returns 0, or -1 if the count disagrees. */
static int scan_elements(const char *s, size_t len, struct span *spans, size_t n)
{
    size_t i = skip_ws(s, len, 0), k = 0;
    if (i >= len || s[i] != '[')
        return -1;
    for (i++;;) {
        i = skip_ws(s, len, i);
        if (i >= len)
            return -1;
        if (s[i] == ']')
            return k == n ? 0 : -1;
        if (k >= n)
            return -1;
        size_t end;
        spans[k++] = value_span(s, len, i, &end);
        if (end >= len)
            return -1;
        if (s[end] == ']')
            return k == n ? 0 : -1;
        i = end + 1;
    }
}

/* Whether the raw key (a JSON string token, quotes included) decodes to name. */
static bool key_is(const char *raw, size_t len, const char *name)
{
    if (!memchr(raw, '\\', len))
        return len == strlen(name) + 2 && memcmp(raw + 1, name, len - 2) == 0;
    json_t *k = json_loadb(raw, len, JSON_DECODE_ANY, NULL);
    bool same = json_is_string(k) && strcmp(json_string_value(k), name) == 0;
    json_decref(k);
    return same;
}

/* From the '"' at i, the index just after the string's closing quote, or len. */
static size_t string_end(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* The span of top-level member name of the object in s (valid JSON). 0 or -1. */
static int member_span(const char *s, size_t len, const char *name, struct span *out)
{
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return -1;
    for (i++;;) {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != '"')
            return -1;
        size_t kend = string_end(s, len, i), colon = skip_ws(s, len, kend), end;
        if (colon >= len || s[colon] != ':')
            return -1;
        struct span v = value_span(s, len, skip_ws(s, len, colon + 1), &end);
        if (key_is(s + i, kend - i, name)) {
            *out = v;
            return 0;
        }
        if (end >= len || s[end] != ',')
            return -1;
        i = end + 1;
    }
}

/* ---- batch splitting ------------------------------------------------------------ */

static size_t hash_found(const struct found *f)
{
    size_t h = (size_t)14695981039346656037ULL ^ (size_t)(unsigned)f->which; /* FNV-1a */
    for (const char *s = f->value; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
    return h;
}

static bool same_found(const struct found *a, const struct found *b)
{
    return a->which == b->which && strcmp(a->value, b->value) == 0;
}

static size_t new_group(struct batch *b, size_t elem)
{
    size_t g = b->ngroups++;
    b->first[g] = b->last[g] = elem;
    return g;
}

/* The group of element elem, created (with elem first) when its identifier is new. */
static size_t group_for(struct batch *b, size_t elem)
{
    const struct found *f = &b->ids[elem];
    if (f->which < 0) {
        if (b->none == NONE)
            b->none = new_group(b, elem);
        return b->none;
    }
    size_t h = hash_found(f) & (b->nslots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->nslots - 1)) {
        size_t g = b->slots[h] - 1;
        if (same_found(&b->ids[b->first[g]], f))
            return g;
    }
    size_t g = new_group(b, elem);
    b->slots[h] = g + 1;
    return g;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; b->ids && i < b->n; i++)
        free(b->ids[i].value);
    free(b->ids);
    free(b->spans);
    free(b->next);
    free(b->first);
    free(b->last);
    free(b->slots);
}

static int batch_alloc(struct batch *b, size_t n)
{
    *b = (struct batch){.n = n, .none = NONE, .nslots = 16};
    while (b->nslots <= 2 * n)
        b->nslots *= 2;
    b->spans = calloc(n, sizeof *b->spans);
    b->ids = calloc(n, sizeof *b->ids);
    b->next = calloc(n, sizeof *b->next);
    b->first = calloc(n, sizeof *b->first);
    b->last = calloc(n, sizeof *b->last);
    b->slots = calloc(b->nslots, sizeof *b->slots);
    return b->spans && b->ids && b->next && b->first && b->last && b->slots ? 0 : -1;
}

/* Reads every element's identifier and links elements into groups (dropped ones into
 * none). Returns 0 or -1 (no memory). */
static int batch_group(struct batch *b, const struct attr_spec *a, const struct webhook_request *req, json_t *arr)
{
    for (size_t i = 0; i < b->n; i++) {
        b->next[i] = NONE;
        if (b->drop && b->drop[i]) {
            b->ids[i] = (struct found){-1, NULL};
            continue;
        }
        if (b->forced)
            b->ids[i] = (struct found){b->forced->which, strdup(b->forced->value)};
        else
            find_id(a, req, json_array_get(arr, i), false, true, &b->ids[i]);
        if (b->forced && !b->ids[i].value)
            return -1;
        size_t g = group_for(b, i);
        if (b->first[g] != i) {
            b->next[b->last[g]] = i;
            b->last[g] = i;
        }
    }
    return 0;
}

/* The body around the array + "[" + the group's element bytes joined by "," + "]".
 * Returns 0 or -1. */
static int join_group(const struct batch *b, size_t grp, const struct webhook_request *req, bool top,
                      struct attribution_group *g)
{
    const char *body = (const char *)req->body;
    size_t before = top ? 0 : b->arr.off, after = top ? 0 : req->body_len - (b->arr.off + b->arr.len);
    size_t len = before + after + 1;
    for (size_t i = b->first[grp]; i != NONE; i = b->next[i])
        len += b->spans[i].len + 1; /* the element and the ',' or ']' after it */
    if (!(g->payload = malloc(len + 1)))
        return -1;
    memcpy(g->payload, body, before);
    size_t o = before;
    g->payload[o++] = '[';
    for (size_t i = b->first[grp]; i != NONE; i = b->next[i]) {
        memcpy(g->payload + o, body + b->arr.off + b->spans[i].off, b->spans[i].len);
        o += b->spans[i].len;
        g->payload[o++] = b->next[i] == NONE ? ']' : ',';
    }
    memcpy(g->payload + o, body + b->arr.off + b->arr.len, after);
    o += after;
    g->payload[o] = '\0';
    g->payload_len = o;
    return 0;
}

static int batch_emit(const struct batch *b, const struct attr_spec *a, const struct webhook_request *req, json_t *arr,
                      struct attribution *out)
{
    if (b->ngroups == 0)
        return 0; /* every event dropped */
    if (!(out->groups = calloc(b->ngroups, sizeof *out->groups)))
        return -1;
    out->n = b->ngroups;
    bool top = a->batch[0] == '\0';
    for (size_t grp = 0; grp < b->ngroups; grp++) {
        struct attribution_group *g = &out->groups[grp];
        size_t head = b->first[grp];
        json_t *event = json_array_get(arr, head);
        if (group_init(g, a, req, event, &b->ids[head]) < 0 || event_text(a, req, event, &g->event_type) < 0)
            return -1;
        if (b->ngroups == 1 && b->ndropped == 0) {
            g->payload = provider_strndup(req->body, req->body_len);
            g->payload_len = req->body_len;
            if (!g->payload)
                return -1;
        } else if (join_group(b, grp, req, top, g) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The events array of the body: borrowed from root, with its raw span. */
static json_t *batch_array(const struct attr_spec *a, const struct webhook_request *req, json_t *root, struct span *arr,
                           char *err, size_t errlen)
{
    const char *body = (const char *)req->body;
    if (a->batch[0] == '\0') {
        *arr = (struct span){0, req->body_len};
        if (json_is_array(root))
            return root;
        provider_say(err, errlen, "body is not a JSON array of events");
        return NULL;
    }
    json_t *events = json_is_object(root) ? json_object_get(root, a->batch) : NULL;
    if (!json_is_array(events) || member_span(body, req->body_len, a->batch, arr) < 0) {
        provider_say(err, errlen, "body is not a JSON object with a \"%s\" array", a->batch);
        return NULL;
    }
    return events;
}

/* What leaves events of a batch out of its groups (attribution_split's drop). */
struct leave_out {
    const bool *drop; /* per event, or NULL */
    size_t n;         /* drop's length: the number of events the caller counted */
};

static int split_batch(const struct attr_spec *a, const struct webhook_request *req, json_t *root,
                       const struct found *forced, const struct leave_out *lo, struct attribution *out, char *err,
                       size_t errlen)
{
    struct span arrspan;
    json_t *arr = batch_array(a, req, root, &arrspan, err, errlen);
    if (!arr)
        return -1;
    size_t n = json_array_size(arr);
    if (n == 0) {
        struct found none = {-1, NULL};
        return whole_body(a, req, NULL, &none, out);
    }
    struct batch b;
    int rc = -1;
    if (batch_alloc(&b, n) < 0)
        goto out;
    b.arr = arrspan;
    b.forced = forced;
    if (lo->drop && lo->n != n) {
        provider_say(err, errlen, "the batch has %zu events, not %zu", n, lo->n);
        goto out;
    }
    b.drop = lo->drop;
    for (size_t i = 0; b.drop && i < n; i++)
        b.ndropped += b.drop[i];
    if (batch_group(&b, a, req, arr) < 0)
        goto out;
    if (scan_elements((const char *)req->body + arrspan.off, arrspan.len, b.spans, n) < 0) {
        provider_say(err, errlen, "could not delimit the array's elements");
        goto out;
    }
    rc = batch_emit(&b, a, req, arr, out);
out:
    if (rc < 0 && (!err || !errlen || !err[0]))
        provider_say(err, errlen, "out of memory");
    batch_free(&b);
    return rc;
}

static int split_single(const struct attr_spec *a, const struct webhook_request *req, json_t *root,
                        struct attribution *out, char *err, size_t errlen)
{
    if (root && !json_is_object(root)) {
        provider_say(err, errlen, "body is not a JSON object");
        return -1;
    }
    struct found f;
    find_id(a, req, root, true, true, &f);
    int rc = whole_body(a, req, root, &f, out);
    if (rc < 0)
        provider_say(err, errlen, "out of memory");
    free(f.value);
    return rc;
}

/* A batch named as a whole by a request-level identifier f: one group, whose event
 * type is read from the first event (with events left out, the rest spliced). */
static int batch_as_one(const struct attr_spec *a, const struct webhook_request *req, json_t *root,
                        const struct found *f, const struct leave_out *lo, struct attribution *out, char *err,
                        size_t errlen)
{
    if (root && lo->drop)
        return split_batch(a, req, root, f, lo, out, err, errlen);
    struct span ignored;
    json_t *arr = root ? batch_array(a, req, root, &ignored, err, errlen) : NULL;
    if (root && !arr)
        return -1;
    if (whole_body(a, req, json_array_get(arr, 0), f, out) < 0) {
        provider_say(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* A body that is one event object where the row expects a top-level array of them
 * (HubSpot sends both): read as a batch of one, its bytes unchanged. */
static bool single_event(const struct attr_spec *a, json_t *root)
{
    return a->batch && a->batch[0] == '\0' && json_is_object(root);
}

int attribution_split(const struct provider *p, const struct webhook_request *req, const bool *drop, size_t ndrop,
                      struct attribution *out, char *err, size_t errlen)
{
    const struct leave_out lo = {drop, ndrop};
    const struct attr_spec *a = &p->attr;
    json_t *root = NULL;
    if (reads_body(a) && !(root = body_root(a, req, err, errlen)))
        return -1;
    struct found f = {-1, NULL};
    if (a->batch)
        find_id(a, req, NULL, true, false, &f);
    int rc;
    if (!a->batch || single_event(a, root))
        rc = split_single(a, req, root, out, err, errlen);
    else if (f.which >= 0)
        rc = batch_as_one(a, req, root, &f, &lo, out, err, errlen);
    else
        rc = split_batch(a, req, root, NULL, &lo, out, err, errlen);
    free(f.value);
    json_decref(root);
    if (rc < 0)
        attribution_free(out);
    return rc;
}

/* The first body identifier read by json_scan (no parse): 1 with f filled, 0 when no
 * body identifier is there, -1 when only a full parse can tell. For a plain JSON object
 * body of one event; the ingress reads every webhook's ordering key this way. */
static int scan_body_id(const struct attr_spec *a, const struct webhook_request *req, struct found *f)
{
    const char *s = req->body ? (const char *)req->body : "";
    size_t i = skip_ws(s, req->body ? req->body_len : 0, 0);
    if (a->batch || i >= req->body_len || s[i] != '{')
        return -1;
    for (int k = 0; k < ATTR_MAX_IDS && a->ids[k].name; k++) {
        if (request_level(&a->ids[k]))
            continue;
        const char *v;
        size_t vlen;
        enum json_scan_result r = json_scan_path(s, req->body_len, a->ids[k].name, &v, &vlen);
        if (r == JSON_SCAN_UNSURE)
            return -1;
        if (r == JSON_SCAN_ABSENT)
            continue;
        /* As id_in_json: a string transformed as the row says, an integer as it is. */
        if ((f->value = id_from(v, vlen, r == JSON_SCAN_STRING ? a->ids[k].transform : ATTR_AS_IS))) {
            f->which = k;
            return 1;
        }
    }
    return 0;
}

static bool has_body_id(const struct attr_spec *a)
{
    for (int k = 0; k < ATTR_MAX_IDS && a->ids[k].name; k++)
        if (!request_level(&a->ids[k]))
            return true;
    return false;
}

size_t attribution_ordering_key(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen)
{
    const struct attr_spec *a = &p->attr;
    if (!out || outlen == 0 || !a->ids[0].name)
        return 0;
    struct found f;
    find_id(a, req, NULL, true, false, &f);
    bool parse = !f.value && has_body_id(a) && a->body != ATTR_BODY_NONE;
    if (parse && scan_body_id(a, req, &f) >= 0)
        parse = false;
    json_t *root = parse ? body_root(a, req, NULL, 0) : NULL;
    if (root && a->batch && !single_event(a, root)) {
        struct span ignored;
        json_t *arr = batch_array(a, req, root, &ignored, NULL, 0);
        find_id(a, req, json_array_get(arr, 0), false, true, &f);
    } else if (root) {
        find_id(a, req, root, false, true, &f);
    }
    size_t len = f.value ? strlen(f.value) : 0;
    if (len >= outlen)
        len = 0;
    memcpy(out, f.value ? f.value : "", len);
    out[len] = '\0';
    free(f.value);
    json_decref(root);
    return len;
}
