/* arena.h: a bump allocator for everything derived from parsing one message. */
#ifndef SIPD_CORE_ARENA_H
#define SIPD_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Every allocation's alignment: enough for any object, SSE loads included. */
#define ARENA_ALIGN 16u

struct arena_chunk;

/*
 * An arena hands out memory that lives until arena_reset() or arena_free().
 * It starts in a caller-provided buffer (often inside the message's own
 * allocation, or on the stack) and grows by malloc'd chunks up to 'limit'
 * bytes in all, so a hostile message cannot make it grow without bound.
 * One thread at a time; no locking.
 */
struct arena {
    char *cur;
    char *end;
    struct arena_chunk *chunks; /* malloc'd chunks, newest first */
    size_t used_total;          /* bytes handed out from chunks, for the limit */
    size_t limit;
    char *first;                /* the caller's initial buffer */
    size_t first_size;
};

/* Starts an arena over buf[0..size) (buf may be NULL, size 0) with a growth limit. */
void arena_init(struct arena *a, void *buf, size_t size, size_t limit);
/* Memory for n bytes aligned for any object, or NULL when the limit or malloc says no. */
void *arena_alloc(struct arena *a, size_t n);
/* arena_alloc() inline for a caller on a hot path, n > 0 (a constant, as
 * a rule): the bump within the current buffer here, everything else (a
 * new chunk, the limit) by arena_alloc(). The same memory as arena_alloc()
 * would return. */
static inline void *arena_alloc_inline(struct arena *a, size_t n)
{
    uintptr_t c = (uintptr_t)a->cur, e = (uintptr_t)a->end;
    uintptr_t p = (c + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);

    if (n != 0 && c != 0 && p <= e && e - p >= n) {
        a->cur = (char *)p + n;
        return (void *)p;
    }
    return arena_alloc(a, n);
}
/* Copies s[0..n) into the arena. */
void *arena_dup(struct arena *a, const void *s, size_t n);
/* Forgets every allocation; keeps the initial buffer, frees the chunks. */
void arena_reset(struct arena *a);
/* Frees the chunks; the arena may be re-initialised afterwards. */
void arena_free(struct arena *a);

#endif
