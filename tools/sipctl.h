/* sipctl.h: the subcommands of sipctl. */
#ifndef SIPD_TOOLS_SIPCTL_H
#define SIPD_TOOLS_SIPCTL_H

/* sipctl parse [--pretty] [FILE|-]: exit 0 when JSON was printed, 2 on usage or I/O errors. */
int sipctl_parse(int argc, char **argv);

#endif
