/*
 * util: small readers shared by the provider engines and the custom code: reasons,
 * JSON body parsing and paths, query parameters and form-encoded bodies. Everything
 * here reads outside input, so every function bounds its work by the input's size and
 * treats anything malformed as "absent", never as an error to crash on.
 */
#include "providers/provider_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_depth.h"

#define PATH_INDEX_MAX_DIGITS 9

void provider_say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

char *provider_strndup(const void *src, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, src, len);
        p[len] = '\0';
    }
    return p;
}

json_t *provider_parse_json(const struct webhook_request *req, char *err, size_t errlen)
{
    json_error_t jerr;
    const char *body = req->body ? (const char *)req->body : "";
    if (!json_depth_within(body, req->body ? req->body_len : 0, JSON_NESTING_MAX)) {
        provider_say(err, errlen, "body is nested deeper than %d arrays and objects", JSON_NESTING_MAX);
        return NULL;
    }
    json_t *root = json_loadb(body, req->body ? req->body_len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && json_error_code(&jerr) == json_error_duplicate_key)
        provider_say(err, errlen, "body has a duplicate object key (line %d, column %d)", jerr.line, jerr.column);
    else if (!root)
        provider_say(err, errlen, "body is not valid JSON (line %d, column %d)", jerr.line, jerr.column);
    return root;
}

/* One path segment: "[N]" indexes an array, anything else is an object key. */
static json_t *path_step(json_t *cur, const char *seg, size_t n)
{
    if (n == 0)
        return NULL;
    if (seg[0] != '[')
        return json_object_getn(cur, seg, n);
    if (n < 3 || seg[n - 1] != ']' || n - 2 > PATH_INDEX_MAX_DIGITS)
        return NULL;
    size_t idx = 0;
    for (size_t i = 1; i < n - 1; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
        idx = idx * 10 + (size_t)(seg[i] - '0');
    }
    return json_array_get(cur, idx);
}

json_t *provider_json_path(json_t *root, const char *path)
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

/* Percent-decodes s[0..len) ('+' is a space) into a new string; NULL when an escape is
 * malformed, decodes to NUL, or out of memory. *outlen gets the decoded length. */
static char *url_decode(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < len; i++) {
        char c = s[i];
        if (c == '%') {
            unsigned char byte = 0;
            if (i + 2 >= len || crypto_unhex(s + i + 1, 2, &byte, 1) != 1 || byte == 0) {
                free(out);
                return NULL;
            }
            c = (char)byte;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        out[o++] = c;
    }
    if (out) {
        out[o] = '\0';
        *outlen = o;
    }
    return out;
}

/* Calls fn(name, namelen, value, valuelen, ctx) for each '&'-separated field of s;
 * stops at the first non-zero return and returns it. */
static int each_field(const char *s, size_t len, int (*fn)(const char *, size_t, const char *, size_t, void *),
                      void *ctx)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        const char *eq = memchr(s + i, '=', end - i);
        size_t nlen = eq ? (size_t)(eq - (s + i)) : end - i;
        const char *v = eq ? eq + 1 : s + end;
        size_t vlen = eq ? (size_t)(s + end - v) : 0;
        if (end > i) {
            int rc = fn(s + i, nlen, v, vlen, ctx);
            if (rc)
                return rc;
        }
        i = end + 1;
    }
    return 0;
}

struct query_find {
    const char *name;
    char *value;
};

static int query_match(const char *n, size_t nlen, const char *v, size_t vlen, void *ctx)
{
    struct query_find *f = ctx;
    size_t dlen;
    char *name = url_decode(n, nlen, &dlen);
    int hit = name && strcmp(name, f->name) == 0;
    free(name);
    if (!hit)
        return 0;
    f->value = url_decode(v, vlen, &dlen);
    return 1;
}

char *provider_query_param(const char *query, const char *name)
{
    struct query_find f = {name, NULL};
    if (!query)
        return NULL;
    each_field(query, strlen(query), query_match, &f);
    if (f.value && !f.value[0]) {
        free(f.value);
        f.value = NULL;
    }
    return f.value;
}

static int form_add(const char *n, size_t nlen, const char *v, size_t vlen, void *ctx)
{
    json_t *obj = ctx;
    size_t dn, dv;
    char *name = url_decode(n, nlen, &dn), *value = url_decode(v, vlen, &dv);
    int rc = 1;
    json_t *str = value ? json_stringn(value, dv) : NULL;
    /* json_object_setn_new takes str even when it fails. */
    if (name && str && !json_object_getn(obj, name, dn))
        rc = json_object_setn_new(obj, name, dn, str) == 0 ? 0 : 1;
    else
        json_decref(str);
    free(name);
    free(value);
    return rc;
}

json_t *provider_form_object(const unsigned char *body, size_t len)
{
    if (!body || len == 0 || memchr(body, '\0', len))
        return NULL;
    json_t *obj = json_object();
    if (obj && each_field((const char *)body, len, form_add, obj) != 0) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}
