/* outbound: see outbound.h. */
#include "common/outbound.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* curl asks for each socket it connects: refuse what the SSRF rules refuse. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct outbound_guard *g = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !ssrf_allowed(g->policy, &addr->addr)) {
        snprintf(g->refused, sizeof g->refused, "%s address", ssrf_classify(&addr->addr));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

void outbound_guard(CURL *c, struct outbound_guard *g, const struct ssrf_policy *policy)
{
    memset(g, 0, sizeof *g);
    g->policy = policy;
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, g);
}

/* Length of s's scheme and "://" (http or https, any case), 0 when neither. */
static size_t scheme_len(const char *s)
{
    return !strncasecmp(s, "http://", 7) ? 7 : !strncasecmp(s, "https://", 8) ? 8 : 0;
}

bool outbound_url_valid(const char *s)
{
    size_t skip = scheme_len(s);
    if (!skip)
        return false;
    size_t len = strlen(s);
    if (len > OUTBOUND_URL_MAX) /* the one limit every stage holds */
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    /* The authority (host[:port]) runs to the first '/', '?' or '#' and cannot be empty. */
    size_t host = strcspn(s + skip, "/?#");
    return host > 0 && s[skip] != ':' && s[skip] != '@';
}

/* url's authority after its scheme's "://" (or from the start, without one), without
 * user info (which ends at the authority's last '@'): *len bytes from the result. */
static const char *url_authority(const char *url, size_t *len)
{
    const char *a = strstr(url, "://");
    a = a ? a + 3 : url;
    size_t n = strcspn(a, "/?#");
    for (size_t i = n; i > 0; i--)
        if (a[i - 1] == '@') {
            a += i;
            n -= i;
            break;
        }
    *len = n;
    return a;
}

/* url's host, without port or IPv6 brackets, into out: false when there is none or it
 * does not fit. */
static bool url_host(const char *url, char *out, size_t outlen)
{
    size_t n;
    const char *a = url_authority(url, &n), *end;
    if (n > 0 && *a == '[') {
        end = memchr(a + 1, ']', n - 1);
        a++;
    } else {
        end = memchr(a, ':', n);
        if (!end)
            end = a + n;
    }
    if (!end || end == a || (size_t)(end - a) >= outlen)
        return false;
    memcpy(out, a, (size_t)(end - a));
    out[end - a] = '\0';
    return true;
}

const char *outbound_url_refused(const char *url, const struct ssrf_policy *policy)
{
    char host[256];
    if (!url_host(url, host, sizeof host))
        return NULL;
    size_t n = strlen(host);
    /* "localhost" and its subdomains never leave the machine (RFC 6761; curl resolves
     * them itself): judged as 127.0.0.1. */
    if (!strcasecmp(host, "localhost") || (n > 10 && !strcasecmp(host + n - 10, ".localhost")))
        snprintf(host, sizeof host, "127.0.0.1");
    /* AI_NUMERICHOST: an address in any form the resolver takes (127.1, 0x7f000001),
     * and never a DNS query. */
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return NULL;
    const char *why = NULL;
    for (const struct addrinfo *ai = res; ai && !why; ai = ai->ai_next)
        if (!ssrf_allowed(policy, ai->ai_addr))
            why = ssrf_classify(ai->ai_addr);
    freeaddrinfo(res);
    return why;
}

void outbound_url_origin(const char *url, char *out, size_t outlen)
{
    size_t n;
    const char *host = url_authority(url, &n);
    const char *scheme_end = strstr(url, "://");
    int schemelen = scheme_end ? (int)(scheme_end + 3 - url) : 0;
    snprintf(out, outlen, "%.*s%.*s", schemelen, url, (int)n, host);
}

void outbound_text_for_log(const char *text, char *out, size_t outlen)
{
    if (!outlen)
        return;
    size_t n = 0;
    out[0] = '\0';
    while (*text && n + 1 < outlen) {
        if (!scheme_len(text)) {
            out[n++] = *text++;
            out[n] = '\0';
            continue;
        }
        /* A URL runs to the next space (URLs hookline accepts hold none). */
        size_t len = strcspn(text, " \t\r\n");
        char url[OUTBOUND_URL_MAX + 1], origin[300];
        snprintf(url, sizeof url, "%.*s", (int)(len < OUTBOUND_URL_MAX ? len : OUTBOUND_URL_MAX), text);
        outbound_url_origin(url, origin, sizeof origin);
        bool cut = strlen(origin) < len;
        int w = snprintf(out + n, outlen - n, "%s%s", origin, cut ? "/..." : "");
        n = w < 0 || (size_t)w >= outlen - n ? outlen - 1 : n + (size_t)w;
        text += len;
    }
}
