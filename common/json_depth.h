/*
 * json_depth: the one JSON nesting limit of hookline. The ingress refuses (400) a JSON
 * body nested deeper than this, and the router's parser (providers/util.c) checks the
 * same limit before parsing, so a body the ingress answered 200 is never one the router
 * cannot parse for its depth. jansson has no depth option (it stops at a compile-time
 * 2048), hence a bounded pre-scan; the limit is far below jansson's and far above any
 * webhook a provider sends.
 *
 * Threads: pure and thread-safe.
 */
#ifndef HOOKLINE_JSON_DEPTH_H
#define HOOKLINE_JSON_DEPTH_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_NESTING_MAX 256        /* arrays and objects inside each other, the outermost counting 1 */
#define JSON_NESTING_MAX_TEXT "256" /* the same, for messages built at compile time */

/* True when the len bytes at s (not NUL-terminated, may be NULL when len is 0) start,
 * after whitespace, with '{' or '[': a body that is meant to be JSON. */
bool json_depth_looks_json(const void *s, size_t len);

/* True when no array or object in the len bytes at s is nested deeper than max, reading
 * strings as strings (brackets inside them do not count). One pass that stops at the
 * first byte over the limit; it does not check that the bytes are valid JSON. */
bool json_depth_within(const void *s, size_t len, size_t max);

#endif
