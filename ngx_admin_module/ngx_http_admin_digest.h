
/*
 * Copyright (C) The ngx_admin_module authors
 */


#ifndef _NGX_HTTP_ADMIN_DIGEST_H_INCLUDED_
#define _NGX_HTTP_ADMIN_DIGEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_ADMIN_DIGEST_LEN      32
#define NGX_HTTP_ADMIN_SECRET_MIN      32
#define NGX_HTTP_ADMIN_SECRET_MAX      4096
#define NGX_HTTP_ADMIN_HASH_KEY_LEN    16


void ngx_http_admin_sha256(ngx_str_t *parts, ngx_uint_t n, u_char *md);
void ngx_http_admin_hmac(ngx_http_admin_hmac_t *key, ngx_str_t *parts,
    ngx_uint_t n, u_char *md);
ngx_int_t ngx_http_admin_random(u_char *buf, size_t n);
void ngx_http_admin_siphash(const u_char *key, ngx_str_t *parts,
    ngx_uint_t n, uint64_t *out);
char *ngx_http_admin_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_ADMIN_DIGEST_H_INCLUDED_ */
