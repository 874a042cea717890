#!/usr/bin/perl

# Revocation: when the upstream answers 401 or 403 to a request the gate
# allowed, a "revoked" marker replaces the verdict in Redis for the TTL
# and a margin, and the token is verified afresh on every request until
# then; other statuses keep the verdict.  And a client that leaves while
# its Redis lookup is in flight: the reply arrives for a request that is
# gone and is dropped (run under valgrind by make test-valgrind).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest;
use RedisServer;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse(tokens => {
    rev401_tok => { user => '@admin:test' },
    rev403_tok => { user => '@admin:test' },
});

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
}
END

# each status revokes a token of its own: a revocation lasts as long as
# any verdict cached before it can (admin_gate_cache_ttl and 30s)

for my $case ([401, 'rev401_tok'], [403, 'rev403_tok']) {
    my ($status, $tok) = @$case;
    my $key = 'admin_gate:_:' . sha($tok);

    is(cache($tok), 'MISS', "$status: a miss first");
    is(cache($tok), 'HIT', "$status: cached");

    $fs->clear_log;

    my $r = $t->get("/_synapse/admin/v1/status/$status",
        Authorization => "Bearer $tok");
    is($r->{status}, $status, "$status: the upstream refuses a cached admin");

    wait_for(sub { $redis->cli('GET', $key) eq 'revoked' });
    is($redis->cli('GET', $key), 'revoked', "$status: a revocation marker");

    my $pttl = $redis->cli('PTTL', $key);
    ok($pttl > 80000 && $pttl <= 90000,
        "$status: it lasts the TTL and a margin ($pttl ms)");

    for my $n (1 .. 2) {
        is(cache($tok), 'REVOKED', "$status: verified afresh ($n)");
    }

    is($fs->whoami_hits, 2, "$status: Synapse asked each time");
    is($redis->cli('GET', $key), 'revoked',
        "$status: the fresh verdicts do not replace the marker");
}

like($t->error_log, qr/\[info\] .*admin gate forgets the verdict for user "\@admin:test": the upstream answered 401/,
    'revocation logged');

# other refusals keep the verdict

my $key = 'admin_gate:_:' . sha('adm_tok');

is(cache('adm_tok'), 'MISS', 'another admin: a miss first');

for my $status (404, 500) {
    my $r = $t->get("/_synapse/admin/v1/status/$status",
        Authorization => 'Bearer adm_tok');
    is($r->{status}, $status, "$status from the upstream");
    is($r->{headers}{'x-cache'}[0], '[HIT]', "$status: allowed from cache");
    like($redis->cli('GET', $key), qr/^AG1 a /, "$status: the verdict is kept");
}

# a denial of the gate's own revokes nothing

$t->get('/_synapse/admin/v1/users', Authorization => 'Bearer usr_tok');
$t->get('/_synapse/admin/v1/users', Authorization => 'Bearer usr_tok');
like($redis->cli('GET', 'admin_gate:_:' . sha('usr_tok')), qr/^AG1 f /,
    'a cached refusal stays cached');

# clients leave while their lookups wait on a frozen Redis

$redis->pause;

for my $n (1 .. 3) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $s->syswrite("GET /_synapse/admin/v1/users HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer adm_tok\r\n\r\n");
    sleep 0.2;
    close $s;
}

wait_for(sub { $t->error_log =~ /(client prematurely closed.*\n.*){3}/ });
like($t->error_log, qr/client prematurely closed connection/,
    'a client leaving mid-lookup ends its request');

$redis->resume;
sleep 0.5;   # the three GET replies arrive for requests that are gone

is(cache('adm_tok'), 'HIT',
    'after the dropped replies: the next request is served from Redis');

$t->stop;

done_testing;

###############################################################################

sub sha {
    require Digest::SHA;
    return Digest::SHA::sha256_hex($_[0]);
}

sub cache {
    my $r = $t->get('/_synapse/admin/v1/users', Authorization => "Bearer $_[0]");
    return ($r->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
}

sub wait_for {
    my ($cond) = @_;

    my $deadline = time + 5 * $AdminTest::SLOW;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }

    return 0;
}
