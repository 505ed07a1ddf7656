/* sipctl_ctl.c: sipctl's commands that talk to a running sipd over its control socket. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/ctl.h"
#include "sipctl.h"

#define CALL_TIMEOUT_MS 10000

/* Calls method; prints errors; returns the result (new reference) or NULL. */
static json_t *call(const struct sipctl_opts *o, const char *method, json_t *params)
{
    json_t *reply = NULL;
    const char *why = "";
    int err = ctl_call(o->socket, method, params, CALL_TIMEOUT_MS, &reply, &why);
    if (err) {
        fprintf(stderr, "sipctl: %s: %s: %s (is sipd running with ctl_socket \"%s\"?)\n",
                o->socket, why, strerror(err), o->socket);
        return NULL;
    }
    json_t *e = json_object_get(reply, "error");
    if (e) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "sipctl: %s: %s\n", method, msg ? msg : "error");
        json_decref(reply);
        return NULL;
    }
    json_t *result = json_incref(json_object_get(reply, "result"));
    json_decref(reply);
    if (!result)
        fprintf(stderr, "sipctl: %s: the reply has no result\n", method);
    return result;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

int sipctl_version(const struct sipctl_opts *o)
{
    json_t *r = call(o, "core.version", NULL);
    if (!r)
        return 1;
    if (o->json)
        print_json(r);
    else
        printf("%s %s\n", json_string_value(json_object_get(r, "name")),
               json_string_value(json_object_get(r, "version")));
    json_decref(r);
    return 0;
}

int sipctl_reload(const struct sipctl_opts *o)
{
    json_t *r = call(o, "core.reload", NULL);
    if (!r)
        return 1;
    if (o->json)
        print_json(r);
    else
        puts("reloaded");
    json_decref(r);
    return 0;
}

static void print_counters(const char *prefix, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (json_is_integer(v))
            printf("  %s%-28s %lld\n", prefix, k, (long long)json_integer_value(v));
    }
}

int sipctl_stats(const struct sipctl_opts *o)
{
    json_t *r = call(o, "core.stats", NULL);
    if (!r)
        return 1;
    if (o->json) {
        print_json(r);
        json_decref(r);
        return 0;
    }
    const char *k;
    json_t *v;
    puts("messages:");
    json_object_foreach(r, k, v)
    {
        if (json_is_integer(v))
            printf("  %-30s %lld\n", k, (long long)json_integer_value(v));
    }
    puts("replies by class:");
    print_counters("", json_object_get(r, "replies"));
    puts("replies by code:");
    print_counters("", json_object_get(r, "reply_codes"));
    json_t *reasons = json_object_get(r, "parse_errors_by_reason");
    if (json_object_size(reasons)) {
        puts("parse errors by reason:");
        print_counters("", reasons);
    }
    puts("worker queues:");
    size_t i;
    json_array_foreach(json_object_get(r, "queues"), i, v)
    {
        printf("  worker %-3zu depth %-8lld processed %-12lld overload %lld\n", i,
               (long long)json_integer_value(json_object_get(v, "depth")),
               (long long)json_integer_value(json_object_get(v, "processed")),
               (long long)json_integer_value(json_object_get(v, "overload")));
    }
    json_decref(r);
    return 0;
}

/* sipctl ul show [AOR] [--offset N] [--limit N] | ul rm AOR | ul flush */
int sipctl_ul(const struct sipctl_opts *o, int argc, char **argv)
{
    json_t *params = json_object();
    const char *method;
    int ret = 1;

    if (argc >= 1 && strcmp(argv[0], "show") == 0) {
        method = "ul.show";
        for (int i = 1; i < argc; i++) {
            if ((strcmp(argv[i], "--offset") == 0 || strcmp(argv[i], "--limit") == 0) &&
                i + 1 < argc) {
                json_object_set_new(params, argv[i] + 2, json_integer(atoll(argv[i + 1])));
                i++;
            } else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
                json_object_set_new(params, "table", json_string(argv[++i]));
            } else {
                json_object_set_new(params, "aor", json_string(argv[i]));
            }
        }
    } else if (argc == 2 && strcmp(argv[0], "rm") == 0) {
        method = "ul.rm";
        json_object_set_new(params, "aor", json_string(argv[1]));
    } else if (argc == 1 && strcmp(argv[0], "flush") == 0) {
        method = "ul.flush";
    } else {
        fprintf(stderr, "usage: sipctl ul show [AOR] [--offset N] [--limit N] | ul rm AOR | ul flush\n");
        json_decref(params);
        return 2;
    }
    json_t *r = call(o, method, params);
    json_decref(params);
    if (!r)
        return 1;
    if (o->json || strcmp(method, "ul.show") != 0) {
        print_json(r);
        ret = 0;
    } else {
        /* readable: one AOR per block */
        json_t *aors = json_object_get(r, "aors");
        json_t *one = aors ? NULL : r;
        size_t i;
        json_t *a;
        if (one) {
            aors = json_array();
            json_array_append(aors, one);
        }
        json_array_foreach(aors, i, a)
        {
            printf("%s\n", json_string_value(json_object_get(a, "aor")));
            size_t j;
            json_t *c;
            json_array_foreach(json_object_get(a, "contacts"), j, c)
            {
                json_t *e = json_object_get(c, "expires");
                char exp[32];
                if (json_is_integer(e))
                    snprintf(exp, sizeof(exp), "%llds", (long long)json_integer_value(e));
                else
                    snprintf(exp, sizeof(exp), "never");
                printf("  %-50s expires %-8s q %.2f  %s\n",
                       json_string_value(json_object_get(c, "contact")), exp,
                       json_real_value(json_object_get(c, "q")),
                       json_string_value(json_object_get(c, "user_agent"))
                           ? json_string_value(json_object_get(c, "user_agent"))
                           : "");
            }
        }
        if (!one)
            printf("(%zu of %lld AORs)\n", json_array_size(aors),
                   (long long)json_integer_value(json_object_get(r, "total")));
        else
            json_decref(aors);
        ret = 0;
    }
    json_decref(r);
    return ret;
}

/* sipctl alias add ALIAS TARGET | alias rm ALIAS */
int sipctl_alias(const struct sipctl_opts *o, int argc, char **argv)
{
    json_t *params = json_object();
    const char *method;
    if (argc == 3 && strcmp(argv[0], "add") == 0) {
        method = "alias.add";
        json_object_set_new(params, "alias", json_string(argv[1]));
        json_object_set_new(params, "target", json_string(argv[2]));
    } else if (argc == 2 && strcmp(argv[0], "rm") == 0) {
        method = "alias.rm";
        json_object_set_new(params, "alias", json_string(argv[1]));
    } else {
        fprintf(stderr, "usage: sipctl alias add ALIAS TARGET | alias rm ALIAS\n");
        json_decref(params);
        return 2;
    }
    json_t *r = call(o, method, params);
    json_decref(params);
    if (!r)
        return 1;
    print_json(r);
    json_decref(r);
    return 0;
}

/* sipctl ban list | ban rm KEY ("ip:ADDRESS" or "user:NAME") */
int sipctl_ban(const struct sipctl_opts *o, int argc, char **argv)
{
    json_t *r;
    if (argc == 1 && strcmp(argv[0], "list") == 0) {
        r = call(o, "auth.ban_list", NULL);
        if (!r)
            return 1;
        if (o->json) {
            print_json(r);
        } else {
            size_t i;
            json_t *b;
            json_array_foreach(r, i, b)
            {
                printf("%-40s %5llds left, %d failures\n",
                       json_string_value(json_object_get(b, "key")),
                       (long long)json_integer_value(json_object_get(b, "seconds_left")),
                       (int)json_integer_value(json_object_get(b, "failures")));
            }
            if (json_array_size(r) == 0)
                puts("no bans");
        }
    } else if (argc == 2 && strcmp(argv[0], "rm") == 0) {
        json_t *params = json_pack("{s:s}", "key", argv[1]);
        r = call(o, "auth.ban_rm", params);
        json_decref(params);
        if (!r)
            return 1;
        if (o->json)
            print_json(r);
        else
            printf("ban on %s lifted\n", argv[1]);
    } else {
        fprintf(stderr, "usage: sipctl ban list | ban rm ip:ADDRESS|user:NAME\n");
        return 2;
    }
    json_decref(r);
    return 0;
}
