/*
 * log: levelled, printf-checked logging, one line per event.
 *
 * Every line carries a level and, where the caller has one, the webhook id it
 * concerns. Format is text (default) or JSON (HOOKLINE_LOG_FORMAT=json). Lines go to
 * stderr in one write() so concurrent threads never interleave within a line.
 * Never pass a secret to these functions: mask it first with log_mask().
 */
#ifndef HOOKLINE_LOG_H
#define HOOKLINE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Configure once at startup, before threads start. name: the daemon's name (borrowed,
 * must outlive the process). level/format strings as in HOOKLINE_LOG_LEVEL/FORMAT;
 * unknown values keep the defaults (info, text). */
void log_init(const char *name, const char *level, const char *format);

/* wid: webhook id or NULL. Thread-safe. */
void log_msg(enum log_level lvl, const char *wid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(wid, ...) log_msg(LOG_DEBUG, (wid), __VA_ARGS__)
#define log_info(wid, ...)  log_msg(LOG_INFO, (wid), __VA_ARGS__)
#define log_warn(wid, ...)  log_msg(LOG_WARN, (wid), __VA_ARGS__)
#define log_error(wid, ...) log_msg(LOG_ERROR, (wid), __VA_ARGS__)

/* Writes a masked form of secret into out ("ab…(32)"): at most the first 2 chars and
 * the length. Returns out. */
const char *log_mask(const char *secret, char *out, size_t outlen);

#endif
