/*
 * cli_util: the CLI's messages, argument checks and output (see cli.h).
 *
 * Output is built as jansson values first and printed last, so every command has
 * one text form and one JSON form from the same data. Text tables measure columns in
 * UTF-8 code points and never let a value's control characters reach the terminal.
 */
#include "cli/cli.h"
#include "common/outbound.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ids.h"
#include "common/secretbox.h"

/* ---- messages ------------------------------------------------------------------ */

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hookline: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hookline: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_hint(const char *cmd)
{
    fprintf(stderr, "Try '%s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return cli_usage_hint(cmd);
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return CLI_OK;
}

void cli_getopt_reset(void)
{
    /* glibc: 0 (not 1) also resets its internal state, needed between argvs. */
    optind = 0;
    opterr = 1;
}

#define CLI_OPTS_MAX 16
#define OPT_HELP 'h'
#define OPT_BASE 256 /* getopt values of table entries: OPT_BASE + index, never a character */

/* Checks (and for booleans and "none" normalises) the value of a given option.
 * -1 when it is fine, else the exit status (printed). */
static int check_value(const char *cmd, const struct cli_opt *o)
{
    const char **value = o->target;
    bool b;
    switch (o->kind) {
    case CLI_OPT_ENV_ID:
        return cli_check_env_id(*value) < 0 ? CLI_FAIL : -1;
    case CLI_OPT_BOOL:
        if (cli_parse_bool(*value, &b) < 0)
            return cli_usage_error(cmd, "--%s takes true or false, not '%s'", o->name, *value);
        *value = b ? "true" : "false";
        return -1;
    case CLI_OPT_URL_OR_NONE:
        if (!**value || !strcasecmp(*value, "none")) {
            *value = "";
            return -1;
        }
        /* fall through */
    case CLI_OPT_URL:
        if (outbound_url_valid(*value))
            return -1;
        cli_error("--%s '%s' is not an http:// or https:// URL%s", o->name, *value,
                  o->kind == CLI_OPT_URL_OR_NONE ? " (or none)" : "");
        return CLI_FAIL;
    case CLI_OPT_STRING:
    case CLI_OPT_FLAG:
    default:
        return -1;
    }
}

int cli_parse_options(int argc, char **argv, const char *usage, const struct cli_opt *opts, size_t n)
{
    size_t none = 0;
    return cli_parse_options_args(argc, argv, usage, opts, n, NULL, &none);
}

int cli_parse_options_args(int argc, char **argv, const char *usage, const struct cli_opt *opts, size_t n,
                           const char **args, size_t *nargs)
{
    size_t cap = *nargs;
    *nargs = 0;
    struct option longopts[CLI_OPTS_MAX + 2];
    if (n > CLI_OPTS_MAX) {
        cli_error("internal error: %s has more than %d options", argv[0], CLI_OPTS_MAX);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        longopts[i] = (struct option){opts[i].name, opts[i].kind == CLI_OPT_FLAG ? no_argument : required_argument,
                                      NULL, OPT_BASE + (int)i};
    longopts[n] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[n + 1] = (struct option){NULL, 0, NULL, 0};

    cli_getopt_reset();
    for (int c; (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
        if (c == OPT_HELP)
            return cli_help(usage);
        if (c < OPT_BASE || c >= OPT_BASE + (int)n)
            return cli_usage_hint(argv[0]);
        const struct cli_opt *o = &opts[c - OPT_BASE];
        if (o->kind == CLI_OPT_FLAG)
            *(bool *)o->target = true;
        else
            *(const char **)o->target = optarg;
    }
    /* glibc's getopt moved the operands behind the options: argv[optind..argc). */
    for (; optind < argc; optind++) {
        if (*nargs == cap)
            return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        args[(*nargs)++] = argv[optind];
    }
    for (size_t i = 0; i < n; i++) {
        bool given = opts[i].kind == CLI_OPT_FLAG ? *(bool *)opts[i].target : *(const char **)opts[i].target != NULL;
        if (opts[i].required && !given)
            return cli_usage_error(argv[0], "--%s is required", opts[i].name);
        int status = given ? check_value(argv[0], &opts[i]) : -1;
        if (status >= 0)
            return status;
    }
    return -1;
}

/* ---- argument checks -------------------------------------------------------------- */

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || isspace((unsigned char)*s) || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

int cli_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *out = !strcasecmp(s, yes[i]);
            return 0;
        }
    }
    return -1;
}

int cli_check_env_id(const char *env)
{
    if (id_is_uuid(env))
        return 0;
    cli_error("--env '%s' is not an environment id (a UUID, see 'hookline env list')", env);
    return -1;
}

int cli_check_json_object(const char *opt, const char *text, size_t max)
{
    if (strlen(text) > max) {
        cli_error("%s is larger than %zu bytes", opt, max);
        return -1;
    }
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        cli_error("%s is not valid JSON: %s (line %d, column %d)", opt, jerr.text, jerr.line, jerr.column);
        return -1;
    }
    bool object = json_is_object(v);
    json_decref(v);
    if (!object) {
        cli_error("%s must be a JSON object ({...})", opt);
        return -1;
    }
    return 0;
}

int cli_reseal(const char *stored, const char *from, const char *to, const char *row, char **out)
{
    *out = NULL;
    if (!stored || !*stored)
        return 0;
    char *plain;
    if (cli_unseal(stored, from, row, &plain) < 0)
        return -1;
    *out = cli_seal(plain, to, row);
    secretbox_free_str(plain);
    return *out ? 0 : -1;
}

/* ---- output ----------------------------------------------------------------------- */

/* The text form of one value: a new string (caller frees), NULL on allocation failure. */
static char *cell_text(const json_t *v)
{
    char *s = NULL;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        s = strdup(json_string_value(v));
        break;
    case JSON_NULL:
        s = strdup("-");
        break;
    case JSON_TRUE:
        s = strdup("yes");
        break;
    case JSON_FALSE:
        s = strdup("no");
        break;
    case JSON_INTEGER:
        if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            s = NULL;
        break;
    case JSON_REAL:
        if (asprintf(&s, "%.15g", json_real_value(v)) < 0) /* 12.3, not 12.300000000000001 */
            s = NULL;
        break;
    case JSON_OBJECT:
    case JSON_ARRAY:
    default:
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    }
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

/* Display width of UTF-8 text, in code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void print_padded(const char *s, size_t width, bool last)
{
    fputs(s, stdout);
    if (last)
        return;
    for (size_t w = text_width(s); w < width + 2; w++)
        fputc(' ', stdout);
}

static void print_header(const char *key, size_t width, bool last)
{
    char buf[64];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)toupper((unsigned char)key[i]);
    buf[i] = '\0';
    print_padded(buf, width, last);
}

static int print_table(json_t *rows, const char *empty)
{
    int rc = -1;
    size_t nrows = json_array_size(rows);
    json_t *first = json_array_get(rows, 0);
    size_t ncols = json_object_size(first);
    const char **keys = NULL;
    size_t *widths = NULL;
    char **cells = NULL;

    if (nrows == 0 || ncols == 0) {
        puts(empty);
        return 0;
    }
    keys = calloc(ncols, sizeof *keys);
    widths = calloc(ncols, sizeof *widths);
    cells = calloc(nrows * ncols, sizeof *cells);
    if (!keys || !widths || !cells)
        goto out;

    size_t c = 0;
    const char *key;
    json_t *val;
    json_object_foreach(first, key, val)
    {
        (void)val;
        keys[c] = key;
        widths[c] = text_width(key);
        c++;
    }
    for (size_t r = 0; r < nrows; r++) {
        const json_t *row = json_array_get(rows, r);
        for (c = 0; c < ncols; c++) {
            char *cell = cell_text(json_object_get(row, keys[c]));
            if (!cell)
                goto out;
            cells[r * ncols + c] = cell;
            size_t w = text_width(cell);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (c = 0; c < ncols; c++)
        print_header(keys[c], widths[c], c + 1 == ncols);
    fputc('\n', stdout);
    for (size_t r = 0; r < nrows; r++) {
        for (c = 0; c < ncols; c++)
            print_padded(cells[r * ncols + c], widths[c], c + 1 == ncols);
        fputc('\n', stdout);
    }
    rc = 0;
out:
    for (size_t i = 0; cells && i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
    free(widths);
    free(keys);
    if (rc < 0)
        cli_error("out of memory");
    return rc;
}

static int print_record(json_t *obj)
{
    size_t width = 0;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        (void)val;
        if (strlen(key) > width)
            width = strlen(key);
    }
    json_object_foreach(obj, key, val)
    {
        char *cell = cell_text(val);
        if (!cell) {
            cli_error("out of memory");
            return -1;
        }
        printf("%s:%*s %s\n", key, (int)(width - strlen(key)), "", cell);
        free(cell);
    }
    return 0;
}

int cli_print(json_t *v, bool json, const char *empty)
{
    if (json) {
        if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0) {
            cli_error("cannot write JSON output");
            return -1;
        }
        fputc('\n', stdout);
        return 0;
    }
    if (json_is_array(v))
        return print_table(v, empty);
    if (json_is_object(v))
        return print_record(v);
    char *cell = cell_text(v);
    if (!cell) {
        cli_error("out of memory");
        return -1;
    }
    puts(cell);
    free(cell);
    return 0;
}

int cli_print_row(const PGresult *res, bool json)
{
    json_t *out = cli_db_row(res, 0);
    int rc = out ? cli_print(out, json, "") : -1;
    if (!out)
        cli_error("out of memory");
    json_decref(out);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
