/*
 * event_id: the provider's own id of an event, read as its row's attr_spec says
 * (event_id_headers, event_id_paths). The router keys its duplicate suppression on it
 * (router/dedup.c): a provider that re-sends an event (on a timeout, a slow 200, a
 * retry schedule of days) sends the same id in a new HTTP request, which ingress gives
 * a new webhook id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "providers/provider_impl.h"

/* A JSON string or integer as text into out; false when it is neither, empty, or does
 * not fit. */
static bool scalar_text(json_t *v, char *out, size_t outlen)
{
    int n;
    if (json_is_string(v))
        n = json_string_length(v) ? snprintf(out, outlen, "%s", json_string_value(v)) : -1;
    else if (json_is_integer(v))
        n = snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        return false;
    return n > 0 && (size_t)n < outlen && strlen(out) == (size_t)n;
}

/* The event's id from the body paths, appended to buf at *len (sep before it when
 * *len > 0). false when a path is missing or buf is full. */
static bool append_event(const struct attr_spec *a, json_t *node, char *buf, size_t cap, size_t *len, char sep)
{
    for (int i = 0; i < 2 && a->event_id_paths[i]; i++) {
        char part[256];
        if (!scalar_text(provider_json_path(node, a->event_id_paths[i]), part, sizeof part))
            return false;
        size_t pl = strlen(part);
        char s = i ? ':' : sep;
        size_t need = pl + (*len || i ? 1 : 0);
        if (*len + need + 1 > cap)
            return false;
        if (*len || i)
            buf[(*len)++] = s;
        memcpy(buf + *len, part, pl);
        *len += pl;
        buf[*len] = '\0';
    }
    return true;
}

/* The ids in the body; 0 when absent. Batches are hashed when they do not fit. */
static size_t body_ids(const struct attr_spec *a, const struct webhook_request *req, char *out, size_t outlen)
{
    char err[64];
    json_t *root = provider_parse_json(req, err, sizeof err);
    if (!root)
        return 0;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    bool ok = buf != NULL;
    if (ok)
        buf[0] = '\0';
    if (ok && a->batch) {
        json_t *arr = a->batch[0] ? json_object_get(root, a->batch) : root;
        ok = json_is_array(arr) && json_array_size(arr) > 0;
        for (size_t i = 0; ok && i < json_array_size(arr); i++)
            ok = append_event(a, json_array_get(arr, i), buf, cap, &len, ',');
    } else if (ok) {
        ok = append_event(a, root, buf, cap, &len, ',');
    }
    size_t n = 0;
    if (ok && len > 0 && len < outlen) {
        memcpy(out, buf, len + 1);
        n = len;
    } else if (ok && len > 0 && outlen >= 72) {
        unsigned char md[32];
        crypto_sha256(buf, len, md);
        n = (size_t)snprintf(out, outlen, "sha256:");
        for (int i = 0; i < 32; i++)
            n += (size_t)snprintf(out + n, outlen - n, "%02x", md[i]);
    }
    free(buf);
    json_decref(root);
    return n;
}

size_t provider_event_id(const struct provider *p, const struct webhook_request *req, char *out, size_t outlen)
{
    const struct attr_spec *a = &p->attr;
    if (outlen < 80)
        return 0;
    out[0] = '\0';
    for (int i = 0; i < 2 && a->event_id_headers[i]; i++) {
        const char *v = webhook_header(req, a->event_id_headers[i]);
        size_t n = v ? strlen(v) : 0;
        if (n > 0 && n < outlen) {
            memcpy(out, v, n + 1);
            return n;
        }
    }
    if (!a->event_id_paths[0] || a->body == ATTR_BODY_NONE)
        return 0;
    return body_ids(a, req, out, outlen);
}

size_t provider_event_ids(const struct provider *p, const struct webhook_request *req, char ***ids)
{
    const struct attr_spec *a = &p->attr;
    *ids = NULL;
    if (!a->batch || !a->event_id_paths[0] || a->body == ATTR_BODY_NONE)
        return 0;
    char err[64];
    json_t *root = provider_parse_json(req, err, sizeof err);
    json_t *arr = a->batch[0] ? json_object_get(root, a->batch) : root;
    /* One event object where the row expects an array of them (HubSpot sends both) is
     * a batch of one, as attribution reads it. */
    bool single = !a->batch[0] && json_is_object(root);
    size_t n = single ? 1 : json_is_array(arr) ? json_array_size(arr) : 0;
    char **out = n ? calloc(n, sizeof *out) : NULL;
    for (size_t i = 0; out && i < n; i++) {
        char buf[512];
        size_t len = 0;
        buf[0] = '\0';
        json_t *event = single ? root : json_array_get(arr, i);
        if (append_event(a, event, buf, sizeof buf, &len, ',') && len > 0 && !(out[i] = strdup(buf))) {
            provider_event_ids_free(out, n);
            out = NULL;
        }
    }
    json_decref(root);
    *ids = out;
    return out ? n : 0;
}

void provider_event_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}
