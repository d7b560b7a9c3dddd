/* circuit: a circuit breaker per destination (see endpoints.c). After
 * HOOKLINE_FORWARDER_CIRCUIT_FAILURES failed passes in a row the circuit opens: for
 * HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS deliveries to that destination are not attempted
 * but handed to their next retry pass, due when the cooldown ends (so parking does not
 * burn through the schedule), and a struggling app is not hammered.
 * Then one delivery is let through as a probe (the others stay parked while it is out):
 * success closes the circuit, failure opens it again. Each change is recorded for the
 * API (circuit_log.c). */
#include "common/clock.h"
#include "common/log.h"
#include "forwarder/forwarder.h"

bool circuit_allow(struct endpoint *ep, long *wait_ms)
{
    *wait_ms = 0;
    if (ep->circuit == CIRCUIT_CLOSED)
        return true;
    double left = (double)g_forwarder.circuit_cooldown_ms / 1000 - (clock_mono_s() - ep->opened_at);
    if (ep->circuit == CIRCUIT_OPEN && left <= 0) {
        ep->circuit = CIRCUIT_HALF_OPEN; /* this delivery is the probe */
        log_info(NULL, "circuit of %s half-open: probing", ep->key);
        circuit_log_transition(ep->key, ep->circuit, ep->failures);
        return true;
    }
    *wait_ms = left > 0 ? (long)(left * 1000) + 1 : 0;
    return false;
}

void circuit_record(struct endpoint *ep, bool ok)
{
    if (ok) {
        if (ep->circuit != CIRCUIT_CLOSED) {
            log_info(NULL, "circuit of %s closed", ep->key);
            circuit_log_transition(ep->key, CIRCUIT_CLOSED, 0);
        }
        ep->circuit = CIRCUIT_CLOSED;
        ep->failures = 0;
        return;
    }
    ep->failures++;
    if (ep->circuit == CIRCUIT_HALF_OPEN ||
        (ep->circuit == CIRCUIT_CLOSED && ep->failures >= g_forwarder.circuit_failures)) {
        if (ep->circuit == CIRCUIT_CLOSED)
            log_warn(NULL, "circuit of %s open after %ld failed passes", ep->key, ep->failures);
        ep->circuit = CIRCUIT_OPEN;
        ep->opened_at = clock_mono_s();
        circuit_log_transition(ep->key, ep->circuit, ep->failures);
    }
}
