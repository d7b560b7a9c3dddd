/* verify_config: an integration's verification settings as the API takes them. The
 * same rules as `hookline integration create|update --verify-config`: a JSON object the
 * provider understands (provider_check_verify_config), small enough for the ingress's
 * cache; refused with the provider's reason before anything is stored, since the
 * daemons would refuse every webhook of an integration with a config they cannot use. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "providers/provider.h"

#define VERIFY_CONFIG_MAX_LEN 1024 /* the ingress keeps the text of the jsonb in 2 KiB */

int api_verify_config(json_t *body, const struct provider *p, bool creating, struct api_response *rs, char **text,
                      bool *present)
{
    *text = NULL;
    if (!p) { /* stored by a build that knew a provider this one does not */
        api_problem(rs, 409, "Conflict", "the integration's provider is not known to this hookline");
        return -1;
    }
    json_t *v = json_object_get(body, "verify_config");
    *present = v != NULL;
    if (v && !json_is_null(v) && !json_is_object(v)) {
        api_problem(rs, 400, "Bad Request", "verify_config must be a JSON object or null");
        return -1;
    }
    if (v && json_is_object(v)) {
        *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!*text) {
            api_problem(rs, 500, "Internal Server Error", "out of memory");
            return -1;
        }
        if (strlen(*text) > VERIFY_CONFIG_MAX_LEN) {
            api_problem(rs, 400, "Bad Request", "verify_config is larger than %d bytes", VERIFY_CONFIG_MAX_LEN);
            goto refused;
        }
    }
    /* Absent keeps what is stored: nothing to check then, but a new integration's
     * provider may need a config (generic-hmac), so there absent is checked as none. */
    if (*present || creating) {
        char why[256] = "";
        if (provider_check_verify_config(p, *text, why, sizeof why) < 0) {
            api_problem(rs, 400, "Bad Request", "verify_config: %s", why[0] ? why : "not valid for this provider");
            goto refused;
        }
    }
    return 0;
refused:
    free(*text);
    *text = NULL;
    return -1;
}
