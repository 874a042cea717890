
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_redis.h"
#include "ngx_http_admin_revoke.h"


static ngx_int_t ngx_http_admin_redis_addr(ngx_conf_t *cf, ngx_str_t *text,
    ngx_addr_t *addr);
static ngx_int_t ngx_http_admin_redis_sentinels(ngx_conf_t *cf,
    ngx_http_admin_redis_conf_t *rcf, ngx_str_t *value);


/*
 * admin_gate_redis host:port | unix:/path [db=N] [password=P] [username=U]
 * admin_gate_redis sentinel=host:port[,host:port...] master=NAME
 *                  [sentinel_password=P] [db=N] [password=P] [username=U]
 * Host names are resolved here, at configuration time, never in a worker.
 */

char *
ngx_http_admin_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_admin_srv_conf_t *ascf = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_http_admin_main_conf_t   *amcf;
    ngx_http_admin_redis_conf_t  *rcf, **rcfp;

    if (ascf->redis != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->db = -1;

    value = cf->args->elts;

    i = 1;

    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, '=')
        == NULL)
    {
        if (ngx_http_admin_redis_addr(cf, &value[1], &rcf->addr) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        i = 2;
    }

    for ( /* void */ ; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (rcf->db == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis database \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0
            && value[i].len > 9)
        {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "username=", 9) == 0
            && value[i].len > 9)
        {
            rcf->username.data = value[i].data + 9;
            rcf->username.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel=", 9) == 0
            && value[i].len > 9 && rcf->addr.name.len == 0
            && rcf->sentinels == NULL)
        {
            if (ngx_http_admin_redis_sentinels(cf, rcf, &value[i])
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "master=", 7) == 0
            && value[i].len > 7)
        {
            rcf->master.data = value[i].data + 7;
            rcf->master.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel_password=", 18) == 0
            && value[i].len > 18)
        {
            rcf->sentinel_password.data = value[i].data + 18;
            rcf->sentinel_password.len = value[i].len - 18;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (rcf->username.len && rcf->password.len == 0) {
        return "has \"username=\" without \"password=\"";
    }

    if (rcf->sentinels == NULL
        && (rcf->master.len || rcf->sentinel_password.len))
    {
        return "has \"master=\" or \"sentinel_password=\" without "
               "\"sentinel=\"";
    }

    if (rcf->sentinels && rcf->master.len == 0) {
        return "has \"sentinel=\" without \"master=\"";
    }

    if (rcf->sentinels == NULL && rcf->addr.name.len == 0) {
        return "has neither an address nor \"sentinel=\"";
    }

    if (rcf->sentinels) {
        /* in the logs, the master is its name */
        rcf->addr.name = rcf->master;
    }

    /*
     * the Redis, as revocations remember it across workers and reloads:
     * with Sentinel, the master's name, wherever it runs
     */

    ngx_crc32_init(rcf->rid);

    if (rcf->sentinels) {
        ngx_crc32_update(&rcf->rid, (u_char *) "sentinel:", 9);
    }

    ngx_crc32_update(&rcf->rid, rcf->addr.name.data, rcf->addr.name.len);
    ngx_crc32_update(&rcf->rid, (u_char *) &rcf->db, sizeof(ngx_int_t));
    ngx_crc32_final(rcf->rid);

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    if (ngx_http_admin_revoke_zone(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rcfp = ngx_array_push(&amcf->redis);
    if (rcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rcfp = rcf;
    ascf->redis = rcf;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_admin_redis_addr(ngx_conf_t *cf, ngx_str_t *text, ngx_addr_t *addr)
{
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *text;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in redis address \"%V\"", u.err, &u.url);
        }

        return NGX_ERROR;
    }

    if (u.naddrs == 0 || u.uri.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\"", &u.url);
        return NGX_ERROR;
    }

    *addr = u.addrs[0];

    return NGX_OK;
}


/* sentinel=host:port[,host:port...], default port 26379 */

static ngx_int_t
ngx_http_admin_redis_sentinels(ngx_conf_t *cf,
    ngx_http_admin_redis_conf_t *rcf, ngx_str_t *value)
{
    u_char      *p, *last, *comma;
    ngx_url_t    u;
    ngx_addr_t  *addr;

    rcf->sentinels = ngx_array_create(cf->pool, 3, sizeof(ngx_addr_t));
    if (rcf->sentinels == NULL) {
        return NGX_ERROR;
    }

    p = value->data + 9;
    last = value->data + value->len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = 26379;

        if (u.url.len == 0 || ngx_parse_url(cf->pool, &u) != NGX_OK
            || u.naddrs == 0 || u.uri.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel address \"%V\"%s%s",
                               &u.url, u.err ? ": " : "",
                               u.err ? u.err : "");
            return NGX_ERROR;
        }

        addr = ngx_array_push(rcf->sentinels);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        *addr = u.addrs[0];

        p = comma + 1;
    }

    if (rcf->sentinels->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", value);
        return NGX_ERROR;
    }

    return NGX_OK;
}
