/* msg: see msg.h. */
#include "common/msg.h"

#include <stdlib.h>
#include <string.h>

const char *msg_header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t buflen)
{
    const void *val;
    size_t len;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (!val)
        len = 0;
    if (len >= buflen)
        return NULL;
    if (len)
        memcpy(buf, val, len);
    buf[len] = '\0';
    return buf;
}

bool msg_token(const char *s, size_t n)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";
    if (!s || n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (!c || !strchr(specials, c)))
            return false;
    }
    return true;
}

size_t msg_http_headers(rd_kafka_headers_t *hdrs, struct msg_http_header *out, size_t cap,
                        bool (*keep)(const char *name))
{
    const char *name;
    const void *val;
    size_t size, n = 0, plen = strlen(MSG_H_HTTP_PREFIX);
    for (size_t i = 0; hdrs && n < cap && !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        if (strncmp(name, MSG_H_HTTP_PREFIX, plen) != 0)
            continue;
        const char *nm0 = name + plen + strspn(name + plen, " \t");
        size_t nlen = strlen(nm0);
        while (nlen && (nm0[nlen - 1] == ' ' || nm0[nlen - 1] == '\t'))
            nlen--;
        if (!msg_token(nm0, nlen))
            continue; /* never a name that could bend the request line or framing */
        if (!val)
            size = 0;
        if (memchr(val ? val : "", '\r', size) || memchr(val ? val : "", '\n', size) || memchr(val ? val : "", 0, size))
            continue; /* never let a stored value split a header line */
        char *nm = strndup(nm0, nlen), *v = strndup(val ? val : "", size);
        if (!nm || !v || (keep && !keep(nm))) {
            free(nm);
            free(v);
            continue;
        }
        out[n++] = (struct msg_http_header){nm, v};
    }
    return n;
}

void msg_http_headers_free(struct msg_http_header *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
}
