/* sipctl.h: the subcommands of sipctl. */
#ifndef SIPD_TOOLS_SIPCTL_H
#define SIPD_TOOLS_SIPCTL_H

#include <stdbool.h>

#define SIPCTL_DEFAULT_SOCKET "/tmp/sipd_ctl"

/* Options before the command: where sipd's control socket is, the database, output form. */
struct sipctl_opts {
    const char *socket; /* -s PATH, else the config's ctl_socket (-c FILE), else /tmp/sipd_ctl */
    const char *config; /* -c FILE */
    const char *db_url; /* --db URL, else the config's (user commands) */
    bool json;          /* --json */
};

/* sipctl parse [--pretty] [FILE|-]: exit 0 when JSON was printed, 2 on usage or I/O errors. */
int sipctl_parse(int argc, char **argv);

/* Control-socket commands: exit 0 on success, 1 when sipd said no or cannot be reached. */
int sipctl_version(const struct sipctl_opts *o);
int sipctl_stats(const struct sipctl_opts *o);
int sipctl_reload(const struct sipctl_opts *o);
/* sipctl ul show [AOR] | ul rm AOR | ul flush; sipctl alias add ALIAS TARGET | alias rm ALIAS */
int sipctl_ul(const struct sipctl_opts *o, int argc, char **argv);
int sipctl_alias(const struct sipctl_opts *o, int argc, char **argv);
/* sipctl ban list | ban rm KEY */
int sipctl_ban(const struct sipctl_opts *o, int argc, char **argv);

/*
 * sipctl add USER PASSWORD [EMAIL] | passwd USER PASSWORD | rm USER | list
 * (argv[0] is the verb): the subscriber table, written directly (sipd need
 * not run), then a running sipd is told to drop its cached entry. Exit 0
 * when the database change is done (a sipd that cannot drop its entry is a
 * warning), 1 when it is not (user exists, no such user, database
 * unreachable, bad config), 2 on usage errors.
 */
int sipctl_user(const struct sipctl_opts *o, int argc, char **argv);

#endif
