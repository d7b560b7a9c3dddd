/* Unit tests of what the router asks the providers about connections' own secrets and of
 * the event type Nango matches (providers/connection_trust.c, providers/nango_type.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/provider.h"

static const char *nango(const char *provider, const char *type)
{
    static char out[64];
    const struct provider *p = provider_find(provider);
    assert_non_null(p);
    provider_nango_event_type(p, type, out, sizeof out);
    return out;
}

static void nango_type_drops_the_detail(void **state)
{
    (void)state;
    assert_string_equal(nango("github-app", "issues.opened"), "issues"); /* X-GitHub-Event */
    assert_string_equal(nango("github-app", "push"), "push");            /* no action */
    assert_string_equal(nango("github", "issues"), "issues");
    assert_string_equal(nango("linear", "Issue.create"), "Issue"); /* type */
    assert_string_equal(nango("xero", "INVOICE.UPDATE"), "INVOICE");
    assert_string_equal(nango("quickbooks", "Invoice.Create"), "Invoice");
    /* No detail: the type is already what Nango matches, dots and all. */
    assert_string_equal(nango("hubspot", "contact.creation"), "contact.creation");
    assert_string_equal(nango("shopify", "orders/create"), "orders/create");
    assert_string_equal(nango("slack", "message"), "message");
    assert_string_equal(nango("hubspot", NULL), "");
    assert_string_equal(nango("hubspot", ""), "");
    char small[4];
    assert_int_equal(provider_nango_event_type(provider_find("github-app"), "issues.opened", small, sizeof small), 0);
    assert_string_equal(small, "");
}

static struct attribution_group group(enum attribution_source source, const char *key, const char *value)
{
    /* The group owns its strings in the router; here they are borrowed and never freed. */
    return (struct attribution_group){
        .source = source, .config_key = (char *)(uintptr_t)key, .value = (char *)(uintptr_t)value};
}

static void url_named_connections_need_their_own_secret(void **state)
{
    (void)state;
    struct attribution_group by_url = group(ATTR_CONNECTION_ID, "connectionId", "c1");
    assert_true(provider_group_needs_connection_secret(provider_find("github"), &by_url));
    assert_true(provider_group_needs_connection_secret(provider_find("gitlab"), &by_url));
    assert_true(provider_group_needs_connection_secret(provider_find("jira"), &by_url));
    assert_true(provider_group_needs_connection_secret(provider_find("standard-webhooks"), &by_url));
    /* A signed body field names the connection: the integration's secret covers it. */
    struct attribution_group by_body = group(ATTR_CONNECTION_CONFIG, "installation_id", "42");
    assert_false(provider_group_needs_connection_secret(provider_find("github-app"), &by_body));
    struct attribution_group jira_meta = group(ATTR_METADATA, "jiraWebhookId", "7");
    assert_false(provider_group_needs_connection_secret(provider_find("jira"), &jira_meta));
    struct attribution_group none = group(ATTR_CONNECTION_ID, NULL, NULL);
    assert_false(provider_group_needs_connection_secret(provider_find("github"), &none));
}

/* A shared credential (a token, Basic credentials, Graph's clientState) covers nothing of
 * the request, and an HMAC of the body covers no header: whatever such a part names needs
 * the connection's own secret. */
static void unsigned_places_need_their_own_secret(void **state)
{
    (void)state;
    struct attribution_group by_id = group(ATTR_CONNECTION_ID, "connectionId", "c1");
    assert_true(provider_group_needs_connection_secret(provider_find("shipstation"), &by_id)); /* header */
    assert_true(provider_group_needs_connection_secret(provider_find("shipstation-v2"), &by_id));
    assert_true(provider_group_needs_connection_secret(provider_find("videoask"), &by_id));
    assert_true(provider_group_needs_connection_secret(provider_find("salesforce"), &by_id)); /* body */
    struct attribution_group form = group(ATTR_METADATA, "formId", "f1");
    assert_true(provider_group_needs_connection_secret(provider_find("fillout"), &form));
    struct attribution_group company = group(ATTR_CONNECTION_CONFIG, "companyId", "9");
    assert_true(provider_group_needs_connection_secret(provider_find("pipedrive"), &company)); /* Basic */
    struct attribution_group tenant = group(ATTR_CONNECTION_CONFIG, "tenantId", "t1");
    assert_true(provider_group_needs_connection_secret(provider_find("microsoft-oauth2-cc"), &tenant));
    struct attribution_group shop = group(ATTR_CONNECTION_CONFIG, "subdomain", "acme");
    assert_true(provider_group_needs_connection_secret(provider_find("shopify"), &shop)); /* header, HMAC of body */
    struct attribution_group channel = group(ATTR_METADATA, "googleChannelId", "ch");
    assert_true(provider_group_needs_connection_secret(provider_find("google-calendar"), &channel));
    /* Custom code that signs the body covers a body field. */
    struct attribution_group merchant = group(ATTR_CONNECTION_CONFIG, "merchantAccount", "m");
    assert_false(provider_group_needs_connection_secret(provider_find("adyen"), &merchant));
    struct attribution_group portal = group(ATTR_CONNECTION_CONFIG, "portalId", "1");
    assert_false(provider_group_needs_connection_secret(provider_find("hubspot"), &portal));
    /* A signed identifier whose alternative is unsigned: the router may have found the
     * connection by either, so the unsigned one decides. */
    struct attribution_group guild = group(ATTR_CONNECTION_CONFIG, "guildId", "g1");
    assert_false(provider_group_needs_connection_secret(provider_find("discord"), &guild));
    guild.alts[0] = (struct attribution_key){.source = ATTR_CONNECTION_ID,
                                             .config_key = (char *)(uintptr_t) "connectionId",
                                             .value = (char *)(uintptr_t) "c1"};
    guild.nalts = 1;
    assert_true(provider_group_needs_connection_secret(provider_find("discord"), &guild));
}

/* The places listed for `hookline providers` and the docs. */
static void unsigned_locators_are_listed(void **state)
{
    (void)state;
    const char *where = NULL;
    assert_string_equal(provider_unsigned_locator(provider_find("videoask"), 0, &where), "Nango-Connection-Id");
    assert_string_equal(where, "header");
    assert_null(provider_unsigned_locator(provider_find("videoask"), 1, &where));
    assert_string_equal(provider_unsigned_locator(provider_find("salesforce"), 0, &where), "nango.connectionId");
    assert_string_equal(where, "body");
    assert_string_equal(provider_unsigned_locator(provider_find("github"), 0, &where), "nangoConnectionId");
    assert_string_equal(where, "query");
    assert_string_equal(provider_unsigned_locator(provider_find("pagerduty"), 0, NULL), "X-Nango-Connection-Id");
    assert_null(provider_unsigned_locator(provider_find("github-app"), 0, NULL));
    assert_null(provider_unsigned_locator(provider_find("google-mail"), 0, NULL)); /* published keys */
    assert_null(provider_unsigned_locator(provider_find("unauthenticated"), 0, NULL));
}

/* Signs body for provider with secret (as the integration's secret of its kind). */
static int sign(const struct provider *p, struct webhook_request *req, const char *secret, struct http_header *out)
{
    struct provider_secrets s = {.webhook_secret = secret, .client_secret = secret};
    return provider_sign(p, req, &s, out, 4);
}

static void connection_secret_verifies_in_place_of_the_integration_one(void **state)
{
    (void)state;
    const char *providers[] = {"github", "hubspot", "standard-webhooks"};
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++) {
        const struct provider *p = provider_find(providers[i]);
        const char *body = "[{\"portalId\":1}]";
        struct webhook_request req = {.method = "POST",
                                      .url = "https://h.example/webhook/e/k?nangoConnectionId=c1",
                                      .path = "/webhook/e/k",
                                      .query = "nangoConnectionId=c1",
                                      .body = (const unsigned char *)body,
                                      .body_len = strlen(body),
                                      .now = time(NULL)};
        const char *mine = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                   *theirs = "whsec_bm90IHRoZSBzYW1lIHNlY3JldCBhdCBhbGw=";
        struct http_header h[4];
        int n = sign(p, &req, mine, h);
        assert_true(n > 0);
        req.headers = h;
        req.nheaders = (size_t)n;
        char why[128];
        assert_int_equal(provider_verify_connection(p, &req, mine, NULL, why, sizeof why), VERIFY_VALID);
        assert_int_equal(provider_verify_connection(p, &req, theirs, NULL, why, sizeof why), VERIFY_INVALID);
        assert_null(strstr(why, "whsec_"));
        for (int k = 0; k < n; k++) {
            free((void *)(uintptr_t)h[k].name);
            free((void *)(uintptr_t)h[k].value);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nango_type_drops_the_detail),
        cmocka_unit_test(url_named_connections_need_their_own_secret),
        cmocka_unit_test(unsigned_places_need_their_own_secret),
        cmocka_unit_test(unsigned_locators_are_listed),
        cmocka_unit_test(connection_secret_verifies_in_place_of_the_integration_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
