/* ssrf: see ssrf.h. */
#include "common/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IPv4 ranges that are not the public internet, most specific reasons first. */
static const struct {
    uint32_t net;
    int prefix;
    const char *why;
} v4_ranges[] = {
    {0x00000000, 8, "unspecified"}, /* 0.0.0.0/8 */
    {0x7f000000, 8, "loopback"},    /* 127.0.0.0/8 */
    {0x0a000000, 8, "private"},     /* 10.0.0.0/8 */
    {0xac100000, 12, "private"},    /* 172.16.0.0/12 */
    {0xc0a80000, 16, "private"},    /* 192.168.0.0/16 */
    {0xa9fe0000, 16, "link-local"}, /* 169.254.0.0/16 (cloud metadata lives here) */
    {0x64400000, 10, "cgnat"},      /* 100.64.0.0/10 */
    {0xc0000000, 24, "reserved"},   /* 192.0.0.0/24 IETF protocol assignments */
    {0xc0000200, 24, "reserved"},   /* 192.0.2.0/24 documentation */
    {0xc6120000, 15, "reserved"},   /* 198.18.0.0/15 benchmarking */
    {0xc6336400, 24, "reserved"},   /* 198.51.100.0/24 documentation */
    {0xcb007100, 24, "reserved"},   /* 203.0.113.0/24 documentation */
    {0xe0000000, 4, "multicast"},   /* 224.0.0.0/4 */
    {0xf0000000, 4, "reserved"},    /* 240.0.0.0/4, includes 255.255.255.255 */
};

static bool v4_in(uint32_t a, uint32_t net, int prefix)
{
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    return (a & mask) == (net & mask);
}

static const char *classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++)
        if (v4_in(a, v4_ranges[i].net, v4_ranges[i].prefix))
            return v4_ranges[i].why;
    return NULL;
}

static bool bytes_in(const unsigned char *a, const unsigned char *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* The IPv4 address an IPv6 one carries (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96,
 * compatible ::/96), or false. */
static bool embedded_v4(const unsigned char *a, uint32_t *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char zeros[12] = {0};
    if (memcmp(a, mapped, 12) && memcmp(a, nat64, 12) && memcmp(a, zeros, 12))
        return false;
    *out = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
    return true;
}

static const char *classify_v6(const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char one[16] = {[15] = 1};
    if (!memcmp(a, zero, 16))
        return "unspecified";
    if (!memcmp(a, one, 16))
        return "loopback";
    uint32_t v4;
    if (embedded_v4(a, &v4)) {
        const char *why = classify_v4(v4);
        return why ? why : a[10] == 0xff ? NULL : "reserved"; /* ::a.b.c.d is deprecated */
    }
    static const struct {
        unsigned char net[2];
        int prefix;
        const char *why;
    } v6_ranges[] = {
        {{0xfc, 0x00}, 7, "private"},     /* unique local fc00::/7 */
        {{0xfe, 0x80}, 10, "link-local"}, /* fe80::/10 */
        {{0xfe, 0xc0}, 10, "private"},    /* deprecated site-local fec0::/10 */
        {{0xff, 0x00}, 8, "multicast"},   /* ff00::/8 */
    };
    for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++) {
        unsigned char net[16] = {v6_ranges[i].net[0], v6_ranges[i].net[1]};
        if (bytes_in(a, net, v6_ranges[i].prefix))
            return v6_ranges[i].why;
    }
    static const unsigned char doc[16] = {0x20, 0x01, 0x0d, 0xb8}; /* 2001:db8::/32 */
    if (bytes_in(a, doc, 32))
        return "reserved";
    return NULL;
}

const char *ssrf_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify_v4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return classify_v6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return "not an IP address";
}

bool ssrf_allowed(const struct ssrf_policy *policy, const struct sockaddr *sa)
{
    if (!ssrf_classify(sa))
        return true;
    unsigned char a[16];
    int family = sa->sa_family;
    if (family == AF_INET)
        memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    else if (family == AF_INET6)
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    else
        return false;
    for (size_t i = 0; i < policy->nallow; i++) {
        const struct ssrf_cidr *c = &policy->allow[i];
        if (c->family == family && bytes_in(a, c->addr, c->prefix))
            return true;
    }
    return false;
}

static int parse_one(const char *item, struct ssrf_cidr *c)
{
    char buf[80];
    if (strlen(item) >= sizeof buf)
        return -1;
    strcpy(buf, item);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(c->family, buf, c->addr) != 1)
        return -1;
    int max = c->family == AF_INET ? 32 : 128;
    c->prefix = max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > max)
            return -1;
        c->prefix = (int)p;
    }
    return 0;
}

int ssrf_policy_parse(const char *cidrs, struct ssrf_policy *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = cidrs ? cidrs : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        char item[80];
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        if (len >= sizeof item || out->nallow == SSRF_MAX_ALLOW || parse_one(item, &out->allow[out->nallow]) < 0) {
            snprintf(err, errlen, "not a CIDR (or too many): '%.*s'", (int)(len > 60 ? 60 : len), p);
            return -1;
        }
        out->nallow++;
        p += len;
    }
    return 0;
}
