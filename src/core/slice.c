/* slice.c: comparisons and number conversion on slices. */
#include "core/slice.h"

#include <errno.h>

bool slice_eq(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool slice_caseeq(struct slice a, struct slice b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
            return false;
    return true;
}

bool slice_caseeq_str(struct slice a, const char *s)
{
    return slice_caseeq(a, slice_from_str(s));
}

bool slice_eq_str(struct slice a, const char *s)
{
    return slice_eq(a, slice_from_str(s));
}

static bool is_trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct slice slice_trim(struct slice s)
{
    while (s.len && is_trim_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_trim_space(s.p[s.len - 1]))
        s.len--;
    return s;
}

int slice_to_u64_any(struct slice s, uint64_t max, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;

    if (s.len == 0)
        return EINVAL;
    while (i < s.len && s.p[i] == '0') /* leading zeros cannot overflow */
        i++;
    size_t digits = s.len - i;
    for (; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
        if (d > 9)
            return EINVAL;
        v = v * 10 + d; /* 19 digits fit in 64 bits: checked below */
    }
    if (digits > 19) {
        /* 20 digits may still fit UINT64_MAX; more never do. Recount the
         * slow way only for this rare case. */
        if (digits > 20)
            return ERANGE;
        v = 0;
        for (i = s.len - digits; i < s.len; i++) {
            unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
            if (v > (UINT64_MAX - d) / 10)
                return ERANGE;
            v = v * 10 + d;
        }
    }
    if (v > max)
        return ERANGE;
    *out = v;
    return 0;
}
