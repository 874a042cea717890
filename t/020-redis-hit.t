#!/usr/bin/perl

# The Redis verdict cache: a verdict is asked of Synapse once per TTL and
# then read from Redis; admin verdicts live admin_gate_cache_ttl, refusals
# admin_gate_negative_ttl, errors are never stored; keys and values hold
# no raw token; a value that does not parse is a miss; two servers with
# their own prefixes and Synapses share one Redis without sharing admins.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);

use AdminTest;
use RedisServer;

my $soft = '{"errcode":"M_UNKNOWN_TOKEN","error":"Token expired",'
    . '"soft_logout":true}';

# the short TTL of server 2; longer under valgrind, where requests are slow
my $short = $AdminTest::SLOW > 1 ? 5 : 1;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;

my $fs = $t->synapse(tokens => {
    soft_tok => { user => '@admin:test', whoami => [401, $soft] },
    err_tok  => { user => '@admin:test', whoami => [500, '{}'] },
    short_tok => { user => '@admin:test' },
});

my $other = $t->synapse(name => 'other', users => {
    '@admin:test' => { admin => 0 },
    '@boss:other' => { admin => 1 },
}, tokens => {
    boss_tok => { user => '@boss:other' },
});

$t->run(<<'END' =~ s/%%REDIS%%/$redis->port/ger =~ s/%%SHORT%%/$short/gr);
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    server {
        listen 127.0.0.1:%%PORT_0%%;

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

    server {
        listen 127.0.0.1:%%PORT_1%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_cache_ttl %%SHORT%%s;
        admin_gate_negative_ttl %%SHORT%%s;
        admin_gate_key_prefix short:;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_2%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_key_prefix other:;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_other%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_other%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';

# an admin: asked once, then read from Redis

cached('admin', 0, 'adm_tok', 200);
cached('non-admin', 0, 'usr_tok', 403);
cached('unknown token', 0, 'nobody_tok', 401);

# a hit is forwarded like a fresh verdict: one header, no query token

$fs->clear_log;
for my $n (1 .. 2) {
    my $r = $t->get("$p?x=1&access_token=adm_tok");
    is($r->{headers}{'x-cache'}[0], '[HIT]', "query token: a hit ($n)");
}
for my $up ($fs->upstream_requests) {
    is($up->{target}, "$p?x=1", 'hit: no token in the upstream query');
    is_deeply([ grep { lc $_->[0] eq 'authorization' } @{ $up->{headers} } ],
        [[ 'Authorization', 'Bearer adm_tok' ]],
        'hit: one normalized Authorization header');
}

my $r = $t->get($p, Authorization => 'Bearer soft_tok');
is($r->{body}, $soft, 'cached 401: Synapse\'s own body, byte for byte');

# errors are never stored

$fs->clear_log;
for my $n (1 .. 3) {
    $r = $t->get($p, Authorization => 'Bearer err_tok');
    is($r->{status}, 503, "Synapse error: 503 ($n)");
    is($r->{headers}{'x-cache'}[0], '[MISS]', "Synapse error: a miss ($n)");
}
is($fs->whoami_hits, 3, 'Synapse error: not cached, asked each time');

# TTLs

$fs->clear_log;
get(1, 'short_tok');
get(1, 'short_tok');
is($fs->whoami_hits, 1, 'short TTL: asked once within it');
my $ttl = $redis->cli('TTL', key('short:', 'short_tok'));
ok($ttl >= 0 && $ttl <= $short, "short TTL: the key expires in ${ttl}s");
sleep $short + 1.1;
$r = get(1, 'short_tok');
is($r->{headers}{'x-cache'}[0], '[MISS]', 'short TTL: expired, a miss');
is($fs->whoami_hits, 2, 'short TTL: verified again');

$ttl = $redis->cli('TTL', key('admin_gate:_:', 'adm_tok'));
ok($ttl > 50 && $ttl <= 60, "default TTL: about 60s ($ttl)");
$ttl = $redis->cli('TTL', key('admin_gate:_:', 'usr_tok'));
ok($ttl > 0 && $ttl <= 10, "default negative TTL: about 10s ($ttl)");

$fs->clear_log;
get(1, 'usr_tok');
get(1, 'usr_tok');
is($fs->whoami_hits, 1, 'negative verdict: cached within its TTL');
sleep $short + 1.1;
get(1, 'usr_tok');
is($fs->whoami_hits, 2, 'negative verdict: asked again after its TTL');

# an appservice acting as someone has a key of its own

$fs->clear_log;
for (1 .. 2) {
    $r = $t->get("$p?user_id=%40admin%3Atest", Authorization => 'Bearer as_tok');
    is($r->{status}, 200, 'appservice as an admin: allowed');
    $r = $t->get($p, Authorization => 'Bearer as_tok');
    is($r->{status}, 403, 'the same appservice as itself: forbidden');
}
is($fs->whoami_hits, 2, 'appservice: one verdict per user_id');

# a value that does not parse is a miss; fills never overwrite (SET NX)

for my $garbage ('not json', '{"verdict":"allow"}', '{"verdict":"root",'
    . '"user":"@admin:test"}', '[]', '{"verdict":"allow","user":"@x y"}')
{
    $redis->cli('SET', key('admin_gate:_:', 'usr_tok'), $garbage);
    $fs->clear_log;
    $r = $t->get($p, Authorization => 'Bearer usr_tok');
    is($r->{status}, 403, "value '$garbage': the real verdict");
    is($r->{headers}{'x-cache'}[0], '[MISS]', "value '$garbage': a miss");
    is($fs->whoami_hits, 1, "value '$garbage': Synapse asked");
    is($redis->cli('GET', key('admin_gate:_:', 'usr_tok')), $garbage,
        "value '$garbage': left alone");
}

# two homeservers, one Redis

for my $n (1 .. 2) {
    $r = $t->get($p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "server 1: its admin passes ($n)");

    $r = get(2, 'adm_tok');
    isnt($r->{status}, 200, "server 2: server 1's admin does not ($n)");

    $r = get(2, 'boss_tok');
    is($r->{status}, 200, "server 2: its own admin passes ($n)");
}

# nothing in Redis shows a token

my @keys = $redis->cli('--scan');
ok(scalar @keys, 'Redis holds keys: ' . scalar @keys);
is(scalar(grep { !/^(admin_gate:_|short|other):[0-9a-f]{64}$/ } @keys), 0,
    'every key is a prefix and a SHA-256');

my $dump = join "\n", @keys, map { scalar $redis->cli('GET', $_) } @keys;
for my $tok (keys %{ $fs->{tokens} }, keys %{ $other->{tokens} }) {
    unlike($dump, qr/\Q$tok\E/, "no raw token \"$tok\" in Redis");
}

$t->stop;

done_testing;

###############################################################################

sub key {
    my ($prefix, $tok) = @_;

    require Digest::SHA;
    return $prefix . Digest::SHA::sha256_hex($tok);
}

sub get {
    my ($port, $tok) = @_;
    return $t->get_on($port, $p, Authorization => "Bearer $tok");
}

sub cached {
    my ($name, $port, $tok, $status) = @_;

    $fs->clear_log;

    for my $n (1 .. 3) {
        my $r = get($port, $tok);
        is($r->{status}, $status, "$name: $status ($n)");
        is($r->{headers}{'x-cache'}[0], $n == 1 ? '[MISS]' : '[HIT]',
            "$name: " . ($n == 1 ? 'a miss' : 'a hit') . " ($n)");
    }

    is($fs->whoami_hits, 1, "$name: Synapse asked once");
}
