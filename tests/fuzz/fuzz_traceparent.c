/*
 * fuzz_traceparent: traceparent_parse (common/traceparent.h) on any bytes, as the
 * ingress reads a provider's `traceparent` header. abort() unless:
 *   - an accepted value is at least 55 bytes, starts with two lower-case hex digits
 *     other than "ff", has '-' at 2, 35 and 52, and neither id is all zeros;
 *   - formatting what was read gives back its first 55 bytes with version "00";
 *   - traceparent_next keeps the trace id and flags of an accepted value, and always
 *     gives a value that parses again.
 * Input: the header value (a NUL inside ends it, as in a C string).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/traceparent.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct traceparent tp, again;
    char out[TRACEPARENT_BUF], next[TRACEPARENT_BUF];
    if (traceparent_parse(s, &tp)) {
        CHECK(strlen(s) >= TRACEPARENT_LEN && strncmp(s, "ff", 2) != 0);
        CHECK(s[2] == '-' && s[35] == '-' && s[52] == '-');
        CHECK(strspn(s + 3, "0") < 32 && strspn(s + 36, "0") < 16);
        traceparent_format(&tp, out);
        CHECK(memcmp(out, "00", 2) == 0 && memcmp(out + 2, s + 2, TRACEPARENT_LEN - 2) == 0);
        traceparent_next(s, next);
        CHECK(memcmp(next, out, 36) == 0 && memcmp(next + 52, out + 52, 4) == 0);
    } else {
        traceparent_next(s, next);
    }
    CHECK(next[0] == '\0' || traceparent_parse(next, &again));
    free(s);
    return 0;
}
