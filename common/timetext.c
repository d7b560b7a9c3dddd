/* timetext: see timetext.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timetext.h"

int timetext_parse_ms(const char *s, int64_t now_ms, int64_t *out)
{
    if (!strcmp(s, "now")) {
        *out = now_ms;
        return 0;
    }
    if (s[0] == '-' || s[0] == '+') {
        char *end;
        errno = 0;
        long long v = strtoll(s + 1, &end, 10);
        if (end == s + 1 || errno || v < 0 || v > 100000000LL)
            return -1;
        long long unit = !strcmp(end, "s")   ? 1000
                         : !strcmp(end, "m") ? 60000
                         : !strcmp(end, "h") ? 3600000
                         : !strcmp(end, "d") ? 86400000LL
                                             : 0;
        if (!unit)
            return -1;
        *out = now_ms + (s[0] == '-' ? -1 : 1) * v * unit;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        rest = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest)
        return -1;
    long long ms = 0;
    if (*rest == '.') {
        long long scale = 100;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
            ms += (*rest - '0') * scale;
    }
    long long offset_s = 0;
    if (*rest == 'Z' || *rest == 'z') {
        rest++;
    } else if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return -1;
        offset_s = (rest[0] == '+' ? 1 : -1) * (hh * 3600LL + mm * 60LL);
        rest += 6;
    } else {
        return -1; /* RFC 3339 requires the offset */
    }
    if (*rest)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = ((long long)t - offset_s) * 1000 + ms;
    return 0;
}
