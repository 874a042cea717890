#!/usr/bin/perl

# Single flight: while a token is being looked up in Redis or verified
# with Synapse, the other requests with that token in the same worker
# wait for that answer.  100 concurrent first requests with a fresh token
# cost one whoami and one admin check per worker (and one Redis GET per
# worker), and all get the verdict: 200 and the upstream for an admin,
# 403 for anyone else.  Clients that leave while they wait, the leader
# among them, neither stop the others' answer nor crash a worker.  Run
# with one worker and no zone, then with two workers and a zone.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response);
use RedisServer;

my $users = '/_synapse/admin/v1/users';

# how long the first whoami of each token takes: the requests arrive
# meanwhile
my $slow = $AdminTest::SLOW > 1 ? 8 : 2.5;

my $burst = 100;

for my $run ([ 1, '' ], [ 2, 'admin_gate_cache_zone flight:1m;' ]) {
    my ($workers, $zone) = @$run;
    my $mode = $workers == 1 ? 'one worker' : 'two workers and a zone';

    my $t = AdminTest->new;
    my $redis = RedisServer->new(dir => $t->testdir)->start;
    my $fs = $t->synapse(patterns => [
        qr/^flight_adm_/ => { user => '@admin:test', slow_first => $slow },
        qr/^flight_usr_/ => { user => '@user:test', slow_first => $slow },
    ]);

    $t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes $workers;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    $zone

    server {
        listen 127.0.0.1:%%PORT_0%% reuseport;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        add_header X-Cache "[\$admin_gate_cache]" always;
        add_header X-Pid \$pid always;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        admin_gate_redis 127.0.0.1:%%REDIS%%;
        admin_gate_redis_timeout 30s;

        add_header X-Cache "[\$admin_gate_cache]" always;
        add_header X-Pid \$pid always;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    # the upstream, lighter than the fake Synapse: a line per request
    log_format upstream '\$request_uri';

    server {
        listen 127.0.0.1:%%PORT_2%%;

        access_log %%TESTDIR%%/upstream.log upstream;

        location / {
            return 200 "upstream\\n";
        }
    }
}
END

    # an admin: one verification, 100 answers, 100 forwarded

    my $tok = "flight_adm_$workers";
    my @res = read_all(send_all($t, 0, $burst, $tok));

    is(tally(@res), "200 x$burst", "$mode, an admin: every request allowed");
    is(upstream($t, $tok, $burst), $burst, "$mode, an admin: all forwarded");
    verified($fs, $workers, "$mode, an admin");
    diag("$mode: answered by " . pids(@res) . ' worker(s)')
        if $ENV{TEST_NGINX_VERBOSE};

    # a non-admin: one verification, 100 refusals

    $fs->clear_log;
    $tok = "flight_usr_$workers";
    @res = read_all(send_all($t, 0, $burst, $tok));

    is(tally(@res), "403 x$burst", "$mode, a non-admin: every request refused");
    is(scalar(grep { $_->{body} =~ /"errcode":"M_FORBIDDEN"/ } @res), $burst,
        "$mode, a non-admin: M_FORBIDDEN");
    is(upstream($t, $tok, 0), 0, "$mode, a non-admin: nothing forwarded");
    verified($fs, $workers, "$mode, a non-admin");

    # the leader's client leaves while its whoami is at Synapse, and so
    # do ten others: the last ten to come, then the first ten (the heirs,
    # one after the other).  The rest get their answer.

    for my $who ('the last ten', 'the first ten') {
        my $name = "$mode, the leader and $who leave";

        $fs->clear_log;
        $t->new_errors;
        $tok = "flight_adm_leader_${workers}_" . ($who =~ /last/ ? 'l' : 'f');

        my ($leader) = send_all($t, 0, 1, $tok);
        wait_for(sub { $fs->whoami_hits >= 1 });

        my @all = send_all($t, 0, $burst - 1, $tok);
        my @gone = $who =~ /last/ ? splice(@all, -10) : splice(@all, 0, 10);
        sleep 0.3;

        close $leader;
        close $_ for @gone;

        @res = read_all(@all);

        is(tally(@res), '200 x' . ($burst - 11), "$name: the rest allowed");

        # with two workers, the other worker's flight (its whoami is not
        # slow) may have answered some of the ten before they left
        my $up = upstream($t, $tok, $burst - 11);
        ok($workers == 1 ? $up == $burst - 11
            : $up >= $burst - 11 && $up <= $burst - 1,
            "$name: the rest forwarded ($up)");

        # one more whoami per heir that leaves with its own under way
        my $n = $fs->whoami_hits;
        if ($who =~ /last/ && $workers == 1) {
            is($n, 2, "$name: a follower takes over, one more whoami");

        } else {
            ok($n >= 2 && $n <= ($who =~ /last/ ? 2 : 12) * $workers,
                "$name: followers take over ($n whoami)");
        }

        like($t->new_errors, qr/client prematurely closed connection/,
            "$name: nginx saw them go");
    }

    # a Redis lookup in flight: Redis frozen while the requests arrive

    $fs->clear_log;
    $tok = "flight_adm_redis_$workers";

    my $gets = $redis->calls('get');
    $redis->pause;

    my ($leader) = send_all($t, 1, 1, $tok);
    sleep 0.3;
    my @all = ($leader, send_all($t, 1, $burst - 1, $tok));
    sleep 0.5;

    $redis->resume;
    @res = read_all(@all);

    $gets = $redis->calls('get') - $gets;

    is(tally(@res), "200 x$burst",
        "$mode, Redis in front: every request allowed");
    ok($gets >= 1 && $gets <= $workers,
        "$mode, Redis in front: at most one GET per worker ($gets)");
    verified($fs, $workers, "$mode, Redis in front");
    is(scalar(grep { ($_->{headers}{'x-cache'}[0] // '')
            !~ /^\[(MISS|HIT|HIT_ZONE)\]$/ } @res), 0,
        "$mode, Redis in front: every answer a MISS or a hit");

    # and then, from the cache

    $fs->clear_log;
    @res = read_all(send_all($t, 1, 10, $tok));
    is(tally(@res), '200 x10', "$mode, Redis in front: later requests allowed");
    is($fs->whoami_hits, 0, "$mode, Redis in front: from the cache");

    unlike($t->error_log, qr/exited on signal/, "$mode: no worker crashed");

    $t->stop;
}

done_testing;

###############################################################################

# $n connections to %%PORT_$port%%, each with a request with the token,
# sent once all are connected; the sockets
sub send_all {
    my ($t, $port, $n, $tok) = @_;

    my @s = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port($port),
            Proto => 'tcp', Timeout => 10) or die "connect: $!"
    } 1 .. $n;

    my $tag = tag($tok);
    $t->secret($tok);

    $_->syswrite("GET $users?burst=$tag HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n") for @s;

    return @s;
}

# the answers on all the sockets, read side by side until each closes
sub read_all {
    my (@s) = @_;

    my %buf = map { $_ => '' } @s;
    my $sel = IO::Select->new(@s);
    my $deadline = time + 30 * $AdminTest::SLOW;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            $sel->remove($s) unless $s->sysread($buf{$s}, 65536,
                length $buf{$s});
        }
    }

    close $_ for @s;

    return map { parse_response($buf{$_}) } @s;
}

# one whoami and one admin check per worker at most, at least one
sub verified {
    my ($fs, $workers, $name) = @_;

    for my $step ([ 'whoami', $fs->whoami_hits ],
        [ 'admin check', $fs->admin_hits ])
    {
        my ($what, $n) = @$step;

        if ($workers == 1) {
            is($n, 1, "$name: one $what");
        } else {
            ok($n >= 1 && $n <= $workers,
                "$name: one $what per worker at most ($n)");
        }
    }
}

# "200 x98 502 x2": how many answers of each status
sub tally {
    my %n;
    $n{ $_->{status} }++ for @_;
    return join ' ', map { "$_ x$n{$_}" } sort keys %n;
}

# a burst's name in the upstream's log: not the token, which no log
# may show
sub tag {
    require Digest::SHA;
    return substr(Digest::SHA::sha256_hex($_[0]), 0, 12);
}

sub pids {
    my %p = map { ($_->{headers}{'x-pid'}[0] // '') => 1 } @_;
    return scalar keys %p;
}

# the requests with a token that reached the upstream; a log line may
# come a little after the answer: waits for $expect
sub upstream {
    my ($t, $tok, $expect) = @_;

    my $tag = tag($tok);
    my $n = 0;
    my $deadline = time + 5 * $AdminTest::SLOW;

    do {
        $n = () = $t->read_file('upstream.log')
            =~ /^\Q$users?burst=$tag\E$/mg;
        return $n if $n >= $expect;
        sleep 0.05;
    } while (time < $deadline);

    return $n;
}

sub wait_for {
    my ($cond) = @_;

    my $deadline = time + 10 * $AdminTest::SLOW;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }

    return 0;
}
