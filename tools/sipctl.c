/* sipctl.c: the operator's tool, sipd's counterpart of SER's serctl. */
#include <stdio.h>
#include <string.h>

#include "sipctl.h"

static void usage(FILE *f)
{
    fputs("usage: sipctl COMMAND [ARGS]\n"
          "commands:\n"
          "  parse [--pretty] [FILE|-]   print a SIP message as JSON with sipd's verdict\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "parse") == 0)
        return sipctl_parse(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sipctl: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
