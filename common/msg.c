/* msg: see msg.h. */
#include "common/msg.h"

#include <string.h>

const char *msg_header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t buflen)
{
    const void *val;
    size_t len;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (!val)
        len = 0;
    if (len >= buflen)
        return NULL;
    if (len)
        memcpy(buf, val, len);
    buf[len] = '\0';
    return buf;
}
