/* circuit: a circuit breaker per destination (scheme, host and port of the URL). After
 * HOOKLINE_FORWARD_CIRCUIT_FAILURES failed passes in a row the circuit opens: for
 * HOOKLINE_FORWARD_CIRCUIT_COOLDOWN_MS deliveries to that destination are not attempted
 * but handed to their next retry pass, due when the cooldown ends (so parking does not
 * burn through the schedule), and a struggling app is not hammered.
 * Then one delivery is let through as a probe: success closes the circuit, failure
 * opens it again. Used from the forwarder's one delivery thread. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "forwarder/forwarder.h"

#define MAX_DESTINATIONS 1024

enum circuit_state { CLOSED = 0, OPEN, HALF_OPEN };

static struct circuit {
    char key[256];
    enum circuit_state state;
    long failures;
    double opened_at;
} circuits[MAX_DESTINATIONS];
static size_t ncircuits;

/* "https://app.example.com:8443/hooks?x" -> "https://app.example.com:8443". */
static void destination_key(const char *url, char *key, size_t keylen)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t len = (size_t)(host - url) + strcspn(host, "/?#");
    snprintf(key, keylen, "%.*s", (int)len, url);
}

static struct circuit *find(const char *url)
{
    char key[256];
    destination_key(url, key, sizeof key);
    for (size_t i = 0; i < ncircuits; i++)
        if (!strcmp(circuits[i].key, key))
            return &circuits[i];
    if (ncircuits == MAX_DESTINATIONS) /* bounded: forget the table, start over */
        ncircuits = 0;
    struct circuit *c = &circuits[ncircuits++];
    memset(c, 0, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", key);
    return c;
}

bool circuit_allow(const char *url, long *wait_ms)
{
    struct circuit *c = find(url);
    *wait_ms = 0;
    if (c->state == CLOSED)
        return true;
    double left = (double)g_forwarder.circuit_cooldown_ms / 1000 - (clock_mono_s() - c->opened_at);
    if (c->state == OPEN && left <= 0) {
        c->state = HALF_OPEN; /* this delivery is the probe */
        log_info(NULL, "circuit of %s half-open: probing", c->key);
        return true;
    }
    *wait_ms = left > 0 ? (long)(left * 1000) + 1 : 0;
    return false;
}

void circuit_record(const char *url, bool ok)
{
    struct circuit *c = find(url);
    if (ok) {
        if (c->state != CLOSED)
            log_info(NULL, "circuit of %s closed", c->key);
        c->state = CLOSED;
        c->failures = 0;
        return;
    }
    c->failures++;
    if (c->state == HALF_OPEN || (c->state == CLOSED && c->failures >= g_forwarder.circuit_failures)) {
        if (c->state == CLOSED)
            log_warn(NULL, "circuit of %s open after %ld failed passes", c->key, c->failures);
        c->state = OPEN;
        c->opened_at = clock_mono_s();
    }
}
