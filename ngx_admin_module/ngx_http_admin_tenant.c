
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_tenant.h"


/*
 * Homeservers on one nginx: each server's cached verdicts have a
 * namespace, its Redis (or none, with the zone) and its key prefix, and
 * servers keep apart unless told otherwise.
 */


static ngx_http_admin_srv_conf_t *ngx_http_admin_tenant_sharing(
    ngx_conf_t *cf, ngx_uint_t s, ngx_uint_t defaults);


/* the key prefix of a server without a name: "admin_gate:_:" */

static ngx_str_t  ngx_http_admin_nameless = ngx_string("_");


/*
 * The default key prefix, "admin_gate:<server name>:", so that
 * homeservers on one Redis keep apart; a nameless server is "_", and
 * ngx_http_admin_tenant_check() makes every default unique.
 */

ngx_int_t
ngx_http_admin_tenant_default(ngx_conf_t *cf, ngx_http_admin_srv_conf_t *ascf)
{
    u_char     *p;
    ngx_str_t  *name;

    name = &ascf->core->server_name;

    p = ngx_pnalloc(cf->pool, sizeof("admin_gate:_:") + name->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ascf->key_prefix.data = p;

    p = ngx_sprintf(p, "admin_gate:%V:",
                    name->len ? name : &ngx_http_admin_nameless);

    ascf->key_prefix.len = p - ascf->key_prefix.data;

    return NGX_OK;
}


/*
 * Servers with the gate on that use one Redis, or no Redis but the zone,
 * share the verdicts stored under one key prefix.  A default prefix that
 * another server has too becomes "admin_gate:<name>#<n>:", so servers
 * stay apart unless told otherwise.  Two servers that share a prefix that
 * not both set in their own server block get a warning: that is safe only
 * if they verify with the same Synapse.
 */

ngx_int_t
ngx_http_admin_tenant_check(ngx_conf_t *cf)
{
    u_char                     *p;
    ngx_str_t                  *name;
    ngx_uint_t                   s, n;
    ngx_http_admin_srv_conf_t   *ascf, *other;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_admin_main_conf_t  *amcf;
    ngx_http_core_srv_conf_t   **cscfp;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    for (s = 0; s < cmcf->servers.nelts; s++) {
        ascf = cscfp[s]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

        if (!ascf->gated || (ascf->redis == NULL && amcf->zone == NULL)
            || ascf->prefix_set || ascf->prefix_inherited)
        {
            continue;
        }

        name = &ascf->core->server_name;

        for (n = 2; ngx_http_admin_tenant_sharing(cf, s, 1) != NULL; n++) {

            p = ngx_pnalloc(cf->pool, sizeof("admin_gate:_#:") + name->len
                                      + NGX_INT_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ascf->key_prefix.data = p;

            p = ngx_sprintf(p, "admin_gate:%V#%ui:",
                            name->len ? name : &ngx_http_admin_nameless, n);

            ascf->key_prefix.len = p - ascf->key_prefix.data;
        }
    }

    for (s = 0; s < cmcf->servers.nelts; s++) {
        ascf = cscfp[s]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

        if (!ascf->gated || (ascf->redis == NULL && amcf->zone == NULL)) {
            continue;
        }

        other = ngx_http_admin_tenant_sharing(cf, s, 0);

        if (other == NULL || (ascf->prefix_set && other->prefix_set)) {
            continue;
        }

        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "admin_gate: the servers \"%V\" in %s:%ui and "
                      "\"%V\" in %s:%ui share their cached verdicts "
                      "(%s \"%V\", admin_gate_key_prefix \"%V\"), "
                      "which is safe only if both verify tokens with the "
                      "same Synapse; set admin_gate_key_prefix in each "
                      "server block to share them on purpose",
                      &other->core->server_name, other->core->file_name,
                      other->core->line, &ascf->core->server_name,
                      ascf->core->file_name, ascf->core->line,
                      ascf->redis ? "redis" : "admin_gate_cache_zone",
                      ascf->redis ? &ascf->redis->addr.name
                                  : &amcf->zone->shm.name,
                      &ascf->key_prefix);
    }

    return NGX_OK;
}


/*
 * An earlier server that shares the verdicts of server "s": same Redis,
 * same key prefix.  With "defaults", a default prefix is compared with
 * the defaults before it and with every prefix that was set.
 */

static ngx_http_admin_srv_conf_t *
ngx_http_admin_tenant_sharing(ngx_conf_t *cf, ngx_uint_t s, ngx_uint_t defaults)
{
    ngx_uint_t                     i, n;
    ngx_http_admin_srv_conf_t     *ascf, *other;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_admin_main_conf_t    *amcf;
    ngx_http_core_srv_conf_t     **cscfp;
    ngx_http_admin_redis_conf_t   *a, *b;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);
    cscfp = cmcf->servers.elts;

    ascf = cscfp[s]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

    n = defaults ? cmcf->servers.nelts : s;

    for (i = 0; i < n; i++) {
        other = cscfp[i]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

        if (i == s || !other->gated
            || (other->redis == NULL && amcf->zone == NULL))
        {
            continue;
        }

        if (defaults && i > s && !other->prefix_set
            && !other->prefix_inherited)
        {
            /* a later default gives way to this one */
            continue;
        }

        if (ascf->key_prefix.len != other->key_prefix.len
            || ngx_strncmp(ascf->key_prefix.data, other->key_prefix.data,
                           ascf->key_prefix.len)
               != 0)
        {
            continue;
        }

        a = ascf->redis;
        b = other->redis;

        /* without Redis, both share the zone */

        if (a == b) {
            return other;
        }

        if (a == NULL || b == NULL
            || ngx_max(a->db, 0) != ngx_max(b->db, 0))
        {
            continue;
        }

        /* with Sentinel, a Redis is the master's name */

        if (a->sentinels || b->sentinels) {

            if (a->sentinels && b->sentinels
                && a->master.len == b->master.len
                && ngx_strncmp(a->master.data, b->master.data,
                               a->master.len) == 0)
            {
                return other;
            }

            continue;
        }

        if (ngx_cmp_sockaddr(a->addr.sockaddr, a->addr.socklen,
                             b->addr.sockaddr, b->addr.socklen, 1)
            == NGX_OK)
        {
            return other;
        }
    }

    return NULL;
}
