/* fmt.h: formatting for the hot paths: append text and numbers without printf. */
#ifndef SIPD_CORE_FMT_H
#define SIPD_CORE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/slice.h"

/*
 * Why not snprintf: a reply or a registration formats a few numbers and
 * copies a few values, and glibc's printf machinery (format parsing, the
 * FILE emulation behind vsnprintf) cost more than the rest of building the
 * message together. These do the same with a copy and a digit loop.
 *
 * struct fmt is an append-only buffer. An append that does not fit writes
 * nothing and clears ok; later appends do nothing, so a caller checks ok
 * once at the end.
 */
struct fmt {
    char *p;
    size_t len;
    size_t cap;
    bool ok;
};

#define FMT_U64_MAX 20 /* digits of UINT64_MAX */

static inline struct fmt fmt_init(char *p, size_t cap)
{
    return (struct fmt){p, 0, cap, true};
}

/* v in decimal at out (room for FMT_U64_MAX bytes, no NUL); its length. */
static inline size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[FMT_U64_MAX];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, tmp + sizeof(tmp) - n, n);
    return n;
}

static inline void fmt_mem(struct fmt *f, const void *p, size_t n)
{
    if (!f->ok || n > f->cap - f->len) {
        f->ok = false;
        return;
    }
    if (n)
        memcpy(f->p + f->len, p, n);
    f->len += n;
}

static inline void fmt_str(struct fmt *f, const char *s)
{
    fmt_mem(f, s, strlen(s));
}

static inline void fmt_slice(struct fmt *f, struct slice s)
{
    fmt_mem(f, s.p, s.len);
}

static inline void fmt_u(struct fmt *f, uint64_t v)
{
    char tmp[FMT_U64_MAX];
    fmt_mem(f, tmp, fmt_u64(tmp, v));
}

static inline void fmt_char(struct fmt *f, char c)
{
    fmt_mem(f, &c, 1);
}

#endif
