/* hash.h: FNV-1a, the one byte hash of the hash tables, worker choice and To tags. */
#ifndef SIPD_CORE_HASH_H
#define SIPD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * 64-bit FNV-1a. Not a keyed hash: the keys it sees (AORs, subscriber
 * names, Call-IDs) come from the network, so its users either do not need
 * resistance to chosen collisions (To tags, the worker a Call-ID goes to)
 * or bound the damage (the RCU tables grow with their entries). Chain the
 * call over several pieces: hash_fnv1a(hash_fnv1a(HASH_FNV1A_INIT, a, n), b, m).
 */
#define HASH_FNV1A_INIT 0xcbf29ce484222325ull

static inline uint64_t hash_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
