/* msg: see msg.h. */
#include "common/msg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/quarantine.h"

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

bool msg_token(const char *s, size_t n)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";
    if (!s || n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (!c || !strchr(specials, c)))
            return false;
    }
    return true;
}

size_t msg_http_headers(rd_kafka_headers_t *hdrs, struct msg_http_header *out, size_t cap,
                        bool (*keep)(const char *name))
{
    const char *name;
    const void *val;
    size_t size, n = 0, plen = strlen(MSG_H_HTTP_PREFIX);
    for (size_t i = 0; hdrs && n < cap && !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        if (strncmp(name, MSG_H_HTTP_PREFIX, plen) != 0)
            continue;
        const char *nm0 = name + plen + strspn(name + plen, " \t");
        size_t nlen = strlen(nm0);
        while (nlen && (nm0[nlen - 1] == ' ' || nm0[nlen - 1] == '\t'))
            nlen--;
        if (!msg_token(nm0, nlen))
            continue; /* never a name that could bend the request line or framing */
        if (!val)
            size = 0;
        if (memchr(val ? val : "", '\r', size) || memchr(val ? val : "", '\n', size) || memchr(val ? val : "", 0, size))
            continue; /* never let a stored value split a header line */
        char *nm = strndup(nm0, nlen), *v = strndup(val ? val : "", size);
        if (!nm || !v || (keep && !keep(nm))) {
            free(nm);
            free(v);
            continue;
        }
        out[n++] = (struct msg_http_header){nm, v};
    }
    return n;
}

void msg_http_headers_free(struct msg_http_header *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
}

/* ---- generic helpers ------------------------------------------------------------------ */

/* Adds name = value (NULL value: nothing). */
static void put(rd_kafka_headers_t *h, const char *name, const char *value)
{
    if (value)
        rd_kafka_header_add(h, name, -1, value, -1);
}

/* Replaces every name with value (NULL: only removed). */
static void set(rd_kafka_headers_t *h, const char *name, const char *value)
{
    rd_kafka_header_remove(h, name);
    put(h, name, value);
}

static void put_ll(rd_kafka_headers_t *h, const char *name, long long v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", v);
    set(h, name, num);
}

char *msg_routed_key(const char *env, const char *integration, const char *connection)
{
    char *key = NULL;
    if (asprintf(&key, "%s/%s/%s", env, integration, connection ? connection : "") < 0)
        return NULL;
    return key;
}

/* What reading one header found. */
enum field { F_ABSENT, F_OK, F_TOO_LONG };

/* The last value of name as a NUL-terminated copy in buf ("" unless F_OK); a value
 * holding a NUL counts as too long (it cannot be copied faithfully). */
static enum field field(rd_kafka_headers_t *h, const char *name, char *buf, size_t buflen)
{
    const void *val;
    size_t len;
    buf[0] = '\0';
    if (!h || rd_kafka_header_get_last(h, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return F_ABSENT;
    if (!val)
        len = 0;
    if (len >= buflen || (len && memchr(val, 0, len)))
        return F_TOO_LONG;
    if (len)
        memcpy(buf, val, len);
    buf[len] = '\0';
    return F_OK;
}

/* The valid traceparent of h in out, else "" (an invalid one is as good as none: the
 * next hop starts a new trace). */
static void trace_field(rd_kafka_headers_t *h, char out[TRACEPARENT_BUF])
{
    struct traceparent tp;
    if (field(h, MSG_H_TRACEPARENT, out, TRACEPARENT_BUF) != F_OK || !traceparent_parse(out, &tp))
        out[0] = '\0';
}

void msg_trace_encode(rd_kafka_headers_t *h, const char *traceparent)
{
    set(h, MSG_H_TRACEPARENT, traceparent && traceparent[0] ? traceparent : NULL);
}

/* ---- webhooks.raw ---------------------------------------------------------------------- */

rd_kafka_headers_t *msg_raw_encode(const struct msg_raw_meta *m, size_t nhttp)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16 + nhttp);
    char received[24];
    snprintf(received, sizeof received, "%lld", m->received_at_ms);
    put(h, MSG_H_WEBHOOK_ID, m->webhook_id);
    put(h, MSG_H_RECEIVED_AT, received);
    put(h, MSG_H_ENVIRONMENT, m->env);
    put(h, MSG_H_INTEGRATION, m->integration);
    put(h, MSG_H_PROVIDER, m->provider);
    put(h, MSG_H_VERIFIED, m->verified ? "verified" : "unverified");
    put(h, MSG_H_METHOD, m->method);
    put(h, MSG_H_PATH, m->path);
    put(h, MSG_H_QUERY, m->query);
    put(h, MSG_H_URL, m->url);
    put(h, MSG_H_TRACEPARENT, m->traceparent);
    return h;
}

void msg_raw_add_http(rd_kafka_headers_t *h, const char *name, const char *value)
{
    char full[256];
    int n = snprintf(full, sizeof full, "%s%s", MSG_H_HTTP_PREFIX, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return;
    for (char *p = full; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    rd_kafka_header_add(h, full, -1, value, -1);
}

const char *msg_raw_decode(struct msg_raw *m, rd_kafka_headers_t *h)
{
    memset(m, 0, sizeof *m);
    msg_header(h, MSG_H_WEBHOOK_ID, m->webhook_id, sizeof m->webhook_id);
    msg_header(h, MSG_H_ENVIRONMENT, m->env, sizeof m->env);
    msg_header(h, MSG_H_INTEGRATION, m->integration, sizeof m->integration);
    msg_header(h, MSG_H_PROVIDER, m->provider, sizeof m->provider);
    msg_header(h, MSG_H_METHOD, m->method, sizeof m->method);
    msg_header(h, MSG_H_PATH, m->path, sizeof m->path);
    msg_header(h, MSG_H_QUERY, m->query, sizeof m->query);
    msg_header(h, MSG_H_URL, m->url, sizeof m->url);
    trace_field(h, m->traceparent);
    m->nheaders = msg_http_headers(h, m->headers, MSG_RAW_MAX_HEADERS, NULL);
    char verdict[16], received[24];
    m->verified = field(h, MSG_H_VERIFIED, verdict, sizeof verdict) == F_OK && strcmp(verdict, "verified") == 0;
    if (msg_header(h, MSG_H_RECEIVED_AT, received, sizeof received) && received[0] &&
        received[strspn(received, "0123456789")] == '\0' && strlen(received) <= 18)
        m->received_at_ms = atoll(received);
    /* Each is written by the ingress, so a bad one means a message from elsewhere (or
     * a corrupted one): it can never be routed. */
    if (!m->webhook_id[0] || !m->env[0] || !m->integration[0] || !m->provider[0])
        return "missing or over-long hookline headers (" MSG_H_WEBHOOK_ID ", " MSG_H_ENVIRONMENT ", " MSG_H_INTEGRATION
               ", " MSG_H_PROVIDER ")";
    if (!ident_valid_str(m->webhook_id))
        return "unreadable " MSG_H_WEBHOOK_ID;
    if (!id_is_uuid(m->env))
        return MSG_H_ENVIRONMENT " is not a UUID";
    if (!ident_is_integration_key(m->integration))
        return MSG_H_INTEGRATION " is not an integration key";
    return NULL; /* the provider is the router's to find */
}

void msg_raw_free(struct msg_raw *m)
{
    msg_http_headers_free(m->headers, m->nheaders);
    m->nheaders = 0;
}

/* ---- webhooks.routed and webhooks.notifications ---------------------------------------- */

void msg_routed_encode(rd_kafka_headers_t *h, const char *routed_id, const char *connection, const char *event_type)
{
    put(h, MSG_H_ROUTED_ID, routed_id);
    put(h, MSG_H_CONNECTION, connection);
    put(h, MSG_H_EVENT_TYPE, event_type);
}

static const char *const unattributed_names[MSG_UNATTRIBUTED_REASONS] = {
    [MSG_UNATTRIBUTED_NONE] = "",
    [MSG_UNATTRIBUTED_UNREADABLE_BODY] = "unreadable-body",
    [MSG_UNATTRIBUTED_NESTED_TOO_DEEPLY] = "nested-too-deeply",
    [MSG_UNATTRIBUTED_UNVERIFIED_HANDSHAKE] = "unverified-handshake",
    [MSG_UNATTRIBUTED_CONNECTION_SECRET_MISMATCH] = "connection-secret-mismatch",
    [MSG_UNATTRIBUTED_CONNECTION_SECRET_REQUIRED] = "connection-secret-required",
    [MSG_UNATTRIBUTED_CONNECTION_SECRET_UNREADABLE] = "connection-secret-unreadable",
};

const char *msg_unattributed_reason_name(enum msg_unattributed_reason r)
{
    return r > MSG_UNATTRIBUTED_NONE && r < MSG_UNATTRIBUTED_REASONS ? unattributed_names[r] : "";
}

void msg_routed_set_unattributed_reason(rd_kafka_headers_t *h, enum msg_unattributed_reason r)
{
    set(h, MSG_H_UNATTRIBUTED_REASON, r == MSG_UNATTRIBUTED_NONE ? NULL : msg_unattributed_reason_name(r));
}

/* An unknown name (a newer router's) is NONE: nothing is passed on. */
enum msg_unattributed_reason msg_unattributed_reason_of(const char *name)
{
    for (int r = MSG_UNATTRIBUTED_NONE + 1; r < MSG_UNATTRIBUTED_REASONS; r++)
        if (strcmp(name, unattributed_names[r]) == 0)
            return (enum msg_unattributed_reason)r;
    return MSG_UNATTRIBUTED_NONE;
}

void msg_routed_encode_nango_type(rd_kafka_headers_t *h, const char *nango_event_type)
{
    set(h, MSG_H_NANGO_EVENT_TYPE, nango_event_type && *nango_event_type ? nango_event_type : NULL);
}

void msg_routed_encode_verified(rd_kafka_headers_t *h)
{
    set(h, MSG_H_VERIFIED, "verified");
}

rd_kafka_headers_t *msg_notification_encode(const struct msg_notification *n)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(10);
    char now[24];
    snprintf(now, sizeof now, "%lld", n->produced_at_ms);
    put(h, MSG_H_KIND, n->kind);
    put(h, MSG_H_WEBHOOK_ID, n->id);
    put(h, MSG_H_ROUTED_ID, n->id);
    put(h, MSG_H_ENVIRONMENT, n->env);
    put(h, MSG_H_INTEGRATION, n->integration);
    put(h, MSG_H_CONNECTION, n->connection);
    put(h, MSG_H_PROVIDER, n->provider);
    put(h, MSG_H_HTTP_PREFIX "content-type", "application/json");
    put(h, MSG_H_RECEIVED_AT, now);
    put(h, MSG_H_TRACEPARENT, n->traceparent && n->traceparent[0] ? n->traceparent : NULL);
    return h;
}

/* Reads an identifier field: bad when absent and required, or present and unusable. */
static void routed_ident(struct msg_routed *m, rd_kafka_headers_t *h, unsigned bit, const char *name, char *buf,
                         size_t len, bool (*valid)(const char *))
{
    enum field f = field(h, name, buf, len);
    if (f == F_ABSENT)
        m->absent |= bit;
    if (f == F_TOO_LONG || (f == F_OK && !valid(buf)))
        m->bad |= bit;
}

static bool valid_or_empty(const char *s)
{
    return !s[0] || ident_valid_str(s);
}

const char *msg_routed_decode(struct msg_routed *m, rd_kafka_headers_t *h, bool (*keep)(const char *name))
{
    memset(m, 0, sizeof *m);
    routed_ident(m, h, MSG_F_WEBHOOK_ID, MSG_H_WEBHOOK_ID, m->webhook_id, sizeof m->webhook_id, ident_valid_str);
    if (m->bad & MSG_F_WEBHOOK_ID) /* it names the message in every log line: made printable */
        quarantine_reason_clean(m->webhook_id, sizeof m->webhook_id, m->webhook_id);
    routed_ident(m, h, MSG_F_ROUTED_ID, MSG_H_ROUTED_ID, m->routed_id, sizeof m->routed_id, ident_valid_str);
    routed_ident(m, h, MSG_F_ENVIRONMENT, MSG_H_ENVIRONMENT, m->env, sizeof m->env, id_is_uuid);
    routed_ident(m, h, MSG_F_INTEGRATION, MSG_H_INTEGRATION, m->integration, sizeof m->integration,
                 ident_is_integration_key);
    routed_ident(m, h, MSG_F_PROVIDER, MSG_H_PROVIDER, m->provider, sizeof m->provider, valid_or_empty);
    routed_ident(m, h, MSG_F_CONNECTION, MSG_H_CONNECTION, m->connection, sizeof m->connection, ident_valid_str);
    routed_ident(m, h, MSG_F_EVENT_TYPE, MSG_H_EVENT_TYPE, m->event_type, sizeof m->event_type, ident_valid_str);
    routed_ident(m, h, MSG_F_NANGO_EVENT_TYPE, MSG_H_NANGO_EVENT_TYPE, m->nango_event_type, sizeof m->nango_event_type,
                 ident_valid_str);
    if (m->bad & MSG_F_NANGO_EVENT_TYPE) /* optional: an unusable one is as good as none */
        m->nango_event_type[0] = '\0';
    m->attributed = !(m->absent & MSG_F_CONNECTION);
    /* Required when the stage says so: an absent one is as bad as an unusable one. */
    m->bad |= m->absent & (MSG_F_WEBHOOK_ID | MSG_F_ROUTED_ID | MSG_F_ENVIRONMENT | MSG_F_INTEGRATION);
    char kind[16];
    m->notification = field(h, MSG_H_KIND, kind, sizeof kind) != F_ABSENT;
    field(h, MSG_H_VERIFIED, m->verified, sizeof m->verified);
    char reason[32];
    if (field(h, MSG_H_UNATTRIBUTED_REASON, reason, sizeof reason) == F_OK)
        m->unattributed_reason = msg_unattributed_reason_of(reason);
    field(h, MSG_H_HTTP_PREFIX "content-type", m->content_type, sizeof m->content_type);
    if (field(h, MSG_H_REPLAY_ID, m->replay_id, sizeof m->replay_id) != F_OK || !id_is_uuid(m->replay_id))
        m->replay_id[0] = '\0'; /* a `hookline replay` copy's id, shown to the app when it is one */
    trace_field(h, m->traceparent);
    if (field(h, MSG_H_RECEIVED_AT, m->received_at, sizeof m->received_at) == F_OK &&
        (!m->received_at[0] || m->received_at[strspn(m->received_at, "0123456789")] != '\0'))
        m->received_at[0] = '\0';
    if (keep)
        m->npass = msg_http_headers(h, m->passthrough, MSG_ROUTED_MAX_HEADERS, keep);
    return msg_routed_problem(m, MSG_ROUTED_REQUIRED);
}

const char *msg_routed_problem(const struct msg_routed *m, unsigned fields)
{
    unsigned bad = m->bad & fields, absent = m->absent & fields;
    if (bad & MSG_F_WEBHOOK_ID)
        return absent & MSG_F_WEBHOOK_ID ? "no webhook id (" MSG_H_WEBHOOK_ID ")"
                                         : "unreadable webhook id (" MSG_H_WEBHOOK_ID ")";
    if (bad & MSG_F_ROUTED_ID)
        return absent & MSG_F_ROUTED_ID ? "no routed id (" MSG_H_ROUTED_ID ")"
                                        : "unreadable routed id (" MSG_H_ROUTED_ID ")";
    if (bad & MSG_F_ENVIRONMENT)
        return absent & MSG_F_ENVIRONMENT ? "no environment (" MSG_H_ENVIRONMENT ")"
                                          : "environment is not a UUID (" MSG_H_ENVIRONMENT ")";
    if (bad & MSG_F_INTEGRATION)
        return absent & MSG_F_INTEGRATION ? "no integration (" MSG_H_INTEGRATION ")"
                                          : "unreadable integration key (" MSG_H_INTEGRATION ")";
    if (bad & MSG_F_PROVIDER)
        return "unreadable provider (" MSG_H_PROVIDER ")";
    if (bad & MSG_F_CONNECTION)
        return "unreadable connection id (" MSG_H_CONNECTION
               ": not UTF-8, a control character, or over "
               "IDENT_MAX_LEN bytes)";
    if (bad & MSG_F_EVENT_TYPE)
        return "unreadable event type (" MSG_H_EVENT_TYPE
               ": empty, not UTF-8, a control character, or over "
               "IDENT_MAX_LEN bytes)";
    return NULL;
}

void msg_routed_free(struct msg_routed *m)
{
    msg_http_headers_free(m->passthrough, m->npass);
    m->npass = 0;
}

/* ---- webhooks.forward-retry.<group>.<pass> ----------------------------------------------- */

void msg_retry_decode(struct msg_retry *r, rd_kafka_headers_t *h)
{
    memset(r, 0, sizeof *r);
    char num[32];
    r->due_ms = msg_header(h, MSG_H_RETRY_DUE, num, sizeof num) ? strtoll(num, NULL, 10) : 0;
    r->attempts = msg_header(h, MSG_H_RETRY_ATTEMPTS, num, sizeof num) ? strtol(num, NULL, 10) : 0;
    if (!msg_header(h, MSG_H_RETRY_URL, r->url, sizeof r->url))
        r->url[0] = '\0';
    r->pass = -1;
    if (msg_header(h, MSG_H_RETRY_PASS, num, sizeof num)) {
        long pass = strtol(num, NULL, 10);
        r->pass = pass >= 0 && pass <= INT_MAX ? (int)pass : -1;
    }
    r->deferrals = msg_header(h, MSG_H_RETRY_DEFERRALS, num, sizeof num) ? strtol(num, NULL, 10) : 0;
}

void msg_retry_encode(rd_kafka_headers_t *h, const struct msg_retry *r)
{
    put_ll(h, MSG_H_RETRY_DUE, r->due_ms);
    set(h, MSG_H_RETRY_URL, r->url);
    put_ll(h, MSG_H_RETRY_ATTEMPTS, r->attempts);
    if (r->pass < 0)
        set(h, MSG_H_RETRY_PASS, NULL);
    else
        put_ll(h, MSG_H_RETRY_PASS, r->pass);
    if (r->deferrals == 0)
        set(h, MSG_H_RETRY_DEFERRALS, NULL);
    else
        put_ll(h, MSG_H_RETRY_DEFERRALS, r->deferrals);
}

bool msg_retry_group_valid(const char *group)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    return group[0] && strspn(group, ok) == strlen(group);
}

int msg_retry_topic(char *buf, size_t len, const char *prefix, const char *group, int pass)
{
    int n = snprintf(buf, len, "%s.%s.%d", prefix, group, pass);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- webhooks.dead-letters --------------------------------------------------------------- */

void msg_dead_letter_encode(rd_kafka_headers_t *h, const struct msg_dead_letter *d)
{
    set(h, MSG_H_DL_DESTINATION, d->destination);
    put_ll(h, MSG_H_DL_STATUS, d->status);
    set(h, MSG_H_DL_ERROR, d->error);
    put_ll(h, MSG_H_DL_ATTEMPTS, d->attempts);
    put_ll(h, MSG_H_DL_AT, d->at_ms);
    set(h, MSG_H_RETRY_PASS, NULL); /* a redrive starts afresh */
    set(h, MSG_H_RETRY_DEFERRALS, NULL);
}

/* Points *out at a copy of name in buf, or NULL when absent or too long. */
static void view(rd_kafka_headers_t *h, const char *name, const char **out, char *buf, size_t len)
{
    *out = msg_header(h, name, buf, len);
}

void msg_dead_letter_decode(struct msg_dead_letter_view *v, rd_kafka_headers_t *h)
{
    const struct {
        const char *name;
        const char **out;
    } fields[] = {
        {MSG_H_WEBHOOK_ID, &v->webhook_id},
        {MSG_H_ROUTED_ID, &v->routed_id},
        {MSG_H_INTEGRATION, &v->integration},
        {MSG_H_CONNECTION, &v->connection},
        {MSG_H_DL_DESTINATION, &v->destination},
        {MSG_H_DL_STATUS, &v->status},
        {MSG_H_DL_ERROR, &v->error},
        {MSG_H_DL_ATTEMPTS, &v->attempts},
        {MSG_H_DL_AT, &v->at},
        {MSG_H_ENVIRONMENT, &v->environment},
        {MSG_H_REDRIVEN_AT, &v->redriven_at},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        view(h, fields[i].name, fields[i].out, v->buf[i], sizeof v->buf[i]);
}

/* hookline's own headers that a redrive sets afresh (dropped from the dead letter). */
static bool redrive_replaces(const char *name)
{
    return !strncmp(name, MSG_H_DL_PREFIX, strlen(MSG_H_DL_PREFIX)) || !strcmp(name, MSG_H_RETRY_DUE) ||
           !strcmp(name, MSG_H_RETRY_URL) || !strcmp(name, MSG_H_RETRY_ATTEMPTS) || !strcmp(name, MSG_H_REDRIVEN_AT);
}

rd_kafka_headers_t *msg_redrive_headers(rd_kafka_headers_t *h, const char *destination, long long now_ms)
{
    rd_kafka_headers_t *out = rd_kafka_headers_new(h ? rd_kafka_header_cnt(h) + 4 : 4);
    const char *name;
    const void *value;
    size_t size;
    for (size_t i = 0; h && rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        if (!redrive_replaces(name))
            rd_kafka_header_add(out, name, -1, value, (ssize_t)size);
    char now[24];
    snprintf(now, sizeof now, "%lld", now_ms);
    put(out, MSG_H_RETRY_URL, destination);
    put(out, MSG_H_RETRY_DUE, now);
    put(out, MSG_H_RETRY_ATTEMPTS, "0");
    put(out, MSG_H_REDRIVEN_AT, now);
    return out;
}

/* ---- webhooks.rejected ------------------------------------------------------------------- */

void msg_rejected_strip(rd_kafka_headers_t *h)
{
    static const char *const names[] = {MSG_H_REJECT_REASON,      MSG_H_REJECT_STAGE,     MSG_H_REJECT_AT,
                                        MSG_H_REJECT_TOPIC,       MSG_H_REJECT_PARTITION, MSG_H_REJECT_OFFSET,
                                        MSG_H_REJECT_BODY_OMITTED};
    for (size_t i = 0; h && i < sizeof names / sizeof names[0]; i++)
        rd_kafka_header_remove(h, names[i]);
}

void msg_rejected_encode(rd_kafka_headers_t *h, const struct msg_rejected *r)
{
    char at[24], partition[16], offset[24];
    snprintf(at, sizeof at, "%lld", r->at_ms);
    snprintf(partition, sizeof partition, "%d", (int)r->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)r->offset);
    rd_kafka_header_add(h, MSG_H_REJECT_REASON, -1, r->reason, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_STAGE, -1, r->stage, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_AT, -1, at, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_TOPIC, -1, r->topic ? r->topic : "", -1);
    rd_kafka_header_add(h, MSG_H_REJECT_PARTITION, -1, partition, -1);
    rd_kafka_header_add(h, MSG_H_REJECT_OFFSET, -1, offset, -1);
}

void msg_rejected_decode(struct msg_rejected_view *v, rd_kafka_headers_t *h)
{
    const struct {
        const char *name;
        const char **out;
    } fields[] = {
        {MSG_H_WEBHOOK_ID, &v->webhook_id},
        {MSG_H_REJECT_STAGE, &v->stage},
        {MSG_H_REJECT_REASON, &v->reason},
        {MSG_H_INTEGRATION, &v->integration},
        {MSG_H_REJECT_TOPIC, &v->topic},
        {MSG_H_REJECT_PARTITION, &v->partition},
        {MSG_H_REJECT_OFFSET, &v->offset},
        {MSG_H_REJECT_AT, &v->at},
        {MSG_H_REJECT_BODY_OMITTED, &v->body_omitted},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        view(h, fields[i].name, fields[i].out, v->buf[i], sizeof v->buf[i]);
}
