/* users.h: the user list of sipbench register: a numbered pattern or a CSV file. */
#ifndef SIPBENCH_USERS_H
#define SIPBENCH_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

/* One user: name and password, NUL-terminated, inside the list's text block. */
struct sb_user {
    struct slice name;
    struct slice password;
};

/* The users of one run. Read-only once built: every generator thread reads it. */
struct sb_users {
    struct sb_user *v;
    size_t n;
    char *text; /* one block holding every name and password */
};

/* Longest name or password accepted (bytes). */
#define SB_USER_MAX 128
/* Most users in one list. */
#define SB_USERS_MAX 10000000u
/* Largest CSV file read (bytes). */
#define SB_CSV_MAX (1u << 30)

/*
 * Users from a pattern: 'names' is either A..B (decimal, A <= B; a leading
 * zero in A pads every name to A's width) or text around one {A..B}, such
 * as "u{1..200}" or "{0001..0200}@lab". 'password' may hold {user} (the
 * name) and {n} (the number, padded as the name): "pw{user}", "secret".
 * 0, or EINVAL with a message in err, or ENOMEM.
 */
int sb_users_from_pattern(struct sb_users *u, const char *names, const char *password, char *err,
                          size_t err_cap);

/*
 * Users from a file of "user;password" lines (a third field and more are
 * ignored). Empty lines and lines starting with '#' are skipped, and so is
 * a first line of SEQUENTIAL, RANDOM, RANDOM2 or USER, so that the file
 * sipp reads with -inf serves both tools. 0, or EINVAL / an errno of the
 * file with a message in err, or ENOMEM.
 */
int sb_users_from_csv(struct sb_users *u, const char *path, char *err, size_t err_cap);

/* Frees the list (a zeroed one is fine). */
void sb_users_free(struct sb_users *u);

#endif
