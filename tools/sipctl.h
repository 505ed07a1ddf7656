/* sipctl.h: the subcommands of sipctl. */
#ifndef SIPD_TOOLS_SIPCTL_H
#define SIPD_TOOLS_SIPCTL_H

#include <stdbool.h>

/* Options before the command: where sipd's control socket is, output form. */
struct sipctl_opts {
    const char *socket; /* -s PATH, else the config's ctl_socket (-c FILE), else /tmp/sipd_ctl */
    const char *config; /* -c FILE */
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

#endif
