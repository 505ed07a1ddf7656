/* sipctl_ctl.c: sipctl's commands that talk to a running sipd over its control socket. */
#include <errno.h>
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
