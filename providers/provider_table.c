/*
 * provider_table: every provider hookline knows, as one sequence over the families of
 * rows (table_code.c, table_business.c, table_messaging.c, table_platform.c,
 * table_nango.c, table_signed.c, table_more.c), and the aliases that map other key names onto them
 * (aliases.c). To add
 * a provider, add a row to its family, then its cases under tests/providers/<name>/;
 * write code only for what a row cannot say (see provider_impl.h).
 *
 * provider_find and provider_at are the only ways in; both are pure and thread-safe.
 */
#include "providers/provider_impl.h"

#include <string.h>

struct family {
    const struct provider *rows;
    const size_t *n;
};

static const struct family families[] = {
    {provider_rows_code, &provider_rows_code_len},           {provider_rows_business, &provider_rows_business_len},
    {provider_rows_messaging, &provider_rows_messaging_len}, {provider_rows_platform, &provider_rows_platform_len},
    {provider_rows_nango, &provider_rows_nango_len},         {provider_rows_signed, &provider_rows_signed_len},
    {provider_rows_more, &provider_rows_more_len},
};

const struct provider *provider_at(size_t i)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (i < *families[f].n)
            return &families[f].rows[i];
        i -= *families[f].n;
    }
    return NULL;
}

static const struct provider *find_row(const char *name)
{
    const struct provider *p;
    for (size_t i = 0; (p = provider_at(i)) != NULL; i++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

const struct provider *provider_find(const char *name)
{
    if (!name)
        return NULL;
    const struct provider *p = find_row(name);
    if (p)
        return p;
    const char *row = provider_alias_row(name);
    return row ? find_row(row) : NULL;
}
