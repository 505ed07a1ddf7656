/* shim.c: what the three parser shims share: comparing their results field by field. */
#include "shim.h"

#include <stddef.h>
#include <string.h>

struct field {
    const char *name;
    size_t offset;
    size_t size;
};

#define FIELD(f) {#f, offsetof(struct shim_result, f), sizeof(((struct shim_result *)0)->f)}

static const struct field fields[] = {
    FIELD(ruri_host_len),
    FIELD(status),
    FIELD(via_count),
    FIELD(via_host_len_sum),
    FIELD(via_port_sum),
    FIELD(via_branch_len_sum),
    FIELD(via_received_len_sum),
    FIELD(via_rport_count),
    FIELD(from_user_len),
    FIELD(from_host_len),
    FIELD(from_tag_len),
    FIELD(to_user_len),
    FIELD(to_host_len),
    FIELD(to_tag_len),
    FIELD(call_id_len),
    FIELD(cseq_number),
    FIELD(cseq_method_len),
    FIELD(contact_count),
    FIELD(contact_user_len_sum),
    FIELD(contact_host_len_sum),
    FIELD(contact_expires),
    FIELD(expires),
    FIELD(max_forwards),
    FIELD(auth_username_len),
    FIELD(auth_realm_len),
    FIELD(auth_nonce_len),
    FIELD(auth_uri_len),
    FIELD(auth_response_len),
    FIELD(auth_algorithm_len),
    FIELD(auth_cnonce_len),
    FIELD(auth_qop_len),
    FIELD(auth_nc_len),
};

int shim_result_same(const struct shim_result *a, const struct shim_result *b,
                     const char **what)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *pa = (const char *)a + fields[i].offset;
        const char *pb = (const char *)b + fields[i].offset;
        if (memcmp(pa, pb, fields[i].size) != 0) {
            *what = fields[i].name;
            return 0;
        }
    }
    return 1;
}
