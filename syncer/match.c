/* match: which sync a webhook starts (see syncer.h). Pure. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "syncer/syncer.h"

/* True if type (non-empty) is what subscription sub asks for: the same text, or, for
 * "prefix.*", a type that starts with "prefix.". */
static bool sub_matches(const char *sub, const char *type)
{
    if (!type || !*type)
        return false;
    size_t len = strlen(sub);
    if (len >= 2 && sub[len - 2] == '.' && sub[len - 1] == '*')
        return strlen(type) > len - 1 && !strncmp(sub, type, len - 1);
    return !strcmp(sub, type);
}

int sync_match(const char *const *subs, size_t n, const char *event_type, const char *nango_type)
{
    for (size_t i = 0; i < n; i++)
        if (subs[i] && (!strcmp(subs[i], "*") || sub_matches(subs[i], event_type) || sub_matches(subs[i], nango_type)))
            return (int)i;
    return -1;
}

int sync_def_parse_subscriptions(struct sync_def *def, const char *text)
{
    json_error_t jerr;
    json_t *arr = json_loads(text, 0, &jerr);
    int rc = -1;
    if (!json_is_array(arr) || json_array_size(arr) > SYNC_MAX_SUBSCRIPTIONS)
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !(def->subs[def->nsubs] = strdup(json_string_value(v))))
            goto out;
        def->nsubs++;
    }
    rc = 0;
out:
    json_decref(arr);
    return rc;
}

void sync_def_clear(struct sync_def *def)
{
    if (!def)
        return;
    for (size_t i = 0; i < def->nsubs; i++)
        free(def->subs[i]);
    free(def->name);
    memset(def, 0, sizeof *def);
}
