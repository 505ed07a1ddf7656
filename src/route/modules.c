/* modules.c: the modules built into sipd, in the order their tables are searched. */
#include "auth/auth.h"
#include "loc/loc_int.h"
#include "route/route.h"

const struct module *const route_modules[] = {
    &sip_sl_module,
    &sip_maxfwd_module,
    &route_cfgutils_module,
    &loc_usrloc_module,    /* before registrar, whose init asks for its state */
    &loc_registrar_module,
    &auth_auth_db_module,  /* before auth, likewise */
    &auth_auth_module,
    NULL,
};

size_t route_module_count(void)
{
    size_t n = 0;
    while (route_modules[n])
        n++;
    return n;
}
