/* shim_osip.c: libosip2 behind the benchmark shim: parse, read what a proxy reads, free. */
#include "shim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

/*
 * osip_message_parse() decodes Via, From, To, Call-ID, CSeq, Contact and
 * Authorization into structures (parameters as lists) and keeps other
 * headers, Expires and Max-Forwards among them, as name/value strings that
 * the caller converts. Its digest values keep their quotes; the shim
 * measures them without, as the other parsers give them.
 */

static uint32_t slen(const char *s)
{
    return s ? (uint32_t)strlen(s) : 0;
}

static uint32_t unquoted_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        n -= 2;
    return (uint32_t)n;
}

static uint32_t number(const char *s)
{
    return s ? (uint32_t)strtoul(s, NULL, 10) : 0;
}

static const char *param_value(osip_list_t *params, const char *name)
{
    osip_generic_param_t *p = NULL;

    if (osip_generic_param_get_byname(params, (char *)name, &p) != 0 || !p)
        return NULL;
    return p->gvalue ? p->gvalue : "";
}

static void put_digest(const osip_message_t *sip, struct shim_result *out)
{
    osip_authorization_t *a = NULL;

    for (int i = 0; osip_message_get_authorization(sip, i, &a) >= 0 && a; i++) {
        if (!a->auth_type || strcasecmp(a->auth_type, "Digest") != 0)
            continue;
        out->auth_username_len = unquoted_len(a->username);
        out->auth_realm_len = unquoted_len(a->realm);
        out->auth_nonce_len = unquoted_len(a->nonce);
        out->auth_uri_len = unquoted_len(a->uri);
        out->auth_response_len = unquoted_len(a->response);
        out->auth_algorithm_len = unquoted_len(a->algorithm);
        out->auth_cnonce_len = unquoted_len(a->cnonce);
        out->auth_qop_len = unquoted_len(a->message_qop);
        out->auth_nc_len = unquoted_len(a->nonce_count);
        return;
    }
}

static int read_fields(osip_message_t *sip, struct shim_result *out, const char **why)
{
    *out = (struct shim_result){0};
    out->contact_expires = -1;
    out->expires = -1;
    out->max_forwards = -1;
    if (MSG_IS_REQUEST(sip))
        out->ruri_host_len = sip->req_uri ? slen(sip->req_uri->host) : 0;
    else
        out->status = (uint32_t)sip->status_code;
    int n = osip_list_size(&sip->vias);
    for (int i = 0; i < n; i++) {
        osip_via_t *v = osip_list_get(&sip->vias, i);
        const char *rport = param_value(&v->via_params, "rport");
        out->via_count++;
        out->via_host_len_sum += slen(v->host);
        out->via_port_sum += number(v->port);
        out->via_branch_len_sum += slen(param_value(&v->via_params, "branch"));
        out->via_received_len_sum += slen(param_value(&v->via_params, "received"));
        out->via_rport_count += rport != NULL;
    }
    if (!sip->from || !sip->from->url || !sip->to || !sip->to->url || !sip->call_id ||
        !sip->cseq) {
        *why = "osip: a transaction key is missing";
        return -1;
    }
    out->from_user_len = slen(sip->from->url->username);
    out->from_host_len = slen(sip->from->url->host);
    out->from_tag_len = slen(param_value(&sip->from->gen_params, "tag"));
    out->to_user_len = slen(sip->to->url->username);
    out->to_host_len = slen(sip->to->url->host);
    out->to_tag_len = slen(param_value(&sip->to->gen_params, "tag"));
    out->call_id_len = slen(sip->call_id->number);
    if (sip->call_id->host)
        out->call_id_len += 1 + slen(sip->call_id->host);
    out->cseq_number = number(sip->cseq->number);
    out->cseq_method_len = slen(sip->cseq->method);
    n = osip_list_size(&sip->contacts);
    for (int i = 0; i < n; i++) {
        osip_contact_t *c = osip_list_get(&sip->contacts, i);
        out->contact_count++;
        if (c->url) {
            out->contact_user_len_sum += slen(c->url->username);
            out->contact_host_len_sum += slen(c->url->host);
        }
        if (i == 0) {
            const char *e = param_value(&c->gen_params, "expires");
            if (e)
                out->contact_expires = strtoll(e, NULL, 10);
        }
    }
    osip_header_t *h = NULL;
    if (osip_message_get_expires(sip, 0, &h) >= 0 && h && h->hvalue)
        out->expires = strtoll(h->hvalue, NULL, 10);
    h = NULL;
    if (osip_message_get_max_forwards(sip, 0, &h) >= 0 && h && h->hvalue)
        out->max_forwards = strtoll(h->hvalue, NULL, 10);
    put_digest(sip, out);
    return 0;
}

int shim_osip_init(void)
{
    return parser_init() == 0 ? 0 : -1;
}

int shim_osip_parse(const char *buf, size_t len, struct shim_result *out, const char **why)
{
    osip_message_t *sip = NULL;
    int ret = -1;

    if (osip_message_init(&sip) != 0) {
        *why = "osip: osip_message_init failed";
        return -1;
    }
    if (osip_message_parse(sip, buf, len) != 0) {
        *why = "osip: osip_message_parse rejected the message";
        goto out;
    }
    ret = read_fields(sip, out, why);
out:
    osip_message_free(sip);
    return ret;
}
