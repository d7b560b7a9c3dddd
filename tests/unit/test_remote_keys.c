/*
 * test_remote_keys: the remote key store (common/remote_keys.h) against a loopback
 * HTTPS server run here (certificate for 127.0.0.1 by the test CA in
 * tests/fixtures/signed/): fetch and cache, single flight, refetch on demand, failures
 * (status, size, redirect, untrusted certificate, timeout) with their backoff and
 * metric, the SSRF rule on the address (loopback refused unless allowed: curl's socket
 * is refused before any connection), and the URL rule (https, host allow-list). Nothing
 * here leaves 127.0.0.1; the private and link-local addresses are only classified.
 * Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/remote_keys.h"

#define CA "tests/fixtures/signed/ca.pem"

/* ---- a loopback HTTPS server: answers every request with the configured reply ---- */

static struct {
    int fd, port;
    SSL_CTX *ctx;
    pthread_t thread;
    atomic_int requests;
    atomic_int stop;
    atomic_int open; /* connections being answered */
    pthread_mutex_t mu;
    int status;
    char headers[256];
    char *body;
    size_t body_len;
    int delay_ms;
    char last_request[2048];
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One connection: read the request, answer it, close. */
static void *answer(void *arg)
{
    int c = (int)(intptr_t)arg;
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* a client that sends nothing */
    SSL *ssl = SSL_new(srv.ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
        char req[2048];
        int n = SSL_read(ssl, req, sizeof req - 1);
        if (n > 0) {
            req[n] = '\0';
            /* A POST's body may come in a second record. */
            if (strncmp(req, "POST", 4) == 0 && strstr(req, "\r\n\r\n") && !strstr(req, "\r\n\r\n")[4]) {
                int m = SSL_read(ssl, req + n, (int)sizeof req - 1 - n);
                if (m > 0)
                    req[n + m] = '\0';
            }
            pthread_mutex_lock(&srv.mu);
            snprintf(srv.last_request, sizeof srv.last_request, "%s", req);
            pthread_mutex_unlock(&srv.mu);
            atomic_fetch_add(&srv.requests, 1);
            if (srv.delay_ms)
                usleep((useconds_t)srv.delay_ms * 1000);
            char head[512];
            int hl = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                              srv.status, srv.body_len, srv.headers);
            SSL_write(ssl, head, hl);
            if (srv.body_len)
                SSL_write(ssl, srv.body, (int)srv.body_len);
        }
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(c);
    atomic_fetch_sub(&srv.open, 1);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        if (atomic_load(&srv.stop)) {
            close(c);
            break;
        }
        pthread_t t;
        atomic_fetch_add(&srv.open, 1);
        if (pthread_create(&t, NULL, answer, (void *)(intptr_t)c) == 0) {
            pthread_detach(t);
        } else {
            close(c);
            atomic_fetch_sub(&srv.open, 1);
        }
    }
    return NULL;
}

/* Waits until no connection is being answered, then sets the answer to come. */
static void reply(int status, const char *headers, const char *body)
{
    for (int i = 0; i < 500 && atomic_load(&srv.open) > 0; i++)
        usleep(10 * 1000);
    srv.status = status;
    snprintf(srv.headers, sizeof srv.headers, "%s", headers);
    free(srv.body);
    srv.body = strdup(body);
    srv.body_len = strlen(body);
    srv.delay_ms = 0;
    atomic_store(&srv.requests, 0);
}

static void server_start(void)
{
    srv.ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate_file(srv.ctx, "tests/fixtures/signed/server.pem", SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(srv.ctx, "tests/fixtures/signed/server.key", SSL_FILETYPE_PEM), 1);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(srv.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(srv.fd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    reply(200, "", "{}");
    assert_int_equal(pthread_create(&srv.thread, NULL, serve, NULL), 0);
}

static void server_stop(void)
{
    atomic_store(&srv.stop, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0); /* wakes accept() */
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(srv.thread, NULL);
    for (int i = 0; i < 500 && atomic_load(&srv.open) > 0; i++)
        usleep(10 * 1000);
    close(srv.fd);
    SSL_CTX_free(srv.ctx);
    free(srv.body);
}

/* ---- the store -------------------------------------------------------------------------- */

static const char *const no_hosts[] = {NULL};

static void start_store(const char *cidrs, const char *ca, long timeout_ms)
{
    char err[200];
    remote_keys_stop();
    struct remote_keys_config cfg = {.allow_cidrs = cidrs,
                                     .extra_hosts = "127.0.0.1",
                                     .ca_file = ca,
                                     .timeout_ms = timeout_ms,
                                     .default_ttl_s = 600};
    if (remote_keys_start(&cfg, err, sizeof err) < 0)
        fail_msg("remote_keys_start: %s", err);
}

static char *url_of(const char *path)
{
    static char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", srv.port, path);
    return url;
}

static int get(const char *path, const char *post, long max_age, char **doc, char *why)
{
    size_t len;
    why[0] = '\0';
    return remote_keys_get(url_of(path), post, no_hosts, max_age, doc, &len, why, 200);
}

static long failures_metric(void)
{
    size_t len;
    char *text = metrics_render(&len);
    const char *m = strstr(text, "\nhookline_remote_key_fetch_failures_total ");
    long v = m ? strtol(m + strlen("\nhookline_remote_key_fetch_failures_total "), NULL, 10) : -1;
    free(text);
    return v;
}

static int setup(void **state)
{
    (void)state;
    server_start();
    start_store("127.0.0.1/32", CA, 1000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remote_keys_stop();
    server_stop();
    return 0;
}

static void test_fetches_once_then_serves_from_cache(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    reply(200, "Cache-Control: public, max-age=3600\r\n", "{\"keys\":[]}");
    assert_int_equal(get("/certs", NULL, 0, &doc, why), 0);
    assert_string_equal(doc, "{\"keys\":[]}");
    free(doc);
    assert_int_equal(get("/certs", NULL, 0, &doc, why), 0);
    free(doc);
    assert_int_equal(atomic_load(&srv.requests), 1);
    assert_non_null(strstr(srv.last_request, "GET /certs HTTP/1.1"));

    /* A document fetched more than max_age_s ago is fetched again (a kid it lacks). */
    sleep(2);
    assert_int_equal(get("/certs", NULL, 1, &doc, why), 0);
    free(doc);
    assert_int_equal(atomic_load(&srv.requests), 2);
}

static void test_post_bodies_are_separate_documents(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    reply(200, "", "{\"key\":{}}");
    assert_int_equal(get("/key", "{\"key_id\":\"a\"}", 0, &doc, why), 0);
    free(doc);
    assert_non_null(strstr(srv.last_request, "POST /key"));
    assert_non_null(strstr(srv.last_request, "application/json"));
    assert_int_equal(get("/key", "{\"key_id\":\"b\"}", 0, &doc, why), 0);
    free(doc);
    assert_int_equal(get("/key", "{\"key_id\":\"a\"}", 0, &doc, why), 0);
    free(doc);
    assert_int_equal(atomic_load(&srv.requests), 2);
}

struct waiter {
    int rc;
    char *doc;
};

static void *concurrent_get(void *arg)
{
    struct waiter *w = arg;
    char why[200];
    w->rc = get("/slow", NULL, 0, &w->doc, why);
    return NULL;
}

static void test_concurrent_requests_share_one_fetch(void **state)
{
    (void)state;
    reply(200, "", "{\"keys\":[1]}");
    srv.delay_ms = 300;
    pthread_t t[4];
    struct waiter w[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, concurrent_get, &w[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_string_equal(w[i].doc, "{\"keys\":[1]}");
        free(w[i].doc);
    }
    assert_int_equal(atomic_load(&srv.requests), 1);
}

static void test_failures_are_refused_with_a_reason_and_backed_off(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    long before = failures_metric();
    reply(500, "", "oops");
    assert_int_equal(get("/broken", NULL, 0, &doc, why), -1);
    assert_null(doc);
    assert_non_null(strstr(why, "answered 500"));
    assert_int_equal(failures_metric(), before + 1);
    /* Within the backoff: refused at once with the same reason, no new request. */
    reply(200, "", "{}");
    assert_int_equal(get("/broken", NULL, 0, &doc, why), -1);
    assert_non_null(strstr(why, "answered 500"));
    assert_int_equal(atomic_load(&srv.requests), 0);
    /* After it (1 s): fetched again, and now it works. */
    sleep(2);
    assert_int_equal(get("/broken", NULL, 0, &doc, why), 0);
    free(doc);
    assert_int_equal(atomic_load(&srv.requests), 1);
}

static void test_redirects_big_documents_and_timeouts_fail(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    reply(302, "Location: https://127.0.0.1:1/elsewhere\r\n", "");
    assert_int_equal(get("/moved", NULL, 0, &doc, why), -1);
    assert_non_null(strstr(why, "answered 302"));
    assert_int_equal(atomic_load(&srv.requests), 1);

    char *big = malloc(REMOTE_KEYS_MAX_DOC + 2);
    memset(big, 'k', REMOTE_KEYS_MAX_DOC + 1);
    big[REMOTE_KEYS_MAX_DOC + 1] = '\0';
    reply(200, "", big);
    free(big);
    assert_int_equal(get("/big", NULL, 0, &doc, why), -1);
    assert_non_null(strstr(why, "larger than"));

    reply(200, "", "{}");
    srv.delay_ms = 1500; /* longer than the store's 1 s timeout */
    assert_int_equal(get("/slow-to-answer", NULL, 0, &doc, why), -1);
    assert_true(strstr(why, "imeout") || strstr(why, "timed out"));
    srv.delay_ms = 0;
}

static void test_untrusted_certificate_fails(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    start_store("127.0.0.1/32", "", 1000); /* the system's CAs do not know the test CA */
    reply(200, "", "{}");
    assert_int_equal(get("/certs", NULL, 0, &doc, why), -1);
    assert_null(doc);
    assert_true(strstr(why, "certificate") || strstr(why, "SSL"));
    start_store("127.0.0.1/32", CA, 1000);
}

static void test_loopback_refused_unless_allowed(void **state)
{
    (void)state;
    char *doc = NULL, why[200];
    start_store("", CA, 1000);
    reply(200, "", "{}");
    assert_int_equal(get("/certs", NULL, 0, &doc, why), -1);
    assert_non_null(strstr(why, "loopback"));
    assert_int_equal(atomic_load(&srv.requests), 0); /* the socket was refused: no connection */
    start_store("127.0.0.1/32", CA, 1000);
}

/* The address rule alone: key URLs that resolve inside are refused. Nothing connects. */
static void test_address_rule(void **state)
{
    (void)state;
    const char *inside[] = {"10.0.0.8", "172.16.1.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",     "127.0.0.2",
                            "0.0.0.0",  "::1",        "fe80::1",     "fc00::1",         "::ffff:10.0.0.1"};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        struct sockaddr_storage ss = {0};
        if (strchr(inside[i], ':')) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            assert_int_equal(inet_pton(AF_INET6, inside[i], &s6->sin6_addr), 1);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            assert_int_equal(inet_pton(AF_INET, inside[i], &s4->sin_addr), 1);
        }
        if (remote_keys_address_allowed((struct sockaddr *)&ss))
            fail_msg("%s is allowed", inside[i]);
    }
    struct sockaddr_in pub = {.sin_family = AF_INET};
    inet_pton(AF_INET, "8.8.8.8", &pub.sin_addr);
    assert_true(remote_keys_address_allowed((struct sockaddr *)&pub));
    inet_pton(AF_INET, "127.0.0.1", &pub.sin_addr); /* the allow-list of this test */
    assert_true(remote_keys_address_allowed((struct sockaddr *)&pub));
}

static void test_url_rule(void **state)
{
    (void)state;
    const char *const hosts[] = {"api-na.example.net", "*.keys.example.org", "pinned.example.com:8443", NULL};
    assert_true(remote_keys_url_allowed("https://api-na.example.net/k", hosts));
    assert_true(remote_keys_url_allowed("https://API-NA.example.net:443/k", hosts));
    assert_true(remote_keys_url_allowed("https://eu.keys.example.org/k", hosts));
    assert_true(remote_keys_url_allowed("https://pinned.example.com:8443/k", hosts));
    assert_true(remote_keys_url_allowed("https://127.0.0.1:9/k", hosts)); /* the operator's extra host */
    const char *refused[] = {
        "http://api-na.example.net/k",               /* not https */
        "https://api-na.example.net.evil.example/k", /* lookalike */
        "https://evilapi-na.example.net/k",          /* not the host */
        "https://keys.example.org/k",                /* the wildcard needs a subdomain */
        "https://pinned.example.com/k",              /* another port */
        "https://user:pw@api-na.example.net/k",      /* credentials */
        "https://10.0.0.8/k",                        /* an address nobody listed */
        "ftp://api-na.example.net/k",
        "api-na.example.net/k",
        "",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (remote_keys_url_allowed(refused[i], hosts))
            fail_msg("allowed %s", refused[i]);
    assert_false(remote_keys_url_allowed(NULL, hosts));
    char *doc = NULL, why[200];
    size_t len;
    assert_int_equal(remote_keys_get("https://169.254.169.254/latest", NULL, hosts, 0, &doc, &len, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "not https on an allowed host"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the server writes to clients that gave up (timeouts) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetches_once_then_serves_from_cache),
        cmocka_unit_test(test_post_bodies_are_separate_documents),
        cmocka_unit_test(test_concurrent_requests_share_one_fetch),
        cmocka_unit_test(test_failures_are_refused_with_a_reason_and_backed_off),
        cmocka_unit_test(test_redirects_big_documents_and_timeouts_fail),
        cmocka_unit_test(test_untrusted_certificate_fails),
        cmocka_unit_test(test_loopback_refused_unless_allowed),
        cmocka_unit_test(test_address_rule),
        cmocka_unit_test(test_url_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
