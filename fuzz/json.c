
/*
 * Copyright (C) The ngx_admin_module authors
 */


/*
 * ngx_http_admin_json.c: Synapse's whoami reply and Matrix error
 * documents, parsed with jansson.
 *
 * Input: a reply body, copied into a block of its own size.  Checked
 * against this file's own reading with jansson (an object, duplicate keys
 * refused):
 *
 *     whoami: OK exactly when "user_id" is a string of 2 to 255 visible
 *     ASCII bytes starting with "@", and then the user is a pool copy of
 *     it; otherwise INVALID with a reason;
 *     matrix_error: OK exactly when "errcode" is a string.
 *
 * Every jansson tree is freed by the pool (LeakSanitizer says if not).
 * Then each pool allocation in turn fails: the answer is NOMEM, or the
 * same as before.
 */


#include "ngx_fuzz.h"

#include <stdlib.h>

#include <jansson.h>

#include "ngx_http_admin_json.h"


static void ngx_fuzz_whoami(ngx_str_t *body);
static void ngx_fuzz_matrix_error(ngx_str_t *body);
static json_t *ngx_fuzz_load(ngx_str_t *body);


static const uint8_t  *ngx_fuzz_data;
static size_t          ngx_fuzz_size;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t  body;

    ngx_fuzz_data = data;
    ngx_fuzz_size = size;

    body.len = size;
    body.data = malloc(size);
    if (body.data == NULL) {
        abort();
    }

    ngx_memcpy(body.data, data, size);

    ngx_fuzz_whoami(&body);
    ngx_fuzz_matrix_error(&body);

    free(body.data);

    return 0;
}


static void
ngx_fuzz_whoami(ngx_str_t *body)
{
    size_t                  i, len;
    json_t                 *root, *value;
    ngx_str_t               user;
    ngx_uint_t              k, allocs;
    ngx_pool_t             *pool;
    const char             *s, *why;
    ngx_http_admin_json_e   rc, expected;

    expected = NGX_HTTP_ADMIN_JSON_INVALID;
    s = NULL;
    len = 0;

    root = ngx_fuzz_load(body);
    value = json_object_get(root, "user_id");

    if (json_is_string(value)) {
        s = json_string_value(value);
        len = json_string_length(value);

        if (len >= 2 && len <= NGX_HTTP_ADMIN_USER_MAX && s[0] == '@') {
            expected = NGX_HTTP_ADMIN_JSON_OK;

            for (i = 0; i < len; i++) {
                if ((u_char) s[i] < 0x21 || (u_char) s[i] > 0x7e) {
                    expected = NGX_HTTP_ADMIN_JSON_INVALID;
                }
            }
        }
    }

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    why = NULL;
    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_json_whoami(pool, body, &user, &why);

    allocs = ngx_fuzz_allocs;

    ngx_fuzz_assert(rc == expected, ngx_fuzz_data, ngx_fuzz_size);

    if (rc == NGX_HTTP_ADMIN_JSON_OK) {
        ngx_fuzz_assert(user.len == len
                        && ngx_memcmp(user.data, s, len) == 0
                        && (u_char *) s != user.data,
                        ngx_fuzz_data, ngx_fuzz_size);

    } else {
        ngx_fuzz_assert(why != NULL, ngx_fuzz_data, ngx_fuzz_size);
    }

    /* the pool frees the module's tree */

    ngx_destroy_pool(pool);

    for (k = 1; k <= allocs; k++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = k;

        rc = ngx_http_admin_json_whoami(pool, body, &user, &why);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);

        ngx_fuzz_assert(rc == NGX_HTTP_ADMIN_JSON_NOMEM || rc == expected,
                        ngx_fuzz_data, ngx_fuzz_size);
    }

    json_decref(root);
}


static void
ngx_fuzz_matrix_error(ngx_str_t *body)
{
    json_t                 *root;
    ngx_uint_t              k, allocs;
    ngx_pool_t             *pool;
    ngx_http_admin_json_e   rc, expected;

    root = ngx_fuzz_load(body);

    expected = json_is_string(json_object_get(root, "errcode"))
               ? NGX_HTTP_ADMIN_JSON_OK : NGX_HTTP_ADMIN_JSON_INVALID;

    json_decref(root);

    pool = ngx_create_pool(1024, NULL);
    if (pool == NULL) {
        abort();
    }

    ngx_fuzz_allocs = 0;

    rc = ngx_http_admin_json_matrix_error(pool, body);

    allocs = ngx_fuzz_allocs;
    ngx_destroy_pool(pool);

    ngx_fuzz_assert(rc == expected, ngx_fuzz_data, ngx_fuzz_size);

    for (k = 1; k <= allocs; k++) {
        pool = ngx_create_pool(1024, NULL);
        if (pool == NULL) {
            abort();
        }

        ngx_fuzz_fail_at = k;

        rc = ngx_http_admin_json_matrix_error(pool, body);

        ngx_fuzz_fail_at = 0;
        ngx_destroy_pool(pool);

        ngx_fuzz_assert(rc == NGX_HTTP_ADMIN_JSON_NOMEM || rc == expected,
                        ngx_fuzz_data, ngx_fuzz_size);
    }
}


/* an object, duplicate keys refused, or NULL */

static json_t *
ngx_fuzz_load(ngx_str_t *body)
{
    json_t        *json;
    json_error_t   err;

    json = json_loadb((const char *) body->data, body->len,
                      JSON_REJECT_DUPLICATES, &err);

    if (json != NULL && !json_is_object(json)) {
        json_decref(json);
        return NULL;
    }

    return json;
}
