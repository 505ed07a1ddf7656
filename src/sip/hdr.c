/* hdr.c: header names and methods, and the decoders of header values. */
#include "sip/hdr_table.h"
#include "sip/sip_int.h"

#include <errno.h>

static int fail(const char **reason, const char *why)
{
    *reason = why;
    return EBADMSG;
}

enum sip_hdr_type sip_hdr_lookup(const char *name, size_t len)
{
    if (len == 0 || len > 255)
        return SIP_HDR_OTHER;
    char first = ascii_lower(name[0]);
    char third = ascii_lower(name[len < 3 ? len - 1 : 2]);
    char last = ascii_lower(name[len - 1]);
    const struct sip_hdr_slot *s = &sip_hdr_slots[SIP_HDR_HASH(len, first, third, last)];
    if (s->len != len || !s->name)
        return SIP_HDR_OTHER;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(name[i]) != s->name[i])
            return SIP_HDR_OTHER;
    return (enum sip_hdr_type)s->type;
}

const char *sip_hdr_name(enum sip_hdr_type t)
{
    return (unsigned)t < SIP_HDR_COUNT ? sip_hdr_infos[t].name : "";
}

unsigned sip_hdr_flags(enum sip_hdr_type t)
{
    return (unsigned)t < SIP_HDR_COUNT ? sip_hdr_infos[t].flags : 0;
}

static const char *const method_names[] = {
    [SIP_METHOD_OTHER] = "",          [SIP_METHOD_INVITE] = "INVITE",
    [SIP_METHOD_ACK] = "ACK",         [SIP_METHOD_BYE] = "BYE",
    [SIP_METHOD_CANCEL] = "CANCEL",   [SIP_METHOD_REGISTER] = "REGISTER",
    [SIP_METHOD_OPTIONS] = "OPTIONS", [SIP_METHOD_INFO] = "INFO",
    [SIP_METHOD_PRACK] = "PRACK",     [SIP_METHOD_UPDATE] = "UPDATE",
    [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE", [SIP_METHOD_NOTIFY] = "NOTIFY",
    [SIP_METHOD_MESSAGE] = "MESSAGE", [SIP_METHOD_REFER] = "REFER",
    [SIP_METHOD_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_lookup(struct slice name)
{
    if (name.len < 3 || name.len > 9)
        return SIP_METHOD_OTHER;
    /* the first letter narrows it to one or two candidates */
    switch (name.p[0]) {
    case 'I':
        if (slice_eq_str(name, "INVITE"))
            return SIP_METHOD_INVITE;
        if (slice_eq_str(name, "INFO"))
            return SIP_METHOD_INFO;
        break;
    case 'A':
        if (slice_eq_str(name, "ACK"))
            return SIP_METHOD_ACK;
        break;
    case 'B':
        if (slice_eq_str(name, "BYE"))
            return SIP_METHOD_BYE;
        break;
    case 'C':
        if (slice_eq_str(name, "CANCEL"))
            return SIP_METHOD_CANCEL;
        break;
    case 'R':
        if (slice_eq_str(name, "REGISTER"))
            return SIP_METHOD_REGISTER;
        if (slice_eq_str(name, "REFER"))
            return SIP_METHOD_REFER;
        break;
    case 'O':
        if (slice_eq_str(name, "OPTIONS"))
            return SIP_METHOD_OPTIONS;
        break;
    case 'P':
        if (slice_eq_str(name, "PRACK"))
            return SIP_METHOD_PRACK;
        if (slice_eq_str(name, "PUBLISH"))
            return SIP_METHOD_PUBLISH;
        break;
    case 'U':
        if (slice_eq_str(name, "UPDATE"))
            return SIP_METHOD_UPDATE;
        break;
    case 'S':
        if (slice_eq_str(name, "SUBSCRIBE"))
            return SIP_METHOD_SUBSCRIBE;
        break;
    case 'N':
        if (slice_eq_str(name, "NOTIFY"))
            return SIP_METHOD_NOTIFY;
        break;
    case 'M':
        if (slice_eq_str(name, "MESSAGE"))
            return SIP_METHOD_MESSAGE;
        break;
    }
    return SIP_METHOD_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
    return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : "";
}

/* ---------------------------------------------------------------- lists */

void sip_list_iter_init(struct sip_list_iter *it, struct slice value)
{
    it->p = value.p;
    it->end = slice_end(value);
    it->empty = 0;
    it->bad = false;
}

bool sip_list_next(struct sip_list_iter *it, struct slice *item)
{
    for (;;) {
        const char *p = skip_lws(it->p, it->end), *end = it->end;
        if (p >= end)
            return false;
        const char *start = p;
        int angle = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                const char *q = sip_scan_quoted(p, end);
                if (!q) {
                    it->bad = true;
                    p = end;
                    break;
                }
                p = q;
                continue;
            }
            if (c == '<')
                angle++;
            else if (c == '>' && angle > 0)
                angle--;
            else if (c == ',' && angle == 0)
                break;
            p++;
        }
        if (angle > 0)
            it->bad = true;
        it->p = p < end ? p + 1 : end;
        /* a comma with nothing after it ends the list with an empty item */
        if (p < end && skip_lws(p + 1, end) == end)
            it->empty++;
        *item = slice_trim(slice_make(start, (size_t)(p - start)));
        if (item->len == 0) {
            it->empty++;
            continue;
        }
        return true;
    }
}

/* ---------------------------------------------------------------- Via */

static void via_pick_params(struct sip_via *via)
{
    struct sip_param_iter it;
    struct sip_param prm;

    sip_param_iter_init(&it, via->params);
    while (sip_param_next(&it, &prm)) {
        struct slice n = prm.name;
        switch (n.len) {
        case 3:
            if (slice_caseeq_str(n, "ttl"))
                via->ttl = prm.value;
            break;
        case 5:
            if (slice_caseeq_str(n, "maddr"))
                via->maddr = prm.value;
            else if (slice_caseeq_str(n, "rport")) {
                via->rport = true;
                via->rport_value = prm.value;
            }
            break;
        case 6:
            if (slice_caseeq_str(n, "branch"))
                /* ";branch" without a value is present but empty: rejected below */
                via->branch = slice_present(prm.value) ? prm.value : slice_make(n.p, 0);
            break;
        case 8:
            if (slice_caseeq_str(n, "received")) {
                struct slice v = prm.value;
                /* RFC 5118 4.5: tolerate a bracketed IPv6 reference */
                if (v.len >= 2 && v.p[0] == '[' && v.p[v.len - 1] == ']')
                    v = slice_make(v.p + 1, v.len - 2);
                via->received = v;
            }
            break;
        }
    }
}

int sip_via_parse(struct sip_via *via, struct slice text, const char **reason)
{
    const char *p = text.p, *end = slice_end(text), *s;

    memset(via, 0, sizeof(*via));
    via->raw = text;
    p = skip_lws(p, end);
    s = p;
    p = skip_token(p, end);
    via->protocol = slice_make(s, (size_t)(p - s));
    p = skip_lws(p, end);
    if (via->protocol.len == 0 || p >= end || *p != '/')
        return fail(reason, "bad Via protocol");
    p = skip_lws(p + 1, end);
    s = p;
    p = skip_token(p, end);
    via->version = slice_make(s, (size_t)(p - s));
    p = skip_lws(p, end);
    if (via->version.len == 0 || p >= end || *p != '/')
        return fail(reason, "bad Via protocol");
    p = skip_lws(p + 1, end);
    s = p;
    p = skip_token(p, end);
    via->transport = slice_make(s, (size_t)(p - s));
    if (via->transport.len == 0 || p >= end || !cc_is(*p, CC_WS))
        return fail(reason, "bad Via transport");
    p = skip_lws(p, end);
    p = sip_scan_host(p, end, &via->host, &via->host_type);
    if (!p)
        return fail(reason, "bad Via sent-by host");
    const char *after_host = p;
    p = skip_lws(p, end);
    if (p < end && *p == ':') {
        p = skip_lws(p + 1, end);
        s = p;
        while (p < end && cc_is(*p, CC_DIGIT))
            p++;
        via->port_str = slice_make(s, (size_t)(p - s));
        uint64_t port;
        if (slice_to_u64(via->port_str, 65535, &port) != 0 || port == 0)
            return fail(reason, "bad Via sent-by port");
        via->port = (uint16_t)port;
    } else {
        p = after_host;
    }
    if (sip_scan_params(p, end, &via->params, reason) != 0) {
        *reason = "bad Via parameter";
        return EBADMSG;
    }
    via_pick_params(via);
    if (slice_present(via->branch) && via->branch.len == 0)
        return fail(reason, "empty Via branch");
    return 0;
}

/* ---------------------------------------------------------------- name-addr */

int sip_nameaddr_parse(struct sip_nameaddr *na, struct slice text, bool allow_star,
                       const char **reason)
{
    const char *p, *end, *after_uri;

    memset(na, 0, sizeof(*na));
    text = slice_trim(text);
    na->raw = text;
    p = text.p;
    end = slice_end(text);
    if (text.len == 0)
        return fail(reason, "empty address");
    if (allow_star && text.len == 1 && *p == '*') {
        na->star = true;
        return 0;
    }
    const char *lt = NULL;
    if (*p == '"') {
        const char *q = sip_scan_quoted(p, end);
        if (!q)
            return fail(reason, "unterminated quoted display name");
        na->display = slice_make(p, (size_t)(q - p));
        p = skip_lws(q, end);
        if (p >= end || *p != '<')
            return fail(reason, "quoted display name without <URI>");
        lt = p;
    } else if (*p == '<') {
        lt = p;
    } else {
        /* display name as *(token LWS) directly followed by '<', else addr-spec */
        const char *q = p;
        while (q < end && (cc_is(*q, CC_TOKEN) || cc_is(*q, CC_WS)))
            q++;
        if (q < end && *q == '<' && q > p) {
            na->display = slice_trim(slice_make(p, (size_t)(q - p)));
            lt = q;
        }
    }
    if (lt) {
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
            return fail(reason, "missing > after <URI");
        na->bracketed = true;
        na->uri_text = slice_make(lt + 1, (size_t)(gt - lt - 1));
        after_uri = gt + 1;
    } else {
        /* addr-spec: the URI ends at LWS or ';' (header parameters) */
        const char *q = p;
        while (q < end && *q != ';' && !cc_is(*q, CC_WS))
            q++;
        na->uri_text = slice_make(p, (size_t)(q - p));
        after_uri = q;
        if (memchr(na->uri_text.p, '?', na->uri_text.len) ||
            memchr(na->uri_text.p, ',', na->uri_text.len))
            return fail(reason, "URI with ? or , outside <>");
    }
    if (sip_uri_parse(&na->uri, na->uri_text, reason) != 0)
        return EBADMSG;
    if (sip_scan_params(after_uri, end, &na->params, reason) != 0)
        return EBADMSG;
    struct sip_param tag;
    if (sip_param_find(na->params, "tag", &tag)) {
        if (!slice_present(tag.value) || tag.value.len == 0)
            return fail(reason, "empty tag");
        na->tag = tag.value;
    }
    return 0;
}

/* ---------------------------------------------------------------- CSeq */

int sip_cseq_parse(struct sip_cseq *cseq, struct slice text, const char **reason)
{
    const char *p = text.p, *end = slice_end(text), *s;

    p = skip_lws(p, end);
    s = p;
    while (p < end && cc_is(*p, CC_DIGIT))
        p++;
    int err = slice_to_u32(slice_make(s, (size_t)(p - s)), &cseq->number);
    if (err == ERANGE)
        return fail(reason, "CSeq number over 2**32-1");
    if (err)
        return fail(reason, "bad CSeq number");
    if (p >= end || !cc_is(*p, CC_WS))
        return fail(reason, "bad CSeq");
    p = skip_lws(p, end);
    s = p;
    p = skip_token(p, end);
    cseq->method = slice_make(s, (size_t)(p - s));
    if (cseq->method.len == 0 || skip_lws(p, end) != end)
        return fail(reason, "bad CSeq method");
    cseq->method_id = sip_method_lookup(cseq->method);
    return 0;
}

/* ---------------------------------------------------------------- digest */

int sip_digest_parse(struct sip_digest *d, struct slice text, const char **reason)
{
    const char *p = text.p, *end = slice_end(text), *s;

    memset(d, 0, sizeof(*d));
    p = skip_lws(p, end);
    s = p;
    p = skip_token(p, end);
    d->scheme = slice_make(s, (size_t)(p - s));
    if (d->scheme.len == 0)
        return fail(reason, "missing authentication scheme");
    p = skip_lws(p, end);
    d->params = slice_make(p, (size_t)(end - p));
    if (!slice_caseeq_str(d->scheme, "Digest"))
        return 0; /* other schemes are carried, not decoded */
    while (p < end) {
        s = p;
        p = skip_token(p, end);
        struct slice name = slice_make(s, (size_t)(p - s));
        if (name.len == 0)
            return fail(reason, "bad digest parameter");
        p = skip_lws(p, end);
        if (p >= end || *p != '=')
            return fail(reason, "digest parameter without value");
        p = skip_lws(p + 1, end);
        struct slice value;
        if (p < end && *p == '"') {
            const char *q = sip_scan_quoted(p, end);
            if (!q)
                return fail(reason, "unterminated quoted digest value");
            value = slice_make(p + 1, (size_t)(q - p - 2));
            p = q;
        } else {
            s = p;
            while (p < end && *p != ',' && !cc_is(*p, CC_WS))
                p++;
            value = slice_make(s, (size_t)(p - s));
        }
        p = skip_lws(p, end);
        if (p < end) {
            if (*p != ',')
                return fail(reason, "bad digest parameter list");
            p = skip_lws(p + 1, end);
        }
        struct slice *dst = NULL;
        switch (ascii_lower(name.p[0])) {
        case 'a':
            if (slice_caseeq_str(name, "algorithm"))
                dst = &d->algorithm;
            break;
        case 'c':
            if (slice_caseeq_str(name, "cnonce"))
                dst = &d->cnonce;
            break;
        case 'd':
            if (slice_caseeq_str(name, "domain"))
                dst = &d->domain;
            break;
        case 'n':
            if (slice_caseeq_str(name, "nonce"))
                dst = &d->nonce;
            else if (slice_caseeq_str(name, "nc"))
                dst = &d->nc;
            break;
        case 'o':
            if (slice_caseeq_str(name, "opaque"))
                dst = &d->opaque;
            break;
        case 'q':
            if (slice_caseeq_str(name, "qop"))
                dst = &d->qop;
            break;
        case 'r':
            if (slice_caseeq_str(name, "realm"))
                dst = &d->realm;
            else if (slice_caseeq_str(name, "response"))
                dst = &d->response;
            break;
        case 's':
            if (slice_caseeq_str(name, "stale"))
                dst = &d->stale;
            break;
        case 'u':
            if (slice_caseeq_str(name, "username"))
                dst = &d->username;
            else if (slice_caseeq_str(name, "uri"))
                dst = &d->uri;
            else if (slice_caseeq_str(name, "userhash"))
                dst = &d->userhash;
            break;
        }
        if (dst) {
            if (slice_present(*dst))
                return fail(reason, "duplicate digest parameter");
            *dst = value;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- reasons */

const char *sip_status_reason(unsigned code)
{
    switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 305: return "Use Proxy";
    case 380: return "Alternative Service";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 421: return "Extension Required";
    case 423: return "Interval Too Brief";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 484: return "Address Incomplete";
    case 485: return "Ambiguous";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 493: return "Undecipherable";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    }
    return "";
}
