#!/usr/bin/perl

# What the upstream receives from an allowed request: exactly one
# "Authorization: Bearer <token>", no access_token in the query (either
# separator, encoded names too), everything else in the request target
# byte for byte, and the request body untouched.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest qw(http parse_response);

my $t = AdminTest->new;
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

        location /_synapse/admin/v2/ {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%/_synapse/admin/v2/;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users/%40u%3Atest/x%2Fy';

forwarded('header token, target unchanged', "$p?a=1&b=%2F;c",
    "$p?a=1&b=%2F;c", Authorization => 'Bearer adm_tok');
forwarded('sloppy header normalized', "$p?a=1", "$p?a=1",
    Authorization => "  bearer \t adm_tok\t");
forwarded('query token removed', "$p?a=1&access_token=adm_tok&b=2",
    "$p?a=1&b=2");
forwarded('query token first', "$p?access_token=adm_tok&a=1", "$p?a=1");
forwarded('query token last', "$p?a=1;access_token=adm_tok", "$p?a=1");
forwarded('only a query token', "$p?access_token=adm_tok", $p);
forwarded('every access_token entry removed',
    "$p?a=1&access_token=adm_tok;b=2&%61ccess_token=x&access_token&c=%26",
    "$p?a=1;b=2&c=%26");
forwarded('header token, stray access_token without "="',
    "$p?access_token&z=1", "$p?z=1", Authorization => 'Bearer adm_tok');
forwarded('empty entries kept', "$p?&a=1&&access_token=adm_tok",
    "$p?&a=1&");
forwarded('proxy_pass with a URI part',
    '/_synapse/admin/v2/users?x=1&access_token=adm_tok',
    '/_synapse/admin/v2/users?x=1');

# the body and its headers pass untouched

my $body = 'access_token=not_mine&x=%2F';

$fs->clear_log;
my $r = $t->request('POST', '/_synapse/admin/v1/purge?access_token=adm_tok',
    'Content-Type' => 'application/x-www-form-urlencoded',
    body => $body);
is($r->{status}, 200, 'POST allowed');

my ($up) = $fs->upstream_requests;
is($up->{body}, $body, 'POST body reaches the upstream untouched');
my %h = map { lc $_->[0] => $_->[1] } @{ $up->{headers} };
is($h{'content-type'}, 'application/x-www-form-urlencoded',
    'POST content type untouched');
is($h{'content-length'}, length $body, 'POST content length untouched');

# $request in the access log is redacted for gated requests

$r = $t->get('/_synapse/admin/v1/users?access_token=adm_tok&x=1');
is($r->{status}, 200, 'query-token request allowed');

$t->stop;

like($t->read_file('access.log'),
    qr{"GET /_synapse/admin/v1/users\?access_token=\*\*\*&x=1 HTTP/1.1"},
    'access log: $request shows *** for the token');

done_testing;

###############################################################################

sub forwarded {
    my ($name, $target, $expect, @headers) = @_;

    $fs->clear_log;

    for my $n (1 .. 2) {
        my $r = $t->get($target, @headers);
        is($r->{status}, 200, "$name: allowed ($n)");
    }

    my @up = $fs->upstream_requests;
    is(scalar @up, 2, "$name: upstream reached twice");

    for my $up (@up) {
        is($up->{target}, $expect, "$name: upstream target");
        my @auth = grep { lc $_->[0] eq 'authorization' } @{ $up->{headers} };
        is_deeply(\@auth, [[ 'Authorization', 'Bearer adm_tok' ]],
            "$name: one Authorization header");
    }
}
