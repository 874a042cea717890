#!/usr/bin/perl

# The shared-memory verdict cache (admin_gate_cache_zone), in front of
# Redis or alone.  A zone hit ($admin_gate_cache HIT_ZONE) sends no GET
# to Redis and asks nothing of Synapse, in every worker; it answers
# exactly what Synapse answered (allow, 403, 401, bodies byte for byte).
# An entry lives the zone's ttl= (5s by default) and never longer than
# its verdict's own TTL, then Redis answers again.  A full zone gives up
# its least recently used entries, quietly.  A revocation removes the
# entry for every worker.  The zone survives a reload when its name and
# size are unchanged.  Servers keep their entries apart as they keep
# their Redis keys apart.  nginx -t refuses what the directive cannot
# take.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response);
use RedisServer;

my $users = '/_synapse/admin/v1/users';

# short TTLs, longer under valgrind, where requests are slow
my $short = $AdminTest::SLOW > 1 ? 3 : 1;

# a miss at a server without Redis: $admin_gate_cache is empty, Synapse
# was asked without Redis (docs/variables.md)
my $alone_miss = qr/^$/;

my $soft = '{"errcode":"M_UNKNOWN_TOKEN","error":"Token expired",'
    . '"soft_logout":true}';

my $seq = 0;

###############################################################################

# the default ttl (5s), in an nginx of its own started first: its entry
# is checked at 4s (3s under valgrind), while the others run, and at 5.5s

my $te = AdminTest->new;
my $efs = $te->synapse(tokens => { dflt_tok => { user => '@admin:test' } });

$te->run(conf(zone => 'admin_gate_cache_zone dflt:1m;', workers => 1,
    servers => [ gate(0, 'synapse') ]));

my $sent = time;
my $r = req($te, 0, 'dflt_tok');
my $cached = time;
is($r->{status}, 200, 'default ttl: an admin passes');
is(req($te, 0, 'dflt_tok')->{cache}, 'HIT_ZONE', 'default ttl: cached');

# a child asks at 4s and at 5.5s while the rest runs, and writes down
# what it got
my $ttl_child = fork();
die "fork: $!" unless defined $ttl_child;

if ($ttl_child == 0) {
    my @got;
    for my $at ($sent + ($AdminTest::SLOW > 1 ? 3 : 4), $cached + 5.5) {
        sleep($at - time) if time < $at;
        my $when = time;
        push @got, sprintf "%.1f %s", $when - $sent,
            req($te, 0, 'dflt_tok')->{cache};
    }
    $te->write_file('ttl-child', join "\n", @got);
    POSIX::_exit(0);
}

###############################################################################

# one nginx, two workers: servers with and without Redis, namespaces

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $redis2 = RedisServer->new(dir => $t->testdir)->start;

my $fs = $t->synapse(tokens => {
    soft_tok  => { user => '@admin:test', whoami => [401, $soft] },
    hit_tok   => { user => '@admin:test' },
    rev_tok   => { user => '@admin:test' },
    rev2_tok  => { user => '@admin:test' },
    brief_tok => { user => '@admin:test' },
});

# where @admin:test is no admin, and boss_tok is
my $other = $t->synapse(name => 'other', users => {
    '@admin:test' => { admin => 0 },
    '@boss:other' => { admin => 1 },
}, tokens => { boss_tok => { user => '@boss:other' } });

# a third homeserver, which knows neither boss_tok nor adm_tok
my $third = $t->synapse(name => 'third', tokens => { adm_tok => undef });

$t->run(conf(zone => 'admin_gate_cache_zone gate:1m ttl=60s;', workers => 2,
    servers => [
        gate(0, 'synapse', "admin_gate_redis 127.0.0.1:$redis->{port};"),
        gate(1, 'other', "admin_gate_redis 127.0.0.1:$redis->{port};",
            'admin_gate_key_prefix other:;'),
        gate(2, 'third', "admin_gate_redis 127.0.0.1:$redis2->{port};",
            'admin_gate_key_prefix other:;'),
        gate(3, 'synapse', 'server_name zone-a.test;'),
        gate(4, 'other', 'server_name zone-b.test;'),
        gate(5, 'synapse'),
        gate(6, 'other'),
        gate(7, 'synapse', "admin_gate_cache_ttl ${short}s;",
            "admin_gate_negative_ttl ${short}s;"),
        gate(8, 'synapse', 'admin_gate_cache_ttl 0;',
            'admin_gate_negative_ttl 0;'),
        gate(9, 'synapse', 'admin_gate_key_prefix shared:;'),
        gate(10, 'synapse', 'admin_gate_key_prefix shared:;'),
    ]));

# a zone hit sends nothing to Redis, in either worker

$fs->clear_log;

$r = req($t, 0, 'hit_tok');
is($r->{cache}, 'MISS', 'zone and Redis: a fresh token is a miss');

my $gets = $redis->calls('get');
my (%pids, @seen, @ids);
my $deadline = time + 10 * $AdminTest::SLOW;

while (time < $deadline && (keys %pids < 2 || @seen < 10)) {
    $r = req($t, 0, 'hit_tok');
    push @seen, "$r->{cache} $r->{status}";
    push @ids, $r->{id};
    $pids{ $r->{pid} }++;
}

is(scalar keys %pids, 2, 'zone hits: both workers answered');
is(scalar(grep { $_ ne 'HIT_ZONE 200' } @seen), 0,
    'zone hits: every request after the first is HIT_ZONE, allowed')
    or diag("@seen");
is($redis->calls('get') - $gets, 0, 'zone hits: no GET reached Redis');
is($fs->whoami_hits, 1, 'zone hits: Synapse asked once');
is(scalar(grep { logged($t, $_) =~ / HIT_ZONE 200 allow "\@admin:test"$/ }
    @ids), scalar @ids, 'zone hits: logged as HIT_ZONE, with the user');

# exactly Synapse's answers, from Redis's server and from a zone alone

for my $case (
    [ 'admin', 'adm_tok', 200 ],
    [ 'non-admin', 'usr_tok', 403 ],
    [ 'unknown token', 'nobody_tok', 401 ],
    [ 'soft logout', 'soft_tok', 401 ],
    [ 'appservice refused', 'as_tok', 403, 'user_id=%40nobody%3Atest' ],
)
{
    my ($name, $tok, $status, $query) = @$case;

    for my $n (0, 3) {
        my $where = $n ? 'zone alone' : 'zone and Redis';

        $fs->clear_log;

        my $first = req($t, $n, $tok, query => $query);
        is($first->{status}, $status, "$where, $name: $status");
        isnt($first->{cache}, 'HIT_ZONE', "$where, $name: not cached first");

        for my $k (1 .. 2) {
            $r = req($t, $n, $tok, query => $query);
            is($r->{cache}, 'HIT_ZONE', "$where, $name: a zone hit ($k)");
            is($r->{status}, $first->{status},
                "$where, $name: same status ($k)");
            is(norm($r->{body}), norm($first->{body}),
                "$where, $name: same body ($k)");
            is($r->{headers}{'content-type'}[0],
                $first->{headers}{'content-type'}[0],
                "$where, $name: same Content-Type ($k)");
        }

        is($fs->whoami_hits, 1, "$where, $name: Synapse asked once");
    }
}

is(logged($t, req($t, 3, 'usr_tok')->{id}),
    '3 HIT_ZONE 403 forbidden "@user:test"',
    'a cached refusal logs its verdict and user');

# an appservice acting as someone has an entry of its own

$fs->clear_log;
for my $n (1 .. 2) {
    $r = req($t, 3, 'as_tok', query => 'user_id=%40admin%3Atest');
    is($r->{status}, 200, "appservice as an admin: allowed ($n)");
    $r = req($t, 3, 'as_tok');
    is($r->{status}, 403, "the same appservice as itself: forbidden ($n)");
    like($r->{cache}, $n == 1 ? $alone_miss : qr/^HIT_ZONE$/,
        "the same appservice as itself: its own entry ($n)");
}
is($fs->whoami_hits, 2, 'appservice: one verdict per user_id');

# a zone hit is forwarded like a fresh verdict: one header, no query token

$fs->clear_log;
for my $n (1 .. 2) {
    $r = $t->get_on(3, "$users?x=1&access_token=adm_tok");
    is($r->{headers}{'x-cache'}[0], '[HIT_ZONE]',
        "query token: a zone hit ($n)");
}
my @up = $fs->upstream_requests;
is(scalar @up, 2, 'query token: both forwarded');
for my $u (@up) {
    is($u->{target}, "$users?x=1", 'zone hit: no token in the upstream query');
    is_deeply([ grep { lc $_->[0] eq 'authorization' } @{ $u->{headers} } ],
        [[ 'Authorization', 'Bearer adm_tok' ]],
        'zone hit: one normalized Authorization header');
}

# the zone alone: Synapse once, then the zone

$fs->clear_log;
$r = req($t, 5, 'adm_tok');
like($r->{cache}, $alone_miss, 'zone alone: a fresh token is a miss');
is(req($t, 5, 'adm_tok')->{cache}, 'HIT_ZONE', 'zone alone: then a zone hit');
is(req($t, 5, 'adm_tok')->{cache}, 'HIT_ZONE', 'zone alone: again');
is($fs->whoami_hits, 1, 'zone alone: Synapse asked once');
is($fs->admin_hits, 1, 'zone alone: one admin check');

# namespaces: one server's verdict never answers for another

for my $n (1 .. 2) {
    is(req($t, 0, 'adm_tok')->{status}, 200,
        "one Redis, two prefixes: admin of the first passes there ($n)");
    $r = req($t, 1, 'adm_tok');
    is($r->{status}, 403, "one Redis, two prefixes: not at the second ($n)");
    is($r->{cache}, $n == 1 ? 'MISS' : 'HIT_ZONE',
        "one Redis, two prefixes: the second's own verdict ($n)");

    is(req($t, 1, 'boss_tok')->{status}, 200,
        "one Redis, two prefixes: the second's admin passes there ($n)");
    is(req($t, 0, 'boss_tok')->{status}, 401,
        "one Redis, two prefixes: not at the first ($n)");

    $r = req($t, 2, 'boss_tok');
    is($r->{status}, 401,
        "one prefix, two Redis: the admin of one is unknown to the other ($n)");
    is($r->{cache}, $n == 1 ? 'MISS' : 'HIT_ZONE',
        "one prefix, two Redis: the other's own verdict ($n)");

    is(req($t, 3, 'adm_tok')->{status}, 200,
        "zone alone, two names: admin of the first passes ($n)");
    $r = req($t, 4, 'adm_tok');
    is($r->{status}, 403, "zone alone, two names: not at the second ($n)");
    like($r->{cache}, $n == 1 ? $alone_miss : qr/^HIT_ZONE$/,
        "zone alone, two names: the second's own verdict ($n)");

    is(req($t, 5, 'adm_tok')->{status}, 200,
        "zone alone, two nameless servers: admin of the first passes ($n)");
    $r = req($t, 6, 'adm_tok');
    is($r->{status}, 403,
        "zone alone, two nameless servers: not at the second ($n)");
    like($r->{cache}, $n == 1 ? $alone_miss : qr/^HIT_ZONE$/,
        "zone alone, two nameless servers: the second's own verdict ($n)");
}

# two servers without Redis that set the same prefix share their entries
# on purpose (both front the same Synapse)

$fs->clear_log;
like(req($t, 9, 'adm_tok')->{cache}, $alone_miss,
    'one prefix set twice: a miss');
is(req($t, 10, 'adm_tok')->{cache}, 'HIT_ZONE',
    'one prefix set twice: the other server\'s entry');
is($fs->whoami_hits, 1, 'one prefix set twice: Synapse asked once');

# a verdict's own TTL bounds its entry: admin_gate_cache_ttl and
# admin_gate_negative_ttl, and the expiry of a value read from Redis

$fs->clear_log;

my $stored;
for my $tok ('adm_tok', 'usr_tok') {
    like(req($t, 7, $tok)->{cache}, $alone_miss, "short TTL, $tok: a miss");
    $stored = time;
    is(req($t, 7, $tok)->{cache}, 'HIT_ZONE',
        "short TTL, $tok: then a zone hit");
}

# a value in Redis with 2 seconds left (6 under valgrind), the zone's ttl
# is 60s
my $expire = int(time * 1000) + 2 * $short * 1000;
$redis->command('SET', key('admin_gate:_:', 'brief_tok'),
    "AG1 a $expire 11 0 -\n\@admin:test", 'PXAT', $expire);

is(req($t, 0, 'brief_tok')->{cache}, 'HIT', 'a value with little time left: '
    . 'read from Redis');
is(req($t, 0, 'brief_tok')->{cache}, 'HIT_ZONE',
    'a value with little time left: then from the zone');

# past both: the value's expiry, and the short TTL of the last entry
my $until = $expire / 1000;
$until = $stored + $short if $stored + $short > $until;
sleep($until + 0.3 - time);

for my $tok ('adm_tok', 'usr_tok') {
    $r = req($t, 7, $tok);
    like($r->{cache}, $alone_miss,
        "short TTL, $tok: gone from the zone with it");
    is($r->{status}, $tok eq 'adm_tok' ? 200 : 403,
        "short TTL, $tok: the verdict again");
}

$r = req($t, 0, 'brief_tok');
is($r->{cache}, 'MISS', 'a value with little time left: gone with it');
is($r->{status}, 200, 'a value with little time left: verified again');
# adm_tok and usr_tok twice, brief_tok once
is($fs->whoami_hits, 5, 'short TTLs: Synapse asked again for each');

# admin_gate_cache_ttl 0 stores nothing, in the zone either

$fs->clear_log;
for my $tok ('adm_tok', 'usr_tok') {
    for my $n (1 .. 2) {
        isnt(req($t, 8, $tok)->{cache}, 'HIT_ZONE',
            "TTL 0, $tok: never from the zone ($n)");
    }
}
is($fs->whoami_hits, 4, 'TTL 0: Synapse asked each time');

# a revocation empties the entry for every worker.  A kept-alive
# connection to each worker; each has served the token from the zone.
# Then the upstream refuses it: after a logout (Synapse refuses it too),
# and with Synapse still taking it (then every request is verified again
# for the revocation's time, as in t/090); with Redis, and with the zone
# alone.

for my $case ([ 'logout', 'rev_tok', 0 ], [ 'upstream 401', 'rev2_tok', 0 ],
    [ 'zone alone, upstream 401', 'rev2_tok', 3 ])
{
    my ($how, $tok, $port) = @$case;

    $fs->clear_log;

    my %conn;
    $deadline = time + 10 * $AdminTest::SLOW;

    while (time < $deadline && keys %conn < 2) {
        my $c = ka_connect($t->port($port));
        my $res = ka_get($c, $tok);
        $conn{ $res->{pid} } //= $c;
    }

    is(scalar keys %conn, 2, "$how: a connection to each worker");

    for my $pid (sort keys %conn) {
        $r = ka_get($conn{$pid}, $tok);
        is("$r->{cache} $r->{status}", 'HIT_ZONE 200',
            "$how: worker $pid serves the token from the zone");
    }

    is($fs->whoami_hits, 1, "$how: verified once for both workers");

    # the upstream refuses a request the gate allowed from the zone

    my ($first) = sort keys %conn;

    if ($how eq 'logout') {
        $fs->logout($tok);
        $r = ka_get($conn{$first}, $tok);

    } else {
        $r = ka_get($conn{$first}, $tok, '/_synapse/admin/v1/status/401');
    }

    is("$r->{cache} $r->{status}", 'HIT_ZONE 401',
        "$how: allowed from the zone, the upstream refuses it");

    $fs->clear_log;

    my (@seen, $n);
    for my $k (1 .. 2) {
        for my $pid (sort keys %conn) {
            $r = ka_get($conn{$pid}, $tok);
            $n++;
            push @seen, logged($t, $r->{id});

            if ($how eq 'logout') {
                is($r->{status}, 401, "$how: worker $pid: Synapse's 401 ($k)");
                is($r->{body}, $fs->unknown_token,
                    "$how: worker $pid: its body ($k)");

            } else {
                is($r->{status}, 200, "$how: worker $pid: allowed ($k)");
                isnt($r->{cache}, 'HIT_ZONE',
                    "$how: worker $pid: verified again ($k)");
            }
        }
    }

    is(scalar(grep { / HIT_ZONE \d+ allow / } @seen), 0,
        "$how: no worker allows the token from the zone") or diag("@seen");

    if ($how eq 'logout') {
        # the refusal may be cached: the first request asks Synapse
        ok($fs->whoami_hits >= 1, "$how: Synapse asked");
        is(scalar(grep { $_->{target} =~ /^\Q$users\E/ }
            $fs->upstream_requests), 0,
            "$how: the upstream no longer receives the token");

    } else {
        is($fs->whoami_hits, $n, "$how: Synapse asked for each request");
    }

    if ($port == 0) {
        is($redis->command('GET', key('admin_gate:_:', $tok)), 'revoked',
            "$how: the Redis marker is there too");
    }

    close $_ for values %conn;
}

# the default ttl: alive at 4s, even after hits, gone at 5.5s

waitpid($ttl_child, 0);
my @got = split /\n/, $te->read_file('ttl-child');
like($got[0] // '', qr/^[34]\.\d HIT_ZONE$/,
    'default ttl: still in the zone at 4s');
like($got[1] // '', qr/^\d+\.\d $/,
    'default ttl: gone at 5.5s, the hits did not extend it');
is($efs->whoami_hits, 2, 'default ttl: Synapse asked again');

$te->stop;
$t->stop;

###############################################################################

# ttl=1s: then Redis answers (and one GET is counted), then the zone again

my $tb = AdminTest->new;
my $bredis = RedisServer->new(dir => $tb->testdir)->start;
my $bfs = $tb->synapse;

$tb->run(conf(zone => "admin_gate_cache_zone brief:1m ttl=${short}s;",
    workers => 1,
    servers => [ gate(0, 'synapse',
        "admin_gate_redis 127.0.0.1:$bredis->{port};") ]));

$gets = $bredis->calls('get');
is(req($tb, 0, 'adm_tok')->{cache}, 'MISS', "ttl=${short}s: a miss first");
is($bredis->calls('get') - $gets, 1, "ttl=${short}s: one GET");
is(req($tb, 0, 'adm_tok')->{cache}, 'HIT_ZONE', "ttl=${short}s: a zone hit");
is($bredis->calls('get') - $gets, 1, "ttl=${short}s: no GET for it");

sleep $short + 0.3;

$r = req($tb, 0, 'adm_tok');
is($r->{cache}, 'HIT', "ttl=${short}s: expired, read from Redis");
is($r->{status}, 200, "ttl=${short}s: allowed");
is($bredis->calls('get') - $gets, 2, "ttl=${short}s: a GET for it");

$r = req($tb, 0, 'adm_tok');
is($r->{cache}, 'HIT_ZONE', "ttl=${short}s: in the zone again");
like(logged($tb, $r->{id}), qr/^0 HIT_ZONE 200 allow/, "ttl=${short}s: logged");
is($bredis->calls('get') - $gets, 2, "ttl=${short}s: no GET for that");
is($bfs->whoami_hits, 1, "ttl=${short}s: Synapse asked once");

$tb->stop;

###############################################################################

# a full zone (32k, nginx's least) gives up its least recently used
# entries, and says nothing: one token is used all along and stays.  The
# verdicts are planted in Redis, so that filling the zone asks nothing of
# Synapse and goes fast; the zone takes them from there.

my $tokens = 400;

my $tc = AdminTest->new;
my $credis = RedisServer->new(dir => $tc->testdir)->start;
my $big = '{"errcode":"M_UNKNOWN_TOKEN","error":"' . ('x' x 3000)
    . '","soft_logout":false}';
my $cfs = $tc->synapse(tokens => {
    big_tok => { user => '@admin:test', whoami => [401, $big] } });

my @evict = map { sprintf 'evict_%04d', $_ } 0 .. $tokens;
$tc->secret(@evict);

my $later = int(time * 1000) + 600000;
$credis->command('MSET', map { (key('admin_gate:_:', $_),
    "AG1 a $later 11 0 -\n\@admin:test") } @evict);

$tc->write_file('ok.json', "{}\n");

$tc->run(conf(zone => 'admin_gate_cache_zone small:32k ttl=60s;',
    workers => 1,
    servers => [ gate(0, 'synapse',
        "admin_gate_redis 127.0.0.1:$credis->{port};",
        "location = $users { alias %%TESTDIR%%/ok.json; }") ]));

my (@keep, @wrong);
for my $i (1 .. $tokens) {
    $r = req($tc, 0, $evict[$i]);
    push @wrong, "$evict[$i] $r->{cache} $r->{status}"
        if "$r->{cache} $r->{status}" ne 'HIT 200';
    push @keep, req($tc, 0, 'evict_0000')->{cache} if $i % 10 == 1;
}

is("@wrong", '', "a full zone: $tokens admins read from Redis");
is(scalar(grep { $_ ne 'HIT_ZONE' } @keep[1 .. $#keep]), 0,
    'a full zone: the token used all along always answered from it')
    or diag("@keep");
is(req($tc, 0, 'evict_0000')->{cache}, 'HIT_ZONE',
    'a full zone: and still does at the end');

for my $i ($tokens - 4 .. $tokens) {
    is(req($tc, 0, $evict[$i])->{cache}, 'HIT_ZONE',
        "a full zone: one of the last tokens is there ($evict[$i])");
}

$r = req($tc, 0, $evict[1]);
is($r->{cache}, 'HIT', 'a full zone: the first token has gone, Redis knows it');
is($r->{status}, 200, 'a full zone: the first token is still allowed');
is(req($tc, 0, $evict[1])->{cache}, 'HIT_ZONE',
    'a full zone: the first token is back in the zone');

# how many the zone holds: the newest back to the first one missing
my $held = 0;
for my $i (reverse 2 .. $tokens) {
    last if req($tc, 0, $evict[$i])->{cache} ne 'HIT_ZONE';
    $held++;
}
ok($held >= 10 && $held < $tokens - 1, "a full zone holds $held verdicts");

# an entry of a few kilobytes (Synapse's 401 body) in the full zone

for my $k (1 .. 3) {
    $r = req($tc, 0, 'big_tok');
    is($r->{status}, 401, "a full zone, a 3k body: 401 ($k)");
    is($r->{body}, $big, "a full zone, a 3k body: all of it ($k)");
}
is($cfs->whoami_hits, 1, 'a full zone: Synapse asked for the large one only');

is(req($tc, 0, $evict[$tokens])->{status}, 200,
    'a full zone: still serving after the large entry');

unlike($tc->error_log, qr/\[(crit|alert)\]|ngx_slab_alloc|no memory/,
    'a full zone: nothing logged about the slab allocator');

$tc->stop;

###############################################################################

# a reload keeps the zone: Redis and Synapse gone, the zone still answers;
# a reload with another size starts an empty zone

my $td = AdminTest->new;
my $dredis = RedisServer->new(dir => $td->testdir)->start;
my $dfs = $td->synapse;
my $up = $td->synapse(name => 'upstream');

my $dconf = sub {
    my ($size) = @_;
    return conf(zone => "admin_gate_cache_zone kept:$size ttl=60s;",
        workers => 2,
        servers => [ gate(0, 'synapse',
            "admin_gate_redis 127.0.0.1:$dredis->{port};",
            "location = $users {",
            '    proxy_pass http://127.0.0.1:%%SYNAPSE_upstream%%;',
            '}') ]);
};

$td->run($dconf->('1m'));

is(req($td, 0, 'adm_tok')->{cache}, 'MISS', 'reload: a miss first');
is(req($td, 0, 'adm_tok')->{cache}, 'HIT_ZONE', 'reload: cached');

ok($td->reload, 'reload: the new workers run');

$dredis->stop;
$dfs->stop;

for my $k (1 .. 2) {
    $r = req($td, 0, 'adm_tok');
    is($r->{cache}, 'HIT_ZONE', "reload: the zone answers ($k)");
    is($r->{status}, 200, "reload: without Redis or Synapse, allowed ($k)");
}
is(scalar(grep { $_->{target} =~ /^\Q$users\E/ } $up->upstream_requests), 4,
    'reload: the upstream got them');

$r = req($td, 0, 'usr_tok');
is($r->{status}, 503, 'reload: Redis and Synapse are gone indeed');

$dredis->start;
$dfs->start;

ok($td->reload($dconf->('2m')),
    'reload with another size: the new workers run');

$dfs->clear_log;
$r = req($td, 0, 'adm_tok');
isnt($r->{cache}, 'HIT_ZONE', 'reload with another size: the zone is empty');
is($r->{status}, 200, 'reload with another size: verified again');
is($dfs->whoami_hits, 1, 'reload with another size: Synapse asked');
is(req($td, 0, 'adm_tok')->{cache}, 'HIT_ZONE',
    'reload with another size: the new zone fills');

$td->stop;

###############################################################################

# nginx -t

my $tf = AdminTest->new;

refused('a second admin_gate_cache_zone',
    "admin_gate_cache_zone a:1m;\nadmin_gate_cache_zone b:1m;",
    qr/"admin_gate_cache_zone" directive is duplicate/);
refused('no size', 'admin_gate_cache_zone gate;',
    qr/invalid zone "gate"/);
refused('no name', 'admin_gate_cache_zone :1m;', qr/invalid zone ":1m"/);
refused('a size that is no size', 'admin_gate_cache_zone gate:lots;',
    qr/invalid zone size "gate:lots"/);
refused('a zone below 32k', 'admin_gate_cache_zone gate:28k;',
    qr/zone "gate" is too small/);
refused('a ttl that is no time', 'admin_gate_cache_zone gate:1m ttl=soon;',
    qr/invalid ttl "ttl=soon"/);
refused('ttl=0', 'admin_gate_cache_zone gate:1m ttl=0;',
    qr/invalid ttl "ttl=0"/);
refused('ttl=0s', 'admin_gate_cache_zone gate:1m ttl=0s;',
    qr/invalid ttl "ttl=0s"/);
refused('an unknown parameter', 'admin_gate_cache_zone gate:1m max=10;',
    qr/invalid parameter "max=10"/);
refused('no argument', 'admin_gate_cache_zone;',
    qr/invalid number of arguments in "admin_gate_cache_zone" directive/);
refused('in a server block', '',
    qr/"admin_gate_cache_zone" directive is not allowed here/,
    'admin_gate_cache_zone gate:1m;');
refused('the revocation zone\'s name',
    "admin_gate_redis 127.0.0.1:1;\n"
    . 'admin_gate_cache_zone admin_gate_revocations:1m;',
    qr/admin_gate_revocations/);

my ($rc, $out) = $tf->test_config(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_cache_zone gate:1m;
    admin_gate_key_prefix gate:;
    admin_gate on;
    admin_gate_verify /_admin_gate_verify;

    server {
        listen 127.0.0.1:%%PORT_9%%;
        server_name a.test;
        location = /_admin_gate_verify { internal; }
    }

    server {
        listen 127.0.0.1:%%PORT_8%%;
        server_name b.test;
        location = /_admin_gate_verify { internal; }
    }
}
END
is($rc, 0, 'nginx -t: two servers, no Redis, one inherited prefix: accepted');
my $warning = '"b.test" in \S+ share their cached verdicts '
    . '\(admin_gate_cache_zone "gate", admin_gate_key_prefix "gate:"\)';
like($out, qr/\[warn\] admin_gate: the servers "a.test" in \S+ and $warning/,
    'nginx -t: and warned that they share their zone entries') or diag($out);

accepted('32k', 'admin_gate_cache_zone gate:32k;');
accepted('a ttl', 'admin_gate_cache_zone gate:10m ttl=1h;');
accepted('with Redis', "admin_gate_redis 127.0.0.1:1;\n"
    . 'admin_gate_cache_zone gate:1m ttl=1s;');

done_testing;

###############################################################################

# a gated request on %%PORT_n%% of the nginx of $at: its status, body,
# headers, $admin_gate_cache (cache), the worker's pid and a request id
# that finds its access-log line
sub req {
    my ($at, $n, $tok, %o) = @_;

    my $id = ++$seq;
    my $target = ($o{path} // $users) . "?id=$id"
        . ($o{query} ? "&$o{query}" : '');

    my $res = $at->get_on($n, $target,
        defined $tok ? (Authorization => "Bearer $tok") : ());

    $res->{cache} = ($res->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
    $res->{pid} = $res->{headers}{'x-pid'}[0] // '';
    $res->{id} = $id;

    return $res;
}

# the access-log line of a request: "<server> <cache> <status> <verdict>
# "<user>"" (the server as its %%PORT_n%% number).  On a kept-alive
# connection the answer may come before the line is written: waits.
sub logged {
    my ($at, $id) = @_;

    my %port = map { $at->port($_) => $_ } keys %{ $at->{ports} };
    my $deadline = time + 5 * $AdminTest::SLOW;

    while (time < $deadline) {
        for (split /\n/, $at->read_file('zone.log')) {
            next unless /\?id=$id[ &]/;
            my ($port, $rest) = /" (\d+) (.*)$/ or next;
            return "$port{$port} $rest";
        }

        sleep 0.05;
    }

    return '';
}

# the nginx.conf of one instance
sub conf {
    my (%o) = @_;

    my $servers = join '', @{ $o{servers} };

    return <<"END";
%%TEST_GLOBALS%%

worker_processes $o{workers};

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    $o{zone}

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    # not what is tested here: long, for a loaded machine
    admin_gate_redis_timeout 5s;

    log_format zone '"\$admin_gate_request" \$server_port \$admin_gate_cache '
                    '\$status \$admin_gate_verdict "\$admin_gate_user"';
    access_log %%TESTDIR%%/zone.log zone;

    add_header X-Cache "[\$admin_gate_cache]" always;
    add_header X-Pid \$pid always;
$servers}
END
}

# a server on %%PORT_n%% that asks, and proxies to, the fake Synapse $name
sub gate {
    my ($n, $name, @directives) = @_;

    my $more = join '', map { "        $_\n" } @directives;
    my $syn = $name eq 'synapse' ? '%%SYNAPSE%%' : "%%SYNAPSE_$name%%";

    return <<"END";

    server {
        listen 127.0.0.1:%%PORT_$n%% reuseport;

$more
        location / {
            proxy_pass http://127.0.0.1:$syn;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:$syn\$admin_gate_verify_uri;
        }
    }
END
}

# an upstream echo without the request id
sub norm {
    return $_[0] =~ s/\bid=\d+//gr;
}

sub key {
    my ($prefix, $tok) = @_;

    require Digest::SHA;
    return $prefix . Digest::SHA::sha256_hex($tok);
}

# a kept-alive connection and a request on it
sub ka_connect {
    my ($port) = @_;

    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp', Timeout => 10) or die "connect $port: $!";

    return $c;
}

sub ka_get {
    my ($c, $tok, $path) = @_;

    my $id = ++$seq;
    $path //= $users;
    $c->syswrite("GET $path?id=$id HTTP/1.1\r\n"
        . "Host: localhost\r\nAuthorization: Bearer $tok\r\n\r\n");

    my $raw = '';
    my $deadline = time + 20 * $AdminTest::SLOW;
    my $sel = IO::Select->new($c);

    while (time < $deadline) {
        if ($raw =~ /\r\n\r\n/) {
            my ($head, $body) = split /\r\n\r\n/, $raw, 2;
            if ($head =~ /^Content-Length: (\d+)/mi) {
                last if length $body >= $1;
            } elsif ($head =~ /^Transfer-Encoding: chunked/mi) {
                last if $body =~ /(^|\r\n)0\r\n\r\n$/;
            } else {
                last;
            }
        }
        last unless $sel->can_read($deadline - time);
        last unless $c->sysread($raw, 65536, length $raw);
    }

    my $res = parse_response($raw);
    $res->{cache} = ($res->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
    $res->{pid} = $res->{headers}{'x-pid'}[0] // '';
    $res->{id} = $id;

    return $res;
}

sub test_conf {
    my ($http, $server) = @_;

    $server //= '';

    return <<"END";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    $http

    server {
        listen 127.0.0.1:%%PORT_9%%;

        $server
    }
}
END
}

sub refused {
    my ($name, $http, $re, $server) = @_;

    my ($rc, $out) = $tf->test_config(test_conf($http, $server));
    isnt($rc, 0, "nginx -t refuses $name");
    like($out, qr/\[emerg\] .*$re/, "nginx -t: $name, says why")
        or diag($out);
}

sub accepted {
    my ($name, $http) = @_;

    my ($rc, $out) = $tf->test_config(test_conf($http));
    is($rc, 0, "nginx -t accepts $name") or diag($out);
}
