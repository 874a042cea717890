
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"
#include "ngx_http_admin_status.h"
#include "ngx_http_admin_zone.h"


/*
 * admin_gate_status: the gate's counters in the Prometheus text format.
 * They live in a zone of their own, "admin_gate_status", made when the
 * directive is used anywhere, so that every worker's requests count and
 * the counts survive a reload.  Requests are counted by server name and
 * verdict, Redis's troubles by admin_gate_redis: one record per name,
 * found again by its name after a reload.  Workers only add to counters
 * (atomics, no lock); records are made by the master process, while it
 * reads the configuration, and linked only once filled in.
 */


#define NGX_HTTP_ADMIN_RECORD_SERVER  0
#define NGX_HTTP_ADMIN_RECORD_REDIS   1

/* room for a record and its name, in the slab's size classes */
#define NGX_HTTP_ADMIN_RECORD_ROOM    512
#define NGX_HTTP_ADMIN_STATUS_SIZE    (256 * 1024)


typedef struct {
    ngx_http_admin_counters_t  *counters;
    ngx_slab_pool_t            *shpool;
    ngx_http_admin_main_conf_t *amcf;
    ngx_array_t                 servers;      /* of srv_conf_t *, gated */
    ngx_array_t                 records;      /* of record *, this cycle's */
} ngx_http_admin_status_t;


static ngx_int_t ngx_http_admin_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_admin_status_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_http_admin_record_t *ngx_http_admin_status_record(
    ngx_http_admin_status_t *st, ngx_uint_t kind, ngx_str_t *name);
static size_t ngx_http_admin_status_size(ngx_http_admin_status_t *st);
static u_char *ngx_http_admin_status_label(u_char *p, u_char *name,
    size_t len);


/* upper bounds of the latency buckets, in ms; the last is +Inf */

static ngx_msec_t  ngx_http_admin_status_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};

static char  *ngx_http_admin_status_le[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
    "5", "+Inf"
};

static char  *ngx_http_admin_lookup_labels[] = {
    "tier=\"zone\",result=\"hit\"",
    "tier=\"zone\",result=\"miss\"",
    "tier=\"redis\",result=\"hit\"",
    "tier=\"redis\",result=\"miss\"",
    "tier=\"redis\",result=\"revoked\"",
    "tier=\"redis\",result=\"error\""
};

static char  *ngx_http_admin_redis_metrics[] = {
    "admin_gate_redis_errors_total",
    "admin_gate_redis_reconnects_total",
    "admin_gate_redis_failovers_total"
};

static char  *ngx_http_admin_redis_help[] = {
    "Failures of the connections to Redis: errors, silence, bad replies.",
    "Connections to Redis (or a Sentinel) tried again after a failure.",
    "Times a Sentinel named another master than the one before."
};

static ngx_str_t  ngx_http_admin_status_zone_name =
    ngx_string("admin_gate_status");


/* admin_gate_status; (location) */

char *
ngx_http_admin_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_admin_main_conf_t  *amcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_admin_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_admin_status_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);
    amcf->status_on = 1;

    return NGX_CONF_OK;
}


/*
 * After the configuration: the zone, sized for the servers and Redis
 * connections there are (in powers of two, so that a reload that adds a
 * few finds the same zone).  Nothing without admin_gate_status.
 */

ngx_int_t
ngx_http_admin_status_init(ngx_conf_t *cf)
{
    size_t                        size, need;
    ngx_uint_t                    s;
    ngx_shm_zone_t               *zone;
    ngx_http_admin_status_t      *st;
    ngx_http_admin_srv_conf_t    *ascf, **p;
    ngx_http_core_srv_conf_t    **cscfp;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_admin_main_conf_t   *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_admin_module);

    if (!amcf->status_on) {
        return NGX_OK;
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_admin_status_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->amcf = amcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    if (ngx_array_init(&st->servers, cf->pool, cmcf->servers.nelts + 1,
                       sizeof(ngx_http_admin_srv_conf_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_array_init(&st->records, cf->pool,
                       cmcf->servers.nelts + amcf->redis.nelts + 1,
                       sizeof(ngx_http_admin_record_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (s = 0; s < cmcf->servers.nelts; s++) {
        ascf = cscfp[s]->ctx->srv_conf[ngx_http_admin_module.ctx_index];

        if (!ascf->gated) {
            continue;
        }

        p = ngx_array_push(&st->servers);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *p = ascf;
    }

    need = 2 * (st->servers.nelts + amcf->redis.nelts)
           * NGX_HTTP_ADMIN_RECORD_ROOM;

    for (size = NGX_HTTP_ADMIN_STATUS_SIZE; size < need; size *= 2) {
        /* void */
    }

    zone = ngx_shared_memory_add(cf, &ngx_http_admin_status_zone_name, size,
                                 &ngx_http_admin_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is the module's own",
                           &ngx_http_admin_status_zone_name);
        return NGX_ERROR;
    }

    zone->init = ngx_http_admin_status_init_zone;
    zone->data = st;

    amcf->status = zone;

    return NGX_OK;
}


/*
 * The counters, old or new, and a record for every gated server and
 * Redis of this configuration.  Runs in the master process, or in the
 * only one.
 */

static ngx_int_t
ngx_http_admin_status_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_admin_status_t  *ost = data;

    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_admin_status_t      *st;
    ngx_http_admin_srv_conf_t   **ascf;
    ngx_http_admin_redis_conf_t **rcf;

    st = zone->data;

    if (ost != NULL) {
        st->shpool = ost->shpool;
        st->counters = ost->counters;

    } else {
        st->shpool = (ngx_slab_pool_t *) zone->shm.addr;

        if (zone->shm.exists) {
            st->counters = st->shpool->data;

        } else {
            st->counters = ngx_slab_calloc(st->shpool,
                                           sizeof(ngx_http_admin_counters_t));
            if (st->counters == NULL) {
                return NGX_ERROR;
            }

            st->shpool->data = st->counters;
        }
    }

    st->counters->generation++;
    st->amcf->counters = st->counters;

    ascf = st->servers.elts;

    for (i = 0; i < st->servers.nelts; i++) {
        name = ascf[i]->core->server_name;

        if (name.len == 0) {
            ngx_str_set(&name, "_");
        }

        ascf[i]->record = ngx_http_admin_status_record(st,
                                                NGX_HTTP_ADMIN_RECORD_SERVER,
                                                &name);
        if (ascf[i]->record == NULL) {
            return NGX_ERROR;
        }
    }

    rcf = st->amcf->redis.elts;

    for (i = 0; i < st->amcf->redis.nelts; i++) {
        rcf[i]->record = ngx_http_admin_status_record(st,
                                                NGX_HTTP_ADMIN_RECORD_REDIS,
                                                &rcf[i]->addr.name);
        if (rcf[i]->record == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the record of "name", from an earlier configuration or new */

static ngx_http_admin_record_t *
ngx_http_admin_status_record(ngx_http_admin_status_t *st, ngx_uint_t kind,
    ngx_str_t *name)
{
    ngx_http_admin_record_t   *rec, **p;
    ngx_http_admin_counters_t *counters;

    counters = st->counters;

    for (rec = counters->records; rec; rec = rec->next) {
        if (rec->kind == kind
            && rec->len == name->len
            && ngx_memcmp(rec->name, name->data, name->len) == 0)
        {
            break;
        }
    }

    if (rec == NULL) {
        rec = ngx_slab_calloc(st->shpool,
                              offsetof(ngx_http_admin_record_t, name)
                              + name->len);
        if (rec == NULL) {
            ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                          "admin_gate_status: no room in zone \"%V\" for "
                          "\"%V\"", &ngx_http_admin_status_zone_name, name);
            return NULL;
        }

        rec->kind = kind;
        rec->len = name->len;
        ngx_memcpy(rec->name, name->data, name->len);
        rec->next = counters->records;

        /* workers of the old configuration may be reading the list */

        ngx_memory_barrier();

        counters->records = rec;
    }

    /* listed once, however many servers share the name */

    if (rec->generation != counters->generation) {
        rec->generation = counters->generation;

        p = ngx_array_push(&st->records);
        if (p == NULL) {
            return NULL;
        }

        *p = rec;
    }

    return rec;
}


/* a verification has ended; "started" is its ngx_current_msec */

void
ngx_http_admin_status_verified(ngx_http_admin_counters_t *counters,
    ngx_msec_t started, ngx_uint_t failed)
{
    ngx_uint_t  i;
    ngx_msec_t  ms;

    ms = ngx_current_msec - started;

    for (i = 0; i < NGX_HTTP_ADMIN_STATUS_BUCKETS - 1; i++) {
        if (ms <= ngx_http_admin_status_bounds[i]) {
            break;
        }
    }

    ngx_http_admin_count(&counters->verify_buckets[i]);
    (void) ngx_atomic_fetch_add(&counters->verify_ms, ms);
    (void) ngx_atomic_fetch_add(&counters->verify_in_flight, -1);

    if (failed) {
        ngx_http_admin_count(&counters->verify_failed);
    }
}


/*
 * GET or HEAD: the text exposition format, version 0.0.4.  Buckets are
 * counted one by one and added up here, so that each scrape's histogram
 * is consistent in itself.
 */

static ngx_int_t
ngx_http_admin_status_handler(ngx_http_request_t *r)
{
    u_char                        *p;
    size_t                         size;
    ngx_int_t                      rc;
    ngx_str_t                     *name, zone;
    ngx_buf_t                     *b;
    ngx_uint_t                     i, v, k;
    ngx_chain_t                    out;
    ngx_atomic_uint_t              n, sum;
    ngx_http_admin_status_t       *st;
    ngx_http_admin_record_t      **rec;
    ngx_http_admin_counters_t     *c;
    ngx_http_admin_main_conf_t    *amcf;
    ngx_http_admin_zone_usage_t    u;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_admin_module);
    st = amcf->status->data;
    c = amcf->counters;

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    size = ngx_http_admin_status_size(st);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    p = ngx_cpymem(p, "# HELP admin_gate_requests_total Requests the gate "
                      "gave a verdict on, by server name and verdict.\n"
                      "# TYPE admin_gate_requests_total counter\n",
                   sizeof("# HELP admin_gate_requests_total Requests the "
                          "gate gave a verdict on, by server name and "
                          "verdict.\n"
                          "# TYPE admin_gate_requests_total counter\n") - 1);

    rec = st->records.elts;

    for (i = 0; i < st->records.nelts; i++) {
        if (rec[i]->kind != NGX_HTTP_ADMIN_RECORD_SERVER) {
            continue;
        }

        for (v = NGX_HTTP_ADMIN_ALLOW; v <= NGX_HTTP_ADMIN_BAD_REQUEST; v++) {
            p = ngx_cpymem(p, "admin_gate_requests_total{server=\"",
                           sizeof("admin_gate_requests_total{server=\"")
                           - 1);
            p = ngx_http_admin_status_label(p, rec[i]->name, rec[i]->len);
            p = ngx_sprintf(p, "\",verdict=\"%V\"} %uA\n",
                            &ngx_http_admin_verdict_names[v],
                            rec[i]->count[v]);
        }
    }

    p = ngx_cpymem(p, "# HELP admin_gate_cache_lookups_total Verdicts "
                      "looked up, by cache tier and result.\n"
                      "# TYPE admin_gate_cache_lookups_total counter\n",
                   sizeof("# HELP admin_gate_cache_lookups_total Verdicts "
                          "looked up, by cache tier and result.\n"
                          "# TYPE admin_gate_cache_lookups_total counter\n")
                   - 1);

    for (k = 0; k < NGX_HTTP_ADMIN_LOOKUPS; k++) {
        p = ngx_sprintf(p, "admin_gate_cache_lookups_total{%s} %uA\n",
                        ngx_http_admin_lookup_labels[k], c->lookups[k]);
    }

    for (k = 0; k < NGX_HTTP_ADMIN_REDIS_COUNTERS; k++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s counter\n",
                        ngx_http_admin_redis_metrics[k],
                        ngx_http_admin_redis_help[k],
                        ngx_http_admin_redis_metrics[k]);

        for (i = 0; i < st->records.nelts; i++) {
            if (rec[i]->kind != NGX_HTTP_ADMIN_RECORD_REDIS) {
                continue;
            }

            p = ngx_sprintf(p, "%s{redis=\"", ngx_http_admin_redis_metrics[k]);
            p = ngx_http_admin_status_label(p, rec[i]->name, rec[i]->len);
            p = ngx_sprintf(p, "\"} %uA\n", rec[i]->count[k]);
        }
    }

    p = ngx_sprintf(p, "# HELP admin_gate_verifications_total Verifications "
                       "of a token with Synapse started.\n"
                       "# TYPE admin_gate_verifications_total counter\n"
                       "admin_gate_verifications_total %uA\n"
                       "# HELP admin_gate_verifications_in_flight "
                       "Verifications with Synapse under way.\n"
                       "# TYPE admin_gate_verifications_in_flight gauge\n"
                       "admin_gate_verifications_in_flight %A\n"
                       "# HELP admin_gate_verification_failures_total "
                       "Verifications that Synapse did not answer "
                       "usably.\n"
                       "# TYPE admin_gate_verification_failures_total "
                       "counter\n"
                       "admin_gate_verification_failures_total %uA\n"
                       "# HELP admin_gate_verification_duration_seconds "
                       "Time from the start of a verification to its "
                       "verdict.\n"
                       "# TYPE admin_gate_verification_duration_seconds "
                       "histogram\n",
                    c->verify_started,
                    (ngx_atomic_int_t) c->verify_in_flight,
                    c->verify_failed);

    n = 0;

    for (k = 0; k < NGX_HTTP_ADMIN_STATUS_BUCKETS; k++) {
        n += c->verify_buckets[k];

        p = ngx_sprintf(p, "admin_gate_verification_duration_seconds_bucket"
                           "{le=\"%s\"} %uA\n",
                        ngx_http_admin_status_le[k], n);
    }

    sum = c->verify_ms;

    p = ngx_sprintf(p, "admin_gate_verification_duration_seconds_sum "
                       "%uA.%03uA\n"
                       "admin_gate_verification_duration_seconds_count %uA\n",
                    sum / 1000, sum % 1000, n);

    if (amcf->zone != NULL) {
        ngx_http_admin_zone_usage(amcf->zone, &u);

        name = &amcf->zone->shm.name;

        zone.data = ngx_pnalloc(r->pool, 2 * name->len);
        if (zone.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        zone.len = ngx_http_admin_status_label(zone.data, name->data,
                                               name->len)
                   - zone.data;

        p = ngx_sprintf(p, "# HELP admin_gate_zone_size_bytes Size of the "
                           "admin_gate_cache_zone.\n"
                           "# TYPE admin_gate_zone_size_bytes gauge\n"
                           "admin_gate_zone_size_bytes{zone=\"%V\"} %uz\n"
                           "# HELP admin_gate_zone_free_bytes Free pages "
                           "of the admin_gate_cache_zone, in bytes.\n"
                           "# TYPE admin_gate_zone_free_bytes gauge\n"
                           "admin_gate_zone_free_bytes{zone=\"%V\"} %uz\n"
                           "# HELP admin_gate_zone_entries Verdicts in "
                           "the admin_gate_cache_zone.\n"
                           "# TYPE admin_gate_zone_entries gauge\n"
                           "admin_gate_zone_entries{zone=\"%V\"} %ui\n"
                           "# HELP admin_gate_zone_evictions_total "
                           "Verdicts removed from the full "
                           "admin_gate_cache_zone before their time.\n"
                           "# TYPE admin_gate_zone_evictions_total "
                           "counter\n"
                           "admin_gate_zone_evictions_total{zone=\"%V\"} "
                           "%ui\n",
                        &zone, u.size, &zone, u.free, &zone, u.entries,
                        &zone, u.evictions);
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (b->last == b->pos) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* at most what the handler writes: fixed text, then per record */

static size_t
ngx_http_admin_status_size(ngx_http_admin_status_t *st)
{
    size_t                     size;
    ngx_uint_t                 i;
    ngx_http_admin_record_t  **rec;

    size = 8192 + 4 * NGX_ATOMIC_T_LEN * NGX_HTTP_ADMIN_STATUS_BUCKETS;

    if (st->amcf->zone != NULL) {
        /* four lines, the name escaped in each */
        size += 1024 + 8 * st->amcf->zone->shm.name.len;
    }

    rec = st->records.elts;

    for (i = 0; i < st->records.nelts; i++) {
        /* six verdicts or three counters, each name escaped (2x) */
        size += 6 * (sizeof("admin_gate_requests_total{server=\"\","
                            "verdict=\"missing_token\"} \n")
                     + 2 * rec[i]->len + NGX_ATOMIC_T_LEN);
    }

    return size;
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_admin_status_label(u_char *p, u_char *name, size_t len)
{
    u_char  *last;

    for (last = name + len; name < last; name++) {

        switch (*name) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *name;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *name;
        }
    }

    return p;
}
