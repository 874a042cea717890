#!/usr/bin/perl

# The gate over HTTP/2 (h2c with prior knowledge, through curl): tokens
# from the header and the query, the JSON answers, forwarding, the Redis
# cache, and a stream that is abandoned while its Redis lookup waits.
# (Two Authorization headers over HTTP/2: t/011-duplicate-header.t.)

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use AdminTest;
use RedisServer;

plan(skip_all => 'curl without HTTP/2')
    unless `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse;

$t->run(<<'END' =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout 5s;

    server {
        listen 127.0.0.1:%%PORT_0%% http2;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        add_header X-Cache "[$admin_gate_cache]" always;

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

my $p = '/_synapse/admin/v1/users';

my $r = h2($p);
is($r->{status}, 401, 'no token: 401');
is(decode_json($r->{body})->{errcode}, 'M_MISSING_TOKEN',
    'no token: M_MISSING_TOKEN');
is($r->{headers}{'content-type'}, 'application/json', 'JSON content type');
is($r->{headers}{'access-control-allow-origin'}, '*', 'CORS header');

$r = h2($p, '-H', 'Authorization: Bearer usr_tok');
is($r->{status}, 403, 'a user who is not an admin: 403');

$fs->clear_log;

for my $n (1 .. 2) {
    $r = h2("$p?a=1&access_token=adm_tok", '-H', 'X-Extra: 1');
    is($r->{status}, 200, "query token over HTTP/2: allowed ($n)");
    is($r->{headers}{'x-cache'}, $n == 1 ? '[MISS]' : '[HIT]',
        "query token over HTTP/2: " . ($n == 1 ? 'a miss' : 'a hit'));
}

my @up = $fs->upstream_requests;
is(scalar @up, 2, 'the upstream got both');
for my $up (@up) {
    is($up->{target}, "$p?a=1", 'HTTP/2: no token in the upstream query');
    is_deeply([ grep { lc $_->[0] eq 'authorization' } @{ $up->{headers} } ],
        [[ 'Authorization', 'Bearer adm_tok' ]],
        'HTTP/2: one Authorization header upstream');
}

# streams abandoned while Redis is frozen

$redis->pause;

for my $n (1 .. 3) {
    system('curl', '-s', '-o', '/dev/null', '--http2-prior-knowledge',
        '--max-time', '0.3', '-H', 'Authorization: Bearer adm_tok',
        'http://127.0.0.1:' . $t->port(0) . $p);
}

$redis->resume;
sleep 0.5;

$r = h2($p, '-H', 'Authorization: Bearer adm_tok');
is($r->{status}, 200, 'after abandoned streams: still serving');
is($r->{headers}{'x-cache'}, '[HIT]', 'after abandoned streams: from Redis');

$t->stop;

unlike($t->error_log, qr/adm_tok|usr_tok/, 'no token in the error log');

done_testing;

###############################################################################

# one HTTP/2 request through curl: status, headers (last value), body
sub h2 {
    my ($target, @args) = @_;

    my $url = 'http://127.0.0.1:' . $t->port(0) . $target;
    my $out = `curl -s -i --http2-prior-knowledge --max-time 20 @{[ map { quotemeta } @args ]} '$url'`;

    my ($head, $body) = split /\r\n\r\n/, $out, 2;
    my %res = (status => 0, headers => {}, body => $body // '');

    for my $line (split /\r\n/, $head // '') {
        $res{status} = $1 if $line =~ m{^HTTP/2 (\d+)};
        $res{headers}{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*)$/;
    }

    return \%res;
}
