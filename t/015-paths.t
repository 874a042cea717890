#!/usr/bin/perl

# What is gated: any reading of the request target (raw, decoded, dot
# segments resolved, slashes merged, any letter case) under a gated
# prefix, whatever location the request lands in; and what is not:
# other paths, OPTIONS, "admin_gate off" locations, subrequests.

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

    merge_slashes off;

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location ~* ^/_synapse/admin/v1/regex {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_synapse/admin/v1/server_version {
            admin_gate off;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /sneaky {
            rewrite ^ /_synapse/admin/v1/users break;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/anyone {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_prefix /_matrix/client/v3/admin/ /_synapse/admin;

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

my @gated = (
    '/_synapse/admin',
    '/_synapse/admin/v1/users',
    '/_synapse/admin/',
    '/_synapse/administrator',
    '//_synapse/admin/v1/users',
    '/_synapse//admin/v1/users',
    '/_synapse/admin//v1/users',
    '/_synapse/%61dmin/v1/users',
    '/%5Fsynapse/admin/v1/users',
    '/_synapse%2Fadmin/v1/users',
    '/_SYNAPSE/admin/v1/users',
    '/_Synapse/ADMIN/v1/users',
    '/_synapse/x/../admin/v1/users',
    '/_synapse/x/%2e%2e/admin/v1/users',
    '/_synapse/./admin/v1/users',
    '/./_synapse/admin/v1/users',
    '/_synapse/admin/v1/regex',
    '/_SYNAPSE/ADMIN/v1/regex',
    '/_synapse/admin/v1/users?x=/_matrix',
    '/sneaky',

    # the raw path is under the prefix, whatever it resolves to
    '/_synapse/admin/../../_matrix/client/v3/sync',
);

for my $target (@gated) {
    for my $n (1 .. 2) {
        my $r = $t->get($target);
        is($r->{status}, 401, "$target is gated ($n)");
        like($r->{body}, qr/M_MISSING_TOKEN/, "$target: missing token ($n)");
    }
}

my @open = (
    '/_matrix/client/v3/sync',
    '/_synapse/client/password_reset',
    '/_synapse/admi',
    '/_matrix/client/v3/admin/whois',
);

for my $target (@open) {
    my $r = $t->get($target);
    is($r->{status}, 200, "$target is not gated");
    is(decode_json($r->{body})->{echo}{target}, $target,
        "$target reaches the upstream as sent");
}

$fs->clear_log;

my $r = $t->request('OPTIONS', '/_synapse/admin/v1/users');
is($r->{status}, 200, 'OPTIONS passes ungated');
is($fs->whoami_hits, 0, 'OPTIONS: Synapse not asked');

$r = $t->get('/_synapse/admin/v1/server_version');
is($r->{status}, 200, '"admin_gate off" location is open');

$r = $t->get('/_synapse/admin/v1/anyone');
is($r->{status}, 401, '"satisfy any" with an allowing rule stays gated');

$r = $t->get('/_synapse/admin/v1/anyone', Authorization => 'Bearer adm_tok');
is($r->{status}, 200, '"satisfy any": an admin passes');

$r = $t->request('HEAD', '/_synapse/admin/v1/users');
is($r->{status}, 401, 'HEAD is gated');
is($r->{body}, '', 'HEAD: no body');

# the verify subrequest goes to an admin path of its own; it is not gated,
# or no admin could pass

$fs->clear_log;
$r = $t->get('/_synapse/admin/v1/users', Authorization => 'Bearer adm_tok');
is($r->{status}, 200, 'admin passes: subrequests are not gated');
is($fs->whoami_hits, 1, 'one whoami per request');
is($fs->admin_hits, 1, 'one admin check per request');

# absolute-form target: the path is what counts

$r = parse_response(http($t->port(0),
    "GET http://localhost/_synapse/admin/v1/users HTTP/1.1\r\n"
    . "Host: localhost\r\nConnection: close\r\n\r\n"));
is($r->{status}, 401, 'absolute-form target is gated');

# admin_gate_prefix

for my $target ('/_matrix/client/v3/admin/whois/@u:test',
    '/_matrix/client/v3/admin', '/_SYNAPSE/admin/v1/users')
{
    $r = $t->get_on(1, $target);
    is($r->{status}, 401, "admin_gate_prefix: $target is gated");
}

$r = $t->get_on(1, '/_matrix/client/v3/sync');
is($r->{status}, 200, 'admin_gate_prefix: other paths are not');

$t->stop;

done_testing;
