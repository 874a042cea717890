
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_http_admin_module.h"

#include <jansson.h>

#include "ngx_http_admin_json.h"
#include "ngx_http_admin_value.h"


static ngx_http_admin_json_e ngx_http_admin_json_user(ngx_pool_t *pool,
    json_t *value, ngx_str_t *user, const char **why);
static ngx_int_t ngx_http_admin_json_own(ngx_pool_t *pool, json_t *json);
static ngx_http_admin_json_e ngx_http_admin_json_load(ngx_pool_t *pool,
    ngx_str_t *body, json_t **root, const char **why);
static void ngx_http_admin_json_cleanup(void *data);


typedef struct {
    ngx_uint_t                status;
    ngx_str_t                 body;
} ngx_http_admin_json_error_t;


static ngx_http_admin_json_error_t  ngx_http_admin_json_errors[] = {

    /* Synapse's own words, byte for byte (synapse/api/auth.py) */

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"errcode\":\"M_MISSING_TOKEN\","
                 "\"error\":\"Missing access token\"}") },

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"errcode\":\"M_MISSING_TOKEN\","
                 "\"error\":\"Invalid Authorization header.\"}") },

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"errcode\":\"M_MISSING_TOKEN\","
                 "\"error\":\"Too many Authorization headers.\"}") },

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"errcode\":\"M_MISSING_TOKEN\","
                 "\"error\":\"Mixing Authorization headers and "
                 "access_token query parameters.\"}") },

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("{\"errcode\":\"M_UNKNOWN_TOKEN\","
                 "\"error\":\"Invalid access token passed.\","
                 "\"soft_logout\":false}") },

    { NGX_HTTP_FORBIDDEN,
      ngx_string("{\"errcode\":\"M_FORBIDDEN\","
                 "\"error\":\"You are not a server admin\"}") },

    /* a request the gate cannot take (Synapse's words for odd paths) */

    { NGX_HTTP_BAD_REQUEST,
      ngx_string("{\"errcode\":\"M_UNRECOGNIZED\","
                 "\"error\":\"Unrecognized request\"}") },

    /* the gate's own: Synapse could not be asked */

    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("{\"errcode\":\"M_UNKNOWN\","
                 "\"error\":\"The access token could not be verified, "
                 "try again later\"}") }
};


/* the headers Synapse sends with every JSON answer */

static ngx_keyval_t  ngx_http_admin_json_headers[] = {

    { ngx_string("Access-Control-Allow-Origin"),
      ngx_string("*") },

    { ngx_string("Access-Control-Allow-Methods"),
      ngx_string("GET, HEAD, POST, PUT, DELETE, OPTIONS") },

    { ngx_string("Access-Control-Allow-Headers"),
      ngx_string("X-Requested-With, Content-Type, Authorization, Date") },

    { ngx_string("Cache-Control"),
      ngx_string("no-cache, no-store, must-revalidate") },

    { ngx_null_string, ngx_null_string }
};


/*
 * GET /_matrix/client/v3/account/whoami: {"user_id":"@u:hs", ...}.
 * The user id is copied into the pool.
 */

ngx_http_admin_json_e
ngx_http_admin_json_whoami(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *user, const char **why)
{
    json_t                 *root;
    ngx_http_admin_json_e   rc;

    rc = ngx_http_admin_json_load(pool, body, &root, why);
    if (rc != NGX_HTTP_ADMIN_JSON_OK) {
        return rc;
    }

    return ngx_http_admin_json_user(pool, json_object_get(root, "user_id"),
                                    user, why);
}


/* a Matrix error document: an object with an "errcode" string */

ngx_http_admin_json_e
ngx_http_admin_json_matrix_error(ngx_pool_t *pool, ngx_str_t *body)
{
    json_t                 *root;
    const char             *why;
    ngx_http_admin_json_e   rc;

    rc = ngx_http_admin_json_load(pool, body, &root, &why);
    if (rc != NGX_HTTP_ADMIN_JSON_OK) {
        return rc;
    }

    if (!json_is_string(json_object_get(root, "errcode"))) {
        return NGX_HTTP_ADMIN_JSON_INVALID;
    }

    return NGX_HTTP_ADMIN_JSON_OK;
}


/*
 * Answers the request with a JSON body and the headers Synapse would
 * send.  The body is not copied: it must live as long as the request.
 */

ngx_int_t
ngx_http_admin_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_keyval_t     *kv;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    for (kv = ngx_http_admin_json_headers; kv->key.len; kv++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = kv->key;
        h->value = kv->value;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_admin_json_send_error(ngx_http_request_t *r, ngx_http_admin_err_e err)
{
    return ngx_http_admin_json_send(r, ngx_http_admin_json_errors[err].status,
                                    &ngx_http_admin_json_errors[err].body);
}


/* a Synapse user id, as ngx_http_admin_value_user_valid() has it, copied */

static ngx_http_admin_json_e
ngx_http_admin_json_user(ngx_pool_t *pool, json_t *value, ngx_str_t *user,
    const char **why)
{
    ngx_str_t  s;

    if (!json_is_string(value)) {
        *why = "reply has no \"user_id\" string";
        return NGX_HTTP_ADMIN_JSON_INVALID;
    }

    s.data = (u_char *) json_string_value(value);
    s.len = json_string_length(value);

    if (!ngx_http_admin_value_user_valid(&s)) {
        *why = "reply has a malformed \"user_id\"";
        return NGX_HTTP_ADMIN_JSON_INVALID;
    }

    user->data = ngx_pnalloc(pool, s.len);
    if (user->data == NULL) {
        return NGX_HTTP_ADMIN_JSON_NOMEM;
    }

    ngx_memcpy(user->data, s.data, s.len);
    user->len = s.len;

    return NGX_HTTP_ADMIN_JSON_OK;
}


/* the pool frees the tree */

static ngx_int_t
ngx_http_admin_json_own(ngx_pool_t *pool, json_t *json)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_admin_json_cleanup;
    cln->data = json;

    return NGX_OK;
}


/*
 * Parses a reply into an object whose tree the pool frees.  Duplicate keys
 * are refused: {"admin":false,"admin":true} is no answer.
 */

static ngx_http_admin_json_e
ngx_http_admin_json_load(ngx_pool_t *pool, ngx_str_t *body, json_t **root,
    const char **why)
{
    json_t        *json;
    json_error_t   err;

    json = json_loadb((const char *) body->data, body->len,
                      JSON_REJECT_DUPLICATES, &err);

    if (json == NULL) {
        *why = "reply is not valid JSON";
        return NGX_HTTP_ADMIN_JSON_INVALID;
    }

    if (ngx_http_admin_json_own(pool, json) != NGX_OK) {
        json_decref(json);
        return NGX_HTTP_ADMIN_JSON_NOMEM;
    }

    if (!json_is_object(json)) {
        *why = "reply is not a JSON object";
        return NGX_HTTP_ADMIN_JSON_INVALID;
    }

    *root = json;

    return NGX_HTTP_ADMIN_JSON_OK;
}


static void
ngx_http_admin_json_cleanup(void *data)
{
    json_t  *json = data;

    json_decref(json);
}
