/* config_test.c: tests src/route/config.c: the good configs load, each bad one fails with its exact error. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route/route_int.h"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

/* "FILE" in the expected text stands for the path the loader was given. */
static void expect_error(const char *json_path, const char *err_path)
{
    struct route_cfg *cfg = NULL;
    char err[1024];
    char want[2048];
    const char *tmpl = read_text(err_path);

    assert_non_null(tmpl);
    const char *f = strstr(tmpl, "FILE");
    assert_non_null(f);
    snprintf(want, sizeof(want), "%.*s%s%s", (int)(f - tmpl), tmpl, json_path, f + 4);
    int ret = route_cfg_load(&cfg, json_path, NULL, err, sizeof(err));
    if (ret == 0)
        fail_msg("%s loaded, but should fail with: %s", json_path, want);
    assert_null(cfg);
    if (strcmp(err, want) != 0)
        fail_msg("%s:\n  want: %s\n  got:  %s", json_path, want, err);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void test_bad_configs(void **state)
{
    (void)state;
    struct dirent **names;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/config/bad", SIPD_TEST_DATA_DIR);
    int n = scandir(dir, &names, NULL, by_name);
    assert_true(n > 0);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 5 && strcmp(name + len - 5, ".json") == 0) {
            char jp[1200], ep[1200];
            snprintf(jp, sizeof(jp), "%s/%s", dir, name);
            snprintf(ep, sizeof(ep), "%s/%.*s.err", dir, (int)(len - 5), name);
            expect_error(jp, ep);
            checked++;
        }
        free(names[i]);
    }
    free(names);
    assert_true(checked >= 20);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct route_cfg *cfg;
    char err[1024];
    assert_int_equal(route_cfg_load(&cfg, "/nonexistent/sipd.json", NULL, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "/nonexistent/sipd.json"));
}

static void test_good_options(void **state)
{
    (void)state;
    struct route_cfg *cfg = NULL;
    char err[1024], path[1024];
    snprintf(path, sizeof(path), "%s/config/good/options.json", SIPD_TEST_DATA_DIR);
    int ret = route_cfg_load(&cfg, path, NULL, err, sizeof(err));
    if (ret)
        fail_msg("%s", err);
    const struct route_core *core = route_cfg_core(cfg);
    assert_int_equal(core->children, 4);
    assert_int_equal(core->receivers, 1);
    assert_int_equal(core->listen_n, 2);
    assert_int_equal(core->listens[0].port, 5060);
    assert_string_equal(core->listens[1].host, "::1");
    assert_false(core->fork);
    assert_true(core->log_stderror);
    assert_int_equal(core->max_len, 65535);
    assert_int_equal(core->alias_n, 1);
    assert_int_equal(cfg->route_n, 1);
    assert_int_equal(cfg->routes[cfg->main_route].body.n, 6);
    assert_int_equal(cfg->routes[cfg->main_route].body.nodes[1].kind, NODE_IF);
    assert_int_equal(cfg->routes[cfg->main_route].body.nodes[1].u.if_.cond.kind, COND_NOT);
    route_cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_good_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
