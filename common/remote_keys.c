/* remote_keys: see remote_keys.h. */
#include "common/remote_keys.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/outbound.h"
#include "common/ssrf.h"

#define MAX_ENTRIES 256
#define MIN_TTL_S 60
#define MAX_TTL_S 86400
#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
#define REFRESH_AHEAD_S 60 /* refresh this long before expiry (or at half the ttl) */
#define IDLE_DROP_S 3600   /* documents nobody asked for in this long are not refreshed */
#define EXTRA_HOSTS_TEXT 1024

struct entry {
    char *url, *post;
    char *doc; /* last good document, or NULL */
    size_t len;
    time_t fetched, expires; /* doc usable while now < expires */
    time_t retry_at;         /* after a failure: no fetch before this */
    int backoff;             /* seconds of the next backoff */
    char error[160];         /* the last failure's reason */
    bool fetching;
    int waiters; /* requests waiting for its fetch: it is not evicted meanwhile */
    time_t last_used;
    struct entry *next;
};

static struct {
    bool started, stop;
    struct ssrf_policy policy;
    char extra[EXTRA_HOSTS_TEXT];
    const char *extra_hosts[REMOTE_KEYS_MAX_HOSTS + 1];
    char ca_file[1024];
    long timeout_ms, default_ttl_s;
    pthread_mutex_t mu;
    pthread_cond_t done; /* a fetch finished */
    pthread_cond_t wake; /* the refresher may stop */
    pthread_t refresher;
    struct entry *entries;
    size_t n;
    struct metric *fetches, *failures;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static time_t now_s(void)
{
    return (time_t)clock_mono_s();
}

/* ---- URLs and hosts ----------------------------------------------------------------- */

/* Whether host[:port] matches a pattern "name", "name:port" or "*.domain". */
static bool host_matches(const char *pattern, const char *host, const char *port)
{
    const char *colon = strrchr(pattern, ':');
    size_t plen = colon && !strchr(pattern, ']') ? (size_t)(colon - pattern) : strlen(pattern);
    if (colon && plen != strlen(pattern) && (!port || strcmp(colon + 1, port) != 0))
        return false;
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        size_t hl = strlen(host), dl = plen - 1; /* ".domain" */
        return hl > dl && strncasecmp(host + hl - dl, pattern + 1, dl) == 0;
    }
    return strlen(host) == plen && strncasecmp(host, pattern, plen) == 0;
}

static bool host_in(const char *const *hosts, const char *host, const char *port)
{
    for (size_t i = 0; hosts && hosts[i]; i++)
        if (host_matches(hosts[i], host, port))
            return true;
    return false;
}

bool remote_keys_url_allowed(const char *url, const char *const *hosts)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    bool ok = false;
    if (u && url && strlen(url) < 2048 && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        bool has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
        ok = strcasecmp(scheme, "https") == 0 && !has_user &&
             (host_in(hosts, host, port) || host_in(g.extra_hosts, host, port));
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return ok;
}

bool remote_keys_address_allowed(const struct sockaddr *sa)
{
    return ssrf_allowed(&g.policy, sa);
}

/* ---- one fetch -------------------------------------------------------------------- */

struct fetch {
    char *buf;
    size_t len;
    bool too_big;
    long max_age; /* Cache-Control max-age, -1 when none */
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t add = size * n;
    if (f->len + add > REMOTE_KEYS_MAX_DOC) {
        f->too_big = true;
        return 0;
    }
    char *nb = realloc(f->buf, f->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + f->len, data, add);
    f->buf = nb;
    f->len += add;
    f->buf[f->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;
    char line[512];
    if (len < sizeof line && len > 14 && strncasecmp(data, "cache-control:", 14) == 0) {
        memcpy(line, data, len);
        line[len] = '\0';
        const char *m = strcasestr(line, "max-age=");
        if (m)
            f->max_age = strtol(m + 8, NULL, 10);
        if (strcasestr(line, "no-store") || strcasestr(line, "no-cache"))
            f->max_age = 0;
    }
    return len;
}

/* Fetches url into *f (0), or says why not (-1). Runs without the lock. */
static int fetch(const char *url, const char *post, struct fetch *f, char *why, size_t whylen)
{
    memset(f, 0, sizeof *f);
    f->max_age = -1;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    struct outbound_guard guard;
    struct curl_slist *hdrs = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    outbound_guard(c, &guard, &g.policy);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, g.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, g.timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)REMOTE_KEYS_MAX_DOC);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hookline");
    if (g.ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, g.ca_file);
    if (post) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int ret = -1;
    if (guard.refused[0])
        snprintf(why, whylen, "refused to connect to a %s", guard.refused);
    else if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, whylen, "the key document is larger than %d bytes", REMOTE_KEYS_MAX_DOC);
    else if (rc != CURLE_OK)
        snprintf(why, whylen, "%.150s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(why, whylen, "the key server answered %ld", status);
    else if (f->len == 0)
        snprintf(why, whylen, "the key server sent an empty document");
    else
        ret = 0;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (ret < 0) {
        free(f->buf);
        f->buf = NULL;
    }
    return ret;
}

/* ---- the cache (under g.mu) ----------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static struct entry *find(const char *url, const char *post)
{
    for (struct entry *e = g.entries; e; e = e->next)
        if (strcmp(e->url, url) == 0 && same(e->post, post))
            return e;
    return NULL;
}

static void entry_free(struct entry *e)
{
    free(e->url);
    free(e->post);
    free(e->doc);
    free(e);
}

/* Makes room by dropping the least recently used entry not being fetched. */
static void evict_one(void)
{
    struct entry **victim = NULL;
    for (struct entry **pp = &g.entries; *pp; pp = &(*pp)->next)
        if (!(*pp)->fetching && !(*pp)->waiters && (!victim || (*pp)->last_used < (*victim)->last_used))
            victim = pp;
    if (victim) {
        struct entry *e = *victim;
        *victim = e->next;
        entry_free(e);
        g.n--;
    }
}

static struct entry *add(const char *url, const char *post)
{
    if (g.n >= MAX_ENTRIES)
        evict_one();
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->url = strdup(url);
    e->post = post ? strdup(post) : NULL;
    if (!e->url || (post && !e->post)) {
        entry_free(e);
        return NULL;
    }
    e->backoff = BACKOFF_MIN_S;
    e->next = g.entries;
    g.entries = e;
    g.n++;
    return e;
}

/* Records a fetch's outcome in e (which the caller marked fetching). */
static void settle(struct entry *e, int rc, struct fetch *f, const char *why)
{
    time_t now = now_s();
    e->fetching = false;
    if (rc == 0) {
        long ttl = f->max_age >= 0 ? f->max_age : g.default_ttl_s;
        ttl = ttl < MIN_TTL_S ? MIN_TTL_S : ttl > MAX_TTL_S ? MAX_TTL_S : ttl;
        free(e->doc);
        e->doc = f->buf;
        e->len = f->len;
        e->fetched = now;
        e->expires = now + ttl;
        e->retry_at = 0;
        e->backoff = BACKOFF_MIN_S;
        e->error[0] = '\0';
    } else {
        snprintf(e->error, sizeof e->error, "%s", why);
        e->retry_at = now + e->backoff;
        e->backoff = e->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : e->backoff * 2;
        metric_inc(g.failures);
    }
    pthread_cond_broadcast(&g.done);
}

/* Fetches for e with the lock released around the transfer; logs a failure. */
static void fetch_locked(struct entry *e)
{
    char why[160] = "";
    struct fetch f;
    char *url = strdup(e->url), *post = e->post ? strdup(e->post) : NULL;
    e->fetching = true;
    pthread_mutex_unlock(&g.mu);
    metric_inc(g.fetches);
    int rc = url && (post || !e->post) ? fetch(url, post, &f, why, sizeof why) : -1;
    if (rc < 0 && !why[0])
        snprintf(why, sizeof why, "out of memory");
    if (rc < 0)
        log_warn(NULL, "remote key fetch from %s failed: %s", url ? url : "?", why);
    free(url);
    free(post);
    pthread_mutex_lock(&g.mu);
    settle(e, rc, &f, why);
}

static bool usable(const struct entry *e, long max_age_s, time_t now)
{
    return e->doc && now < e->expires && (max_age_s <= 0 || now - e->fetched <= max_age_s);
}

int remote_keys_get(const char *url, const char *post, const char *const *hosts, long max_age_s, char **doc,
                    size_t *len, char *why, size_t whylen)
{
    *doc = NULL;
    *len = 0;
    if (!remote_keys_url_allowed(url, hosts)) {
        snprintf(why, whylen, "the key URL is not https on an allowed host");
        return -1;
    }
    int ret = -1;
    pthread_mutex_lock(&g.mu);
    struct entry *e = find(url, post);
    if (!e && !(e = add(url, post))) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    time_t now = now_s();
    e->last_used = now;
    /* Someone is fetching it: wait for that fetch (bounded by its own timeout). */
    if (e->fetching && !usable(e, max_age_s, now)) {
        e->waiters++;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += g.timeout_ms / 1000 + 1;
        while (e->fetching)
            if (pthread_cond_timedwait(&g.done, &g.mu, &until) != 0)
                break;
        e->waiters--;
        now = now_s();
    }
    /* Fetch unless usable, being fetched, or failed recently (backoff): then the last
     * good document if still fresh, else that failure's reason. */
    if (!g.started && !usable(e, 0, now)) {
        snprintf(why, whylen, "remote keys are not enabled in this process");
        goto out;
    }
    if (g.started && !usable(e, max_age_s, now) && !e->fetching && now >= e->retry_at) {
        fetch_locked(e); /* e stays listed: evict_one never frees one being fetched */
        now = now_s();
    }
    if (usable(e, 0, now)) {
        *doc = malloc(e->len + 1);
        if (*doc) {
            memcpy(*doc, e->doc, e->len + 1);
            *len = e->len;
            ret = 0;
        } else {
            snprintf(why, whylen, "out of memory");
        }
    } else {
        snprintf(why, whylen, "key fetch failed: %s", e->error[0] ? e->error : "still fetching");
    }
out:
    pthread_mutex_unlock(&g.mu);
    return ret;
}

/* ---- background refresh ----------------------------------------------------------------- */

static struct entry *due(time_t now)
{
    for (struct entry *e = g.entries; e; e = e->next) {
        time_t ttl = e->expires - e->fetched, ahead = ttl / 2 < REFRESH_AHEAD_S ? ttl / 2 : REFRESH_AHEAD_S;
        if (e->doc && !e->fetching && now >= e->retry_at && now - e->last_used < IDLE_DROP_S &&
            now >= e->expires - ahead)
            return e;
    }
    return NULL;
}

static void *refresher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.mu);
    while (!g.stop) {
        struct entry *e = due(now_s());
        if (e) {
            fetch_locked(e);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&g.wake, &g.mu, &until);
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

/* ---- lifetime ------------------------------------------------------------------------ */

static int parse_hosts(const char *text, char *err, size_t errlen)
{
    size_t n = 0;
    if (snprintf(g.extra, sizeof g.extra, "%s", text ? text : "") >= (int)sizeof g.extra) {
        snprintf(err, errlen, "HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS is too long");
        return -1;
    }
    char *save = NULL;
    for (char *h = strtok_r(g.extra, ", ", &save); h; h = strtok_r(NULL, ", ", &save)) {
        if (n == REMOTE_KEYS_MAX_HOSTS) {
            snprintf(err, errlen, "HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS has more than %d hosts", REMOTE_KEYS_MAX_HOSTS);
            return -1;
        }
        g.extra_hosts[n++] = h;
    }
    g.extra_hosts[n] = NULL;
    return 0;
}

int remote_keys_start(const struct remote_keys_config *cfg, char *err, size_t errlen)
{
    if (g.started)
        return 0;
    if (ssrf_policy_parse(cfg->allow_cidrs ? cfg->allow_cidrs : "", &g.policy, err, errlen) < 0 ||
        parse_hosts(cfg->extra_hosts, err, errlen) < 0)
        return -1;
    snprintf(g.ca_file, sizeof g.ca_file, "%s", cfg->ca_file ? cfg->ca_file : "");
    g.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    g.default_ttl_s = cfg->default_ttl_s > 0 ? cfg->default_ttl_s : 3600;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl did not initialise");
        return -1;
    }
    if (!g.fetches) {
        g.fetches = metrics_counter("hookline_remote_key_fetches_total", NULL,
                                    "fetches of providers' published keys (JWKS, key URLs)");
        g.failures = metrics_counter("hookline_remote_key_fetch_failures_total", NULL,
                                     "failed fetches of providers' published keys (each refuses its webhooks 401)");
    }
    g.stop = false;
    if (pthread_create(&g.refresher, NULL, refresher, NULL) != 0) {
        snprintf(err, errlen, "cannot start the key refresh thread");
        return -1;
    }
    g.started = true;
    return 0;
}

int remote_keys_put(const char *url, const char *post, const char *doc, size_t len, long ttl_s)
{
    pthread_mutex_lock(&g.mu);
    struct entry *e = find(url, post);
    char *copy = malloc(len + 1);
    int rc = -1;
    if (copy && (e || (e = add(url, post))) && !e->fetching) {
        memcpy(copy, doc, len);
        copy[len] = '\0';
        struct fetch f = {.buf = copy, .len = len, .max_age = ttl_s};
        copy = NULL;
        settle(e, 0, &f, "");
        e->last_used = now_s();
        rc = 0;
    }
    free(copy);
    pthread_mutex_unlock(&g.mu);
    return rc;
}

void remote_keys_stop(void)
{
    if (g.started) {
        pthread_mutex_lock(&g.mu);
        g.stop = true;
        pthread_cond_broadcast(&g.wake);
        pthread_mutex_unlock(&g.mu);
        pthread_join(g.refresher, NULL);
    }
    pthread_mutex_lock(&g.mu);
    while (g.entries) {
        struct entry *e = g.entries;
        g.entries = e->next;
        entry_free(e);
    }
    g.n = 0;
    g.started = false;
    pthread_mutex_unlock(&g.mu);
}
