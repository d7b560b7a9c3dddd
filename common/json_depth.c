/* json_depth: see json_depth.h. */
#include "common/json_depth.h"

bool json_depth_looks_json(const void *s, size_t len)
{
    const unsigned char *b = s;
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i < len && (b[i] == '{' || b[i] == '[');
}

bool json_depth_within(const void *s, size_t len, size_t max)
{
    const unsigned char *b = s;
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = b[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}
