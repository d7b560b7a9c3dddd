/* Unit tests of the forwarder's address rules. They only classify addresses: nothing
 * here connects anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/outbound.h"
#include "common/ssrf.h"

/* The text address as a sockaddr (IPv6 when it has a colon). */
static void to_sockaddr(const char *ip, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
}

static const char *why(const char *ip)
{
    struct sockaddr_storage ss;
    to_sockaddr(ip, &ss);
    const char *w = ssrf_classify((struct sockaddr *)&ss);
    return w ? w : "public";
}

static bool allowed(const char *cidrs, const char *ip)
{
    struct ssrf_policy pol;
    char err[100];
    assert_int_equal(ssrf_policy_parse(cidrs, &pol, err, sizeof err), 0);
    struct sockaddr_storage ss;
    to_sockaddr(ip, &ss);
    return ssrf_allowed(&pol, (struct sockaddr *)&ss);
}

static void ipv4_ranges(void **state)
{
    (void)state;
    assert_string_equal(why("127.0.0.1"), "loopback");
    assert_string_equal(why("127.255.255.254"), "loopback");
    assert_string_equal(why("10.0.0.1"), "private");
    assert_string_equal(why("172.16.0.1"), "private");
    assert_string_equal(why("172.31.255.255"), "private");
    assert_string_equal(why("172.32.0.1"), "public");
    assert_string_equal(why("192.168.1.1"), "private");
    assert_string_equal(why("169.254.169.254"), "link-local");
    assert_string_equal(why("100.64.0.1"), "cgnat");
    assert_string_equal(why("100.127.255.255"), "cgnat");
    assert_string_equal(why("100.128.0.1"), "public");
    assert_string_equal(why("0.0.0.0"), "unspecified");
    assert_string_equal(why("224.0.0.1"), "multicast");
    assert_string_equal(why("255.255.255.255"), "reserved");
    assert_string_equal(why("8.8.8.8"), "public");
    assert_string_equal(why("93.184.216.34"), "public");
}

static void ipv6_ranges(void **state)
{
    (void)state;
    assert_string_equal(why("::1"), "loopback");
    assert_string_equal(why("::"), "unspecified");
    assert_string_equal(why("fd00::1"), "private");
    assert_string_equal(why("fc00::1"), "private");
    assert_string_equal(why("fe80::1"), "link-local");
    assert_string_equal(why("ff02::1"), "multicast");
    assert_string_equal(why("::ffff:127.0.0.1"), "loopback");
    assert_string_equal(why("::ffff:10.1.2.3"), "private");
    assert_string_equal(why("::ffff:169.254.169.254"), "link-local");
    assert_string_equal(why("64:ff9b::a00:1"), "private"); /* NAT64 of 10.0.0.1 */
    assert_string_equal(why("::ffff:8.8.8.8"), "public");
    assert_string_equal(why("2001:db8::1"), "reserved");
    assert_string_equal(why("2606:4700:4700::1111"), "public");
}

static void allow_list(void **state)
{
    (void)state;
    assert_true(allowed("", "8.8.8.8"));
    assert_false(allowed("", "127.0.0.1"));
    assert_true(allowed("127.0.0.0/8", "127.0.0.1"));
    assert_false(allowed("127.0.0.0/8", "::1"));
    assert_true(allowed("127.0.0.0/8, ::1/128", "::1"));
    assert_false(allowed("127.0.0.0/8", "::ffff:10.0.0.1"));
    assert_true(allowed("10.1.0.0/16", "10.1.200.3"));
    assert_false(allowed("10.1.0.0/16", "10.2.0.1"));
    assert_true(allowed("192.168.1.7", "192.168.1.7"));
    assert_false(allowed("192.168.1.7", "192.168.1.8"));
    struct ssrf_policy pol;
    char err[100];
    assert_int_equal(ssrf_policy_parse("10.0.0.0/33", &pol, err, sizeof err), -1);
    assert_int_equal(ssrf_policy_parse("example.com", &pol, err, sizeof err), -1);
    assert_int_equal(ssrf_policy_parse("::1/129", &pol, err, sizeof err), -1);
    assert_int_equal(ssrf_policy_parse("1.2.3.4/", &pol, err, sizeof err), -1);
}

static void url_form(void **state)
{
    (void)state;
    assert_true(outbound_url_valid("https://app.example/hooks?a=1"));
    assert_true(outbound_url_valid("HTTP://app.example"));
    assert_true(outbound_url_valid("http://[::1]:8080/x"));
    assert_false(outbound_url_valid("ftp://app.example/"));
    assert_false(outbound_url_valid("https://"));
    assert_false(outbound_url_valid("https:///path"));
    assert_false(outbound_url_valid("https://:80/"));
    assert_false(outbound_url_valid("https://@host/"));
    assert_false(outbound_url_valid("https://app.example/a b"));
    assert_false(outbound_url_valid("app.example"));
    char longer[OUTBOUND_URL_MAX + 2];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer, "https://", 8);
    assert_false(outbound_url_valid(longer));
    longer[OUTBOUND_URL_MAX] = '\0';
    assert_true(outbound_url_valid(longer));
}

/* The URL's host judged without connecting: addresses and localhost, never a name. */
static void url_refused(void **state)
{
    (void)state;
    struct ssrf_policy none, local;
    char err[100];
    assert_int_equal(ssrf_policy_parse("", &none, err, sizeof err), 0);
    assert_int_equal(ssrf_policy_parse("127.0.0.0/8, ::1/128", &local, err, sizeof err), 0);
    assert_string_equal(outbound_url_refused("http://127.0.0.1:8080/x", &none), "loopback");
    assert_null(outbound_url_refused("http://127.0.0.1:8080/x", &local));
    assert_string_equal(outbound_url_refused("http://10.1.2.3/", &local), "private");
    assert_string_equal(outbound_url_refused("https://user:pw@192.168.0.9:443/", &local), "private");
    assert_string_equal(outbound_url_refused("http://169.254.169.254/latest", &local), "link-local");
    assert_string_equal(outbound_url_refused("http://[::1]/", &none), "loopback");
    assert_null(outbound_url_refused("http://[::1]:9/", &local));
    assert_string_equal(outbound_url_refused("http://[::ffff:10.0.0.1]/", &local), "private");
    assert_string_equal(outbound_url_refused("http://2130706433/", &none), "loopback"); /* 127.0.0.1 */
    assert_string_equal(outbound_url_refused("http://0x7f.1/", &none), "loopback");
    assert_string_equal(outbound_url_refused("http://LocalHost:80/", &none), "loopback");
    assert_string_equal(outbound_url_refused("http://app.localhost/", &none), "loopback");
    assert_null(outbound_url_refused("http://localhost/", &local));
    assert_null(outbound_url_refused("https://8.8.8.8/", &none));
    assert_null(outbound_url_refused("https://app.example/", &none)); /* a name: judged on connect */
    assert_null(outbound_url_refused("https://10.0.0.1.example/", &none));
    assert_null(outbound_url_refused("http://[::1/", &none)); /* no closing bracket: no address */
}

/* Log lines name a URL by its origin: a path, query or user info may hold a token. */
static void url_for_log(void **state)
{
    (void)state;
    static const struct {
        bool text; /* outbound_text_for_log, else outbound_url_origin */
        const char *in, *want;
    } cases[] = {
        {false, "https://user:pw@hooks.example:8443/T0/B0/s3cr3t?sig=x#f", "https://hooks.example:8443"},
        {false, "http://[::1]:9000#frag", "http://[::1]:9000"},
        {false, "https://a@b@host.example/x", "https://host.example"}, /* user info ends at the last '@' */
        {true, "dead-letter 1-5 to https://app.example/hooks?token=s3cr3t",
         "dead-letter 1-5 to https://app.example/..."},
        {true, "a http://u:p@a.example b HTTPS://b.example/x c", "a http://a.example/... b HTTPS://b.example/... c"},
        {true, "http://a.example", "http://a.example"},
        {true, "no url here", "no url here"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].text)
            outbound_text_for_log(cases[i].in, out, sizeof out);
        else
            outbound_url_origin(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    char small[12];
    outbound_text_for_log("to https://app.example/s3cr3t", small, sizeof small);
    assert_string_equal(small, "to https://"); /* cut to fit, never past the origin */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_ranges), cmocka_unit_test(ipv6_ranges), cmocka_unit_test(allow_list),
        cmocka_unit_test(url_form),    cmocka_unit_test(url_refused), cmocka_unit_test(url_for_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
