#!/usr/bin/perl

# A stalled worker does not take a healthy Redis for down.  The one worker
# is stopped (SIGSTOP) for longer than admin_gate_redis_timeout while a
# lookup waits on Redis; when it runs again, its Redis timer fires late,
# often before its events (epoll_wait() returns EINTR after a stop).
#
# Replies waiting in the socket: Redis answered while the worker was
# stopped.  The timer reads them before it judges: the lookup is a hit.
#
# No reply yet: Redis (paused) has not answered when the worker runs
# again.  The lookup whose own deadline passed during the stop falls back
# (503 under admin_gate_redis_failure deny), but the connection is not
# declared down: a timer that fires more than half a timeout late is the
# worker's stall, and Redis gets a whole timeout from then.  Requests made
# after the wake are served by Redis once it answers, on the same
# connection, and no "is unavailable" is logged.
#
# The order of things is seen, not slept for: Redis is held by SIGSTOP,
# the lookup (and Redis's reply) is seen in the kernel's socket queues
# (/proc/net/tcp) and the worker in state T before the next step, and
# Redis is let go only after the worker has answered the late lookup,
# which it does in the very timer that judges the connection.  What is
# left to timing has large margins for a busy machine: a stop of 2.5
# timeouts (1.5 are needed), and a whole timeout (1s, 3s under valgrind)
# for Redis to answer once it is let go.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response read_answer);
use RedisServer;

plan(skip_all => 'no /proc/net/tcp') unless -r '/proc/net/tcp';

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse;

# under memcheck, 3s (as %%REDIS_TIMEOUT%%): the worker answers the late
# lookup, and Redis the next ones, well within it
my $timeout = $S > 1 ? 3000 : 1000;
my $stop = 2.5 * $timeout / 1000;

$t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_redis 127.0.0.1:%%REDIS%%;
        admin_gate_redis_timeout ${timeout}ms;
        admin_gate_redis_failure deny;

        # the verdicts stored at the start outlive the test
        admin_gate_cache_ttl 1h;
        admin_gate_negative_ttl 1h;

        add_header X-Cache "[\$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }
}
END

my $path = '/_synapse/admin/v1/users';

my $worker = worker_pid();
ok($worker, 'the worker is found') or die "no worker pid in the error log\n";

# a worker left stopped by a test that died would hold the QUIT forever
END { kill 'CONT', $worker if $worker }

# the verdicts in Redis
for my $tok (qw(adm_tok usr_tok)) {
    $t->get($path, Authorization => "Bearer $tok");
    is(cache_of($tok), '[HIT]', "the verdict of $tok is in Redis");
    is(cache_of($tok), '[HIT]', "the verdict of $tok is in Redis, again");
}

$t->new_errors;

###############################################################################

# replies waiting in the socket: read before the deadlines are judged

for my $round (1 .. 2) {
    my $gets = $redis->calls('get');
    my $conns = connections();

    $redis->pause;

    my $late = send_request('adm_tok');
    ok(wait_queued(sub { redis_rx('local') }),
        "replies waiting: the lookup is sent ($round)");

    stop_worker();

    $redis->resume;
    ok(wait_queued(sub { redis_rx('remote') }),
        "replies waiting: Redis answered into the stopped worker's "
        . "socket ($round)");

    sleep $stop;
    kill 'CONT', $worker;

    my $r = parse_response(read_answer($late, 10 * $S));
    is($r->{status}, 200,
        "replies waiting: the admin passes after the stop ($round)");
    is($r->{headers}{'x-cache'}[0], '[HIT]',
        "replies waiting: answered by Redis ($round)");

    is(connections(), $conns + 1,
        "replies waiting: the same connection to Redis ($round)");
    is($redis->calls('get') - $gets, 1,
        "replies waiting: Redis ran the lookup ($round)");
    unlike($t->new_errors, qr/admin gate redis .* is unavailable/,
        "replies waiting: no outage logged ($round)");
}

###############################################################################

# no reply yet: the late timer is the worker's stall, not Redis's silence

for my $round (1 .. 2) {
    my $gets = $redis->calls('get');
    my $conns = connections();

    $redis->pause;

    my $late = send_request('adm_tok');
    ok(wait_queued(sub { redis_rx('local') }),
        "no reply yet: the lookup is sent ($round)");

    stop_worker();
    sleep $stop;
    kill 'CONT', $worker;

    # the worker answers the late lookup in the timer that judges the
    # connection: Redis is let go after that

    my $r = parse_response(read_answer($late, 10 * $S));
    is($r->{status}, 503,
        "no reply yet: the lookup past its own deadline is denied ($round)");
    is($r->{headers}{'x-cache'}[0], '[ERROR]',
        "no reply yet: it gave up on Redis ($round)");

    # two tokens: one of them alone would be one lookup (single flight)

    my $adm = send_request('adm_tok');
    my $usr = send_request('usr_tok');

    $redis->resume;

    my $ra = parse_response(read_answer($adm, 10 * $S));
    is($ra->{status}, 200, "no reply yet: after the wake, the admin passes "
        . "($round)");
    is($ra->{headers}{'x-cache'}[0], '[HIT]',
        "no reply yet: answered by Redis ($round)");

    my $ru = parse_response(read_answer($usr, 10 * $S));
    is($ru->{status}, 403, "no reply yet: after the wake, the user is "
        . "refused ($round)");
    is($ru->{headers}{'x-cache'}[0], '[HIT]',
        "no reply yet: refused by the verdict in Redis ($round)");

    is(connections(), $conns + 1,
        "no reply yet: the same connection to Redis ($round)");
    is($redis->calls('get') - $gets, 3,
        "no reply yet: Redis ran the three lookups ($round)");
    unlike($t->new_errors, qr/admin gate redis .* is unavailable/,
        "no reply yet: no outage logged ($round)");

    is(cache_of('adm_tok'), '[HIT]', "no reply yet: then a hit ($round)");
}

unlike($t->error_log, qr/admin gate redis .* is unavailable/,
    'a healthy Redis is never declared down');

$t->stop;

done_testing;

###############################################################################

sub send_request {
    my ($tok) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $s->syswrite("GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n");

    return $s;
}


# the worker's pid, from the master's "start worker process" (which may
# come after the port listens)
sub worker_pid {
    my $deadline = time + 30 * $S;

    while (time < $deadline) {
        my ($pid) = $t->error_log =~ /start worker process (\d+)/;
        return $pid if $pid && kill(0, $pid);
        sleep 0.05;
    }

    return undef;
}


# SIGSTOP, and wait until the worker is stopped (state T)
sub stop_worker {
    kill 'STOP', $worker;

    my $deadline = time + 10 * $S;

    while (time < $deadline) {
        open my $fh, '<', "/proc/$worker/stat" or last;
        my $stat = <$fh>;
        close $fh;
        return if $stat =~ /\) T /;
        sleep 0.01;
    }

    fail('the worker stops');
}


sub cache_of {
    my ($tok) = @_;
    my $r = $t->get($path, Authorization => "Bearer $tok");
    return $r->{headers}{'x-cache'}[0] // '';
}


# connections Redis has accepted, this question's own included
sub connections {
    my $info = $redis->command('INFO', 'stats');
    return $info =~ /^total_connections_received:(\d+)/m ? $1 : -1;
}


# bytes received and not yet read in the established TCP sockets of
# Redis's port: on Redis's side ("local": its port is the local one) or on
# nginx's ("remote"); loopback, so both are in /proc/net/tcp
sub redis_rx {
    my ($side) = @_;

    my $port = sprintf('%04X', $redis->port);
    my $bytes = 0;

    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";

    while (my $line = <$fh>) {
        my ($local, $remote, $state, $queues) = (split ' ', $line)[1 .. 4];

        next unless $state && $state eq '01';

        my $addr = $side eq 'local' ? $local : $remote;
        next unless $addr =~ /:$port$/;

        my ($tx, $rx) = split /:/, $queues;
        $bytes += hex $rx;
    }

    close $fh;

    return $bytes;
}


sub wait_queued {
    my ($bytes) = @_;

    my $deadline = time + 10 * $S;

    while (time < $deadline) {
        return 1 if $bytes->() > 0;
        sleep 0.01;
    }

    return 0;
}
