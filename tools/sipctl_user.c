/* sipctl_user.c: sipctl add/passwd/rm/list, serctl's user verbs, on the subscriber table. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/ctl.h"
#include "core/log.h"
#include "core/slice.h"
#include "db/db.h"
#include "net/net.h"
#include "sipctl.h"

/*
 * These commands write the database directly, as serctl and kamctl do, so
 * they work while sipd is stopped. A running sipd caches credentials; after
 * a change it is asked to drop its entry (subscriber.invalidate). That call
 * is a courtesy: the database is the truth, and the change is done whether
 * or not sipd answers.
 *
 * What is stored follows the auth_db options of the config, as Kamailio's
 * kamctl does: ha1 = MD5(user:domain:password) and ha1b =
 * MD5(user@domain:domain:password) always, the plaintext in the password
 * column only with calculate_ha1 true (else that column is emptied).
 */

#define INVALIDATE_TIMEOUT_MS 2000
#define MAX_COLUMNS           128
#define MAX_NAME              64 /* MySQL identifiers */
#define HA1_HEX               33 /* 32 hex digits and a NUL */
#define EXTRAS_COLUMN         "email_address"

enum user_verb { VERB_ADD, VERB_PASSWD, VERB_RM, VERB_LIST };

struct column {
    char name[MAX_NAME + 1];
    long long max_chars; /* CHARACTER_MAXIMUM_LENGTH; 0 when not a text column */
};

/* Everything one command needs; strings borrowed from the config JSON or argv
 * live as long as the command. */
struct user_ctx {
    const struct sipctl_opts *opts;
    const char *config_path;     /* -c, or NULL */
    json_t *config;              /* its JSON, or NULL */
    const char *db_url;          /* --db, modules.auth_db.db_url, or db_url */
    const char *ctl_socket;      /* -s, the config's ctl_socket, or the default */
    bool calculate_ha1;          /* modules.auth_db.calculate_ha1, default false */
    const char *password_column; /* modules.auth_db.password_column, default "ha1" */
    bool password_column_is_ha1; /* it names ha1/ha1b: no plaintext column */
    char domain[256];            /* the default domain */
    const char *domain_from;     /* where it came from, for the message */

    struct db *db;
    struct db_conn *conn;
    char db_name[512]; /* the redacted URL */
    struct column columns[MAX_COLUMNS];
    size_t column_count;
};

static const char usage_text[] =
    "usage: sipctl [-c CONFIG] [--db URL] [-s SOCKET] [--json] add USER PASSWORD [EMAIL]\n"
    "       sipctl ... passwd USER PASSWORD | rm USER | list\n"
    "  USER is user or user@domain; the domain defaults to the config's\n"
    "  modules.auth_db.domain, else its first alias, else the host of its first\n"
    "  listen entry, else \"localhost\". The database is --db, else the config's\n"
    "  modules.auth_db.db_url, else its db_url. \"--\" ends options (a password\n"
    "  that starts with '-').\n";

/* ---------------------------------------------------------------- config */

static int config_error(const struct user_ctx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "sipctl: FILE: json/path: what is wrong"; returns EINVAL. */
static int config_error(const struct user_ctx *x, const char *path, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sipctl: %s: %s: ", x->config_path ? x->config_path : "(no config)", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EINVAL;
}

/* A string member or NULL; EINVAL (reported) when present but not a non-empty string. */
static int config_string(const struct user_ctx *x, json_t *obj, const char *key, const char *path,
                         const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return config_error(x, path, "expected a non-empty string, got %s",
                            json_is_string(v) ? "\"\"" : "another type");
    *out = json_string_value(v);
    return 0;
}

/* The first entry of a setting that is a string or a list of strings, or NULL. */
static int config_first(const struct user_ctx *x, json_t *root, const char *key, const char **out)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    if (!v)
        return 0;
    json_t *first = json_is_array(v) ? json_array_get(v, 0) : v;
    if (json_is_array(v) && !first)
        return 0; /* an empty list: none */
    if (!json_is_string(first) || json_string_length(first) == 0)
        return config_error(x, key, "expected a string or a list of strings");
    *out = json_string_value(first);
    return 0;
}

/* An alias is "host", "host:port", "[v6]" or "[v6]:port": the host. */
static int alias_host(const struct user_ctx *x, const char *alias, char *out, size_t cap)
{
    const char *h = alias, *end;
    if (alias[0] == '[') {
        h = alias + 1;
        end = strchr(h, ']');
        if (!end || end == h)
            return config_error(x, "aliases", "\"%s\": bad [IPv6] host", alias);
    } else {
        end = strchr(alias, ':');
        if (!end)
            end = alias + strlen(alias);
        if (end == alias)
            return config_error(x, "aliases", "\"%s\": no host", alias);
    }
    if ((size_t)(end - h) >= cap)
        return config_error(x, "aliases", "\"%s\": host too long", alias);
    snprintf(out, cap, "%.*s", (int)(end - h), h);
    return 0;
}

/*
 * The default domain, first match wins:
 *   1. the first entry of aliases (its host, without port or brackets),
 *   2. the host of the first listen entry (numeric, as sipd parses it;
 *      IPv6 without brackets), unless it is a wildcard (0.0.0.0, ::),
 *   3. "localhost".
 */
static int pick_domain(struct user_ctx *x, json_t *auth_db)
{
    const char *v;
    int err;

    (void)auth_db;
    if ((err = config_first(x, x->config, "aliases", &v)) != 0)
        return err;
    if (v) {
        x->domain_from = "the first alias";
        return alias_host(x, v, x->domain, sizeof(x->domain));
    }
    if ((err = config_first(x, x->config, "listen", &v)) != 0)
        return err;
    if (v) {
        struct net_listen l;
        char why[128];
        if (net_listen_parse(v, 5060, &l, why, sizeof(why)) != 0)
            return config_error(x, "listen", "\"%s\": %s", v, why);
        if (strcmp(l.host, "0.0.0.0") != 0 && strcmp(l.host, "::") != 0) {
            snprintf(x->domain, sizeof(x->domain), "%s", l.host);
            x->domain_from = "the first listen entry";
            return 0;
        }
    }
    snprintf(x->domain, sizeof(x->domain), "localhost");
    x->domain_from = x->config ? "no domain, alias or listen address in the config" : "no config";
    return 0;
}

static bool is_identifier(const char *s)
{
    if (!*s || strlen(s) > MAX_NAME)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* Reads -c (if given) and the options; 0, EINVAL (reported) or ENOMEM. */
static int load_config(struct user_ctx *x)
{
    json_t *mods = NULL, *auth_db = NULL;
    const char *v;
    int err;

    x->password_column = "ha1"; /* auth_db's default, as Kamailio's */
    if (x->config_path) {
        json_error_t jerr;
        x->config = json_load_file(x->config_path, 0, &jerr);
        if (!x->config) {
            fprintf(stderr, "sipctl: %s:%d: %s\n", x->config_path, jerr.line, jerr.text);
            return EINVAL;
        }
        if (!json_is_object(x->config))
            return config_error(x, "(top)", "expected an object");
        mods = json_object_get(x->config, "modules");
        if (mods && !json_is_object(mods))
            return config_error(x, "modules", "expected an object");
        auth_db = json_object_get(mods, "auth_db");
        if (auth_db && !json_is_object(auth_db))
            return config_error(x, "modules.auth_db", "expected an object");
    }

    /* the database: --db, else auth_db's own db_url, else the core's */
    if ((err = config_string(x, x->config, "db_url", "db_url", &v)) != 0)
        return err;
    const char *own;
    if ((err = config_string(x, auth_db, "db_url", "modules.auth_db.db_url", &own)) != 0)
        return err;
    x->db_url = x->opts->db_url ? x->opts->db_url : own ? own : v;
    if (!x->db_url) {
        if (x->config_path)
            return config_error(x, "db_url", "missing (or give --db URL)");
        fprintf(stderr, "sipctl: no database: give -c CONFIG (with db_url) or --db URL\n");
        return EINVAL;
    }

    if ((err = config_string(x, x->config, "ctl_socket", "ctl_socket", &v)) != 0)
        return err;
    x->ctl_socket = x->opts->socket ? x->opts->socket : v ? v : SIPCTL_DEFAULT_SOCKET;

    json_t *calc = json_object_get(auth_db, "calculate_ha1");
    if (calc) {
        if (json_is_boolean(calc))
            x->calculate_ha1 = json_is_true(calc);
        else if (json_is_integer(calc) &&
                 (json_integer_value(calc) == 0 || json_integer_value(calc) == 1))
            x->calculate_ha1 = json_integer_value(calc) == 1;
        else
            return config_error(x, "modules.auth_db.calculate_ha1", "expected true, false, 0 or 1");
    }
    if ((err = config_string(x, auth_db, "password_column", "modules.auth_db.password_column",
                             &v)) != 0)
        return err;
    if (v)
        x->password_column = v;
    if (!is_identifier(x->password_column))
        return config_error(x, "modules.auth_db.password_column",
                            "\"%s\" is not a column name ([A-Za-z0-9_]+, at most %d)",
                            x->password_column, MAX_NAME);
    /*
     * As in Kamailio's auth_db: with calculate_ha1 off the password column
     * holds the HA1 itself (Kamailio's default is "ha1"). Naming ha1 or ha1b
     * therefore means "no plaintext column"; with calculate_ha1 on it would
     * put the plaintext where the HA1 belongs.
     */
    x->password_column_is_ha1 =
        strcasecmp(x->password_column, "ha1") == 0 || strcasecmp(x->password_column, "ha1b") == 0;
    if (x->password_column_is_ha1 && x->calculate_ha1)
        return config_error(x, "modules.auth_db.password_column",
                            "\"%s\" holds the HA1; calculate_ha1 needs a plaintext column "
                            "(\"password\")",
                            x->password_column);
    return pick_domain(x, auth_db);
}

/* ---------------------------------------------------------------- database */

static int collect_column(void *arg, const struct db_val *cols, unsigned ncols)
{
    struct user_ctx *x = arg;
    if (ncols < 2 || cols[0].type != DB_STRING || x->column_count == MAX_COLUMNS)
        return 0;
    struct column *c = &x->columns[x->column_count];
    if (cols[0].s.len > MAX_NAME)
        return 0;
    memcpy(c->name, cols[0].s.p, cols[0].s.len);
    c->name[cols[0].s.len] = '\0';
    c->max_chars = cols[1].type == DB_INT ? cols[1].i : 0;
    x->column_count++;
    return 0;
}

/* The column of subscriber named so (MySQL compares column names without case), or NULL. */
static const struct column *find_column(const struct user_ctx *x, const char *name)
{
    for (size_t i = 0; i < x->column_count; i++)
        if (strcasecmp(x->columns[i].name, name) == 0)
            return &x->columns[i];
    return NULL;
}

/* Reports a failed database call (the db layer has logged the server's reason). */
static int db_failed(const struct user_ctx *x, int err, const char *what)
{
    if (err == EAGAIN)
        fprintf(stderr, "sipctl: database %s unreachable while %s\n", x->db_name, what);
    else if (err == ENOMEM)
        fprintf(stderr, "sipctl: %s: out of memory\n", what);
    else
        fprintf(stderr, "sipctl: database %s: %s failed\n", x->db_name, what);
    return err;
}

/* Connects and reads subscriber's columns: the table must exist, and with
 * it the password column. 0 or an errno value (reported). */
static int open_database(struct user_ctx *x)
{
    char why[256];
    struct db_stmt *s;
    int err;

    db_url_redact(x->db_url, x->db_name, sizeof(x->db_name));
    err = db_open(&x->db, x->db_url, NULL, why, sizeof(why));
    if (err) {
        fprintf(stderr, "sipctl: %s: %s\n", x->db_name, why);
        return err;
    }
    if ((err = db_conn_new(x->db, &x->conn)) != 0)
        return db_failed(x, err, "connecting");
    err = db_prepare(x->conn,
                     "SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS"
                     " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'subscriber'"
                     " ORDER BY ORDINAL_POSITION",
                     &s);
    if (!err)
        err = db_query(s, NULL, 0, collect_column, x);
    if (err == EAGAIN) {
        fprintf(stderr, "sipctl: database %s unreachable; nothing was changed\n", x->db_name);
        return err;
    }
    if (err)
        return db_failed(x, err, "reading the subscriber table's columns");
    if (x->column_count == 0) {
        fprintf(stderr,
                "sipctl: database %s has no subscriber table (create it with "
                "sql/kamailio-compat.sql)\n",
                x->db_name);
        return ENOENT;
    }
    static const char *const needed[] = {"username", "domain", "ha1", "ha1b"};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (!find_column(x, needed[i])) {
            fprintf(stderr, "sipctl: database %s: table subscriber has no column %s\n", x->db_name,
                    needed[i]);
            return EINVAL;
        }
    }
    if (!find_column(x, x->password_column))
        return config_error(x, "modules.auth_db.password_column",
                            "table subscriber of %s has no column \"%s\"", x->db_name,
                            x->password_column);
    return 0;
}

static void close_database(struct user_ctx *x)
{
    db_conn_free(x->conn);
    x->conn = NULL;
    db_close(x->db);
    x->db = NULL;
    db_thread_end();
}

static int note_found(void *arg, const struct db_val *cols, unsigned ncols)
{
    (void)cols;
    (void)ncols;
    *(bool *)arg = true;
    return 0;
}

static int user_exists(struct user_ctx *x, const char *user, const char *domain, bool *found)
{
    struct db_stmt *s;
    struct db_val p[2] = {DB_VAL_STR(slice_from_str(user)), DB_VAL_STR(slice_from_str(domain))};
    *found = false;
    int err = db_prepare(x->conn, "SELECT 1 FROM subscriber WHERE username = ? AND domain = ?", &s);
    if (!err)
        err = db_query(s, p, 2, note_found, found);
    return err;
}

/* ---------------------------------------------------------------- credentials */

/* HA1: lower-case hex MD5 of a ":" b ":" c, through OpenSSL's EVP. 0 or ENOMEM. */
static int md5_ha1(const char *a, const char *b, const char *c, char out[HA1_HEX])
{
    static const char hex[] = "0123456789abcdef";
    const char *parts[3] = {a, b, c};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL);

    for (int i = 0; ok && i < 3; i++) {
        if (i > 0)
            ok = EVP_DigestUpdate(ctx, ":", 1);
        ok = ok && EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &len) && len == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return ENOMEM;
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

struct credentials {
    char ha1[HA1_HEX];  /* MD5(user:domain:password) */
    char ha1b[HA1_HEX]; /* MD5(user@domain:domain:password) */
    const char *plain;  /* what goes in the password column: the password or "" */
};

static int make_credentials(const struct user_ctx *x, const char *user, const char *domain,
                            const char *password, struct credentials *out)
{
    char user_at_domain[512];
    if ((size_t)snprintf(user_at_domain, sizeof(user_at_domain), "%s@%s", user, domain) >=
        sizeof(user_at_domain))
        return EINVAL; /* the lengths were checked against the columns before */
    int err = md5_ha1(user, domain, password, out->ha1);
    if (!err)
        err = md5_ha1(user_at_domain, domain, password, out->ha1b);
    out->plain = x->calculate_ha1 ? password : "";
    return err;
}

/* ---------------------------------------------------------------- arguments */

/* Characters, as MySQL counts them in utf8mb4 (continuation bytes do not count). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A value must be free of controls and fit its column (NULL: stored nowhere
 * as such). EINVAL (reported) or 0. */
static int check_value(const struct user_ctx *x, const char *what, const char *value,
                       const char *column)
{
    if (has_control(value)) {
        fprintf(stderr, "sipctl: the %s holds control characters\n", what);
        return EINVAL;
    }
    const struct column *c = column ? find_column(x, column) : NULL;
    size_t n = utf8_chars(value);
    if (c && c->max_chars > 0 && n > (size_t)c->max_chars) {
        fprintf(stderr, "sipctl: the %s has %zu characters; column subscriber.%s holds %lld\n",
                what, n, c->name, c->max_chars);
        return EINVAL;
    }
    return 0;
}

/* Splits USER into user and domain (the default when USER has no '@'). */
static int split_user(const struct user_ctx *x, const char *arg, char *user, size_t user_cap,
                      char *domain, size_t domain_cap, bool *defaulted)
{
    const char *at = strchr(arg, '@');
    size_t ulen = at ? (size_t)(at - arg) : strlen(arg);
    const char *d = at ? at + 1 : x->domain;

    if (ulen == 0 || (at && (*d == '\0' || strchr(d, '@')))) {
        fprintf(stderr, "sipctl: \"%s\": expected user or user@domain\n", arg);
        return EINVAL;
    }
    if (ulen >= user_cap || strlen(d) >= domain_cap) {
        fprintf(stderr, "sipctl: \"%s\": too long\n", arg);
        return EINVAL;
    }
    memcpy(user, arg, ulen);
    user[ulen] = '\0';
    snprintf(domain, domain_cap, "%s", d);
    *defaulted = !at;
    return 0;
}

/* ---------------------------------------------------------------- sipd's cache */

/* Asks a running sipd to drop its cached entry. Not running: nothing to do.
 * Any other failure is a warning: the database change stands. */
static void invalidate(const struct user_ctx *x, const char *user, const char *domain)
{
    json_t *params = json_pack("{s:s, s:s}", "username", user, "domain", domain);
    json_t *reply = NULL;
    const char *why = "";
    if (!params)
        return;
    int err = ctl_call(x->ctl_socket, "subscriber.invalidate", params, INVALIDATE_TIMEOUT_MS,
                       &reply, &why);
    json_decref(params);
    if (err) {
        if (strcmp(why, "connect") == 0 && (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR))
            return; /* sipd is not running: it will read the database when it starts */
        fprintf(stderr,
                "sipctl: warning: sipd at %s did not drop its cached entry (%s: %s); "
                "it may use the old one until the entry expires\n",
                x->ctl_socket, why, strerror(err));
        return;
    }
    json_t *e = json_object_get(reply, "error");
    if (e) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        fprintf(stderr,
                "sipctl: warning: sipd at %s: subscriber.invalidate: %s; it may use its "
                "cached entry until it expires\n",
                x->ctl_socket, msg ? msg : "error");
    }
    json_decref(reply);
}

/* ---------------------------------------------------------------- the verbs */

/* "added 1000@example.com", and where a defaulted domain came from. */
static void report(const struct user_ctx *x, enum user_verb verb, const char *user,
                   const char *domain, bool defaulted)
{
    static const char *const done[] = {
        [VERB_ADD] = "added", [VERB_PASSWD] = "password changed for", [VERB_RM] = "removed"};
    static const char *const done_json[] = {
        [VERB_ADD] = "added", [VERB_PASSWD] = "password_changed", [VERB_RM] = "removed"};
    const char *action = x->opts->json ? done_json[verb] : done[verb];

    if (x->opts->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "action", action, "username", user, "domain",
                              domain, "domain_from", defaulted ? x->domain_from : "USER@DOMAIN");
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(j);
        return;
    }
    if (defaulted)
        printf("%s %s@%s (domain %s: %s%s%s)\n", action, user, domain, domain, x->domain_from,
               x->config_path ? " of " : "", x->config_path ? x->config_path : "");
    else
        printf("%s %s@%s\n", action, user, domain);
}

static int cmd_add(struct user_ctx *x, const char *user, const char *domain, const char *password,
                   const char *email)
{
    struct credentials cr;
    bool found;
    int err;

    if ((err = user_exists(x, user, domain, &found)) != 0)
        return db_failed(x, err, "looking the user up");
    if (found) {
        fprintf(stderr, "sipctl: %s@%s exists (change its password with sipctl passwd)\n", user,
                domain);
        return EEXIST;
    }
    const struct column *email_col = find_column(x, EXTRAS_COLUMN);
    if (email && email_col && (err = check_value(x, "email address", email, EXTRAS_COLUMN)))
        return err;
    if ((err = make_credentials(x, user, domain, password, &cr)) != 0)
        return db_failed(x, err, "computing the HA1");

    /*
     * Column names cannot be bound parameters, so the password column (from
     * the config) is written into the SQL text: it is safe because
     * load_config() accepted only [A-Za-z0-9_]+ and open_database() found it
     * among subscriber's columns; the backquotes keep a reserved word a name.
     * Every value is still a bound parameter.
     */
    char sql[512];
    struct db_val p[6];
    unsigned n = 0;
    int len = snprintf(sql, sizeof(sql), "INSERT INTO subscriber (username, domain, ha1, ha1b");
    p[n++] = DB_VAL_STR(slice_from_str(user));
    p[n++] = DB_VAL_STR(slice_from_str(domain));
    p[n++] = DB_VAL_STR(slice_from_str(cr.ha1));
    p[n++] = DB_VAL_STR(slice_from_str(cr.ha1b));
    if (!x->password_column_is_ha1) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, ", `%s`", x->password_column);
        p[n++] = DB_VAL_STR(slice_from_str(cr.plain));
    }
    if (email && email_col) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, ", `" EXTRAS_COLUMN "`");
        p[n++] = DB_VAL_STR(slice_from_str(email));
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, ") VALUES (?, ?, ?, ?%s%s)",
             x->password_column_is_ha1 ? "" : ", ?", email && email_col ? ", ?" : "");

    struct db_stmt *s;
    err = db_prepare(x->conn, sql, &s);
    if (!err)
        err = db_exec(s, p, n, NULL);
    if (err == EINVAL && user_exists(x, user, domain, &found) == 0 && found) {
        fprintf(stderr, "sipctl: %s@%s exists (added meanwhile by someone else)\n", user, domain);
        return EEXIST;
    }
    if (err)
        return db_failed(x, err, "adding the user");
    if (email && !email_col)
        fprintf(stderr,
                "sipctl: warning: the email address was not stored: table subscriber has "
                "no " EXTRAS_COLUMN " column (Kamailio's layout has none; sql/sipd-extras.sql adds "
                "it)\n");
    return 0;
}

static int cmd_passwd(struct user_ctx *x, const char *user, const char *domain,
                      const char *password)
{
    struct credentials cr;
    int err;

    if ((err = make_credentials(x, user, domain, password, &cr)) != 0)
        return db_failed(x, err, "computing the HA1");
    /* The password column goes into the SQL text: see cmd_add() for why that is safe. */
    char sql[512];
    struct db_val p[5];
    unsigned n = 0;
    if (x->password_column_is_ha1) {
        snprintf(sql, sizeof(sql),
                 "UPDATE subscriber SET ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?");
    } else {
        snprintf(sql, sizeof(sql),
                 "UPDATE subscriber SET ha1 = ?, ha1b = ?, `%s` = ?"
                 " WHERE username = ? AND domain = ?",
                 x->password_column);
    }
    p[n++] = DB_VAL_STR(slice_from_str(cr.ha1));
    p[n++] = DB_VAL_STR(slice_from_str(cr.ha1b));
    if (!x->password_column_is_ha1)
        p[n++] = DB_VAL_STR(slice_from_str(cr.plain));
    p[n++] = DB_VAL_STR(slice_from_str(user));
    p[n++] = DB_VAL_STR(slice_from_str(domain));

    struct db_stmt *s;
    uint64_t matched = 0;
    err = db_prepare(x->conn, sql, &s);
    if (!err)
        err = db_exec(s, p, n, &matched); /* CLIENT_FOUND_ROWS: rows found, changed or not */
    if (err)
        return db_failed(x, err, "changing the password");
    if (matched == 0) {
        fprintf(stderr, "sipctl: no such user: %s@%s\n", user, domain);
        return ENOENT;
    }
    return 0;
}

static int cmd_rm(struct user_ctx *x, const char *user, const char *domain)
{
    struct db_val p[2] = {DB_VAL_STR(slice_from_str(user)), DB_VAL_STR(slice_from_str(domain))};
    struct db_stmt *s;
    uint64_t removed = 0;
    int err = db_prepare(x->conn, "DELETE FROM subscriber WHERE username = ? AND domain = ?", &s);
    if (!err)
        err = db_exec(s, p, 2, &removed);
    if (err)
        return db_failed(x, err, "removing the user");
    if (removed == 0) {
        fprintf(stderr, "sipctl: no such user: %s@%s\n", user, domain);
        return ENOENT;
    }
    return 0;
}

struct list_state {
    bool json;
    bool with_email;
    json_t *array;
    int err;
};

static int list_row(void *arg, const struct db_val *cols, unsigned ncols)
{
    struct list_state *st = arg;
    if (ncols < 2)
        return 0;
    struct slice u = cols[0].s, d = cols[1].s;
    if (!st->json) {
        printf("%.*s@%.*s\n", (int)u.len, u.p ? u.p : "", (int)d.len, d.p ? d.p : "");
        return 0;
    }
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "username", json_stringn(u.p ? u.p : "", u.len)) ||
        json_object_set_new(o, "domain", json_stringn(d.p ? d.p : "", d.len)) ||
        (st->with_email && ncols > 2 &&
         json_object_set_new(o, "email_address",
                             json_stringn(cols[2].s.p ? cols[2].s.p : "", cols[2].s.len))) ||
        json_array_append_new(st->array, o)) {
        json_decref(o);
        st->err = ENOMEM; /* the row stays unlisted; the command fails below */
    }
    return 0;
}

static int cmd_list(struct user_ctx *x)
{
    struct list_state st = {.json = x->opts->json, .with_email = find_column(x, EXTRAS_COLUMN)};
    struct db_stmt *s;
    int err;

    if (st.json && !(st.array = json_array()))
        return db_failed(x, ENOMEM, "listing");
    err = db_prepare(x->conn,
                     st.with_email ? "SELECT username, domain, `" EXTRAS_COLUMN "` FROM subscriber"
                                     " ORDER BY domain, username"
                                   : "SELECT username, domain FROM subscriber"
                                     " ORDER BY domain, username",
                     &s);
    if (!err)
        err = db_query(s, NULL, 0, list_row, &st);
    if (!err)
        err = st.err;
    if (!err && st.json) {
        char *text = json_dumps(st.array, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        else
            err = ENOMEM;
        free(text);
    }
    json_decref(st.array);
    return err ? db_failed(x, err, "listing the users") : 0;
}

/* ---------------------------------------------------------------- entry */

int sipctl_user(const struct sipctl_opts *o, int argc, char **argv)
{
    struct user_ctx x = {.opts = o, .config_path = o->config};
    enum user_verb verb;
    int ret = 1, err;

    /* the words each verb takes, its own name included (add's EMAIL is optional) */
    static const struct {
        const char *name;
        enum user_verb verb;
        int min_words, max_words;
    } verbs[] = {
        {"add", VERB_ADD, 3, 4},
        {"passwd", VERB_PASSWD, 3, 3},
        {"rm", VERB_RM, 2, 2},
        {"list", VERB_LIST, 1, 1},
    };
    size_t i = 0;
    while (argc >= 1 && i < sizeof(verbs) / sizeof(verbs[0]) && strcmp(argv[0], verbs[i].name))
        i++;
    if (argc < 1 || i == sizeof(verbs) / sizeof(verbs[0]) || argc < verbs[i].min_words ||
        argc > verbs[i].max_words)
        goto usage;
    verb = verbs[i].verb;
    if (!o->config && !o->db_url) {
        fprintf(stderr, "sipctl: %s needs the database: give -c CONFIG (with db_url) or --db URL\n",
                argv[0]);
        goto usage;
    }
    const char *password = verb == VERB_ADD || verb == VERB_PASSWD ? argv[2] : NULL;
    const char *email = verb == VERB_ADD && argc == 4 ? argv[3] : NULL;
    if (password && !*password) {
        fprintf(stderr, "sipctl: %s: the password is empty\n", argv[0]);
        goto usage;
    }

    log_setup(&(struct log_cfg){.level = LOG_LVL_ERR, .to_stderr = true, .ident = "sipctl"});
    if ((err = load_config(&x)) != 0)
        goto out;

    char user[256], domain[256];
    bool defaulted = false;
    if (verb != VERB_LIST &&
        (err = split_user(&x, argv[1], user, sizeof(user), domain, sizeof(domain), &defaulted)))
        goto out;
    if ((err = open_database(&x)) != 0)
        goto out;
    if (verb != VERB_LIST &&
        ((err = check_value(&x, "user name", user, "username")) ||
         (err = check_value(&x, "domain", domain, "domain")) ||
         (password && (err = check_value(&x, "password", password,
                                         x.calculate_ha1 ? x.password_column : NULL)))))
        goto out;

    switch (verb) {
    case VERB_ADD:
        err = cmd_add(&x, user, domain, password, email);
        break;
    case VERB_PASSWD:
        err = cmd_passwd(&x, user, domain, password);
        break;
    case VERB_RM:
        err = cmd_rm(&x, user, domain);
        break;
    case VERB_LIST:
        err = cmd_list(&x);
        break;
    }
    if (err)
        goto out;
    if (verb != VERB_LIST) {
        report(&x, verb, user, domain, defaulted);
        invalidate(&x, user, domain);
    }
    ret = 0;
out:
    if (x.db)
        close_database(&x);
    json_decref(x.config);
    return ret;

usage:
    fputs(usage_text, stderr);
    return 2;
}
