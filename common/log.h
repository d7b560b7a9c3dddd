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
void log_msg(enum log_level lvl, const char *wid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* log_msg with errno's text appended (": No such file or directory"), errno as it was
 * when called (read before anything else runs). */
void log_msg_errno(enum log_level lvl, const char *wid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True if a line at lvl would be written: the macros check it before evaluating their
 * arguments, so a debug line costs nothing at info level. */
int log_enabled(enum log_level lvl);

#define LOG_AT_(lvl, fn, wid, ...)                                                                                     \
    do {                                                                                                               \
        if (log_enabled(lvl))                                                                                          \
            fn((lvl), (wid), __VA_ARGS__);                                                                             \
    } while (0)

#define log_debug(wid, ...) LOG_AT_(LOG_DEBUG, log_msg, wid, __VA_ARGS__)
#define log_info(wid, ...) LOG_AT_(LOG_INFO, log_msg, wid, __VA_ARGS__)
#define log_warn(wid, ...) LOG_AT_(LOG_WARN, log_msg, wid, __VA_ARGS__)
#define log_error(wid, ...) LOG_AT_(LOG_ERROR, log_msg, wid, __VA_ARGS__)
/* The same with errno's reason appended (OpenBSD's log_warn vs log_warnx). */
#define log_warn_errno(wid, ...) LOG_AT_(LOG_WARN, log_msg_errno, wid, __VA_ARGS__)
#define log_error_errno(wid, ...) LOG_AT_(LOG_ERROR, log_msg_errno, wid, __VA_ARGS__)

/* Writes a masked form of secret into out ("ab…(32)"): at most the first 2 chars and
 * the length. Returns out. */
const char *log_mask(const char *secret, char *out, size_t outlen);

#endif
