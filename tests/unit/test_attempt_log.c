/* Unit tests of forwarder/attempt_log: with a database that hangs, recording never
 * waits, the queue stays bounded by dropping the oldest records, every lost record is
 * counted, and shutdown still returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "forwarder/attempt_log.h"

/* A loopback server that accepts connections (the kernel does) but never answers: a
 * database that hangs. Returns the listening socket; its port in *port. */
static int silent_server(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void fill(struct attempt_record *rec, long attempt)
{
    memset(rec, 0, sizeof *rec);
    snprintf(rec->webhook_id, sizeof rec->webhook_id, "0190a6d2-0000-7000-8000-000000000001");
    snprintf(rec->routed_id, sizeof rec->routed_id, "0190a6d2-0000-8000-8000-000000000002");
    snprintf(rec->env, sizeof rec->env, "0190a6d2-0000-4000-8000-000000000003");
    snprintf(rec->integration, sizeof rec->integration, "github");
    snprintf(rec->destination, sizeof rec->destination, "https://app.example.com/hooks");
    snprintf(rec->error, sizeof rec->error, "HTTP 503");
    rec->attempt = attempt;
    rec->status = 503;
    rec->seconds = 0.012;
    rec->at_ms = clock_unix_ms();
    rec->result = ATTEMPT_FAILED;
}

static void results_are_the_tables_words(void **state)
{
    (void)state;
    /* The same words, in any order, as the CHECK of db/migrations/005_delivery_attempts.sql. */
    static const char *const want[] = {"delivered", "failed",        "refused",        "gone",
                                       "parked",    "dead-lettered", "retry-scheduled"};
    assert_int_equal(ATTEMPT_RESULT_COUNT, sizeof want / sizeof want[0]);
    for (int i = 0; i < ATTEMPT_RESULT_COUNT; i++)
        assert_string_equal(attempt_result_name((enum attempt_result)i), want[i]);
    assert_null(attempt_result_name(ATTEMPT_RESULT_COUNT));
}

static void without_a_database_the_queue_drops_the_oldest_and_counts(void **state)
{
    (void)state;
    int port;
    int server = silent_server(&port);
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "postgresql://nobody@127.0.0.1:%d/nothing", port);
    const size_t max = 10;
    assert_int_equal(attempt_log_init(conninfo, max), 0);

    struct attempt_record rec;
    double slowest = 0;
    for (long i = 1; i <= 25; i++) {
        fill(&rec, i);
        double t0 = clock_mono_s();
        attempt_log_record(&rec);
        double took = clock_mono_s() - t0;
        slowest = took > slowest ? took : slowest;
    }
    /* The writer is stuck connecting (for connect_timeout, seconds): recording must not
     * wait for it. Generous for a loaded machine, far below the connect timeout. */
    assert_true(slowest < 0.5);

    struct attempt_log_stats st;
    attempt_log_stats(&st);
    assert_int_equal(st.queued, max);
    assert_int_equal(st.dropped, 25 - (long)max);
    assert_int_equal(st.written, 0);

    double t0 = clock_mono_s();
    attempt_log_shutdown(100);
    assert_true(clock_mono_s() - t0 < 15); /* bounded by the connect timeout */
    close(server);
    attempt_log_stats(&st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped, 25); /* what was left is counted, not silently lost */
    assert_int_equal(st.written, 0);

    fill(&rec, 26); /* after shutdown: ignored */
    attempt_log_record(&rec);
    attempt_log_stats(&st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped, 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(results_are_the_tables_words),
        cmocka_unit_test(without_a_database_the_queue_drops_the_oldest_and_counts),
    };
    return cmocka_run_group_tests_name("attempt_log", tests, NULL, NULL);
}
