/* quarantine: see quarantine.h. */
#include "common/quarantine.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/msg.h"

void quarantine_reason_clean(char *out, size_t outlen, const char *reason)
{
    size_t n = 0;
    for (const char *p = reason ? reason : ""; *p && n + 1 < outlen; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    out[n] = '\0';
}

void quarantine_headers_strip(rd_kafka_headers_t *h)
{
    msg_rejected_strip(h);
}

void quarantine_mark_body_omitted(rd_kafka_headers_t *h, size_t len)
{
    char n[24];
    snprintf(n, sizeof n, "%zu", len);
    rd_kafka_header_add(h, MSG_H_REJECT_BODY_OMITTED, -1, n, -1);
}

rd_kafka_headers_t *quarantine_headers(const rd_kafka_message_t *rkm, const char *stage, const char *reason)
{
    rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(rkm, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(6);
    if (!h)
        return NULL;
    quarantine_headers_strip(h);
    char why[QUARANTINE_REASON_MAX + 1];
    quarantine_reason_clean(why, sizeof why, reason);
    const struct msg_rejected r = {
        why, stage, clock_unix_ms(), rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "", rkm->partition, rkm->offset};
    msg_rejected_encode(h, &r);
    return h;
}
