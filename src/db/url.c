/* url.c: db_url parsing (mysql://user:password@host[:port]/db, unix(/path)) and redaction. */
#include "db/db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEME "mysql://"
#define UNIX_OPEN "unix("

static int url_error(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int url_error(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        int n = snprintf(err, cap, "db_url: ");
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < cap)
            vsnprintf(err + n, cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return EINVAL;
}

/*
 * Where the user info ends: the '@' before "unix(" if there is one, else the
 * last '@' (the password may hold '@'; host, port and database may not).
 * NULL without user info.
 */
static const char *userinfo_end(const char *rest)
{
    const char *at = strstr(rest, "@" UNIX_OPEN);
    return at ? at : strrchr(rest, '@');
}

static char *dup_range(const char *p, const char *end)
{
    return strndup(p, (size_t)(end - p));
}

void db_url_free(struct db_url *url)
{
    if (!url)
        return;
    free(url->user);
    free(url->password);
    free(url->host);
    free(url->socket);
    free(url->database);
    memset(url, 0, sizeof(*url));
}

int db_url_parse(const char *text, struct db_url *out, char *err, size_t err_cap)
{
    struct db_url u = {0};
    const char *rest, *at, *host, *db;
    const char *host_end, *port_p = NULL, *port_end = NULL;

    memset(out, 0, sizeof(*out));
    if (err && err_cap)
        err[0] = '\0';
    if (!text || strncasecmp(text, SCHEME, strlen(SCHEME)) != 0)
        return url_error(err, err_cap, "not a " SCHEME " URL");
    rest = text + strlen(SCHEME);

    at = userinfo_end(rest);
    if (!at || at == rest || *rest == ':')
        return url_error(err, err_cap, "missing user (" SCHEME "user:password@host/database)");
    host = at + 1;

    if (strncmp(host, UNIX_OPEN, strlen(UNIX_OPEN)) == 0) {
        const char *path = host + strlen(UNIX_OPEN);
        const char *close = strrchr(path, ')');
        if (!close)
            return url_error(err, err_cap, "unix( without )");
        if (close == path)
            return url_error(err, err_cap, "empty unix socket path");
        if (close[1] != '/')
            return url_error(err, err_cap, "missing database name");
        host_end = close + 1;
        db = close + 2;
    } else {
        const char *slash = strchr(host, '/');
        if (!slash)
            return url_error(err, err_cap, "missing database name");
        host_end = slash;
        db = slash + 1;
        const char *p = host;
        if (*p == '[') { /* [IPv6]:port */
            const char *close = memchr(p, ']', (size_t)(slash - p));
            if (!close)
                return url_error(err, err_cap, "[ without ] in host");
            if (close == p + 1)
                return url_error(err, err_cap, "missing host");
            p = close + 1;
            if (p < slash && *p != ':')
                return url_error(err, err_cap, "junk after ]");
        } else {
            while (p < slash && *p != ':')
                p++;
            if (p == host)
                return url_error(err, err_cap, "missing host");
        }
        if (p < slash) { /* p is at ':' */
            port_p = p + 1;
            port_end = slash;
        }
    }
    if (*db == '\0')
        return url_error(err, err_cap, "missing database name");
    if (strchr(db, '/'))
        return url_error(err, err_cap, "'/' in database name");

    unsigned long port = 0;
    if (port_p) {
        if (port_p == port_end || (size_t)(port_end - port_p) > 5)
            return url_error(err, err_cap, "bad port");
        for (const char *p = port_p; p < port_end; p++) {
            if (*p < '0' || *p > '9')
                return url_error(err, err_cap, "bad port");
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535)
            return url_error(err, err_cap, "port out of range");
    }

    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    u.user = dup_range(rest, colon ? colon : at);
    u.password = colon ? dup_range(colon + 1, at) : strdup("");
    if (strncmp(host, UNIX_OPEN, strlen(UNIX_OPEN)) == 0) {
        u.socket = dup_range(host + strlen(UNIX_OPEN), host_end - 1);
    } else if (*host == '[') {
        u.host = dup_range(host + 1, memchr(host, ']', (size_t)(host_end - host)));
    } else {
        u.host = dup_range(host, port_p ? port_p - 1 : host_end);
    }
    u.port = (unsigned)port;
    u.database = strdup(db);
    if (!u.user || !u.password || !(u.host || u.socket) || !u.database) {
        db_url_free(&u);
        if (err && err_cap)
            snprintf(err, err_cap, "db_url: out of memory");
        return ENOMEM;
    }
    *out = u;
    return 0;
}

const char *db_url_redact(const char *text, char *buf, size_t cap)
{
    const char *scheme, *at, *colon = NULL;

    if (!buf || cap == 0)
        return buf;
    if (!text) {
        snprintf(buf, cap, "(null)");
        return buf;
    }
    scheme = strstr(text, "://");
    at = scheme ? userinfo_end(scheme + 3) : NULL;
    if (at)
        colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
    if (!colon) {
        snprintf(buf, cap, "%s", text);
        return buf;
    }
    snprintf(buf, cap, "%.*s***%s", (int)(colon + 1 - text), text, at);
    return buf;
}
