/* job: what a run sends its runner and its app (see syncer.h). Pure: no I/O, no
 * globals, so the bodies are unit-tested byte for byte.
 *
 * The payload is encoded by the forwarder's envelope code itself (its encoding is a
 * contract with the apps): envelope_wrap appends it to the job's own fields. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "syncer/syncer.h"

char *job_build(const struct job_fields *f, size_t *len)
{
    json_t *head = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "type", "sync.webhook", "runId",
                             f->run_id, "syncName", f->sync_name, "connectionId", f->connection_id, "providerConfigKey",
                             f->integration, "provider", f->provider, "subscription", f->subscription, "webhookId",
                             f->webhook_id, "attempt", (json_int_t)f->attempt);
    char *h = head ? json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    char *out = h ? envelope_wrap(h, strlen(h) - 1 /* without its '}' */, f->payload, f->payload_len, len) : NULL;
    free(h);
    json_decref(head);
    return out;
}

/* result[key] when it is a non-negative integer, else 0. */
static json_int_t count_of(json_t *result, const char *key)
{
    json_t *v = json_object_get(result, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : 0;
}

char *job_notification(const char *sync_name, const char *connection_id, const char *integration,
                       const char *started_iso, const char *result_json, size_t *len)
{
    json_t *result = result_json ? json_loads(result_json, 0, NULL) : NULL;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:{s:I, s:I, s:I}}", "from", "hookline", "type",
                             "sync", "syncType", "WEBHOOK", "syncName", sync_name, "connectionId", connection_id,
                             "providerConfigKey", integration, "success", 1, "modifiedAfter", started_iso,
                             "responseResults", "added", count_of(result, "added"), "updated",
                             count_of(result, "updated"), "deleted", count_of(result, "deleted"));
    char *out = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (out)
        *len = strlen(out);
    json_decref(body);
    json_decref(result);
    return out;
}
