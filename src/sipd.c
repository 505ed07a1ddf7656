/* sipd.c: the sipd program: arguments, then the runtime in src/route/ does the rest. */
#include <stdio.h>
#include <string.h>

#include "route/route.h"

#define SIPD_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("usage: sipd [-c FILE] [--check] [-F] [-V]\n"
          "  -c FILE   config file (default: config.json)\n"
          "  --check   validate the config and exit: 0 when good, 1 with the fault\n"
          "  -F        stay in the foreground whatever \"fork\" says\n"
          "  -V        print the version\n",
          f);
}

static int check(const char *path)
{
    struct route_cfg *cfg;
    char err[1024];

    if (route_cfg_load(&cfg, path, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    route_cfg_free(cfg);
    printf("%s: ok\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    struct route_opts opts = {.config_path = "config.json"};
    bool only_check = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            opts.config_path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            only_check = true;
        } else if (strcmp(argv[i], "-F") == 0) {
            opts.foreground_override = true;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("sipd %s\n", SIPD_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sipd: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    if (only_check)
        return check(opts.config_path);

    struct route_runtime *rt;
    if (route_runtime_start(&rt, &opts) != 0)
        return 1;
    route_runtime_wait(rt);
    route_runtime_stop(rt);
    return 0;
}
