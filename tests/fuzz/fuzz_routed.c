/*
 * fuzz_routed: the forwarder's decoding of a Kafka message from webhooks.routed (or a
 * retry topic), with fuzzed headers and value: routed_read, then, for a message it
 * accepts, request_build (envelope or raw mode, notification or not, legacy signature
 * or not) and request_stamp, as the pipeline does. abort() unless:
 *   - routed_read either accepts the message or gives a reason that is printable
 *     ASCII, and the webhook id it leaves for the log line is NUL-terminated and
 *     printable (or a valid identifier);
 *   - an accepted message has a UUID environment, an integration key, and a connection
 *     id (when attributed) that ident_valid accepts;
 *   - every passed-through provider header has a token name that header_passes
 *     accepts and a value without CR, LF or NUL;
 *   - the request has a body of the length it says (the envelope, or the value itself
 *     in raw mode and for notifications), and every header of it has a token name and a
 *     value without CR or LF (nothing reaches the request line or the framing).
 *
 * Input: byte 0 = flags (bit 0 raw mode, bit 1 legacy signature, bit 2 a previous
 * signing key), then header records "name\0value\n" until an empty record ("\n"),
 * the rest is the value. Values may hold any byte but '\n' (a record's value may hold
 * NUL: the name ends at the first one). Seeds: tests/fuzz/corpus/fuzz_routed/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/ids.h"
#include "common/log.h"
#include "forwarder/forwarder.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_routed", "error", "text"); /* the warnings about refused headers are expected */
    return 0;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

static void check_clean(const char *name, const char *value)
{
    CHECK(name && value);
    CHECK(msg_token(name, strlen(name)));
    CHECK(!strpbrk(value, "\r\n"));
}

/* Builds, signs and checks the request of an accepted message. */
static void check_request(const struct msg_routed *r, uint8_t flags, const uint8_t *payload, size_t len)
{
    struct destination dest = {.found = true, .forward = true, .raw = flags & 1, .legacy_signature = flags & 2};
    strcpy(dest.primary_url, "https://app.example.com/hook");
    strcpy(dest.signing_key, "k3y");
    if (flags & 4) {
        strcpy(dest.previous_signing_key, "old-k3y");
        dest.previous_until = 1900000000;
    }
    struct forward_request req;
    if (request_build(&req, r, &dest, payload, len) < 0)
        return; /* out of memory */
    request_stamp(&req, 1800000000);
    CHECK(req.body);
    if (dest.raw || r->notification)
        CHECK(req.len == len && (len == 0 || memcmp(req.body, payload, len) == 0));
    else
        CHECK(req.len == strlen(req.body) && req.len >= len);
    CHECK(req.nheaders > 0 && req.nheaders <= sizeof req.headers / sizeof req.headers[0]);
    for (size_t i = 0; i < req.nheaders; i++)
        check_clean(req.headers[i].name, req.headers[i].value);
    request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t off = 1;
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    while (off < size) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
        if (n == 0) { /* the empty record: the value follows */
            off++;
            break;
        }
        const uint8_t *nul = memchr(data + off, 0, n);
        size_t nlen = nul ? (size_t)(nul - (data + off)) : n;
        char *name = strndup((const char *)data + off, nlen);
        if (!name)
            break;
        const uint8_t *v = nul ? nul + 1 : data + off + n;
        size_t vlen = nul ? n - nlen - 1 : 0;
        rd_kafka_header_add(h, name, -1, v, (ssize_t)vlen);
        free(name);
        off += n + (nl != NULL);
    }
    const uint8_t *payload = data + (off < size ? off : size);
    size_t len = off < size ? size - off : 0;

    struct msg_routed r;
    const char *why = routed_read(&r, h);
    CHECK(memchr(r.webhook_id, 0, sizeof r.webhook_id));
    CHECK(memchr(r.event_type, 0, sizeof r.event_type) && !strpbrk(r.event_type, "\r\n"));
    CHECK(memchr(r.content_type, 0, sizeof r.content_type) && !strpbrk(r.content_type, "\r\n"));
    CHECK(r.npass <= MSG_ROUTED_MAX_HEADERS);
    for (size_t i = 0; i < r.npass; i++) {
        check_clean(r.passthrough[i].name, r.passthrough[i].value);
        CHECK(header_passes(r.passthrough[i].name));
    }
    if (why) {
        CHECK(*why && printable(why));
        CHECK(printable(r.webhook_id) || ident_valid_str(r.webhook_id)); /* safe in a log line */
    } else {
        CHECK(id_is_uuid(r.env));
        CHECK(ident_is_integration_key(r.integration));
        CHECK(ident_valid_str(r.webhook_id) && ident_valid_str(r.routed_id));
        CHECK(!r.attributed || ident_valid_str(r.connection));
        check_request(&r, flags, payload, len);
    }
    msg_routed_free(&r);
    rd_kafka_headers_destroy(h);
    return 0;
}
