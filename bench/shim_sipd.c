/* shim_sipd.c: sipd behind the benchmark shim: parse, then the lazy decoders a proxy calls. */
#include "shim.h"

#include <stdlib.h>

#include "sip/sip.h"

/* Big enough that no benchmark message makes the arena malloc a chunk:
 * a receiver keeps such a buffer per message slot. */
#define SHIM_ARENA_SIZE 16384u
#define SHIM_ARENA_LIMIT (1u << 20)

struct shim_sipd {
    struct sip_msg msg;
    struct arena arena;
    _Alignas(16) char arena_buf[SHIM_ARENA_SIZE];
};

struct shim_sipd *shim_sipd_new(void)
{
    struct shim_sipd *ctx = malloc(sizeof(*ctx));

    if (!ctx)
        return NULL;
    arena_init(&ctx->arena, ctx->arena_buf, sizeof(ctx->arena_buf), SHIM_ARENA_LIMIT);
    return ctx;
}

void shim_sipd_free(struct shim_sipd *ctx)
{
    if (!ctx)
        return;
    arena_free(&ctx->arena);
    free(ctx);
}

static uint32_t len32(struct slice s)
{
    return (uint32_t)s.len;
}

static void put_keys(const struct sip_msg *msg, struct shim_result *out)
{
    *out = (struct shim_result){0};
    out->contact_expires = -1;
    out->expires = -1;
    if (msg->is_request)
        out->ruri_host_len = len32(msg->ruri.host);
    else
        out->status = msg->status;
    out->from_user_len = len32(msg->from.uri.user);
    out->from_host_len = len32(msg->from.uri.host);
    out->from_tag_len = len32(msg->from.tag);
    out->to_user_len = len32(msg->to.uri.user);
    out->to_host_len = len32(msg->to.uri.host);
    out->to_tag_len = len32(msg->to.tag);
    out->call_id_len = len32(msg->call_id);
    out->cseq_number = msg->cseq.number;
    out->cseq_method_len = len32(msg->cseq.method);
    out->max_forwards = msg->max_forwards;
}

static void put_via(const struct sip_via *via, struct shim_result *out)
{
    out->via_count++;
    out->via_host_len_sum += len32(via->host);
    out->via_port_sum += via->port;
    out->via_branch_len_sum += len32(via->branch);
    out->via_received_len_sum += len32(via->received);
    out->via_rport_count += via->rport;
}

int shim_sipd_parse_full(struct shim_sipd *ctx, const char *buf, size_t len,
                         struct shim_result *out, const char **why)
{
    struct sip_msg *msg = &ctx->msg;
    struct sip_error err;

    arena_reset(&ctx->arena);
    if (sip_msg_parse(msg, &ctx->arena, buf, len, NULL, 0, &err) != 0) {
        *why = err.reason;
        return -1;
    }
    if (sip_msg_vias(msg, why) != 0 || sip_msg_contacts(msg, why) != 0 ||
        sip_msg_expires(msg, why) != 0 || sip_msg_auth(msg, false, why) != 0)
        return -1;

    put_keys(msg, out);
    for (unsigned i = 0; i < msg->via_n; i++)
        put_via(&msg->vias[i], out);
    out->contact_count = msg->contact_n;
    for (unsigned i = 0; i < msg->contact_n; i++) {
        out->contact_user_len_sum += len32(msg->contacts[i].uri.user);
        out->contact_host_len_sum += len32(msg->contacts[i].uri.host);
    }
    /* the Contact's expires parameter as the decoder found it (sofia's
     * shim reads m_expires the same way) */
    uint64_t v;
    if (msg->contact_n && slice_present(msg->contacts[0].expires) &&
        slice_to_u64(msg->contacts[0].expires, UINT32_MAX, &v) == 0)
        out->contact_expires = (int64_t)v;
    out->expires = msg->expires;
    if (msg->has_auth) {
        const struct sip_digest *d = &msg->auth;
        out->auth_username_len = len32(d->username);
        out->auth_realm_len = len32(d->realm);
        out->auth_nonce_len = len32(d->nonce);
        out->auth_uri_len = len32(d->uri);
        out->auth_response_len = len32(d->response);
        out->auth_algorithm_len = len32(d->algorithm);
        out->auth_cnonce_len = len32(d->cnonce);
        out->auth_qop_len = len32(d->qop);
        out->auth_nc_len = len32(d->nc);
    }
    return 0;
}

int shim_sipd_parse_keys(struct shim_sipd *ctx, const char *buf, size_t len,
                         struct shim_result *out, const char **why)
{
    struct sip_msg *msg = &ctx->msg;
    struct sip_error err;

    arena_reset(&ctx->arena);
    if (sip_msg_parse(msg, &ctx->arena, buf, len, NULL, 0, &err) != 0) {
        *why = err.reason;
        return -1;
    }
    put_keys(msg, out);
    put_via(&msg->via, out);
    return 0;
}
