/* traceparent: see traceparent.h. */
#include "common/traceparent.h"

#include <stdio.h>
#include <string.h>

#include "common/random.h"

/* A lower-case hex digit's value, or -1 (upper case is invalid in traceparent). */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads 2*n hex digits at s into out. False on any other character. */
static bool read_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

static void write_hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
}

bool traceparent_parse(const char *s, struct traceparent *out)
{
    if (!s)
        return false;
    size_t len = strnlen(s, TRACEPARENT_LEN + 2);
    uint8_t version;
    if (len < TRACEPARENT_LEN || !read_hex(s, &version, 1) || version == 0xff)
        return false;
    /* Version 00 has exactly four fields; a later one may append "-..." after them. */
    if (version == 0 ? len != TRACEPARENT_LEN : len > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!read_hex(s + 3, out->trace_id, sizeof out->trace_id) || !read_hex(s + 36, out->span_id, sizeof out->span_id) ||
        !read_hex(s + 53, &out->flags, 1))
        return false;
    return !all_zero(out->trace_id, sizeof out->trace_id) && !all_zero(out->span_id, sizeof out->span_id);
}

const char *traceparent_format(const struct traceparent *tp, char out[TRACEPARENT_BUF])
{
    memcpy(out, "00-", 3);
    write_hex(out + 3, tp->trace_id, sizeof tp->trace_id);
    out[35] = '-';
    write_hex(out + 36, tp->span_id, sizeof tp->span_id);
    out[52] = '-';
    write_hex(out + 53, &tp->flags, 1);
    out[TRACEPARENT_LEN] = '\0';
    return out;
}

const char *traceparent_trace_id(const struct traceparent *tp, char out[TRACEPARENT_TRACE_ID_LEN + 1])
{
    write_hex(out, tp->trace_id, sizeof tp->trace_id);
    out[TRACEPARENT_TRACE_ID_LEN] = '\0';
    return out;
}

/* n random bytes that are not all zero (an all-zero id is invalid). */
static int random_id(uint8_t *b, size_t n)
{
    for (int tries = 0; tries < 4; tries++) {
        if (random_fill(b, n) < 0)
            return -1;
        if (!all_zero(b, n))
            return 0;
    }
    return -1;
}

int traceparent_new(struct traceparent *out)
{
    out->flags = 0;
    if (random_id(out->trace_id, sizeof out->trace_id) < 0)
        return -1;
    return random_id(out->span_id, sizeof out->span_id);
}

int traceparent_child(const struct traceparent *parent, struct traceparent *out)
{
    struct traceparent c = *parent;
    if (random_id(c.span_id, sizeof c.span_id) < 0)
        return -1;
    *out = c;
    return 0;
}

const char *traceparent_next(const char *in, char out[TRACEPARENT_BUF])
{
    struct traceparent parent, next;
    bool ok = traceparent_parse(in, &parent) ? traceparent_child(&parent, &next) == 0 : traceparent_new(&next) == 0;
    if (!ok) {
        out[0] = '\0';
        return out;
    }
    return traceparent_format(&next, out);
}
