/*
 * outbound: a libcurl handle made safe for a URL a tenant chose (a webhook URL, a sync
 * runner): every address it connects to passes the SSRF rules (common/ssrf.h), checked
 * on the address curl is about to use, so names that resolve inside and DNS rebinding
 * are caught; redirects are never followed (a receiver must not bounce a signed request
 * elsewhere); no proxy is taken from the environment; http and https only. The
 * forwarder and the syncer both send through it.
 */
#ifndef HOOKLINE_OUTBOUND_H
#define HOOKLINE_OUTBOUND_H

#include <curl/curl.h>
#include <stdbool.h>

#include "common/ssrf.h"

/* The one length limit of a URL a tenant chooses (an environment's or a connection's
 * webhook URL, a sync's runner URL), in bytes without the NUL: the CLI refuses longer
 * ones, and everything that carries one (the forwarder's retry and dead-letter
 * headers, its buffers, the attempt log) holds this many. */
#define OUTBOUND_URL_MAX 2048

/* True when s is a URL hookline may be told to send to: http:// or https:// (any
 * case), a non-empty authority that starts with neither ':' nor '@', no space or control
 * character, at most OUTBOUND_URL_MAX bytes. The CLI's --to and --webhook-url and the
 * API's redrive check URLs with it. */
bool outbound_url_valid(const char *s);

/* url's origin into out: scheme, host and port, never user info, path, query or
 * fragment (any of which may hold a token: "https://hooks.example/T0/B0/s3cr3t").
 * What a log line, a metric label or a forwarder's per-destination state may name. */
void outbound_url_origin(const char *url, char *out, size_t outlen);

/* text into out with every http:// or https:// URL in it cut to its origin, followed by
 * "/..." where something was cut: for a log line that quotes a URL an operator or a
 * tenant wrote (an audit target, a redrive). */
void outbound_text_for_log(const char *text, char *out, size_t outlen);

/* Why a connection to the host of url (outbound_url_valid) would be refused under
 * policy ("loopback", "private", ...), or NULL. Judges the host only when it is an
 * address (10.0.0.1, [::1], 2130706433) or "localhost": a name is judged when it is
 * connected to (outbound_guard), after DNS. Uses no network. */
const char *outbound_url_refused(const char *url, const struct ssrf_policy *policy);

/* Lives as long as the transfer; refused says why a connection was not allowed
 * ("loopback address"), "" when none was refused. */
struct outbound_guard {
    const struct ssrf_policy *policy;
    char refused[64];
};

/* Sets the options above on c (after any curl_easy_reset). g is cleared and borrowed. */
void outbound_guard(CURL *c, struct outbound_guard *g, const struct ssrf_policy *policy);

#endif
