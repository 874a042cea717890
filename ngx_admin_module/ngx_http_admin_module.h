
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_MODULE_H_INCLUDED_
#define _NGX_HTTP_ADMIN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* a Synapse user id is at most 255 bytes */
#define NGX_HTTP_ADMIN_USER_MAX  255


typedef enum {
    NGX_HTTP_ADMIN_PENDING = 0,
    NGX_HTTP_ADMIN_ALLOW,
    NGX_HTTP_ADMIN_MISSING_TOKEN,
    NGX_HTTP_ADMIN_UNKNOWN_TOKEN,
    NGX_HTTP_ADMIN_FORBIDDEN,
    NGX_HTTP_ADMIN_ERROR,
    NGX_HTTP_ADMIN_BAD_REQUEST
} ngx_http_admin_verdict_e;


/* where the verdict came from, for $admin_gate_cache */

typedef enum {
    NGX_HTTP_ADMIN_CACHE_NONE = 0,
    NGX_HTTP_ADMIN_CACHE_HIT_ZONE,
    NGX_HTTP_ADMIN_CACHE_HIT,
    NGX_HTTP_ADMIN_CACHE_MISS,
    NGX_HTTP_ADMIN_CACHE_ERROR,
    NGX_HTTP_ADMIN_CACHE_REVOKED
} ngx_http_admin_cache_e;


typedef enum {
    NGX_HTTP_ADMIN_FAILURE_VERIFY = 0,
    NGX_HTTP_ADMIN_FAILURE_DENY
} ngx_http_admin_failure_e;


typedef struct ngx_http_admin_ctx_s         ngx_http_admin_ctx_t;
typedef struct ngx_http_admin_redis_s       ngx_http_admin_redis_t;
typedef struct ngx_http_admin_waiter_s      ngx_http_admin_waiter_t;
typedef struct ngx_http_admin_redis_conf_s  ngx_http_admin_redis_conf_t;
typedef struct ngx_http_admin_record_s      ngx_http_admin_record_t;
typedef struct ngx_http_admin_counters_s    ngx_http_admin_counters_t;

/* the connection is being made: commands queued now go first */
typedef void (*ngx_http_admin_connect_pt)(ngx_http_admin_redis_conf_t *rcf);


/* one admin_gate_redis directive */

struct ngx_http_admin_redis_conf_s {
    ngx_addr_t                 addr;          /* or the master's name */
    ngx_array_t               *sentinels;     /* of ngx_addr_t, or NULL */
    ngx_str_t                  master;        /* its name, for Sentinel */
    ngx_str_t                  sentinel_password;
    ngx_int_t                  db;            /* -1: no SELECT */
    ngx_str_t                  username;
    ngx_str_t                  password;
    ngx_msec_t                 timeout;       /* longest of its servers' */
    uint32_t                   rid;           /* crc32 of address and db */
    ngx_http_admin_connect_pt  connect;
    ngx_http_admin_redis_t    *redis;         /* this worker's connection */
    ngx_http_admin_record_t   *record;        /* its counters, or NULL */
};


typedef struct {
    ngx_array_t                redis;         /* of redis_conf_t * */
    ngx_array_t                logs;          /* of ngx_log_t *, to wrap */
    ngx_shm_zone_t            *revocations;
    ngx_shm_zone_t            *zone;          /* admin_gate_cache_zone */
    time_t                     max_ttl;       /* of admin_gate_cache_ttl */

    /* admin_gate_status (ngx_http_admin_status.c) */
    ngx_flag_t                 status_on;
    ngx_shm_zone_t            *status;
    ngx_http_admin_counters_t *counters;      /* or NULL */

    /* this worker's lookups in flight, by token hash */
    ngx_rbtree_t               flights;
    ngx_rbtree_node_t          flight_sentinel;

    /* this worker's ctxs for later requests (ngx_http_admin_ctx.c) */
    ngx_http_admin_ctx_t      *free;
    ngx_uint_t                 nfree;

    /* the SipHash key of token hashes: the zone's, or of this start */
    u_char                     hash_key[16];
} ngx_http_admin_main_conf_t;


typedef struct ngx_http_admin_hmac_s  ngx_http_admin_hmac_t;


typedef struct {
    ngx_http_admin_redis_conf_t  *redis;
    ngx_http_admin_hmac_t        *secret;     /* admin_gate_secret_file */
    ngx_msec_t                    timeout;
    time_t                        ttl;
    time_t                        negative_ttl;
    ngx_str_t                     key_prefix;
    ngx_uint_t                    failure;
    ngx_uint_t                    gated;      /* admin_gate on in it */
    ngx_uint_t                    prefix_set; /* ... in this server */
    ngx_uint_t                    prefix_inherited;
    ngx_http_core_srv_conf_t     *core;
    ngx_http_admin_record_t      *record;     /* its counters, or NULL */

    /* the SipHash key of its namespace, made in every worker */
    u_char                        hash_key[16];
} ngx_http_admin_srv_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_array_t               *prefixes;      /* of ngx_str_t, canonical */
    ngx_str_t                  verify;
} ngx_http_admin_loc_conf_t;


extern ngx_module_t  ngx_http_admin_module;
extern ngx_str_t     ngx_http_admin_verdict_names[];


#endif /* _NGX_HTTP_ADMIN_MODULE_H_INCLUDED_ */
