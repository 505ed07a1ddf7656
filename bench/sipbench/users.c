/* users.c: building sipbench's user list from a numbered pattern or a CSV file. */
#include "users.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

void sb_users_free(struct sb_users *u)
{
    free(u->v);
    free(u->text);
    u->v = NULL;
    u->text = NULL;
    u->n = 0;
}

/* A decimal number of 1 to 9 digits, all of s[0..len). */
static bool parse_number(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    if (len == 0 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Appends text to the block at *len; the caller sized it. */
static void put(char *block, size_t *len, const char *s, size_t n)
{
    memcpy(block + *len, s, n);
    *len += n;
}

/* The password template expanded for one user, into block; returns its length. */
static size_t expand_password(char *block, size_t *len, const char *tmpl, struct slice name,
                              const char *number, size_t number_len)
{
    size_t start = *len;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{user}", 6) == 0) {
            put(block, len, name.p, name.len);
            p += 6;
        } else if (strncmp(p, "{n}", 3) == 0) {
            put(block, len, number, number_len);
            p += 3;
        } else {
            put(block, len, p, 1);
            p++;
        }
    }
    return *len - start;
}

/* Upper bound of the expanded password's length for a name of name_len bytes. */
static size_t password_bound(const char *tmpl, size_t name_len)
{
    size_t n = 0;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{user}", 6) == 0) {
            n += name_len;
            p += 6;
        } else if (strncmp(p, "{n}", 3) == 0) {
            n += 10;
            p += 3;
        } else {
            n++;
            p++;
        }
    }
    return n;
}

int sb_users_from_pattern(struct sb_users *u, const char *names, const char *password, char *err,
                          size_t err_cap)
{
    memset(u, 0, sizeof(*u));
    const char *prefix = "", *suffix = "", *range = names;
    size_t prefix_len = 0, range_len = strlen(names);
    const char *open = strchr(names, '{');
    if (open) {
        const char *close = strchr(open, '}');
        if (!close || strchr(close + 1, '{'))
            return fail(err, err_cap, EINVAL, "--users %s: one {A..B} expected", names);
        prefix = names;
        prefix_len = (size_t)(open - names);
        range = open + 1;
        range_len = (size_t)(close - range);
        suffix = close + 1;
    }
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < range_len; i++)
        if (range[i] == '.' && range[i + 1] == '.') {
            dots = range + i;
            break;
        }
    uint32_t first, last;
    if (!dots || !parse_number(range, (size_t)(dots - range), &first) ||
        !parse_number(dots + 2, range_len - (size_t)(dots - range) - 2, &last) || first > last)
        return fail(err, err_cap, EINVAL, "--users %s: expected A..B or text{A..B}text, A <= B",
                    names);
    size_t width = range[0] == '0' && dots - range > 1 ? (size_t)(dots - range) : 0;
    size_t n = (size_t)last - first + 1;
    if (n > SB_USERS_MAX)
        return fail(err, err_cap, EINVAL, "--users %s: more than %u users", names, SB_USERS_MAX);
    size_t suffix_len = strlen(suffix);
    size_t name_max = prefix_len + (width > 10 ? width : 10) + suffix_len;
    size_t pw_max = password_bound(password, name_max);
    if (name_max > SB_USER_MAX || pw_max > SB_USER_MAX)
        return fail(err, err_cap, EINVAL, "--users/--password: longer than %d bytes", SB_USER_MAX);
    u->v = calloc(n, sizeof(*u->v));
    u->text = malloc(n * (name_max + pw_max + 2));
    if (!u->v || !u->text) {
        sb_users_free(u);
        return fail(err, err_cap, ENOMEM, "out of memory for %zu users", n);
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char number[16];
        int number_len =
            snprintf(number, sizeof(number), "%0*" PRIu32, (int)width, (uint32_t)(first + i));
        struct sb_user *user = &u->v[i];
        user->name.p = u->text + len;
        put(u->text, &len, prefix, prefix_len);
        put(u->text, &len, number, (size_t)number_len);
        put(u->text, &len, suffix, suffix_len);
        user->name.len = (size_t)(u->text + len - user->name.p);
        put(u->text, &len, "", 1);
        user->password.p = u->text + len;
        user->password.len =
            expand_password(u->text, &len, password, user->name, number, (size_t)number_len);
        put(u->text, &len, "", 1);
    }
    u->n = n;
    return 0;
}

static bool is_sipp_header(const char *line)
{
    static const char *const words[] = {"SEQUENTIAL", "RANDOM", "RANDOM2", "USER"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(line, words[i]) == 0)
            return true;
    return false;
}

/* Reads the whole file into a NUL-terminated block. */
static int read_file(const char *path, char **out, size_t *out_len, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, err_cap, errno, "%s: %s", path, strerror(errno));
    int ret = 0;
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        if (cap >= SB_CSV_MAX) {
            ret = fail(err, err_cap, EFBIG, "%s: larger than %u bytes", path, SB_CSV_MAX);
            goto out;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        ret = fail(err, err_cap, ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (ferror(f)) {
        ret = fail(err, err_cap, EIO, "%s: read error", path);
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return ret;
}

int sb_users_from_csv(struct sb_users *u, const char *path, char *err, size_t err_cap)
{
    memset(u, 0, sizeof(*u));
    size_t len = 0;
    int ret = read_file(path, &u->text, &len, err, err_cap);
    if (ret)
        return ret;
    /* every line, even an empty one, takes at least one byte: a bound on the users */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += u->text[i] == '\n';
    u->v = calloc(lines, sizeof(*u->v));
    if (!u->v) {
        ret = fail(err, err_cap, ENOMEM, "%s: out of memory", path);
        goto out;
    }
    /* In place: each line's separators become NULs, the slices point into the block. */
    char *line = u->text, *end = u->text + len;
    for (unsigned long lineno = 1; line < end; lineno++) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *next = nl ? nl + 1 : end;
        size_t line_len = (size_t)((nl ? nl : end) - line);
        if (line_len && line[line_len - 1] == '\r')
            line_len--;
        line[line_len] = '\0';
        if (line_len == 0 || line[0] == '#' || (lineno == 1 && is_sipp_header(line))) {
            line = next;
            continue;
        }
        char *semi = strchr(line, ';');
        if (!semi || semi == line) {
            ret = fail(err, err_cap, EINVAL, "%s:%lu: expected user;password", path, lineno);
            goto out;
        }
        *semi = '\0';
        char *pw = semi + 1, *more = strchr(pw, ';');
        if (more)
            *more = '\0';
        size_t name_len = (size_t)(semi - line), pw_len = strlen(pw);
        if (name_len > SB_USER_MAX || pw_len > SB_USER_MAX) {
            ret = fail(err, err_cap, EINVAL, "%s:%lu: longer than %d bytes", path, lineno,
                       SB_USER_MAX);
            goto out;
        }
        u->v[u->n].name = slice_make(line, name_len);
        u->v[u->n].password = slice_make(pw, pw_len);
        u->n++;
        line = next;
    }
    if (u->n == 0)
        ret = fail(err, err_cap, EINVAL, "%s: no users", path);
    else if (u->n > SB_USERS_MAX)
        ret = fail(err, err_cap, EINVAL, "%s: more than %u users", path, SB_USERS_MAX);
out:
    if (ret)
        sb_users_free(u);
    return ret;
}
