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
    static const char *const names[] = {MSG_H_REJECT_REASON, MSG_H_REJECT_STAGE,     MSG_H_REJECT_AT,
                                        MSG_H_REJECT_TOPIC,  MSG_H_REJECT_PARTITION, MSG_H_REJECT_OFFSET};
    for (size_t i = 0; h && i < sizeof names / sizeof names[0]; i++)
        rd_kafka_header_remove(h, names[i]);
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
    char why[QUARANTINE_REASON_MAX + 1], at[24], partition[16], offset[24];
    quarantine_reason_clean(why, sizeof why, reason);
    snprintf(at, sizeof at, "%lld", clock_unix_ms());
    snprintf(partition, sizeof partition, "%d", (int)rkm->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)rkm->offset);
    rd_kafka_header_add(h, MSG_H_REJECT_REASON, -1, why, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_STAGE, -1, stage, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_AT, -1, at, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_TOPIC, -1, rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "", -1);
    rd_kafka_header_add(h, MSG_H_REJECT_PARTITION, -1, partition, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_OFFSET, -1, offset, -1);
    return h;
}
