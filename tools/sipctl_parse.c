/* sipctl_parse.c: sipctl parse (placeholder until written). */
#include <stdio.h>

#include "sipctl.h"

int sipctl_parse(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("sipctl parse: not written yet\n", stderr);
    return 2;
}
