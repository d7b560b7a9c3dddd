/*
 * remote_keys: the key documents some providers publish instead of sharing a secret
 * (Google's and Bot Framework's JWKS, Plaid's key by id, ConnectWise's signing key at a
 * URL the payload names), fetched and cached for the ingress.
 *
 * A document is fetched with libcurl through the SSRF guard (common/outbound.h: every
 * address curl connects to must be public or in HOOKLINE_REMOTE_KEYS_ALLOW_CIDRS;
 * redirects never followed), over https only, from a host on the caller's allow-list
 * (or the operator's HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS), within a timeout and a size
 * cap, and must be answered 200. It is cached for its Cache-Control max-age (bounded),
 * or a default, and never used past that.
 *
 * Blocking: the first request that needs a document waits for its fetch (at most the
 * timeout); requests that need it meanwhile wait for that same fetch, not their own. A
 * background thread refreshes documents before they expire, so later requests find
 * them cached. A failed fetch is remembered with a growing backoff (1 s doubling to
 * 60 s): until then requests fail at once with the same reason, so an unreachable key
 * server costs one timeout per backoff, not one per request. Every failure is counted
 * (hookline_remote_key_fetch_failures_total) and logged.
 *
 * Without remote_keys_start (the router, the CLI, unit tests) nothing is fetched: a
 * get finds only what remote_keys_put stored, and otherwise fails with "remote keys
 * are not enabled", so a provider that needs them refuses (401).
 * Thread-safe after remote_keys_start.
 */
#ifndef HOOKLINE_REMOTE_KEYS_H
#define HOOKLINE_REMOTE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define REMOTE_KEYS_MAX_HOSTS 16
#define REMOTE_KEYS_MAX_DOC (256 * 1024)

struct remote_keys_config {
    const char *allow_cidrs; /* SSRF allow-list (ssrf_policy_parse); "" for none */
    const char *extra_hosts; /* "host[:port],..." accepted besides each provider's own */
    const char *ca_file;     /* CA bundle instead of the system's, or "" */
    long timeout_ms;         /* one fetch, connection included */
    long default_ttl_s;      /* when the answer has no Cache-Control max-age */
};

/* Registers the metrics, parses the settings and starts the refresh thread (startup,
 * single-threaded). 0, or -1 with a reason in err. */
int remote_keys_start(const struct remote_keys_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Stores doc as the document at (url, post), as if fetched now with max-age ttl_s
 * (bounded like a fetched one): for tests and for warming the cache. 0, or -1 when out
 * of memory or the entry is being fetched. Thread-safe. */
int remote_keys_put(const char *url, const char *post, const char *doc, size_t len, long ttl_s);

/* Stops the refresh thread (if started) and drops the cache; safe to call again. */
void remote_keys_stop(void);

/* Whether url is https on a host of hosts (NULL-terminated; "*.example.com" matches
 * any subdomain, an entry matches the host with any port only when it has none) or of
 * the operator's extra hosts. Pure; for callers that check a URL a payload names. */
bool remote_keys_url_allowed(const char *url, const char *const *hosts);

/* Whether the store may connect to sa (the SSRF rule with the configured allow-list). */
bool remote_keys_address_allowed(const struct sockaddr *sa);

/* The document at url: POSTed with post as a JSON body when post is not NULL (the
 * cache tells documents apart by url and post). A document fetched more than
 * max_age_s seconds ago (0: any age while fresh) is fetched again first: for a key id
 * the cached JWKS lacks (a rotation). Returns 0 with a new NUL-terminated copy in *doc
 * (caller frees) and its length, or -1 with a reason in why (never the post body). */
int remote_keys_get(const char *url, const char *post, const char *const *hosts, long max_age_s, char **doc,
                    size_t *len, char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
