/*
 * aliases: other key names for a provider row. Nango gives one API several keys (an
 * OAuth and an API-key flavour, a staging host, one Google OAuth app per product); they
 * verify and attribute alike, so each maps onto one row instead of copying it.
 * provider_find resolves them; an integration keeps the key it was created with, which
 * is what its webhooks are forwarded "from".
 */
#include "providers/provider_impl.h"

#include <string.h>

struct alias {
    const char *key; /* the other name */
    const char *row; /* the row it maps onto */
};

static const struct alias aliases[] = {
    /* Cal.com's current keys; `cal-com` stays the row so existing integrations keep working. */
    {"cal-com-v2", "cal-com"},
    {"cal-com-oauth", "cal-com"},
    {"checkr-partner-staging", "checkr-partner"},
    {"fathom-oauth", "fathom"},
    {"fillout-api-key", "fillout"},
    {"gitlab-pat", "gitlab"},
    {"gitlab-group-token", "gitlab"},
    /* Google push notifications look the same whichever Google product the watch is for. */
    {"google-ads", "google"},
    {"google-analytics", "google"},
    {"google-bigquery", "google"},
    {"google-chat", "google"},
    {"google-cloud-storage", "google"},
    {"google-contacts", "google"},
    {"google-docs", "google"},
    {"google-forms", "google"},
    {"google-health", "google"},
    {"google-meet", "google"},
    {"google-search-console", "google"},
    {"google-sheet", "google"},
    {"google-slides", "google"},
    {"google-tasks", "google"},
    {"google-workspace-admin", "google"},
    {"youtube", "google"},
    {"stitch-mcp", "google"},
    {"google-calendar-mcp", "google-calendar"},
    {"microsoft-intune", "microsoft-oauth2-cc"},
    {"sellsy-oauth2-cc", "sellsy"},
    {"shipstation-v2", "shipstation"},
    {"zoom-cc", "zoom"},
    /* Not Nango keys: the other name users know an API by. */
    {"twitter", "x"},
};

const char *provider_alias_at(size_t i, const char **row)
{
    if (i >= sizeof aliases / sizeof aliases[0])
        return NULL;
    if (row)
        *row = aliases[i].row;
    return aliases[i].key;
}

const char *provider_alias_row(const char *name)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].key, name) == 0)
            return aliases[i].row;
    return NULL;
}
