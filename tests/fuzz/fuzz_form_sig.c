/*
 * fuzz_form_sig: the parsers of the signature families table_more.c added, on fuzzed
 * input; abort() on a broken invariant.
 *
 *   byte 0 % 4 = 0: provider_form_sorted (Twilio's signed text) on the rest. Invariants:
 *     NULL exactly when provider_form_object refuses the body; otherwise the text is
 *     NUL-terminated, no longer than the body (decoding never grows it), and holds
 *     every field name of the form.
 *   1: contentful's x-contentful-signed-headers list: the rest up to the first '\n'
 *     is the list, the remainder the body; 2: an Authorization JWT (monday): the rest
 *     up to '\n' is the header value; 3: an Adyen / Mailgun body (the rest).
 *     Invariants: the verdict is a verify_result, never VERIFY_VALID (the fuzzer does
 *     not know the key), and `why` is NUL-terminated and never holds the secret (unless
 *     the input does: a reason may name what the request sent).
 */
#include <jansson.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider_impl.h"

#define SECRET "fuzz-secret-never-in-why-0123456789abcdef0123456789abcdef0123"

static void check_sorted(const uint8_t *data, size_t size)
{
    char *text = provider_form_sorted(data, size);
    json_t *form = provider_form_object(data, size);
    if (!text != !form)
        abort();
    if (text) {
        if (strlen(text) > size)
            abort();
        const char *name;
        json_t *v;
        json_object_foreach(form, name, v)
        {
            if (!strstr(text, name))
                abort();
        }
    }
    free(text);
    json_decref(form);
}

/* Whether the fuzzer put the secret in the input itself (a reason may then echo it). */
static bool input_has_secret;

static void check_verdict(const char *provider, const struct http_header *h, size_t nh, const uint8_t *body, size_t len)
{
    const struct provider *p = provider_find(provider);
    if (!p)
        abort();
    struct provider_secrets s = {.webhook_secret = SECRET, .previous_webhook_secret = "00112233445566778899aabb"};
    struct webhook_request req = {.method = "POST",
                                  .url = "https://h.example/webhook/e/k?a=1",
                                  .path = "/webhook/e/k",
                                  .query = "a=1",
                                  .headers = h,
                                  .nheaders = nh,
                                  .body = body,
                                  .body_len = len,
                                  .now = 1700000000};
    char why[200];
    memset(why, 'x', sizeof why);
    enum verify_result r = provider_verify(p, &req, &s, why, sizeof why);
    if (r > VERIFY_UNSUPPORTED || r == VERIFY_VALID)
        abort();
    if (!memchr(why, '\0', sizeof why) || (!input_has_secret && strstr(why, SECRET)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* Header names are compared and quoted in lower case: an input holding the secret in
     * another case may see it echoed lowered, which is the input, not a leak. */
    char *lowered = malloc(size);
    if (!lowered)
        return 0;
    for (size_t i = 0; i < size; i++)
        lowered[i] = (char)tolower(data[i]);
    input_has_secret = memmem(lowered, size, SECRET, strlen(SECRET)) != NULL;
    free(lowered);
    int mode = data[0] % 4;
    data++;
    size--;
    if (mode == 0) {
        check_sorted(data, size);
        return 0;
    }
    if (mode == 3) {
        check_verdict("adyen", NULL, 0, data, size);
        check_verdict("mailgun", NULL, 0, data, size);
        return 0;
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t vlen = nl ? (size_t)(nl - data) : size;
    char *value = provider_strndup(data, vlen);
    if (!value)
        return 0;
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    if (mode == 1) {
        struct http_header h[] = {{"x-contentful-signed-headers", value},
                                  {"x-contentful-timestamp", "1700000000000"},
                                  {"x-contentful-signature",
                                   "00000000000000000000000000000000"
                                   "00000000000000000000000000000000"},
                                  {"x-contentful-topic", "ContentManagement.Entry.publish"}};
        check_verdict("contentful", h, 4, body, blen);
    } else {
        struct http_header h[] = {{"Authorization", value}};
        check_verdict("monday", h, 1, body, blen);
    }
    free(value);
    return 0;
}
