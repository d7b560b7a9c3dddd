/*
 * fuzz_json_scan: json_scan_path (common/json_scan.h), the ingress's ordering-key
 * scanner, against jansson on the same bytes. abort() unless, for each of a few paths:
 *   - it returns within the input (no read past it: ASan) and a value inside the input;
 *   - when jansson parses the input (duplicate keys rejected, as the router does) and
 *     the scanner is sure (STRING, INTEGER or ABSENT), they agree: STRING is jansson's
 *     string byte for byte, INTEGER its integer printed in decimal, ABSENT a path that
 *     names neither.
 * Input: any bytes (the document).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static json_t *at_path(json_t *root, const char *path)
{
    char seg[64];
    while (root && *path) {
        size_t n = strcspn(path, ".");
        CHECK(n < sizeof seg);
        memcpy(seg, path, n);
        seg[n] = '\0';
        root = json_is_object(root) ? json_object_get(root, seg) : NULL;
        path += n + (path[n] == '.');
    }
    return root;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"id", "a", "a.b", "installation.id", "portalId", "a.b.c"};
    const char *doc = (const char *)data;
    json_t *root = json_loadb(doc, size, JSON_REJECT_DUPLICATES, NULL);
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        const char *v = NULL;
        size_t n = 0;
        enum json_scan_result r = json_scan_path(doc, size, paths[p], &v, &n);
        if (r == JSON_SCAN_STRING || r == JSON_SCAN_INTEGER)
            CHECK(v >= doc && v + n <= doc + size);
        if (!root || r == JSON_SCAN_UNSURE)
            continue;
        json_t *j = at_path(root, paths[p]);
        if (r == JSON_SCAN_STRING) {
            CHECK(json_is_string(j) && json_string_length(j) == n && memcmp(json_string_value(j), v, n) == 0);
        } else if (r == JSON_SCAN_INTEGER) {
            char digits[32];
            CHECK(json_is_integer(j));
            int len = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
            CHECK((size_t)len == n && memcmp(digits, v, n) == 0);
        } else {
            CHECK(!json_is_string(j) && !json_is_integer(j));
        }
    }
    json_decref(root);
    return 0;
}
