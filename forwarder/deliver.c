/* deliver: one HTTP POST with libcurl. The easy handle is reused so connections to a
 * receiver stay alive between deliveries. Redirects are never followed (a receiver
 * must not be able to bounce a signed webhook elsewhere). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "forwarder/forwarder.h"

static CURL *curl;

int deliver_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    curl = curl_easy_init();
    return curl ? 0 : -1;
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
    double start = clock_mono_s();
    CURLcode rc = curl_easy_perform(curl);
    out->seconds = clock_mono_s() - start;
    if (rc != CURLE_OK)
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
