/*
 * cmd_providers: `hookline providers` (what is supported, how each provider is
 * verified, its handshakes and where attribution looks), `hookline sign` (sign a body
 * as the provider would, to test an integration end to end) and `hookline verify`
 * (check a captured request against a secret, to debug a signature failure).
 *
 * All three only read the provider table through providers/provider.h (and the
 * descriptions of provider_info.h); `sign` and `verify` call the same provider_sign
 * and provider_verify as the ingress, so what they say is exactly what it does.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/outbound.h"
#include "providers/provider.h"
#include "providers/provider_info.h"

#define BODY_MAX (10 * 1024 * 1024)
#define SIGN_MAX_HEADERS 16
#define VERIFY_MAX_HEADERS 64
#define ATTRIBUTION_TEXT_MAX 512
#define METHOD_MAX_LEN 16
#define NOW_MAX 253402300799L /* 9999-12-31: keeps millisecond timestamps in range */
/* URLs for finding out whether a provider signs the URL (see sign_without_url). */
#define PROBE_URL_A "https://hookline.invalid/webhook/probe-a"
#define PROBE_URL_B "https://hookline.invalid/webhook/probe-b?x=1"

static const char providers_usage[] =
    "Usage: hookline providers [--json]\n"
    "\n"
    "Lists the providers hookline supports: how each one's webhooks are verified, which\n"
    "integration secret that uses, the handshakes answered for it, and where attribution\n"
    "finds the connection a webhook belongs to (a connection_config or metadata key, or\n"
    "the connection id in the webhook URL's ?nangoConnectionId=: the connection then needs\n"
    "its own secret, 'hookline connection update --secret', see docs/providers.md). Every\n"
    "key is listed, aliases too (alias_of names the row an alias maps onto); the last lines\n"
    "count the providers and keys and say which of the keys Nango routes webhooks for are\n"
    "covered.\n"
    "\n"
    "With --json, each key also says \"nango\": whether Nango routes webhooks for that key,\n"
    "and \"connection_secret_for\": the places (\"query nangoConnectionId\", \"header ...\",\n"
    "\"body ...\") that name a connection which then needs its own secret, since what\n"
    "verifies the provider's webhooks does not cover them (empty: none).\n"
    "\n"
    "  --json   print a JSON array (one object per key, no summary)\n"
    "  --help   show this help\n";

/* The options sign and verify share, as help lines. */
#define USAGE_SECRETS                                                                                                  \
    "  --provider P        see 'hookline providers'\n"                                                                 \
    "  --secret S          the secret the provider signs with (its webhook secret, or its\n"                           \
    "                      client secret when that is what the provider uses)\n"                                       \
    "  --client-secret S   the client secret, when both secrets are needed\n"                                          \
    "  --config JSON       the integration's verify_config: generic-hmac's scheme, or\n"                               \
    "                      {\"allow_legacy_signature\": true} (docs/providers.md)\n"

static const char sign_usage[] =
    "Usage: hookline sign --provider P --secret S [--client-secret S] [--config JSON]\n"
    "                     [--now UNIX] [--url URL | --curl URL] [--method M] [--json] < body\n"
    "\n"
    "Reads a webhook body from stdin (at most 10 MiB) and prints the headers that make it\n"
    "valid for provider P, one 'Name: value' per line, or with --curl a ready-to-paste\n"
    "curl command that sends it. Timestamped schemes expire: send it within minutes.\n"
    "\n" USAGE_SECRETS
    "  --now UNIX          the signing time in seconds since the epoch (default: now)\n"
    "  --url URL           the public webhook URL the request is sent to; required for\n"
    "                      providers that sign the URL (e.g. hubspot)\n"
    "  --curl URL          print a curl command that POSTs the body to URL (also signs URL)\n"
    "  --method M          HTTP method (default POST)\n"
    "  --json              print the headers as a JSON object\n"
    "  --help              show this help\n";

static const char verify_usage[] =
    "Usage: hookline verify --provider P [--secret S] [--client-secret S] [--config JSON]\n"
    "                       [--header 'Name: value']... [--method M] [--url URL] [--now UNIX] < body\n"
    "\n"
    "Checks a captured request (its body on stdin, at most 10 MiB, and its headers) the way\n"
    "the ingress does and prints 'valid', or 'invalid: <why>'. When the request is a\n"
    "handshake, the answer the ingress would send is printed on stderr first.\n"
    "\n" USAGE_SECRETS
    "  --header 'N: V'     a request header as received (repeat for each)\n"
    "  --method M          HTTP method (default POST)\n"
    "  --url URL           the public URL the request was sent to (schemes that sign it,\n"
    "                      handshakes and attribution read it)\n"
    "  --now UNIX          the time to judge timestamps against (default: now)\n"
    "  --help              show this help\n"
    "\n"
    "Exit status: 0 valid, 1 anything else.\n";

/* Whether Nango routes webhooks for key name. */
static bool nango_routes(const char *name)
{
    const char *key;
    for (size_t i = 0; (key = provider_nango_key_at(i)) != NULL; i++)
        if (!strcmp(key, name))
            return true;
    return false;
}

/* Where p's webhooks name a connection that then needs its own secret, each place once
 * ("query nangoConnectionId", "header X-Shopify-Shop-Domain"): a new reference, or NULL
 * when out of memory. */
static json_t *connection_secret_for(const struct provider *p)
{
    json_t *list = json_array();
    const char *name, *where;
    char place[256];
    for (size_t i = 0; list && (name = provider_unsigned_locator(p, i, &where)) != NULL; i++) {
        snprintf(place, sizeof place, "%s %s", where, name);
        bool seen = false;
        for (size_t k = 0; k < json_array_size(list); k++)
            seen |= !strcmp(json_string_value(json_array_get(list, k)), place);
        if (!seen && json_array_append_new(list, json_string(place)) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

/* One row of `hookline providers` for key name served by row p (name differs from p's
 * name for an alias): a new reference, or NULL when out of memory. */
static json_t *provider_row(const char *name, const struct provider *p)
{
    char attribution[ATTRIBUTION_TEXT_MAX];
    provider_attribution(p, attribution, sizeof attribution);
    const char *alias_of = strcmp(name, provider_name(p)) ? provider_name(p) : NULL;
    char event_type[256], nango_event_type[256];
    provider_event_type_forms(p, event_type, sizeof event_type, nango_event_type, sizeof nango_event_type);
    /* s? packs NULL as null: rows, providers without a secret, handshakes or attribution. */
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:b, s:o}", "name", name, "alias_of", alias_of,
                     "secret_field", provider_secret_field(p), "attribution", attribution[0] ? attribution : NULL,
                     "handshakes", provider_handshakes(p), "scheme", provider_scheme(p), "event_type", event_type,
                     "nango_event_type", nango_event_type, "nango", nango_routes(name), "connection_secret_for",
                     connection_secret_for(p));
}

/* Appends a row for every provider key, rows first, then aliases. 0, or -1 when out of memory. */
static int append_keys(json_t *rows)
{
    const struct provider *p;
    for (size_t i = 0; (p = provider_at(i)) != NULL; i++)
        if (json_array_append_new(rows, provider_row(provider_name(p), p)) < 0)
            return -1;
    const char *alias, *row;
    for (size_t i = 0; (alias = provider_alias_at(i, &row)) != NULL; i++) {
        p = provider_find(row);
        if (p && json_array_append_new(rows, provider_row(alias, p)) < 0)
            return -1;
    }
    return 0;
}

/* The closing lines of the listing: how many rows and keys, and which of Nango's keys
 * hookline lacks (so a user moving from Nango knows what carries over). */
static void print_summary(size_t nkeys)
{
    size_t nrows = 0, nango = 0, covered = 0;
    while (provider_at(nrows))
        nrows++;
    const char *key;
    for (size_t i = 0; (key = provider_nango_key_at(i)) != NULL; i++) {
        nango++;
        covered += provider_find(key) != NULL;
    }
    printf("%zu providers (%zu keys), Nango keys covered: %zu/%zu\n", nrows, nkeys, covered, nango);
    if (covered == nango)
        return;
    fputs("Nango keys missing:", stdout);
    for (size_t i = 0; (key = provider_nango_key_at(i)) != NULL; i++)
        if (!provider_find(key))
            printf(" %s", key);
    fputc('\n', stdout);
}

int cmd_providers(int argc, char **argv)
{
    int status = CLI_FAIL;
    bool json = false;
    json_t *rows = NULL;

    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, providers_usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;

    rows = json_array();
    if (!rows || append_keys(rows) < 0) {
        cli_error("out of memory");
        goto out;
    }
    if (cli_print(rows, json, "no providers") < 0)
        goto out;
    if (!json)
        print_summary(json_array_size(rows));
    status = CLI_OK;
out:
    json_decref(rows);
    return status;
}

/* ---- sign --------------------------------------------------------------------------- */

/* The whole of stdin, at most BODY_MAX bytes, as a new buffer (caller frees; may be
 * empty, never NULL on success). -1 on error or when too large (printed). */
static int read_body(unsigned char **out, size_t *len)
{
    int rc = -1;
    size_t cap = 64 * 1024, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        cli_error("out of memory");
        goto out;
    }
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "hookline: reading the body from stdin (end with Ctrl-D)\n");
    /* Reads up to BODY_MAX + 1 bytes: one more than allowed tells "too large". */
    for (;;) {
        if (n == cap) {
            if (cap > BODY_MAX)
                break;
            size_t ncap = cap * 2 > (size_t)BODY_MAX + 1 ? (size_t)BODY_MAX + 1 : cap * 2;
            unsigned char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                cli_error("out of memory");
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(stdin)) {
        cli_error("cannot read the body from stdin");
        goto out;
    }
    if (n > BODY_MAX) {
        cli_error("the body on stdin is larger than %d bytes", BODY_MAX);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* provider_sign's strings are the caller's to free, but struct http_header holds them
 * as const char *: the casts only drop that const. */
static void free_headers(struct http_header *h, int n)
{
    for (int i = 0; i < n; i++) {
        free((void *)(uintptr_t)h[i].name);
        free((void *)(uintptr_t)h[i].value);
        h[i].name = h[i].value = NULL;
    }
}

static bool same_headers(const struct http_header *a, int na, const struct http_header *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
            return false;
    return true;
}

/* Points req at url: its path (written into path, pathlen bytes) and query. */
static void set_url(struct webhook_request *req, const char *url, char *path, size_t pathlen)
{
    const char *rest = strstr(url, "://");
    rest = rest ? rest + 3 : url;
    const char *slash = strchr(rest, '/');
    const char *q = strchr(rest, '?');
    if (slash && q && q < slash)
        slash = NULL;
    size_t plen = slash ? (size_t)((q ? q : slash + strlen(slash)) - slash) : 0;
    snprintf(path, pathlen, "%.*s", (int)plen, slash ? slash : "");
    if (!path[0])
        snprintf(path, pathlen, "/");
    req->url = url;
    req->path = path;
    req->query = q ? q + 1 : "";
}

/* Signs req as if it were sent to url (path and query derived from it). */
static int sign_at(const struct provider *p, struct webhook_request req, const char *url,
                   const struct provider_secrets *secrets, struct http_header *out)
{
    char path[2048];
    set_url(&req, url, path, sizeof path);
    return provider_sign(p, &req, secrets, out, SIGN_MAX_HEADERS);
}

/* --secret is whichever secret the provider uses (both fields get it), unless
 * --client-secret names the client secret explicitly. Strings are borrowed. */
static struct provider_secrets secrets_of(const char *secret, const char *client_secret, const char *config)
{
    return (struct provider_secrets){
        .webhook_secret = secret,
        .client_secret = client_secret ? client_secret : secret,
        .verify_config = config,
    };
}

/* No URL was given. Most schemes do not sign it, but some (HubSpot v3) do, and then the
 * headers are only valid for the URL the request is really sent to. provider.h does not
 * say which is which, so find out: sign for two different URLs and, to rule out a
 * scheme that signs differently each time (a random nonce), twice for the same one.
 * Returns the number of headers in out, -1 if the provider cannot sign, -2 if it signs
 * the URL (the caller asks for --url). */
static int sign_without_url(const struct provider *p, const struct webhook_request *req,
                            const struct provider_secrets *secrets, struct http_header *out)
{
    struct http_header b[SIGN_MAX_HEADERS] = {{0}}, again[SIGN_MAX_HEADERS] = {{0}};
    int na = sign_at(p, *req, PROBE_URL_A, secrets, out);
    if (na < 0)
        return -1;
    int nb = sign_at(p, *req, PROBE_URL_B, secrets, b);
    int nagain = sign_at(p, *req, PROBE_URL_A, secrets, again);
    bool deterministic = nagain >= 0 && same_headers(out, na, again, nagain);
    bool url_signed = deterministic && (nb < 0 || !same_headers(out, na, b, nb));
    free_headers(again, nagain);
    free_headers(b, nb);
    if (url_signed) {
        free_headers(out, na);
        return -2;
    }
    return na;
}

/* Writes s single-quoted for a POSIX shell ('\'' for each quote). */
static void put_shell_quoted(const char *s, size_t len)
{
    fputc('\'', stdout);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            fputs("'\\''", stdout);
        else
            fputc(s[i], stdout);
    }
    fputc('\'', stdout);
}

static void print_curl(const char *url, const char *method, const struct http_header *h, int n,
                       const unsigned char *body, size_t body_len)
{
    bool has_type = false;
    /* printf '%s' feeds the exact bytes (a here-document would add a newline). */
    fputs("printf '%s' ", stdout);
    put_shell_quoted((const char *)body, body_len);
    /* The method is letters only (valid_method): no quoting needed. */
    printf(" | curl -sS -X %s ", method);
    put_shell_quoted(url, strlen(url));
    for (int i = 0; i < n; i++) {
        char line[8192];
        snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        fputs(" \\\n  -H ", stdout);
        put_shell_quoted(line, strlen(line));
        if (!strcasecmp(h[i].name, "Content-Type"))
            has_type = true;
    }
    if (!has_type)
        fputs(" \\\n  -H 'Content-Type: application/json'", stdout);
    fputs(" \\\n  --data-binary @-\n", stdout);
}

static bool valid_method(const char *m)
{
    size_t len = strlen(m);
    if (len == 0 || len > METHOD_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z')))
            return false;
    return true;
}

/* ---- what sign and verify share ------------------------------------------------ */

/* Their common options (getopt_long entries). */
#define REQUEST_OPTIONS                                                                                                \
    {"provider", required_argument, NULL, 'p'}, {"secret", required_argument, NULL, 's'},                              \
        {"client-secret", required_argument, NULL, 'c'}, {"config", required_argument, NULL, 'g'},                     \
        {"now", required_argument, NULL, 'n'}, {"url", required_argument, NULL, 'u'},                                  \
        {"method", required_argument, NULL, 'm'},                                                                      \
    {                                                                                                                  \
        "help", no_argument, NULL, 'h'                                                                                 \
    }

/* The values of the common options (borrowed from argv). */
struct request_opts {
    const char *provider, *secret, *client_secret, *config, *url, *method;
    long now;
};

/* Takes option c when it is a common one: 1 taken, 0 not a common option, -1 after
 * a usage error (*status set). */
static int request_opt(int c, struct request_opts *o, const char *prog, int *status)
{
    const char **slot = c == 'p'   ? &o->provider
                        : c == 's' ? &o->secret
                        : c == 'c' ? &o->client_secret
                        : c == 'g' ? &o->config
                        : c == 'u' ? &o->url
                        : c == 'm' ? &o->method
                                   : NULL;
    if (slot) {
        *slot = optarg;
        return 1;
    }
    if (c != 'n')
        return 0;
    if (cli_parse_long(optarg, 0, NOW_MAX, &o->now) == 0)
        return 1;
    *status = cli_usage_error(prog, "--now must be a unix time in seconds");
    return -1;
}

/* Parses argv: the common options into o, the others through extra (which returns
 * CLI_OK when it took the option, else the exit status after printing why). Returns 0
 * to go on, or 1 when the command is over (help shown, bad option) with *status set. */
static int request_parse(int argc, char **argv, const struct option *opts, const char *shortopts, const char *usage,
                         struct request_opts *o, int (*extra)(int c, void *ctx, const char *prog), void *ctx,
                         int *status)
{
    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1;) {
        int taken = request_opt(c, o, argv[0], status);
        if (taken < 0)
            return 1;
        if (taken)
            continue;
        if (c == 'h') {
            *status = cli_help(usage);
            return 1;
        }
        if ((*status = extra(c, ctx, argv[0])) != CLI_OK)
            return 1;
    }
    return 0;
}

/* After the options: the provider, with the URL and method checked. NULL after
 * printing why (*status set). */
static const struct provider *request_check(const struct request_opts *o, int argc, char **argv, int *status)
{
    *status = CLI_FAIL;
    if (optind < argc) {
        *status = cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        return NULL;
    }
    if (!o->provider) {
        *status = cli_usage_error(argv[0], "--provider is required");
        return NULL;
    }
    const struct provider *p = provider_find(o->provider);
    if (!p)
        cli_error("unknown provider '%s' (see 'hookline providers')", o->provider);
    else if (o->url && !outbound_url_valid(o->url))
        cli_error("'%s' is not an http:// or https:// URL", o->url);
    else if (!valid_method(o->method))
        cli_error("--method '%s' is not an HTTP method", o->method);
    else
        return p;
    return NULL;
}

/* sign's own options. */
struct sign_extra {
    const char *curl;
    bool json;
};

static int sign_option(int c, void *ctx, const char *prog)
{
    struct sign_extra *x = ctx;
    if (c == 'C')
        x->curl = optarg;
    else if (c == 'j')
        x->json = true;
    else
        return cli_usage_hint(prog);
    return CLI_OK;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        REQUEST_OPTIONS,
        {"curl", required_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    struct request_opts o = {.method = "POST", .now = (long)time(NULL)};
    unsigned char *body = NULL;
    size_t body_len = 0;
    struct http_header headers[SIGN_MAX_HEADERS] = {{0}};
    int nheaders = 0;
    json_t *out = NULL;

    struct sign_extra x = {NULL, false};
    if (request_parse(argc, argv, opts, "h", sign_usage, &o, sign_option, &x, &status))
        return status;
    const char *curl = x.curl;
    bool json = x.json;
    if (curl && o.url && strcmp(curl, o.url))
        return cli_usage_error(argv[0], "--url and --curl name different URLs (--curl URL alone is enough)");
    if (curl && json)
        return cli_usage_error(argv[0], "--curl and --json cannot be combined");
    if (curl)
        o.url = curl;
    const struct provider *p = request_check(&o, argc, argv, &status);
    if (!p)
        return status;
    const char *url = o.url, *method = o.method;
    long now = o.now;

    const char *field = provider_secret_field(p);
    struct provider_secrets secrets = secrets_of(o.secret, o.client_secret, o.config);
    if (!field) {
        cli_error("provider '%s' does not sign its webhooks: there is nothing to sign", provider_name(p));
        return CLI_FAIL;
    }
    const char *needed = !strcmp(field, "client_secret") ? secrets.client_secret : secrets.webhook_secret;
    if (!needed || !*needed)
        return cli_usage_error(argv[0], "provider '%s' signs with its %s: pass it with --secret", provider_name(p),
                               field);

    if (read_body(&body, &body_len) < 0)
        goto out;
    if (curl && memchr(body, '\0', body_len)) {
        cli_error("the body contains NUL bytes, which cannot go on a shell command line");
        goto out;
    }

    const struct http_header content_type = {"Content-Type", "application/json"};
    struct webhook_request req = {
        .method = method,
        .headers = &content_type,
        .nheaders = 1,
        .body = body,
        .body_len = body_len,
        .now = (time_t)now,
    };
    nheaders = url ? sign_at(p, req, url, &secrets, headers) : sign_without_url(p, &req, &secrets, headers);
    if (nheaders == -2) {
        nheaders = 0;
        cli_error(
            "provider '%s' signs the request URL: pass the URL the webhook is sent to with --url "
            "or --curl",
            provider_name(p));
        goto out;
    }
    if (nheaders < 0) {
        nheaders = 0;
        cli_error("provider '%s' cannot sign this request%s", provider_name(p),
                  o.config ? " (is --config a valid verify_config?)" : "");
        goto out;
    }

    if (curl) {
        print_curl(curl, method, headers, nheaders, body, body_len);
    } else if (json) {
        out = json_object();
        for (int i = 0; out && i < nheaders; i++)
            if (json_object_set_new(out, headers[i].name, json_string(headers[i].value)) < 0) {
                json_decref(out);
                out = NULL;
            }
        if (!out) {
            cli_error("out of memory");
            goto out;
        }
        if (cli_print(out, true, "") < 0)
            goto out;
    } else {
        for (int i = 0; i < nheaders; i++)
            printf("%s: %s\n", headers[i].name, headers[i].value);
    }
    status = CLI_OK;
out:
    json_decref(out);
    free_headers(headers, nheaders);
    free(body);
    return status;
}

/* ---- verify ------------------------------------------------------------------------ */

/* Adds "Name: value" to h (both borrowed from arg, which is split in place). */
static int add_header(char *arg, struct http_header *h, size_t *n)
{
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg || *n == VERIFY_MAX_HEADERS)
        return -1;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    h[(*n)++] = (struct http_header){arg, value};
    return 0;
}

/* Prints the handshake answer the ingress would send for req, if it is one. */
static void show_handshake(const struct provider *p, const struct webhook_request *req,
                           const struct provider_secrets *secrets)
{
    struct handshake_answer a = {0};
    int rc = provider_handshake(p, req, secrets, &a);
    if (rc < 0)
        cli_error("out of memory");
    if (rc <= 0)
        return;
    fprintf(stderr, "handshake: answered %u%s%s%s%.*s%s\n", a.status, a.content_type[0] ? " " : "", a.content_type,
            a.body_len ? " " : "", (int)a.body_len, a.body ? a.body : "", a.store ? " (and stored for the app)" : "");
    free(a.body);
}

/* verify's own options: the request headers. */
struct verify_extra {
    struct http_header headers[VERIFY_MAX_HEADERS];
    size_t n;
};

static int verify_option(int c, void *ctx, const char *prog)
{
    struct verify_extra *x = ctx;
    if (c != 'H')
        return cli_usage_hint(prog);
    if (add_header(optarg, x->headers, &x->n) < 0)
        return cli_usage_error(prog, "--header wants 'Name: value' (at most %d of them)", VERIFY_MAX_HEADERS);
    return CLI_OK;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        REQUEST_OPTIONS,
        {"header", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int status = CLI_FAIL;
    struct request_opts o = {.method = "POST", .now = (long)time(NULL)};

    struct verify_extra x = {.n = 0};
    if (request_parse(argc, argv, opts, "hH:", verify_usage, &o, verify_option, &x, &status))
        return status;
    const struct provider *p = request_check(&o, argc, argv, &status);
    if (!p)
        return status;

    unsigned char *body = NULL;
    size_t body_len = 0;
    if (read_body(&body, &body_len) < 0)
        return CLI_FAIL;
    char path[2048] = "/";
    struct webhook_request req = {.method = o.method,
                                  .url = "",
                                  .path = path,
                                  .query = "",
                                  .headers = x.headers,
                                  .nheaders = x.n,
                                  .body = body,
                                  .body_len = body_len,
                                  .now = (time_t)o.now};
    if (o.url)
        set_url(&req, o.url, path, sizeof path);
    struct provider_secrets secrets = secrets_of(o.secret, o.client_secret, o.config);

    show_handshake(p, &req, &secrets);
    char why[256];
    enum verify_result v = provider_verify(p, &req, &secrets, why, sizeof why);
    if (v == VERIFY_VALID)
        printf("valid\n");
    else
        printf("invalid: %s\n", why[0] ? why : "not verified");
    free(body);
    return v == VERIFY_VALID ? CLI_OK : CLI_FAIL;
}
