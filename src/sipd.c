/* sipd.c: the sipd program. Startup, runtime and shutdown live in their modules. */
#include <stdio.h>
#include <string.h>

#define SIPD_VERSION "0.1.0"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("sipd %s\n", SIPD_VERSION);
            return 0;
        }
    }
    fprintf(stderr, "sipd %s: the runtime (config, sockets, workers) is not built yet\n",
            SIPD_VERSION);
    return 1;
}
