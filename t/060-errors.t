#!/usr/bin/perl

# The gate's own answers: JSON with the headers Synapse sends (content
# type, CORS, no caching) on 401, 403 and 503; no body for HEAD; a denied
# POST's body is discarded and the connection stays usable; the log's
# "while verifying the access token" ends with the gate's decision.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest qw(http);

my $t = AdminTest->new;
my $fs = $t->synapse(tokens => {
    err_tok => { user => '@admin:test', whoami => [502, '{}'] },
});

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

        error_page 401 403 503 /custom_error;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/denied {
            deny all;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /custom_error {
            return 200 "not json";
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';

for my $case ([401, 'M_MISSING_TOKEN', []],
    [401, 'M_UNKNOWN_TOKEN', [Authorization => 'Bearer nobody_tok']],
    [403, 'M_FORBIDDEN', [Authorization => 'Bearer usr_tok']],
    [503, 'M_UNKNOWN', [Authorization => 'Bearer err_tok']])
{
    my ($status, $errcode, $headers) = @$case;

    for my $n (1 .. 2) {
        my $r = $t->get($p, @$headers);
        my $h = $r->{headers};

        is($r->{status}, $status, "$errcode: $status ($n)");
        is(decode_json($r->{body})->{errcode}, $errcode,
            "$errcode: JSON body, error_page not applied ($n)");
        is_deeply($h->{'content-type'}, ['application/json'],
            "$errcode: Content-Type ($n)");
        is_deeply($h->{'access-control-allow-origin'}, ['*'],
            "$errcode: Access-Control-Allow-Origin ($n)");
        is_deeply($h->{'access-control-allow-methods'},
            ['GET, HEAD, POST, PUT, DELETE, OPTIONS'],
            "$errcode: Access-Control-Allow-Methods ($n)");
        is_deeply($h->{'access-control-allow-headers'},
            ['X-Requested-With, Content-Type, Authorization, Date'],
            "$errcode: Access-Control-Allow-Headers ($n)");
        is_deeply($h->{'cache-control'},
            ['no-cache, no-store, must-revalidate'],
            "$errcode: Cache-Control ($n)");
        is($h->{'content-length'}[0], length $r->{body},
            "$errcode: Content-Length ($n)");
    }
}

my $r = $t->request('HEAD', $p, Authorization => 'Bearer usr_tok');
is($r->{status}, 403, 'HEAD: 403');
is($r->{body}, '', 'HEAD: no body');
is_deeply($r->{headers}{'content-type'}, ['application/json'],
    'HEAD: Content-Type');

# a denied POST: the body is read and dropped, the next request on the
# same connection is answered

my $body = 'x' x 10000;
my $raw = http($t->port(0),
    "POST $p HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body"
    . "GET /_matrix/client/v3/sync HTTP/1.1\r\nHost: localhost\r\n"
    . "Connection: close\r\n\r\n");

like($raw, qr{^HTTP/1.1 401 .*M_MISSING_TOKEN.*HTTP/1.1 200 }s,
    'denied POST: body discarded, keepalive request answered');

$fs->clear_log;
$raw = http($t->port(0),
    "POST $p HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
    . "Content-Length: 5\r\nConnection: close\r\n\r\n");
# as for nginx's own denials, discarding the body may first send 100
like($raw, qr{^(HTTP/1.1 100 Continue\r\n\r\n)?HTTP/1.1 401 },
    'Expect: 100-continue without a token: 401');
is(scalar $fs->requests, 0, 'Expect: 100-continue: nothing asked');

# once the gate has decided, the log no longer says it is verifying: a
# refusal of another access module after an allowed request is its own

for my $n (1 .. 2) {
    $t->new_errors;
    $r = $t->get('/_synapse/admin/v1/denied', Authorization => 'Bearer adm_tok');
    is($r->{status}, 403, "deny all after the gate: 403 ($n)");
    is($r->{body}, 'not json', "deny all after the gate: error_page ($n)");

    my $log = $t->new_errors;
    like($log, qr/\[error\] .*access forbidden by rule/,
        "deny all after the gate: logged ($n)");
    unlike($log, qr/access forbidden by rule.*while verifying/,
        "deny all after the gate: not described as verification ($n)");
}

$t->stop;

done_testing;
