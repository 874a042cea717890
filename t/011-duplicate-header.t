#!/usr/bin/perl

# Two Authorization headers.  nginx 1.22 itself answers 400 before any
# module runs, and logs both header values at "info" ("client sent
# duplicate header line"): that is nginx core, not the gate, so this file
# keeps its error log at "notice", the level the docs recommend.  The
# module's own "Too many Authorization headers." answer is for servers
# that let such a request through.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest qw(http parse_response);

my $t = AdminTest->new(error_log_level => 'notice');
my $fs = $t->synapse;

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;
        listen 127.0.0.1:%%PORT_1%% http2;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

for my $pair (['adm_tok', 'adm_tok'], ['usr_tok', 'adm_tok'],
    ['adm_tok', 'usr_tok'])
{
    for my $n (1 .. 2) {
        my $r = parse_response(http($t->port(0),
            "GET /_synapse/admin/v1/users HTTP/1.1\r\nHost: localhost\r\n"
            . "Authorization: Bearer $pair->[0]\r\n"
            . "Authorization: Bearer $pair->[1]\r\n"
            . "Connection: close\r\n\r\n"));
        is($r->{status}, 400, "two headers ($pair->[0], $pair->[1]): "
            . "refused ($n)");
    }
}

SKIP: {
    skip 'curl without HTTP/2', 2
        unless `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

    for my $n (1 .. 2) {
        my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -H 'Authorization: Bearer adm_tok' -H 'Authorization: Bearer usr_tok' http://127.0.0.1:@{[ $t->port(1) ]}/_synapse/admin/v1/users`;
        is($code, 400, "two headers over HTTP/2: refused ($n)");
    }
}

is(scalar $fs->requests, 0, 'two headers: nothing reached Synapse');

$t->stop;

done_testing;
