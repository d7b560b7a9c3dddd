/*
 * nango_type: the event type Nango's routing scripts match subscriptions against.
 * Nango takes one value per webhook: a header (GitHub's X-GitHub-Event, Shopify's
 * X-Shopify-Topic) or a body field (HubSpot's subscriptionType, Linear's type, Jira's
 * webhookEvent). hookline's type is that value, followed by ".<detail>" for the rows
 * that add one (attr_spec.event_detail: GitHub's action, Linear's action, Xero's
 * eventType, QuickBooks' operation). The values those rows start with hold no '.', so
 * the Nango type is what comes before the first '.'.
 */
#include <stdio.h>
#include <string.h>

#include "providers/provider_impl.h"

size_t provider_nango_event_type(const struct provider *p, const char *event_type, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    out[0] = '\0';
    if (!event_type || !*event_type)
        return 0;
    size_t len = strlen(event_type);
    if (p->attr.event_detail) {
        const char *dot = strchr(event_type, '.');
        if (dot)
            len = (size_t)(dot - event_type);
    }
    if (len >= outlen)
        return 0;
    memcpy(out, event_type, len);
    out[len] = '\0';
    return len;
}
