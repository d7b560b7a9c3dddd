/*
 * signals: flag-only handling of SIGTERM/SIGINT. The first signal asks the daemon to
 * drain (stop taking work, finish in-flight, flush, commit); a second one exits at
 * once. SIGPIPE is ignored (sockets report EPIPE instead).
 */
#ifndef HOOKLINE_SIGNALS_H
#define HOOKLINE_SIGNALS_H

#include <stdbool.h>

void signals_install(void);

/* True once a stop was requested. Safe from any thread. */
bool signals_stopping(void);

#endif
