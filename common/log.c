/* log: see log.h. Text: "2026-01-02T03:04:05.678Z INFO router [wid] message".
 * JSON: {"ts":...,"level":...,"daemon":...,"webhook_id":...,"msg":...}. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_name = "hookline";
static enum log_level log_min = LOG_INFO;
static int log_json;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(const char *name, const char *level, const char *format)
{
    if (name)
        log_name = name;
    for (int i = 0; level && i < 4; i++)
        if (strcasecmp(level, level_names[i]) == 0 || (i == LOG_WARN && strcasecmp(level, "warning") == 0))
            log_min = (enum log_level)i;
    log_json = format && strcasecmp(format, "json") == 0;
}

/* Appends s to buf as JSON string content (no quotes), truncating at cap. */
static size_t json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

int log_enabled(enum log_level lvl)
{
    return lvl >= log_min;
}

static void log_write(enum log_level lvl, const char *wid, char *msg);

void log_msg(enum log_level lvl, const char *wid, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_write(lvl, wid, msg);
}

void log_msg_errno(enum log_level lvl, const char *wid, const char *fmt, ...)
{
    int saved = errno;
    if (lvl < log_min)
        return;
    char msg[2048], reason[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *why = strerror_r(saved, reason, sizeof reason); /* GNU: may return a static string */
    if (n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", why);
    log_write(lvl, wid, msg);
}

/* Writes one event; msg (NUL-terminated) is folded onto one line in place. */
static void log_write(enum log_level lvl, const char *wid, char *msg)
{
    /* One event, one line: fold any newline an argument carried. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);

    char line[4096];
    size_t len;
    if (log_json) {
        len = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"daemon\":\"%s\"", when,
                               level_names[lvl], log_name);
        if (wid) {
            len += (size_t)snprintf(line + len, sizeof line - len, ",\"webhook_id\":\"");
            len = json_escape(line, len, sizeof line, wid);
            line[len++] = '"';
        }
        len += (size_t)snprintf(line + len, sizeof line - len, ",\"msg\":\"");
        len = json_escape(line, len, sizeof line - 3, msg);
        memcpy(line + len, "\"}\n", 3);
        len += 3;
    } else {
        int n = snprintf(line, sizeof line - 1, "%s %-5s %s%s%s%s %s", when, level_names[lvl], log_name,
                         wid ? " [" : "", wid ? wid : "", wid ? "]" : "", msg);
        len = n < 0 ? 0 : (size_t)n >= sizeof line - 1 ? sizeof line - 2 : (size_t)n;
        line[len++] = '\n';
    }
    ssize_t r = write(STDERR_FILENO, line, len);
    (void)r;
}

const char *log_mask(const char *secret, char *out, size_t outlen)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0)
        snprintf(out, outlen, "(none)");
    else if (n < 12)
        snprintf(out, outlen, "***(%zu)", n);
    else
        snprintf(out, outlen, "%.2s***(%zu)", secret, n);
    return out;
}
