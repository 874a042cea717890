#!/usr/bin/perl

# Revocations that cannot be lost, with two workers.  A verdict whose
# verification started before a revocation, and is stored after it, does
# not bring the token back (fills are SET NX, the marker is there).  A
# revocation made while Redis is down is kept in shared memory: no worker
# believes the stale "allow" when Redis comes back, and the marker is
# written as soon as a worker reconnects.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

use AdminTest;
use RedisServer;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse(tokens => {
    race_tok => { user => '@admin:test', slow_first => 1.5 },
    down_tok => { user => '@admin:test' },
});

$t->run(<<'END' =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    server {
        listen 127.0.0.1:%%PORT_0%% reuseport;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        add_header X-Cache "[$admin_gate_cache]" always;
        add_header X-Pid $pid always;

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

my $users = '/_synapse/admin/v1/users';

# a slow verification, overtaken by a revocation: its SET comes too late

my $slow = fork();
die "fork: $!" unless defined $slow;

if ($slow == 0) {
    my $r = $t->get($users, Authorization => 'Bearer race_tok');
    _exit($r->{status} == 200 ? 0 : 1);
}

wait_for(sub { $fs->whoami_hits >= 1 });

my $r = $t->get('/_synapse/admin/v1/status/401',
    Authorization => 'Bearer race_tok');
is($r->{status}, 401, 'race: the upstream refuses the token');

waitpid($slow, 0);
is($?, 0, 'race: the slow verification allowed its request');

my $key = 'admin_gate:_:' . sha('race_tok');

wait_for(sub { $redis->cli('GET', $key) eq 'revoked' });
is($redis->cli('GET', $key), 'revoked',
    'race: the late verdict did not replace the marker');

for my $n (1 .. 4) {
    is(cache('race_tok'), 'REVOKED', "race: no worker allows from cache ($n)");
}

# a revocation while Redis is frozen

$key = 'admin_gate:_:' . sha('down_tok');

cache('down_tok');
wait_for(sub { $redis->cli('GET', $key) =~ /^AG1 a / });
like($redis->cli('GET', $key), qr/^AG1 a /, 'down: the verdict is cached');

$redis->pause;

$r = $t->get('/_synapse/admin/v1/status/401', Authorization => 'Bearer down_tok');
is($r->{status}, 401, 'down: the upstream refuses the token');

wait_for(sub { $t->error_log =~ /forgets the verdict/ });
like($t->error_log, qr/forgets the verdict/, 'down: the revocation is made');

$redis->resume;

# the stale "allow" is still in Redis: every worker doubts it

my (%pids, @seen);
my $deadline = time + 10 * $AdminTest::SLOW;

while (time < $deadline && (keys %pids < 2 || @seen < 8)) {
    $r = $t->get($users, Authorization => 'Bearer down_tok');
    push @seen, ($r->{headers}{'x-cache'}[0] // '') . " $r->{status}";
    $pids{ $r->{headers}{'x-pid'}[0] // '' }++;
}

is(scalar keys %pids, 2, 'down: both workers answered');
is(scalar(grep { !/^\[(REVOKED|ERROR)\] 200$/ } @seen), 0,
    'down: no request was allowed from cache') or diag("@seen");

wait_for(sub { $redis->cli('GET', $key) eq 'revoked' });
is($redis->cli('GET', $key), 'revoked',
    'down: the marker is written once Redis is back');

$t->stop;

done_testing;

###############################################################################

sub sha {
    require Digest::SHA;
    return Digest::SHA::sha256_hex($_[0]);
}

sub cache {
    my $r = $t->get($users, Authorization => "Bearer $_[0]");
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
