/* json_scan: reads one scalar out of a JSON document without building it, for the
 * ingress's ordering key (a full parse of every webhook cost more than the rest of the
 * ingress's work on it). It looks only at the keys along one path and skips every other
 * value token by token, bounded by the document's length and JSON_SCAN_MAX_DEPTH.
 *
 * It is not a validator: a malformed document may yield a value (the caller only picks a
 * Kafka partition with it; the router parses the whole body and judges it). Whenever its
 * answer could differ from jansson's on a valid document (an escaped string, a number
 * that is not a plain integer, an array index in the path), it says so with
 * JSON_SCAN_UNSURE and the caller parses the document fully instead. */
#ifndef HOOKLINE_JSON_SCAN_H
#define HOOKLINE_JSON_SCAN_H

#include <stddef.h>

#define JSON_SCAN_MAX_DEPTH 64

enum json_scan_result {
    JSON_SCAN_STRING,  /* val, vlen: a string's bytes (unquoted; it had no escapes) */
    JSON_SCAN_INTEGER, /* val, vlen: an integer's text, as jansson would print it */
    JSON_SCAN_ABSENT,  /* the path names nothing, or something that is neither a string nor an integer */
    JSON_SCAN_UNSURE,  /* ask a real parser */
};

/* path: keys separated by '.' (as provider_json_path takes them). On JSON_SCAN_STRING or JSON_SCAN_INTEGER,
 * *val points into doc (borrowed, valid as long as doc) and is *vlen bytes long. */
enum json_scan_result json_scan_path(const char *doc, size_t len, const char *path, const char **val, size_t *vlen);

#endif
