/* trace: the ingress's span of a webhook's W3C trace. A provider (or a proxy in front of
 * hookline) that sent a valid `traceparent` has its trace continued; any other request
 * starts a new one, so every stored webhook carries a trace (common/traceparent.h). */
#include <strings.h>

#include "ingress/ingress.h"

const char *trace_of_request(const struct webhook_request *wr, char out[TRACEPARENT_BUF])
{
    const char *incoming = NULL;
    for (size_t i = 0; i < wr->nheaders; i++) {
        if (strcasecmp(wr->headers[i].name, "traceparent") != 0)
            continue;
        if (incoming) { /* two values: which one the sender meant is unknown */
            incoming = NULL;
            break;
        }
        incoming = wr->headers[i].value;
    }
    return traceparent_next(incoming, out);
}
