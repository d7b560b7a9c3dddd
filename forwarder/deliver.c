/* deliver: one HTTP POST with libcurl. The easy handle is reused so connections to a
 * receiver stay alive between deliveries. Redirects are never followed (a receiver
 * must not be able to bounce a signed webhook elsewhere), no proxy from the
 * environment is used, and every address curl is about to connect to passes the SSRF
 * rules first (after DNS, so names that resolve inside are caught too). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"
#include "forwarder/forwarder.h"
#include "common/ssrf.h"

static CURL *curl;
static struct ssrf_policy policy;

int deliver_init(const char *allow_cidrs)
{
    char err[160];
    if (ssrf_policy_parse(allow_cidrs, &policy, err, sizeof err) < 0) {
        log_error(NULL, "HOOKLINE_FORWARD_ALLOW_CIDRS: %s", err);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    curl = curl_easy_init();
    return curl ? 0 : -1;
}

/* curl asks us for each socket it connects: refuse what the SSRF rules refuse. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct delivery_result *out = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !ssrf_allowed(&policy, &addr->addr)) {
        snprintf(out->refused, sizeof out->refused, "%s address", ssrf_classify(&addr->addr));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* Reads Retry-After (seconds or an HTTP date) from the response headers. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct delivery_result *out = userdata;
    size_t len = size * nmemb;
    static const char name[] = "retry-after:";
    if (len > sizeof name && len < 200 && strncasecmp(line, name, sizeof name - 1) == 0) {
        char value[200];
        snprintf(value, sizeof value, "%.*s", (int)(len - (sizeof name - 1)), line + sizeof name - 1);
        value[strcspn(value, "\r\n")] = '\0';
        char *v = value + strspn(value, " \t"), *end;
        long secs = strtol(v, &end, 10);
        if (end != v && *end == '\0' && secs >= 0) {
            out->retry_after_s = secs;
        } else {
            time_t when = curl_getdate(v, NULL);
            if (when > 0)
                out->retry_after_s = when > time(NULL) ? (long)(when - time(NULL)) : 0;
        }
    }
    return len;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

void deliver_post(const char *url, const struct delivery_header *headers, size_t nheaders, const void *body,
                  size_t len, struct delivery_result *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < nheaders; i++) {
        char line[8192];
        int n = snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        if (n > 0 && (size_t)n < sizeof line)
            list = curl_slist_append(list, line);
    }
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "hookline/0.1");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, g_forwarder.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, g_forwarder.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, out);
    double start = clock_mono_s();
    CURLcode rc = curl_easy_perform(curl);
    out->seconds = clock_mono_s() - start;
    if (out->refused[0])
        snprintf(out->error, sizeof out->error, "refused: the destination is a %s (HOOKLINE_FORWARD_ALLOW_CIDRS)",
                 out->refused);
    else if (rc != CURLE_OK)
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
}

void deliver_shutdown(void)
{
    if (curl)
        curl_easy_cleanup(curl);
    curl = NULL;
    curl_global_cleanup();
}
