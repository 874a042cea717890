#!/usr/bin/perl

# Token extraction and normalization: every row of the header/query rules
# (../shared/SYNAPSE.md), with what the client gets and whether Synapse
# was asked at all.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest;

my $t = AdminTest->new(secrets => ['bad+tok', 'lonely_tok']);
my $fs = $t->synapse(tokens => {
    'adm_tok2' => { user => '@admin:test' },
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

my $path = '/_synapse/admin/v1/users';

my $MISSING = 'Missing access token';
my $INVALID = 'Invalid Authorization header.';
my $MIXING = 'Mixing Authorization headers and access_token query parameters.';

# the Authorization header

allowed('Bearer, one space', $path, Authorization => 'Bearer adm_tok');
allowed('lowercase scheme', $path, Authorization => 'bearer adm_tok');
allowed('uppercase scheme', $path, Authorization => 'BEARER adm_tok');
allowed('two spaces', $path, Authorization => 'Bearer  adm_tok');
allowed('tab separator', $path, Authorization => "Bearer\tadm_tok");
allowed('blanks around the value', $path,
    Authorization => " \tBearer adm_tok \t");

missing('Bearer alone', $INVALID, $path, Authorization => 'Bearer');
missing('Bearer and a space', $INVALID, $path, Authorization => 'Bearer ');
missing('three parts', $INVALID, $path, Authorization => 'Bearer adm_tok x');
missing('Basic scheme', $INVALID, $path, Authorization => 'Basic YWRtOmFkbQ==');
missing('scheme glued to token', $INVALID, $path,
    Authorization => 'Beareradm_tok');
missing('empty header', $INVALID, $path, Authorization => '');

# header and query together

missing('header and query token', $MIXING, "$path?access_token=adm_tok",
    Authorization => 'Bearer adm_tok');
missing('header and empty query token', $MIXING, "$path?access_token=",
    Authorization => 'Bearer adm_tok');
missing('header and encoded query name', $MIXING, "$path?%61ccess_token=x",
    Authorization => 'Bearer adm_tok');
allowed('header and access_token without "=" (no entry)',
    "$path?access_token", Authorization => 'Bearer adm_tok');

# the query string

allowed('query token', "$path?access_token=adm_tok");
allowed('";" separates parameters', "$path?a=1;access_token=adm_tok");
allowed('percent-encoded name', "$path?%61ccess%5Ftoken=adm_tok");
allowed('percent-encoded value', "$path?access_token=adm%5Ftok");
allowed('first value wins', "$path?access_token=adm_tok&access_token=usr_tok");
allowed('entry without "=" is skipped',
    "$path?access_token&access_token=adm_tok");

my $r = $t->get("$path?access_token=usr_tok&access_token=adm_tok");
is($r->{status}, 403, 'first value wins, also when it is not an admin');

missing('no token', $MISSING, $path);
missing('access_token without "="', $MISSING, "$path?access_token");
missing('other parameters only', $MISSING, "$path?user=access_token");

# tokens that cannot be valid are refused without asking Synapse

unknown('empty query token', "$path?access_token=");
unknown('"+" is a space', "$path?access_token=bad+tok");
unknown('encoded NUL', "$path?access_token=adm%00tok");
unknown('encoded newline', "$path?access_token=adm%0Atok");
unknown('non-ASCII in header', $path, Authorization => "Bearer adm\xe9tok");

# Synapse splits the header on spaces only: a tab inside the token is part
# of it, "Invalid access token passed." rather than an invalid header

unknown('tab inside the token', $path, Authorization => "Bearer adm\ttok");
unknown('tab inside, blanks around', $path,
    Authorization => " Bearer \tadm\ttok\t ");
missing('tab and space inside: three parts', $INVALID, $path,
    Authorization => "Bearer adm\t tok");
unknown('non-ASCII in query', "$path?access_token=adm%C3%A9tok");

my $log = $t->error_log;
for my $why ('no access token', 'invalid Authorization header',
    'both an Authorization header and an access_token parameter',
    'malformed access token')
{
    like($log, qr/\[info\] .*admin gate denied request: \Q$why\E/,
        "denial logged: $why");
}

# a token Synapse does not know is its own 401

$fs->clear_log;
for (1 .. 2) {
    $r = $t->get($path, Authorization => 'Bearer lonely_tok');
    is($r->{status}, 401, 'unknown token: 401');
    is(decode_json($r->{body})->{errcode}, 'M_UNKNOWN_TOKEN',
        'unknown token: M_UNKNOWN_TOKEN');
}
is($fs->whoami_hits, 2, 'unknown token: Synapse asked each time');
is($fs->admin_hits, 0, 'unknown token: no admin check');

$t->stop;

done_testing;

###############################################################################

# each case twice, so a state or caching bug shows

sub allowed {
    my ($name, $target, @headers) = @_;

    $fs->clear_log;

    for my $n (1 .. 2) {
        my $r = $t->get($target, @headers);
        is($r->{status}, 200, "$name: allowed ($n)");
    }

    is($fs->whoami_hits, 2, "$name: whoami asked");
    is($fs->admin_hits, 2, "$name: admin check asked");

    my ($up) = $fs->upstream_requests;
    my @auth = grep { lc $_->[0] eq 'authorization' } @{ $up->{headers} };
    is_deeply(\@auth, [[ 'Authorization', 'Bearer adm_tok' ]],
        "$name: upstream gets one normalized header");
    unlike($up->{target}, qr/access_token|access%5Ftoken|%61ccess/i,
        "$name: no token in the upstream query");
}

sub missing {
    my ($name, $error, $target, @headers) = @_;

    $fs->clear_log;

    for my $n (1 .. 2) {
        my $r = $t->get($target, @headers);
        is($r->{status}, 401, "$name: 401 ($n)");
        is_deeply(decode_json($r->{body}),
            { errcode => 'M_MISSING_TOKEN', error => $error },
            "$name: $error ($n)");
    }

    is(scalar $fs->requests, 0, "$name: neither Synapse nor upstream asked");
}

sub unknown {
    my ($name, $target, @headers) = @_;

    $fs->clear_log;

    for my $n (1 .. 2) {
        my $r = $t->get($target, @headers);
        is($r->{status}, 401, "$name: 401 ($n)");
        is_deeply(decode_json($r->{body}),
            { errcode => 'M_UNKNOWN_TOKEN',
              error => 'Invalid access token passed.',
              soft_logout => JSON::PP::false },
            "$name: M_UNKNOWN_TOKEN ($n)");
    }

    is(scalar $fs->requests, 0, "$name: neither Synapse nor upstream asked");
}
