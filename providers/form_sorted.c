/*
 * form_sorted: the text Twilio signs from a form body (after the URL): every field,
 * sorted by name in byte order, as name then value, percent-decoded, with nothing
 * between them. Reading the form through provider_form_object means a body with a bad
 * escape, a NUL byte or a repeated field is no form here, so its signature is refused
 * rather than guessed at.
 */
#include "providers/provider_impl.h"

#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *provider_form_sorted(const unsigned char *body, size_t len)
{
    json_t *form = provider_form_object(body, len);
    if (!form)
        return NULL;
    size_t n = json_object_size(form), total = 1, i = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    char *out = NULL;
    const char *name;
    json_t *value;
    if (!names)
        goto done;
    json_object_foreach(form, name, value)
    {
        names[i++] = name;
        total += strlen(name) + json_string_length(value);
    }
    qsort(names, n, sizeof *names, by_name);
    if (!(out = malloc(total)))
        goto done;
    size_t o = 0;
    for (i = 0; i < n; i++) {
        json_t *v = json_object_get(form, names[i]);
        size_t nl = strlen(names[i]), vl = json_string_length(v);
        memcpy(out + o, names[i], nl);
        memcpy(out + o + nl, json_string_value(v), vl);
        o += nl + vl;
    }
    out[o] = '\0';
done:
    free(names);
    json_decref(form);
    return out;
}
