/* sipctl_parse.c: sipctl parse: one SIP message as JSON, with the verdict sipd would give it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "sip/sip.h"
#include "sipctl.h"

/*
 * What the JSON means (also in the --help text):
 *   - A top-level key is missing when that value was not decoded because
 *     the parse failed first; null means the message has none. Inside a
 *     decoded value, absent parts are left out, except the From/To tag and
 *     the Via branch, which are null when absent (their absence matters).
 *   - Header values, raw URIs and name-addrs are unfolded: each line break
 *     and the whitespace after it read as one SP.
 *   - JSON strings must be UTF-8. A value whose bytes are not is written
 *     with every such byte, and every '%', as %HH, and flagged by a
 *     companion "<key>_not_utf8": true. NUL and other controls are fine:
 *     JSON escapes them as \u00HH.
 *   - "<key>_decoded" is the %HH-unescaped form of a URI part, given when
 *     the part holds escapes.
 */

#define SIPCTL_MAX_INPUT (1024u * 1024u)

/* The tool's arena starts on the stack and may grow far beyond what one
 * message can need: the point is to show the message, not an arena limit. */
#define SIPCTL_ARENA_STACK 16384u
#define SIPCTL_ARENA_LIMIT (16u * 1024u * 1024u)

static const char usage_text[] =
    "usage: sipctl parse [--pretty] [FILE|-]\n"
    "\n"
    "Reads one SIP message (a datagram, at most 1 MiB) from FILE, or from standard\n"
    "input when FILE is - or missing, parses it as sipd's receivers do and prints\n"
    "JSON: the decoded message and sipd's verdict (accept, reply with a code, or\n"
    "drop), with the error that led to it.\n"
    "\n"
    "  --pretty     indent the JSON\n"
    "  -h, --help   show this help\n"
    "\n"
    "Reading the JSON: a top-level key is missing when the parse failed before\n"
    "that value was decoded; null means the message has no such value. Inside a\n"
    "decoded value absent parts are left out, but a missing From/To tag or Via\n"
    "branch is null. Header values are unfolded. A string whose bytes are not\n"
    "valid UTF-8 shows those bytes, and every '%', as %HH, and comes with\n"
    "\"<key>_not_utf8\": true. \"<key>_decoded\" is a URI part with its %HH escapes\n"
    "undone.\n"
    "\n"
    "Exit status: 0 when JSON was printed, whatever the verdict; 2 on usage or\n"
    "I/O errors.\n";

/* Building the document: every jansson call that can fail goes through
 * put() or push(), which remember a failure (out of memory) so that it is
 * reported once at the end instead of after each call. */
struct json_ctx {
    bool failed;
};

static void put(struct json_ctx *c, json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new() takes the reference even when it fails */
    if (!obj || !value || json_object_set_new(obj, key, value) != 0)
        c->failed = true;
}

static void push(struct json_ctx *c, json_t *arr, json_t *value)
{
    if (!arr || !value || json_array_append_new(arr, value) != 0)
        c->failed = true;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/* A JSON string of arbitrary bytes. When they are not valid UTF-8, the bad
 * bytes and every '%' are written as %HH (so the text can be read back
 * unambiguously) and *not_utf8 is set. */
static json_t *json_bytes(const char *p, size_t len, bool *not_utf8)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, k;

    *not_utf8 = false;
    while (i < len && (k = utf8_len(u + i, len - i)) != 0)
        i += k;
    if (i == len)
        return json_stringn(len ? p : "", len);
    *not_utf8 = true;
    char *out = malloc(len * 3);
    if (!out)
        return NULL;
    size_t o = 0;
    for (i = 0; i < len; i += k) {
        k = utf8_len(u + i, len - i);
        if (k == 0 || u[i] == '%') {
            out[o++] = '%';
            out[o++] = hex[u[i] >> 4];
            out[o++] = hex[u[i] & 15];
            k = 1;
        } else {
            memcpy(out + o, p + i, k);
            o += k;
        }
    }
    json_t *s = json_stringn(out, o);
    free(out);
    return s;
}

/* Unfolds v into out (at least v.len bytes): each line break (CRLF or LF)
 * and the SP/HTAB run after it become one SP. Returns the length. */
static size_t unfold(struct slice v, char *out)
{
    size_t o = 0, i = 0;

    while (i < v.len) {
        size_t j = i;
        if (v.p[j] == '\r' && j + 1 < v.len && v.p[j + 1] == '\n')
            j++;
        if (v.p[j] == '\n') {
            j++;
            while (j < v.len && (v.p[j] == ' ' || v.p[j] == '\t'))
                j++;
            out[o++] = ' ';
            i = j;
            continue;
        }
        out[o++] = v.p[i++];
    }
    return o;
}

/* Sets obj[key] to the bytes (unfolded), with the _not_utf8 companion when needed. */
static void put_bytes(struct json_ctx *c, json_t *obj, const char *key, const char *p, size_t len)
{
    char *buf = len ? malloc(len) : NULL;
    bool not_utf8;

    if (len && !buf) {
        c->failed = true;
        return;
    }
    size_t n = len ? unfold(slice_make(p, len), buf) : 0;
    put(c, obj, key, json_bytes(buf, n, &not_utf8));
    free(buf);
    if (not_utf8) {
        char flag[64];
        snprintf(flag, sizeof(flag), "%s_not_utf8", key);
        put(c, obj, flag, json_true());
    }
}

/* obj[key] = s when s is present; nothing when it is absent. */
static void put_text(struct json_ctx *c, json_t *obj, const char *key, struct slice s)
{
    if (slice_present(s))
        put_bytes(c, obj, key, s.p, s.len);
}

/* obj[key] = s, or null when s is absent. */
static void put_text_or_null(struct json_ctx *c, json_t *obj, const char *key, struct slice s)
{
    if (slice_present(s))
        put_bytes(c, obj, key, s.p, s.len);
    else
        put(c, obj, key, json_null());
}

static void put_str(struct json_ctx *c, json_t *obj, const char *key, const char *s)
{
    put(c, obj, key, json_string(s));
}

static void put_int(struct json_ctx *c, json_t *obj, const char *key, json_int_t v)
{
    put(c, obj, key, json_integer(v));
}

/* obj[key] = v, or null when v is negative (the parser's "absent"). */
static void put_int_or_null(struct json_ctx *c, json_t *obj, const char *key, long v)
{
    put(c, obj, key, v >= 0 ? json_integer(v) : json_null());
}

/* For a %HH-escaped URI part: obj[key_decoded] with the escapes undone, when it has any. */
static void put_unescaped(struct json_ctx *c, json_t *obj, const char *key, struct slice s)
{
    if (!slice_present(s) || !memchr(s.p, '%', s.len))
        return;
    char *buf = malloc(s.len);
    if (!buf) {
        c->failed = true;
        return;
    }
    long n = sip_unescape(s, buf, s.len);
    if (n >= 0) {
        char name[64];
        snprintf(name, sizeof(name), "%s_decoded", key);
        put_bytes(c, obj, name, buf, (size_t)n);
    }
    free(buf);
}

static const char *host_type_name(uint8_t t)
{
    switch (t) {
    case SIP_HOST_NAME:
        return "name";
    case SIP_HOST_IPV4:
        return "ipv4";
    case SIP_HOST_IPV6:
        return "ipv6";
    default:
        return NULL;
    }
}

static void put_host(struct json_ctx *c, json_t *obj, struct slice host, uint8_t type,
                     uint16_t port)
{
    const char *tn = host_type_name(type);

    put_text(c, obj, "host", host);
    if (tn)
        put_str(c, obj, "host_type", tn);
    if (port)
        put_int(c, obj, "port", port);
}

/* One {"name", "value"} pair; value null when there is no '='. URI parts
 * (escaped) also get their decoded forms. */
static json_t *json_pair(struct json_ctx *c, struct slice name, struct slice value, bool escaped)
{
    json_t *o = json_object();

    put_text(c, o, "name", name);
    if (escaped)
        put_unescaped(c, o, "name", name);
    put_text_or_null(c, o, "value", value);
    if (escaped)
        put_unescaped(c, o, "value", value);
    return o;
}

/* A URI parameter run ";a=b;c" (already validated by the URI parser, no LWS). */
static json_t *json_uri_params(struct json_ctx *c, struct slice params)
{
    json_t *arr = json_array();
    const char *p = params.p, *end = slice_end(params);

    while (p && p < end) {
        const char *n = ++p; /* after ';' */
        while (p < end && *p != '=' && *p != ';')
            p++;
        struct slice name = slice_make(n, (size_t)(p - n));
        struct slice value = SLICE_NULL;
        if (p < end && *p == '=') {
            const char *v = ++p;
            while (p < end && *p != ';')
                p++;
            value = slice_make(v, (size_t)(p - v));
        }
        push(c, arr, json_pair(c, name, value, true));
    }
    return arr;
}

/* URI headers "a=b&c=d" (after '?'). */
static json_t *json_uri_headers(struct json_ctx *c, struct slice headers)
{
    json_t *arr = json_array();
    const char *p = headers.p, *end = slice_end(headers);

    while (p && p < end) {
        const char *n = p;
        while (p < end && *p != '=' && *p != '&')
            p++;
        struct slice name = slice_make(n, (size_t)(p - n));
        struct slice value = SLICE_NULL;
        if (p < end && *p == '=') {
            const char *v = ++p;
            while (p < end && *p != '&')
                p++;
            value = slice_make(v, (size_t)(p - v));
        }
        if (p < end)
            p++; /* '&' */
        push(c, arr, json_pair(c, name, value, true));
    }
    return arr;
}

static json_t *json_uri(struct json_ctx *c, const struct sip_uri *uri)
{
    json_t *o = json_object();

    put_text(c, o, "raw", uri->raw);
    put_text(c, o, "scheme", uri->scheme);
    switch (uri->scheme_id) {
    case SIP_URI_OTHER:
        put_text(c, o, "opaque", uri->opaque);
        return o;
    case SIP_URI_TEL:
        put_text(c, o, "number", uri->user);
        break;
    case SIP_URI_SIP:
    case SIP_URI_SIPS:
        put_text(c, o, "user", uri->user);
        put_unescaped(c, o, "user", uri->user);
        put_text(c, o, "password", uri->password);
        put_unescaped(c, o, "password", uri->password);
        put_host(c, o, uri->host, uri->host_type, uri->port);
        break;
    }
    put(c, o, "params", json_uri_params(c, uri->params));
    if (slice_present(uri->headers))
        put(c, o, "headers", json_uri_headers(c, uri->headers));
    return o;
}

/* A URI the parser did not decode for us: decoded here, or its fault. */
static json_t *json_uri_text(struct json_ctx *c, struct slice text)
{
    struct sip_uri uri;
    const char *why = NULL;

    if (sip_uri_parse(&uri, text, &why) == 0)
        return json_uri(c, &uri);
    json_t *o = json_object();
    put_text(c, o, "raw", text);
    put_str(c, o, "error", why ? why : "bad URI");
    return o;
}

/* Header parameters (";a=b" with LWS allowed), leaving out the names in skip[]
 * (NULL-terminated), which the caller shows under their own keys. */
static json_t *json_params(struct json_ctx *c, struct slice params, const char *const *skip)
{
    json_t *arr = json_array();
    struct sip_param_iter it;
    struct sip_param prm;

    sip_param_iter_init(&it, params);
    while (slice_present(params) && sip_param_next(&it, &prm)) {
        bool skipped = false;
        for (const char *const *s = skip; *s && !skipped; s++)
            skipped = slice_caseeq_str(prm.name, *s);
        if (!skipped)
            push(c, arr, json_pair(c, prm.name, prm.value, false));
    }
    return arr;
}

static json_t *json_via(struct json_ctx *c, const struct sip_via *via)
{
    static const char *const named[] = {"branch", "received", "rport", "maddr", "ttl", NULL};
    json_t *o = json_object();

    put_text(c, o, "raw", via->raw);
    put_text(c, o, "protocol", via->protocol);
    put_text(c, o, "version", via->version);
    put_text(c, o, "transport", via->transport);
    put_host(c, o, via->host, via->host_type, via->port);
    put_text_or_null(c, o, "branch", via->branch);
    put_text(c, o, "received", via->received);
    if (via->rport) {
        uint32_t port;
        if (!slice_present(via->rport_value))
            put(c, o, "rport", json_true());
        else if (slice_to_u32(via->rport_value, &port) == 0)
            put_int(c, o, "rport", port);
        else
            put_text(c, o, "rport", via->rport_value);
    }
    put_text(c, o, "maddr", via->maddr);
    put_text(c, o, "ttl", via->ttl);
    put(c, o, "params", json_params(c, via->params, named));
    return o;
}

/* The display name as a person reads it: quotes removed, quoted-pairs undone. */
static void put_display(struct json_ctx *c, json_t *obj, struct slice d)
{
    if (!slice_present(d))
        return;
    if (d.len < 2 || d.p[0] != '"' || d.p[d.len - 1] != '"') {
        put_text(c, obj, "display", d);
        return;
    }
    char *buf = malloc(d.len);
    if (!buf) {
        c->failed = true;
        return;
    }
    size_t n = 0;
    for (size_t i = 1; i + 1 < d.len; i++) {
        if (d.p[i] == '\\' && i + 2 < d.len)
            i++;
        buf[n++] = d.p[i];
    }
    put_bytes(c, obj, "display", buf, n);
    free(buf);
}

/* with_tag: From and To, whose tag is shown (null when none) outside the params */
static json_t *json_nameaddr(struct json_ctx *c, const struct sip_nameaddr *na, bool with_tag)
{
    static const char *const tag[] = {"tag", NULL};
    static const char *const none[] = {NULL};
    json_t *o = json_object();

    put_text(c, o, "raw", na->raw);
    if (na->star) {
        put(c, o, "star", json_true());
        return o;
    }
    put_display(c, o, na->display);
    put(c, o, "uri", json_uri(c, &na->uri));
    if (with_tag)
        put_text_or_null(c, o, "tag", na->tag);
    put(c, o, "params", json_params(c, na->params, with_tag ? tag : none));
    return o;
}

/* When a list decoder (sip_msg_vias, sip_msg_contacts) refuses the list,
 * each value is decoded on its own so that the operator sees which one is
 * wrong: {"raw", "error"} in its place. */
static json_t *json_values_one_by_one(struct json_ctx *c, const struct sip_msg *msg,
                                      enum sip_hdr_type t)
{
    json_t *arr = json_array();

    for (const struct sip_hdr *h = sip_msg_hdr(msg, t); h; h = sip_msg_hdr_next(msg, h)) {
        struct sip_list_iter it;
        struct slice item;
        sip_list_iter_init(&it, h->value);
        while (sip_list_next(&it, &item)) {
            const char *why = NULL;
            json_t *o = NULL;
            if (t == SIP_HDR_VIA) {
                struct sip_via via;
                if (sip_via_parse(&via, item, &why) == 0)
                    o = json_via(c, &via);
            } else {
                struct sip_nameaddr na;
                if (sip_nameaddr_parse(&na, item, true, &why) == 0)
                    o = json_nameaddr(c, &na, false);
            }
            if (!o) {
                o = json_object();
                put_text(c, o, "raw", item);
                put_str(c, o, "error", why ? why : "malformed value");
            }
            push(c, arr, o);
        }
    }
    return arr;
}

static void put_vias(struct json_ctx *c, json_t *root, struct sip_msg *msg)
{
    const char *why = NULL;
    int ret = sip_msg_vias(msg, &why);

    if (ret == 0) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < msg->via_n; i++)
            push(c, arr, json_via(c, &msg->vias[i]));
        put(c, root, "via", arr);
        return;
    }
    put(c, root, "via", json_values_one_by_one(c, msg, SIP_HDR_VIA));
    put_str(c, root, "via_error", ret == ENOMEM ? "out of memory" : why);
}

static void put_contacts(struct json_ctx *c, json_t *root, struct sip_msg *msg)
{
    const char *why = NULL;
    int ret = sip_msg_contacts(msg, &why);

    if (ret == 0) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < msg->contact_n; i++)
            push(c, arr, json_nameaddr(c, &msg->contacts[i], false));
        put(c, root, "contact", arr);
        return;
    }
    put(c, root, "contact", json_values_one_by_one(c, msg, SIP_HDR_CONTACT));
    put_str(c, root, "contact_error", ret == ENOMEM ? "out of memory" : why);
}

static void put_expires(struct json_ctx *c, json_t *root, struct sip_msg *msg)
{
    const char *why = NULL;
    int ret = sip_msg_expires(msg, &why);

    if (ret == 0) {
        put_int_or_null(c, root, "expires", msg->expires);
        return;
    }
    put_str(c, root, "expires_error", ret == ENOMEM ? "out of memory" : why);
}

static json_t *json_digest(struct json_ctx *c, const struct sip_digest *d)
{
    json_t *o = json_object();

    put_text(c, o, "scheme", d->scheme);
    put_text(c, o, "username", d->username);
    put_text(c, o, "realm", d->realm);
    put_text(c, o, "nonce", d->nonce);
    put_text(c, o, "uri", d->uri);
    put_text(c, o, "response", d->response);
    put_text(c, o, "algorithm", d->algorithm);
    put_text(c, o, "cnonce", d->cnonce);
    put_text(c, o, "opaque", d->opaque);
    put_text(c, o, "qop", d->qop);
    put_text(c, o, "nc", d->nc);
    put_text(c, o, "userhash", d->userhash);
    put_text(c, o, "domain", d->domain);
    put_text(c, o, "stale", d->stale);
    return o;
}

/* Authorization / Proxy-Authorization: the Digest credentials sipd would
 * use; for other schemes only the scheme and the raw parameters. */
static void put_auth(struct json_ctx *c, json_t *root, struct sip_msg *msg, bool proxy)
{
    const char *key = proxy ? "proxy_authorization" : "authorization";
    enum sip_hdr_type t = proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;
    const char *why = NULL;

    if (!sip_msg_hdr(msg, t))
        return;
    int ret = sip_msg_auth(msg, proxy, &why);
    if (ret != 0) {
        char name[64];
        snprintf(name, sizeof(name), "%s_error", key);
        put_str(c, root, name, ret == ENOMEM ? "out of memory" : why);
        return;
    }
    const struct sip_digest *d = proxy ? &msg->proxy_auth : &msg->auth;
    if (proxy ? msg->has_proxy_auth : msg->has_auth) {
        put(c, root, key, json_digest(c, d));
        return;
    }
    json_t *o = json_object();
    put_text(c, o, "scheme", d->scheme);
    put_text(c, o, "params", d->params);
    put(c, root, key, o);
}

static json_t *json_headers(struct json_ctx *c, const struct sip_msg *msg)
{
    json_t *arr = json_array();

    for (unsigned i = 0; i < msg->hdr_count; i++) {
        const struct sip_hdr *h = &msg->hdrs[i];
        json_t *o = json_object();
        put_text(c, o, "name", h->name);
        if (h->type == SIP_HDR_OTHER)
            put(c, o, "type", json_null());
        else
            put_str(c, o, "type", sip_hdr_name((enum sip_hdr_type)h->type));
        put_text(c, o, "value", h->value);
        push(c, arr, o);
    }
    return arr;
}

static json_t *json_verdict(struct json_ctx *c, const struct sip_verdict *v)
{
    static const char *const actions[] = {
        [SIP_ACCEPT] = "accept", [SIP_REPLY] = "reply", [SIP_DROP] = "drop"};
    json_t *o = json_object();

    put_str(c, o, "action", actions[v->action]);
    if (v->action == SIP_REPLY)
        put_int(c, o, "code", v->code);
    put_bytes(c, o, "reason", v->reason ? v->reason : "", v->reason ? strlen(v->reason) : 0);
    if (v->action == SIP_REPLY && v->code == 420 && v->unsupported[0])
        put_bytes(c, o, "unsupported", v->unsupported, strlen(v->unsupported));
    return o;
}

/* Where the parse failed: the byte offset, and the line and column (from 1)
 * a person looks for in an editor. */
static json_t *json_error(struct json_ctx *c, const char *buf, size_t len, int parse_ret,
                          const struct sip_error *err)
{
    json_t *o = json_object();

    if (parse_ret == ENOMEM) {
        put(c, o, "offset", json_null());
        put_str(c, o, "reason", "out of memory");
        put(c, o, "detail", json_null());
        return o;
    }
    size_t off = err->offset <= len ? err->offset : len;
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    put_int(c, o, "offset", (json_int_t)err->offset);
    put_int(c, o, "line", (json_int_t)line);
    put_int(c, o, "column", (json_int_t)(off - line_start + 1));
    put_str(c, o, "reason", err->reason ? err->reason : "malformed message");
    put(c, o, "detail", err->detail ? json_string(err->detail) : json_null());
    return o;
}

/* The whole document. Key order: what the message is, sipd's verdict and
 * the error behind it, the decoded values, then every header line. */
static json_t *json_report(struct json_ctx *c, struct sip_msg *msg, const char *buf, size_t len,
                           int parse_ret, const struct sip_error *err, const struct sip_verdict *v)
{
    json_t *root = json_object();

    if (!slice_present(msg->data))
        put(c, root, "type", json_null());
    else
        put_str(c, root, "type", msg->is_request ? "request" : "response");
    put(c, root, "verdict", json_verdict(c, v));
    if (parse_ret != 0)
        put(c, root, "error", json_error(c, buf, len, parse_ret, err));

    if (msg->is_request) {
        put_text(c, root, "method", msg->method);
        if (parse_ret == 0)
            put(c, root, "request_uri", json_uri(c, &msg->ruri));
        else if (slice_present(msg->ruri_text))
            put(c, root, "request_uri", json_uri_text(c, msg->ruri_text));
        put_text(c, root, "version", msg->version);
    } else {
        put_text(c, root, "version", msg->version);
        if (msg->status)
            put_int(c, root, "status", msg->status);
        put_text(c, root, "reason", msg->reason);
    }

    /* keys_ok: the header table is complete and the keys decoded, so the
     * lazy decoders may run too (a later failure is only about framing) */
    if (msg->keys_ok) {
        put_text(c, root, "call_id", msg->call_id);
        json_t *cseq = json_object();
        put_int(c, cseq, "number", msg->cseq.number);
        put_text(c, cseq, "method", msg->cseq.method);
        put(c, root, "cseq", cseq);
        put(c, root, "from", json_nameaddr(c, &msg->from, true));
        put(c, root, "to", json_nameaddr(c, &msg->to, true));
        put_vias(c, root, msg);
        put_contacts(c, root, msg);
        put_int_or_null(c, root, "max_forwards", msg->max_forwards);
        put_expires(c, root, msg);
    }
    if (parse_ret == 0) {
        put_int_or_null(c, root, "content_length", msg->content_length);
        put_int(c, root, "body_length", (json_int_t)msg->body.len);
        if (msg->trailing)
            put_int(c, root, "trailing_bytes", (json_int_t)msg->trailing);
    }
    if (msg->keys_ok) {
        put_auth(c, root, msg, false);
        put_auth(c, root, msg, true);
    }
    if (msg->headers_ok)
        put(c, root, "headers", json_headers(c, msg));
    return root;
}

/* Reads all of f into a new buffer of at most SIPCTL_MAX_INPUT bytes.
 * Returns 0, EFBIG when there is more, or the read error. */
static int read_input(FILE *f, char **bufp, size_t *lenp)
{
    char *buf = malloc(SIPCTL_MAX_INPUT + 1);
    size_t len = 0;

    if (!buf)
        return ENOMEM;
    errno = 0;
    while (len <= SIPCTL_MAX_INPUT) {
        size_t n = fread(buf + len, 1, SIPCTL_MAX_INPUT + 1 - len, f);
        if (n == 0)
            break;
        len += n;
    }
    int ret = 0;
    if (ferror(f))
        ret = errno ? errno : EIO;
    else if (len > SIPCTL_MAX_INPUT)
        ret = EFBIG;
    if (ret) {
        free(buf);
        return ret;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "sipctl parse: %s \"%s\"\n", what, arg);
    fputs(usage_text, stderr);
    return 2;
}

int sipctl_parse(int argc, char **argv)
{
    bool pretty = false;
    const char *path = NULL;
    bool options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(a, "--pretty") == 0) {
            pretty = true;
        } else if (!options_done && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!options_done && a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option", a);
        } else if (path) {
            return usage_error("one message at a time; extra argument", a);
        } else {
            path = a;
        }
    }

    bool from_stdin = !path || strcmp(path, "-") == 0;
    const char *name = from_stdin ? "stdin" : path;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "sipctl parse: %s: %s\n", name, strerror(errno));
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    int ret = read_input(f, &buf, &len);
    if (!from_stdin)
        fclose(f);
    if (ret == EFBIG) {
        fprintf(stderr, "sipctl parse: %s: larger than %u bytes\n", name, SIPCTL_MAX_INPUT);
        return 2;
    }
    if (ret) {
        fprintf(stderr, "sipctl parse: %s: %s\n", name, strerror(ret));
        return 2;
    }

    char arena_buf[SIPCTL_ARENA_STACK];
    struct arena arena;
    struct sip_msg msg;
    struct sip_error err;
    struct sip_verdict verdict;
    struct json_ctx ctx = {.failed = false};
    int status = 2;

    arena_init(&arena, arena_buf, sizeof(arena_buf), SIPCTL_ARENA_LIMIT);
    int parse_ret = sip_msg_parse(&msg, &arena, buf, len, &sip_limits_default, 0, &err);
    sip_sanity(&msg, parse_ret, &err, NULL, &verdict);
    json_t *root = json_report(&ctx, &msg, buf, len, parse_ret, &err, &verdict);
    size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *text = ctx.failed ? NULL : json_dumps(root, flags);
    if (!text) {
        fputs("sipctl parse: out of memory\n", stderr);
        goto out;
    }
    if (puts(text) == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "sipctl parse: stdout: %s\n", strerror(errno));
        goto out;
    }
    status = 0;
out:
    free(text);
    json_decref(root);
    arena_free(&arena);
    free(buf);
    return status;
}
