/* signals: see signals.h. */
#include "common/signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requests;

static void on_stop(int sig)
{
    (void)sig;
    if (++stop_requests >= 2) {
        static const char msg[] = "second stop signal: exiting without draining\n";
        ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)r;
        _exit(1);
    }
}

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool signals_stopping(void)
{
    return stop_requests > 0;
}
