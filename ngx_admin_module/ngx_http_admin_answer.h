
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_ANSWER_H_INCLUDED_
#define _NGX_HTTP_ADMIN_ANSWER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_admin_json.h"


ngx_int_t ngx_http_admin_answer_refuse(ngx_http_request_t *r);
ngx_int_t ngx_http_admin_answer_deny(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx, ngx_http_admin_err_e err);
ngx_int_t ngx_http_admin_answer_forward(ngx_http_request_t *r,
    ngx_http_admin_ctx_t *ctx);


#endif /* _NGX_HTTP_ADMIN_ANSWER_H_INCLUDED_ */
