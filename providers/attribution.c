/*
 * attribution: the generic JSON engine behind provider_attribute and
 * provider_ordering_key, driven by a row's attr_spec and ordering_path
 * (provider_impl.h).
 *
 * The body is validated with jansson (duplicate keys rejected, so that every reader
 * of the payload sees the same identifier). A batch (a top-level array of events) is
 * split into one group per identifier value, in order of first appearance; each
 * group's payload is "[" + the members' original bytes joined by "," + "]", with the
 * element boundaries found by a small string-aware scanner over the raw bytes, so
 * nothing is re-serialised. When every element lands in one group the payload is the
 * body unchanged. Elements without an identifier (absent, empty string, or neither a
 * string nor an integer) form the unattributed group. A group's event type is read
 * from its first element. Memory and time are linear in the body size (bounded by
 * ingress); the identifier index is a hash table, so many portals cost no more.
 */
#include "providers/provider_impl.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_PREFIX "[]."
#define NONE SIZE_MAX

struct span {
    size_t off, len;
};

/* Per-batch working state; every array has one slot per element. */
struct batch {
    size_t n;
    struct span *spans;   /* element bytes in the body */
    char **ids;           /* identifier text (owned), NULL when the element has none */
    size_t *next;         /* next element of the same group, NONE at the end */
    size_t *first, *last; /* per group: its first and last element */
    size_t ngroups;
    size_t none;          /* the unattributed group, NONE until one is needed */
    size_t *slots;        /* open-addressing index: group + 1, 0 when empty */
    size_t nslots;        /* a power of two, more than twice n */
};

static void fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_batch(const struct attr_spec *a)
{
    return a->id_path && strncmp(a->id_path, BATCH_PREFIX, strlen(BATCH_PREFIX)) == 0;
}

/* ---- JSON access ------------------------------------------------------------ */

/* Parses the body. Returns a new reference, or NULL with a reason in err (the reason
 * gives a position, never body bytes). */
static json_t *parse_body(const struct webhook_request *req, char *err, size_t errlen)
{
    json_error_t jerr;
    const char *body = req->body ? (const char *)req->body : "";
    json_t *root = json_loadb(body, req->body ? req->body_len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && json_error_code(&jerr) == json_error_duplicate_key)
        fail(err, errlen, "body has a duplicate object key (line %d, column %d)", jerr.line, jerr.column);
    else if (!root)
        fail(err, errlen, "body is not valid JSON (line %d, column %d)", jerr.line, jerr.column);
    return root;
}

/* One path segment: "[N]" indexes an array, anything else is an object key. */
static json_t *path_step(json_t *cur, const char *seg, size_t n)
{
    if (n == 0)
        return NULL;
    if (seg[0] != '[')
        return json_object_getn(cur, seg, n);
    if (n < 3 || seg[n - 1] != ']' || n > 12)
        return NULL;
    size_t idx = 0;
    for (size_t i = 1; i < n - 1; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
        idx = idx * 10 + (size_t)(seg[i] - '0');
    }
    return json_array_get(cur, idx);
}

/* Follows a dotted path ("installation.id", "[0].portalId"). Borrowed, or NULL. */
static json_t *path_get(json_t *root, const char *path)
{
    json_t *cur = root;
    while (cur && *path) {
        size_t n = strcspn(path, ".");
        cur = path_step(cur, path, n);
        path += n;
        if (*path == '.')
            path++;
    }
    return cur;
}

/* The identifier at path as new text in *out: a non-empty string as-is, an integer in
 * decimal; anything else leaves *out NULL. Returns 0, or -1 when out of memory. */
static int id_text(json_t *node, const char *path, char **out)
{
    json_t *v = path_get(node, path);
    *out = NULL;
    if (json_is_string(v) && json_string_length(v) > 0) {
        *out = strndup(json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        char digits[32];
        snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = strdup(digits);
    } else {
        return 0;
    }
    return *out ? 0 : -1;
}

/* Event type of node into *out (new string or NULL): the event header's value, with
 * "." + the event_path string appended when present; or the event_path string alone
 * when the row has no event header. Returns 0, or -1 when out of memory. */
static int event_text(const struct attr_spec *a, const struct webhook_request *req, json_t *node, char **out)
{
    *out = NULL;
    const char *hv = a->event_header ? webhook_header(req, a->event_header) : NULL;
    if (a->event_header && !hv)
        return 0;
    json_t *v = a->event_path ? path_get(node, a->event_path) : NULL;
    const char *bv = json_is_string(v) ? json_string_value(v) : NULL;
    if (!hv && !bv)
        return 0;
    size_t len = (hv ? strlen(hv) : 0) + (bv ? strlen(bv) : 0) + 2;
    if (!(*out = malloc(len)))
        return -1;
    snprintf(*out, len, "%s%s%s", hv ? hv : "", hv && bv ? "." : "", bv ? bv : "");
    return 0;
}

/* ---- groups ----------------------------------------------------------------- */

static char *copy_bytes(const void *src, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, src, len);
        p[len] = '\0';
    }
    return p;
}

/* Fills g; id (borrowed) NULL means unattributed. Returns 0 or -1 (out of memory). */
static int group_init(struct attribution_group *g, const struct attr_spec *a, const char *id)
{
    if (!id)
        return 0;
    g->config_key = strdup(a->config_key);
    g->value = strdup(id);
    return g->config_key && g->value ? 0 : -1;
}

/* One group with the whole body: unattributed when id is NULL. */
static int whole_body(const struct attr_spec *a, const struct webhook_request *req, json_t *node,
                      const char *id, struct attribution *out)
{
    out->groups = calloc(1, sizeof *out->groups);
    if (!out->groups)
        return -1;
    out->n = 1;
    struct attribution_group *g = &out->groups[0];
    g->payload = copy_bytes(req->body, req->body ? req->body_len : 0);
    g->payload_len = req->body ? req->body_len : 0;
    if (!g->payload || group_init(g, a, id) < 0)
        return -1;
    return event_text(a, req, node, &g->event_type);
}

/* ---- batch splitting -------------------------------------------------------- */

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

/* From the start of a value, the index of the ',' or ']' that ends it (depth 0, outside
 * strings), or len. */
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

/* The byte spans of the n elements of the top-level array in s (already valid JSON),
 * whitespace around each element excluded. Returns 0, or -1 if the count disagrees. */
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
        size_t start = i;
        i = value_end(s, len, i);
        if (i >= len || k >= n)
            return -1;
        size_t end = i;
        while (end > start && is_ws(s[end - 1]))
            end--;
        spans[k++] = (struct span){start, end - start};
        if (s[i] == ']')
            return k == n ? 0 : -1;
        i++;
    }
}

static size_t hash_text(const char *s)
{
    size_t h = (size_t)14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
    return h;
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
    const char *id = b->ids[elem];
    if (!id) {
        if (b->none == NONE)
            b->none = new_group(b, elem);
        return b->none;
    }
    size_t h = hash_text(id) & (b->nslots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->nslots - 1)) {
        size_t g = b->slots[h] - 1;
        if (strcmp(b->ids[b->first[g]], id) == 0)
            return g;
    }
    size_t g = new_group(b, elem);
    b->slots[h] = g + 1;
    return g;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; b->ids && i < b->n; i++)
        free(b->ids[i]);
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

/* Reads every element's identifier and links elements into groups. */
static int batch_group(struct batch *b, const struct attr_spec *a, json_t *root)
{
    const char *path = a->id_path + strlen(BATCH_PREFIX);
    for (size_t i = 0; i < b->n; i++) {
        if (id_text(json_array_get(root, i), path, &b->ids[i]) < 0)
            return -1;
        b->next[i] = NONE;
        size_t g = group_for(b, i);
        if (b->first[g] != i) {
            b->next[b->last[g]] = i;
            b->last[g] = i;
        }
    }
    return 0;
}

/* "[" + the group's element bytes joined by "," + "]" into g. Returns 0 or -1. */
static int join_group(const struct batch *b, size_t grp, const char *body, struct attribution_group *g)
{
    size_t len = 1;
    for (size_t i = b->first[grp]; i != NONE; i = b->next[i])
        len += b->spans[i].len + 1; /* the element and the ',' or ']' after it */
    if (!(g->payload = malloc(len + 1)))
        return -1;
    size_t o = 0;
    g->payload[o++] = '[';
    for (size_t i = b->first[grp]; i != NONE; i = b->next[i]) {
        memcpy(g->payload + o, body + b->spans[i].off, b->spans[i].len);
        o += b->spans[i].len;
        g->payload[o++] = b->next[i] == NONE ? ']' : ',';
    }
    g->payload[o] = '\0';
    g->payload_len = o;
    return 0;
}

static int batch_emit(const struct batch *b, const struct attr_spec *a, const struct webhook_request *req,
                      json_t *root, struct attribution *out)
{
    if (!(out->groups = calloc(b->ngroups, sizeof *out->groups)))
        return -1;
    out->n = b->ngroups;
    for (size_t grp = 0; grp < b->ngroups; grp++) {
        struct attribution_group *g = &out->groups[grp];
        size_t head = b->first[grp];
        if (group_init(g, a, b->ids[head]) < 0 || event_text(a, req, json_array_get(root, head), &g->event_type) < 0)
            return -1;
        if (b->ngroups == 1) {
            g->payload = copy_bytes(req->body, req->body_len);
            g->payload_len = req->body_len;
            if (!g->payload)
                return -1;
        } else if (join_group(b, grp, (const char *)req->body, g) < 0) {
            return -1;
        }
    }
    return 0;
}

static int split_batch(const struct attr_spec *a, const struct webhook_request *req, json_t *root,
                       struct attribution *out, char *err, size_t errlen)
{
    if (!json_is_array(root)) {
        fail(err, errlen, "body is not a JSON array of events");
        return -1;
    }
    size_t n = json_array_size(root);
    if (n == 0)
        return whole_body(a, req, NULL, NULL, out);
    struct batch b;
    int rc = -1;
    if (batch_alloc(&b, n) < 0 || batch_group(&b, a, root) < 0)
        goto out;
    if (scan_elements((const char *)req->body, req->body_len, b.spans, n) < 0) {
        fail(err, errlen, "could not delimit the array's elements");
        goto out;
    }
    rc = batch_emit(&b, a, req, root, out);
out:
    if (rc < 0 && (!err || !errlen || !err[0]))
        fail(err, errlen, "out of memory");
    batch_free(&b);
    return rc;
}

static int split_object(const struct attr_spec *a, const struct webhook_request *req, json_t *root,
                        struct attribution *out, char *err, size_t errlen)
{
    bool want_array = a->id_path && a->id_path[0] == '[';
    if (a->id_path && json_is_array(root) != want_array) {
        fail(err, errlen, "body is not a JSON %s", want_array ? "array" : "object");
        return -1;
    }
    char *id = NULL;
    int rc = -1;
    if (a->id_path && id_text(root, a->id_path, &id) < 0)
        goto out;
    rc = whole_body(a, req, root, id, out);
out:
    if (rc < 0)
        fail(err, errlen, "out of memory");
    free(id);
    return rc;
}

int attribution_split(const struct provider *p, const struct webhook_request *req, struct attribution *out,
                      char *err, size_t errlen)
{
    const struct attr_spec *a = &p->attr;
    int rc;
    if (!a->id_path && !a->event_path) {
        /* Nothing to read in the body: do not require it to be JSON. */
        rc = whole_body(a, req, NULL, NULL, out);
        if (rc < 0)
            fail(err, errlen, "out of memory");
    } else {
        json_t *root = parse_body(req, err, errlen);
        if (!root)
            return -1;
        rc = is_batch(a) ? split_batch(a, req, root, out, err, errlen) : split_object(a, req, root, out, err, errlen);
        json_decref(root);
    }
    if (rc < 0)
        attribution_free(out);
    return rc;
}

size_t attribution_ordering_key(const struct provider *p, const struct webhook_request *req, char *out,
                                size_t outlen)
{
    if (!p->ordering_path || !out || outlen == 0)
        return 0;
    json_t *root = json_loadb(req->body ? (const char *)req->body : "", req->body ? req->body_len : 0,
                              JSON_REJECT_DUPLICATES, NULL);
    char *id = NULL;
    size_t len = 0;
    if (root && id_text(root, p->ordering_path, &id) == 0 && id && strlen(id) < outlen) {
        len = strlen(id);
        memcpy(out, id, len + 1);
    }
    free(id);
    json_decref(root);
    return len;
}
