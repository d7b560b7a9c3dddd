/* ident: see ident.h. */
#include "common/ident.h"

#include <stdint.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point, or 0 when
 * the bytes there are not a well-formed sequence. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, *cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, *cp = c & 0x07;
    } else {
        return 0; /* a continuation byte, an overlong lead (c0, c1) or beyond U+10FFFF */
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

bool ident_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

bool ident_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > IDENT_MAX_LEN)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        if (!len || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return false;
        i += len;
    }
    return true;
}

bool ident_valid_str(const char *s)
{
    return s && ident_valid(s, strnlen(s, IDENT_MAX_LEN + 1));
}

static bool key_char(unsigned char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '.' || c == '_' || c == '-');
}

bool ident_is_integration_key(const char *s)
{
    if (!s)
        return false;
    size_t len = strnlen(s, IDENT_INTEGRATION_KEY_MAX_LEN + 1);
    if (len == 0 || len > IDENT_INTEGRATION_KEY_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!key_char((unsigned char)s[i], i == 0))
            return false;
    return true;
}
