/* sipctl.c: the operator's tool, sipd's counterpart of SER's serctl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sipctl.h"

#define DEFAULT_SOCKET SIPCTL_DEFAULT_SOCKET

static void usage(FILE *f)
{
    fputs("usage: sipctl [-s SOCKET | -c CONFIG] [--db URL] [--json] COMMAND [ARGS]\n"
          "  -s SOCKET   sipd's control socket (default: the config's ctl_socket, else " DEFAULT_SOCKET ")\n"
          "  -c CONFIG   read ctl_socket, db_url and the auth_db options from this config.json\n"
          "  --db URL    the database of the user commands (default: the config's db_url)\n"
          "  --json      print the raw JSON-RPC result\n"
          "commands:\n"
          "  parse [--pretty] [FILE|-]   print a SIP message as JSON with sipd's verdict (offline)\n"
          "  version                     the running sipd's version\n"
          "  stats                       message, reply, error and queue counters\n"
          "  reload                      reload config.json; prints the error and keeps the old on failure\n"
          "  ul show [AOR] [--offset N] [--limit N]   registered contacts\n"
          "  ul rm AOR | ul flush        remove an AOR; write pending registrations to the database now\n"
          "  alias add ALIAS TARGET | alias rm ALIAS\n"
          "  ban list | ban rm ip:ADDRESS|user:NAME   temporary bans after failed authentications\n"
          "  add USER PASSWORD [EMAIL]   add a subscriber (USER: user or user@domain)\n"
          "  passwd USER PASSWORD | rm USER | list   change, remove, list subscribers\n"
          "                              (these write the database; sipd need not run)\n",
          f);
}

/* The config's ctl_socket, copied, or NULL. */
static char *socket_from_config(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "sipctl: %s:%d: %s\n", path, jerr.line, jerr.text);
        return NULL;
    }
    const char *s = json_string_value(json_object_get(root, "ctl_socket"));
    char *copy = strdup(s ? s : DEFAULT_SOCKET);
    json_decref(root);
    return copy;
}

int main(int argc, char **argv)
{
    struct sipctl_opts o = {.socket = NULL};
    char *from_config = NULL;
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            o.socket = argv[++i];
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            o.config = argv[++i];
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            o.db_url = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sipctl: unknown option \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "parse") == 0)
        return sipctl_parse(argc - i, argv + i);
    if (strcmp(cmd, "add") == 0 || strcmp(cmd, "passwd") == 0 || strcmp(cmd, "rm") == 0 ||
        strcmp(cmd, "list") == 0) {
        /* --json may come anywhere before "--"; after it every word is an argument */
        char *words[8];
        int n = 0;
        bool options = true;
        for (int j = i; j < argc; j++) {
            if (options && strcmp(argv[j], "--json") == 0) {
                o.json = true;
            } else if (options && strcmp(argv[j], "--") == 0) {
                options = false;
            } else if (n == 8) {
                fprintf(stderr, "sipctl: %s: too many arguments\n", cmd);
                return 2;
            } else {
                words[n++] = argv[j];
            }
        }
        /* the user commands resolve the socket themselves, with the rest of the config */
        return sipctl_user(&o, n, words);
    }
    if (strcmp(cmd, "ul") == 0 || strcmp(cmd, "alias") == 0 || strcmp(cmd, "ban") == 0) {
        /* --json may come anywhere; the rest are the subcommand's words */
        char *rest[16];
        int n = 0;
        for (int j = i + 1; j < argc && n < 16; j++) {
            if (strcmp(argv[j], "--json") == 0)
                o.json = true;
            else
                rest[n++] = argv[j];
        }
        if (!o.socket && o.config) {
            from_config = socket_from_config(o.config);
            if (!from_config)
                return 2;
            o.socket = from_config;
        }
        if (!o.socket)
            o.socket = DEFAULT_SOCKET;
        int r = cmd[0] == 'u'   ? sipctl_ul(&o, n, rest)
                : cmd[0] == 'a' ? sipctl_alias(&o, n, rest)
                                : sipctl_ban(&o, n, rest);
        free(from_config);
        return r;
    }
    /* the control commands take no arguments but the output option */
    for (int j = i + 1; j < argc; j++) {
        if (strcmp(argv[j], "--json") == 0) {
            o.json = true;
        } else {
            fprintf(stderr, "sipctl: %s: unexpected argument \"%s\"\n", cmd, argv[j]);
            return 2;
        }
    }
    if (!o.socket && o.config) {
        from_config = socket_from_config(o.config);
        if (!from_config)
            return 2;
        o.socket = from_config;
    }
    if (!o.socket)
        o.socket = DEFAULT_SOCKET;
    int ret;
    if (strcmp(cmd, "version") == 0)
        ret = sipctl_version(&o);
    else if (strcmp(cmd, "stats") == 0)
        ret = sipctl_stats(&o);
    else if (strcmp(cmd, "reload") == 0)
        ret = sipctl_reload(&o);
    else {
        fprintf(stderr, "sipctl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        ret = 2;
    }
    free(from_config);
    return ret;
}
