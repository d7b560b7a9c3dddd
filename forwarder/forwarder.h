/*
 * forwarder: delivers routed webhooks to the environment's app.
 *   main.c          consume -> deliver (with in-process retries) -> store offset
 *   destinations.c  the environment's URLs and signing key (cached PostgreSQL lookup)
 *   envelope.c      the Nango-compatible body and its signatures (pure)
 *   deliver.c       one HTTP POST with libcurl
 */
#ifndef HOOKLINE_FORWARDER_H
#define HOOKLINE_FORWARDER_H

#include <stdbool.h>
#include <stddef.h>

struct forwarder_config {
    long admin_port;
    const char *admin_bind;
    long timeout_ms;
    long connect_timeout_ms;
    long attempts;
    long backoff_ms;
    long cache_ttl_ms;
    const char *group_id;
    const char *allow_cidrs;
};
extern struct forwarder_config g_forwarder;

/* destinations.c */
struct destination {
    bool found;
    char webhook_url[2048];
    char secondary_url[2048];
    char signing_key[256];
};
int destinations_init(const char *conninfo, long ttl_ms) __attribute__((warn_unused_result));
/* 0 (out->found says whether the environment exists), -1 database unavailable. */
int destinations_get(const char *env_id, struct destination *out) __attribute__((warn_unused_result));
void destinations_watch(void);
bool destinations_ready(void);
void destinations_shutdown(void);

/* deliver.c: one POST. */
struct delivery_header {
    const char *name, *value;
};
struct delivery_result {
    long status;           /* HTTP status, 0 if no response */
    char error[256];       /* transport error, "" if none */
    char refused[64];      /* set when the SSRF rules refused the address ("loopback address") */
    double seconds;
};
/* allow_cidrs: addresses outside the public internet that may be reached anyway. */
int deliver_init(const char *allow_cidrs) __attribute__((warn_unused_result));
void deliver_post(const char *url, const struct delivery_header *headers, size_t nheaders, const void *body,
                  size_t len, struct delivery_result *out);
void deliver_shutdown(void);

#endif
