/* arena.c: bump allocation over an initial buffer plus bounded malloc'd chunks. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_MIN 4096u

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

static char *align_up(char *p)
{
    uintptr_t v = (uintptr_t)p;

    return (char *)((v + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1));
}

void arena_init(struct arena *a, void *buf, size_t size, size_t limit)
{
    a->first = buf;
    a->first_size = buf ? size : 0;
    a->cur = buf;
    a->end = buf ? (char *)buf + size : NULL;
    a->chunks = NULL;
    a->used_total = 0;
    a->limit = limit;
}

void *arena_alloc(struct arena *a, size_t n)
{
    char *p;

    if (n == 0)
        n = 1;
    if (a->cur) {
        p = align_up(a->cur);
        if (p <= a->end && (size_t)(a->end - p) >= n) {
            a->cur = p + n;
            return p;
        }
    }
    size_t want = n > ARENA_CHUNK_MIN ? n : ARENA_CHUNK_MIN;
    if (want > a->limit || a->used_total > a->limit - want)
        return NULL;
    struct arena_chunk *c = malloc(sizeof(*c) + want);
    if (!c)
        return NULL;
    c->next = a->chunks;
    c->size = want;
    a->chunks = c;
    a->used_total += want;
    a->cur = c->data + n;
    a->end = c->data + want;
    return c->data;
}

void *arena_dup(struct arena *a, const void *s, size_t n)
{
    void *p = arena_alloc(a, n);

    if (p && n)
        memcpy(p, s, n);
    return p;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->chunks;

    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->used_total = 0;
}

void arena_reset(struct arena *a)
{
    arena_free(a);
    a->cur = a->first;
    a->end = a->first ? a->first + a->first_size : NULL;
}
