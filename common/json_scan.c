/* json_scan: see json_scan.h. A cursor over doc[0..len); every step checks the bound. */
#include "common/json_scan.h"

#include <stdbool.h>
#include <string.h>

struct cursor {
    const char *s;
    size_t len, i;
};

static void skip_ws(struct cursor *c)
{
    while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

/* At a '"': moves past the closing quote. *start and *n: the bytes between the quotes;
 * *escaped: whether a backslash was among them. False when the string is unterminated
 * or holds a control character. */
static bool string_token(struct cursor *c, const char **start, size_t *n, bool *escaped)
{
    size_t i = c->i + 1;
    *escaped = false;
    while (i < c->len && c->s[i] != '"') {
        unsigned char ch = (unsigned char)c->s[i];
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            *escaped = true;
            i++; /* the escaped character cannot end the string */
        }
        i++;
    }
    if (i >= c->len)
        return false;
    *start = c->s + c->i + 1;
    *n = i - c->i - 1;
    c->i = i + 1;
    return true;
}

static bool is_number_char(char ch)
{
    return (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' || ch == 'E';
}

/* Moves past one value of any kind; false when the document ends or nests too deep first. */
static bool skip_value(struct cursor *c)
{
    int depth = 0;
    do {
        skip_ws(c);
        if (c->i >= c->len)
            return false;
        char ch = c->s[c->i];
        if (ch == '"') {
            const char *s;
            size_t n;
            bool esc;
            if (!string_token(c, &s, &n, &esc))
                return false;
        } else if (ch == '{' || ch == '[') {
            if (++depth > JSON_SCAN_MAX_DEPTH)
                return false;
            c->i++;
        } else if (ch == '}' || ch == ']') {
            if (--depth < 0)
                return false;
            c->i++;
        } else if (ch == ',' || ch == ':') {
            if (depth == 0)
                return false;
            c->i++;
        } else if (is_number_char(ch) || (ch >= 'a' && ch <= 'z')) { /* numbers, true/false/null */
            while (c->i < c->len && (is_number_char(c->s[c->i]) || (c->s[c->i] >= 'a' && c->s[c->i] <= 'z')))
                c->i++;
        } else {
            return false;
        }
    } while (depth > 0);
    return true;
}

/* At the value the whole path named: a plain string or a plain integer is found. */
static enum json_scan_result scalar(struct cursor *c, const char **val, size_t *vlen)
{
    char ch = c->s[c->i];
    if (ch == '"') {
        bool esc;
        if (!string_token(c, val, vlen, &esc))
            return JSON_SCAN_ABSENT;
        return esc ? JSON_SCAN_UNSURE : JSON_SCAN_STRING;
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        size_t start = c->i, digits = 0;
        if (ch == '-')
            c->i++;
        while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
            c->i++;
            digits++;
        }
        bool leading_zero = digits > 1 && c->s[c->i - digits] == '0';
        bool more = c->i < c->len && is_number_char(c->s[c->i]); /* a fraction or exponent */
        /* jansson prints "-0" as 0 and refuses integers past int64: leave those to it. */
        bool odd = digits == 0 || digits > 18 || leading_zero || (ch == '-' && c->s[start + 1] == '0');
        if (more || odd)
            return JSON_SCAN_UNSURE;
        *val = c->s + start;
        *vlen = c->i - start;
        return JSON_SCAN_INTEGER;
    }
    return JSON_SCAN_ABSENT; /* an object, array, boolean or null */
}

enum json_scan_result json_scan_path(const char *doc, size_t len, const char *path, const char **val, size_t *vlen)
{
    struct cursor c = {doc, len, 0};
    if (!doc || !path || !*path || strchr(path, '['))
        return JSON_SCAN_UNSURE;
    const char *seg = path;
    for (;;) {
        size_t seglen = strcspn(seg, ".");
        if (seglen == 0)
            return JSON_SCAN_UNSURE;
        skip_ws(&c);
        if (c.i >= c.len)
            return JSON_SCAN_UNSURE;
        if (c.s[c.i] != '{')
            return JSON_SCAN_ABSENT; /* a path through something that is not an object */
        c.i++;
        bool found = false;
        skip_ws(&c);
        if (c.i < c.len && c.s[c.i] == '}')
            return JSON_SCAN_ABSENT;
        while (!found) {
            skip_ws(&c);
            const char *k;
            size_t klen;
            bool esc;
            if (c.i >= c.len || c.s[c.i] != '"' || !string_token(&c, &k, &klen, &esc))
                return JSON_SCAN_UNSURE;
            if (esc) /* a key spelled with escapes may still be the one we want */
                return JSON_SCAN_UNSURE;
            skip_ws(&c);
            if (c.i >= c.len || c.s[c.i] != ':')
                return JSON_SCAN_UNSURE;
            c.i++;
            skip_ws(&c);
            if (c.i >= c.len)
                return JSON_SCAN_UNSURE;
            if (klen == seglen && memcmp(k, seg, seglen) == 0) {
                found = true;
                break;
            }
            if (!skip_value(&c))
                return JSON_SCAN_UNSURE;
            skip_ws(&c);
            if (c.i < c.len && c.s[c.i] == ',') {
                c.i++;
                continue;
            }
            if (c.i < c.len && c.s[c.i] == '}')
                return JSON_SCAN_ABSENT;
            return JSON_SCAN_UNSURE;
        }
        seg += seglen;
        if (*seg == '\0')
            return scalar(&c, val, vlen);
        seg++; /* past the '.' */
    }
}
