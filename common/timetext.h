/* timetext: a moment written by a person (a command line, an API body) into unix
 * milliseconds, so that `hookline replay`, `hookline rewind` and the API's replays
 * accept the same forms. */
#ifndef HOOKLINE_TIMETEXT_H
#define HOOKLINE_TIMETEXT_H

#include <stdint.h>

/* "now", RFC 3339 with an offset or Z (2026-12-03T14:00:00Z, 2026-12-03T16:00:00.5+02:00),
 * or relative to now_ms (-2h, -30m, -90s, -1d, +1h), into unix milliseconds. 0 or -1. */
int timetext_parse_ms(const char *s, int64_t now_ms, int64_t *out) __attribute__((warn_unused_result));

#endif
