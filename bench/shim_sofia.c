/* shim_sofia.c: sofia-sip behind the benchmark shim: msg_make, read the fields, msg_destroy. */
#include "shim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/auth_digest.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

/*
 * msg_make() copies the text and parses every header it knows into its
 * structure (URIs of From, To, Contact and the Request-URI included, Via
 * and Contact parameters picked out). Sofia keeps the Authorization
 * credentials as a list of raw "name=value" strings: a proxy decodes them
 * with auth_digest_response_get(), so the shim does too.
 */

static uint32_t slen(const char *s)
{
    return s ? (uint32_t)strlen(s) : 0;
}

static uint32_t port_number(const char *s)
{
    return s ? (uint32_t)strtoul(s, NULL, 10) : 0;
}

static void put_digest(msg_t *msg, const sip_t *sip, struct shim_result *out)
{
    for (const sip_authorization_t *au = sip->sip_authorization; au; au = au->au_next) {
        if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") != 0)
            continue;
        auth_response_t ar;
        memset(&ar, 0, sizeof(ar));
        ar.ar_size = sizeof(ar);
        if (auth_digest_response_get(msg_home(msg), &ar, au->au_params) < 0)
            return;
        out->auth_username_len = slen(ar.ar_username);
        out->auth_realm_len = slen(ar.ar_realm);
        out->auth_nonce_len = slen(ar.ar_nonce);
        out->auth_uri_len = slen(ar.ar_uri);
        out->auth_response_len = slen(ar.ar_response);
        out->auth_algorithm_len = slen(ar.ar_algorithm);
        out->auth_cnonce_len = slen(ar.ar_cnonce);
        out->auth_qop_len = slen(ar.ar_qop);
        out->auth_nc_len = slen(ar.ar_nc);
        return;
    }
}

static int read_fields(msg_t *msg, const sip_t *sip, struct shim_result *out, const char **why)
{
    *out = (struct shim_result){0};
    out->contact_expires = -1;
    out->expires = -1;
    out->max_forwards = -1;
    if (sip->sip_request)
        out->ruri_host_len = slen(sip->sip_request->rq_url->url_host);
    else if (sip->sip_status)
        out->status = (uint32_t)sip->sip_status->st_status;
    for (const sip_via_t *v = sip->sip_via; v; v = v->v_next) {
        out->via_count++;
        out->via_host_len_sum += slen(v->v_host);
        out->via_port_sum += port_number(v->v_port);
        out->via_branch_len_sum += slen(v->v_branch);
        out->via_received_len_sum += slen(v->v_received);
        out->via_rport_count += v->v_rport != NULL;
    }
    if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq) {
        *why = "sofia: a transaction key is missing";
        return -1;
    }
    out->from_user_len = slen(sip->sip_from->a_url->url_user);
    out->from_host_len = slen(sip->sip_from->a_url->url_host);
    out->from_tag_len = slen(sip->sip_from->a_tag);
    out->to_user_len = slen(sip->sip_to->a_url->url_user);
    out->to_host_len = slen(sip->sip_to->a_url->url_host);
    out->to_tag_len = slen(sip->sip_to->a_tag);
    out->call_id_len = slen(sip->sip_call_id->i_id);
    out->cseq_number = sip->sip_cseq->cs_seq;
    out->cseq_method_len = slen(sip->sip_cseq->cs_method_name);
    for (const sip_contact_t *m = sip->sip_contact; m; m = m->m_next) {
        out->contact_count++;
        out->contact_user_len_sum += slen(m->m_url->url_user);
        out->contact_host_len_sum += slen(m->m_url->url_host);
    }
    if (sip->sip_contact && sip->sip_contact->m_expires)
        out->contact_expires = strtoll(sip->sip_contact->m_expires, NULL, 10);
    if (sip->sip_expires)
        out->expires = (int64_t)sip->sip_expires->ex_delta;
    if (sip->sip_max_forwards)
        out->max_forwards = (int64_t)sip->sip_max_forwards->mf_count;
    put_digest(msg, sip, out);
    return 0;
}

int shim_sofia_parse(const char *buf, size_t len, struct shim_result *out, const char **why)
{
    msg_t *msg = msg_make(sip_default_mclass(), 0, buf, (ssize_t)len);
    int ret = -1;

    if (!msg) {
        *why = "sofia: msg_make failed";
        return -1;
    }
    const sip_t *sip = sip_object(msg);
    if (!sip || (sip->sip_flags & MSG_FLG_ERROR) || sip->sip_error) {
        *why = "sofia: message or header rejected";
        goto out;
    }
    ret = read_fields(msg, sip, out, why);
out:
    msg_destroy(msg);
    return ret;
}
