/* outbound: see outbound.h. */
#include "common/outbound.h"

#include <stdio.h>
#include <string.h>
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
