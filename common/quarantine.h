/*
 * quarantine: where a message goes that its stage can never process.
 *
 * Every failure of a stage is either transient (the broker or the database cannot be
 * reached, a timeout: wait and retry the same message, never skip it) or permanent
 * (the message itself can never be processed: bytes that are not UTF-8, identifiers
 * beyond IDENT_MAX_LEN, a non-UUID environment, unreadable contract headers, a value
 * the database refuses). A permanent failure must not stop the stage for every tenant:
 * the message is copied to the quarantine topic (webhooks.rejected) with the reason and
 * its origin, counted, logged once, and its offset is stored like a processed one.
 * `hookline rejected list` shows them; `hookline rejected replay` puts them back.
 */
#ifndef HOOKLINE_QUARANTINE_H
#define HOOKLINE_QUARANTINE_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "common/msg.h"

#define QUARANTINE_REASON_MAX MSG_REJECT_REASON_MAX /* bytes of a reason, without the NUL */

/* The headers of rkm's copy on the quarantine topic: rkm's own headers without any
 * earlier quarantine headers (a replayed message quarantined again tells its last
 * story), plus struct msg_rejected (reason made printable and capped: it may quote
 * input; stage, when, and the topic, partition and offset rkm was read from). rkm and the strings are borrowed;
 * returns new headers (the caller gives them to the producer or destroys them), or
 * NULL when out of memory. */
rd_kafka_headers_t *quarantine_headers(const rd_kafka_message_t *rkm, const char *stage, const char *reason);

/* Writes reason into out (outlen > 0) as printable ASCII: every other byte becomes
 * '?', and it is cut at outlen-1 bytes. Safe for a header value and a log line. */
void quarantine_reason_clean(char *out, size_t outlen, const char *reason);

/* Marks h as a copy whose body of len bytes was left out (MSG_H_REJECT_BODY_OMITTED):
 * the quarantine topic refused it too; the original stays in its topic until retention. */
void quarantine_mark_body_omitted(rd_kafka_headers_t *h, size_t len);

/* Removes every quarantine header from h (may be NULL): msg_rejected_strip. */
void quarantine_headers_strip(rd_kafka_headers_t *h);

#endif
