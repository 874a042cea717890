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

is(scalar $fs->requests, 0, 'two headers: nothing reached Synapse');

$t->stop;

done_testing;
