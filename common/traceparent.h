/*
 * traceparent: the W3C Trace Context `traceparent` value (https://www.w3.org/TR/trace-context/),
 * so one webhook can be followed by an OpenTelemetry user from the ingress through
 * every stage to the app and the sync job. Each hop is a span of the same trace: it
 * keeps the trace id and names its own span id, which the next hop sees as its parent.
 * Pure, thread-safe (the random ids come from OpenSSL's CSPRNG).
 */
#ifndef HOOKLINE_TRACEPARENT_H
#define HOOKLINE_TRACEPARENT_H

#include <stdbool.h>
#include <stdint.h>

#define TRACEPARENT_LEN 55 /* "00-<32 hex>-<16 hex>-<2 hex>", without the NUL */
#define TRACEPARENT_BUF (TRACEPARENT_LEN + 1)
#define TRACEPARENT_TRACE_ID_LEN 32 /* hex digits of a trace id */

struct traceparent {
    uint8_t trace_id[16];
    uint8_t span_id[8]; /* the span of the hop that wrote it: the next hop's parent-id */
    uint8_t flags;      /* trace-flags (bit 0: sampled), passed on unchanged */
};

/* Reads s (NUL-terminated, may be NULL) into out. True for a valid value: version 00
 * exactly TRACEPARENT_LEN bytes, or a later version (not ff) of at least that length
 * whose extra part starts with '-' (read as 00, as the specification asks); lower-case
 * hex only; neither id all zeros. False otherwise (out is then unspecified). */
bool traceparent_parse(const char *s, struct traceparent *out) __attribute__((warn_unused_result));

/* Writes tp as a version 00 value into out. Returns out. */
const char *traceparent_format(const struct traceparent *tp, char out[TRACEPARENT_BUF]);

/* The trace id of tp as 32 lower-case hex digits, for log lines. Returns out. */
const char *traceparent_trace_id(const struct traceparent *tp, char out[TRACEPARENT_TRACE_ID_LEN + 1]);

/* A new trace: random trace and span ids, sampled flag clear. 0, or -1 when no random
 * bytes could be had. */
int traceparent_new(struct traceparent *out) __attribute__((warn_unused_result));

/* The next hop of parent: the same trace id and flags, a new random span id. 0 or -1. */
int traceparent_child(const struct traceparent *parent, struct traceparent *out) __attribute__((warn_unused_result));

/* What a hop passes on, as text: the child of the valid value in (may be NULL or ""),
 * or a new trace when in is not one. out is "" only when no random bytes could be had.
 * Returns out. */
const char *traceparent_next(const char *in, char out[TRACEPARENT_BUF]);

#endif
