
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_STATUS_H_INCLUDED_
#define _NGX_HTTP_ADMIN_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the histogram of verification latency: upper bounds in ms, then +Inf */
#define NGX_HTTP_ADMIN_STATUS_BUCKETS  11


/* lookups by tier and result */

typedef enum {
    NGX_HTTP_ADMIN_LOOKUP_ZONE_HIT = 0,
    NGX_HTTP_ADMIN_LOOKUP_ZONE_MISS,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_HIT,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_MISS,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_REVOKED,
    NGX_HTTP_ADMIN_LOOKUP_REDIS_ERROR,
    NGX_HTTP_ADMIN_LOOKUPS
} ngx_http_admin_lookup_e;


/* the counters of one admin_gate_redis */

typedef enum {
    NGX_HTTP_ADMIN_REDIS_ERRORS = 0,
    NGX_HTTP_ADMIN_REDIS_RECONNECTS,
    NGX_HTTP_ADMIN_REDIS_FAILOVERS,
    NGX_HTTP_ADMIN_REDIS_COUNTERS
} ngx_http_admin_redis_counter_e;


/*
 * Counters of one server name (by verdict) or one admin_gate_redis, in
 * the zone; found again by name after a reload.
 */

struct ngx_http_admin_record_s {
    ngx_http_admin_record_t   *next;
    ngx_uint_t                 generation;   /* of the last configuration */
    ngx_uint_t                 kind;
    ngx_atomic_t               count[8];
    size_t                     len;
    u_char                     name[1];
};


/* the counters of every worker, in the zone "admin_gate_status" */

struct ngx_http_admin_counters_s {
    ngx_atomic_t               lookups[NGX_HTTP_ADMIN_LOOKUPS];
    ngx_atomic_t               verify_started;
    ngx_atomic_t               verify_failed;
    ngx_atomic_t               verify_in_flight;
    ngx_atomic_t               verify_ms;    /* the sum */
    ngx_atomic_t               verify_buckets[NGX_HTTP_ADMIN_STATUS_BUCKETS];
    ngx_http_admin_record_t   *records;
    ngx_uint_t                 generation;
};


static ngx_inline void ngx_http_admin_count(ngx_atomic_t *counter);


static ngx_inline void
ngx_http_admin_count(ngx_atomic_t *counter)
{
    (void) ngx_atomic_fetch_add(counter, 1);
}


char *ngx_http_admin_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_admin_status_init(ngx_conf_t *cf);
void ngx_http_admin_status_verified(ngx_http_admin_counters_t *counters,
    ngx_msec_t started, ngx_uint_t failed);


#endif /* _NGX_HTTP_ADMIN_STATUS_H_INCLUDED_ */
