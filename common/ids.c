/* ids: see ids.h. */
#include "common/ids.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"

/* 8-4-4-4-12 lowercase hex; by hand, as snprintf's 16 conversions showed in the ingress's profile. */
static void format_uuid(const unsigned char b[16], char out[ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = digits[b[i] >> 4];
        *o++ = digits[b[i] & 15];
    }
    *o = '\0';
}

int id_new(char out[ID_LEN + 1])
{
    unsigned char b[16];
    if (crypto_random(b, sizeof b) < 0)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    format_uuid(b, out);
    return 0;
}

void id_derive(char out[ID_LEN + 1], const char *const *parts, size_t n)
{
    /* Length-prefix every part so ("ab","c") and ("a","bc") differ. */
    unsigned char buf[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        size_t pl = strlen(p);
        if (len + pl + 12 > sizeof buf)
            pl = sizeof buf - len - 12; /* parts are ids and keys: never this long */
        len += (size_t)snprintf((char *)buf + len, sizeof buf - len, "%zu:", pl);
        memcpy(buf + len, p, pl);
        len += pl;
    }
    unsigned char h[32];
    crypto_sha256(buf, len, h);
    h[6] = (unsigned char)(0x80 | (h[6] & 0x0f));
    h[8] = (unsigned char)(0x80 | (h[8] & 0x3f));
    format_uuid(h, out);
}

bool id_is_uuid(const char *s)
{
    if (!s || strlen(s) != ID_LEN)
        return false;
    for (int i = 0; i < ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
