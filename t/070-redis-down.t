#!/usr/bin/perl

# Redis misbehaving.  Stopped: every gated request is still answered
# correctly, through Synapse, and the outage is logged once when it starts
# and once when Redis is back; with admin_gate_redis_failure deny the
# answer is 503.  Frozen (SIGSTOP): gated requests wait at most about the
# timeout, ungated ones not at all.  Answering nonsense: no crash, correct
# answers through Synapse.  Resetting the connection: logged with errno.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

use AdminTest qw(free_port);
use RedisServer;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse;

my $junk = fake_redis("HELLO WORLD\r\n");
my $okay = fake_redis("+OK\r\n");
my $reset = fake_redis(undef);

$t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    server {
        listen 127.0.0.1:%%PORT_0%%;

        add_header X-Cache "[\$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;

        admin_gate_redis_failure deny;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_2%%;

        admin_gate_redis 127.0.0.1:$junk->{port};

        add_header X-Cache "[\$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_4%%;

        admin_gate_redis 127.0.0.1:$reset->{port};

        add_header X-Cache "[\$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;

        admin_gate_redis 127.0.0.1:$okay->{port};

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

my $p = '/_synapse/admin/v1/users';
my $name = '127.0.0.1:' . $redis->port;

expect(0, 'adm_tok', 200, 'MISS', 'Redis up: first request');
expect(0, 'adm_tok', 200, 'HIT', 'Redis up: second request');

# stopped

$redis->stop;

$fs->clear_log;
for my $n (1 .. 3) {
    expect(0, 'adm_tok', 200, 'ERROR', "Redis stopped: admin allowed ($n)");
    expect(0, 'usr_tok', 403, 'ERROR', "Redis stopped: non-admin refused ($n)");
    expect(0, undef, 401, '', "Redis stopped: no token refused ($n)");
    expect(1, 'adm_tok', 503, undef, "Redis stopped, failure deny: 503 ($n)");
}
is($fs->whoami_hits, 6, 'Redis stopped: every verdict from Synapse');

sleep 1;    # reconnects fail meanwhile

my $log = $t->error_log;
is(count($log, qr/\[error\] .*admin gate redis "\Q$name\E" is unavailable/),
    1, 'the outage is logged once');
like($log, qr/is unavailable: (connect\(\) failed|connection closed by redis)/,
    'the outage says why');

# back

$redis->start;
ok(wait_for_cache(0, qr/MISS|HIT/), 'Redis back: the gate uses it again');
expect(0, 'adm_tok', 200, 'HIT', 'Redis back: verdicts cached again');

$log = $t->error_log;
is(count($log, qr/\[notice\] .*admin gate redis "\Q$name\E" is available again/),
    1, 'the return is logged once');
is(count($log, qr/admin gate redis "\Q$name\E" is unavailable/), 1,
    "still one outage line");

# frozen

$redis->pause;

for my $n (1 .. 3) {
    my $start = time;
    my $r = get(0, 'usr_tok');
    my $took = time - $start;
    is($r->{status}, 403, "Redis frozen: the right answer ($n)");
    ok($took < 2 * $AdminTest::SLOW,
        sprintf("Redis frozen: answered in %.2fs, not held ($n)", $took));

    $start = time;
    $r = $t->get('/_matrix/client/v3/sync');
    is($r->{status}, 200, "Redis frozen: ungated request answered ($n)");
    ok(time - $start < $AdminTest::SLOW,
        "Redis frozen: ungated request not delayed ($n)");
}

like($t->error_log, qr/admin gate redis "\Q$name\E" is unavailable: timed out/,
    'Redis frozen: logged as timed out');

$redis->resume;
ok(wait_for_cache(0, qr/MISS|HIT/), 'Redis thawed: used again');

# nonsense

for my $case ([2, 'invalid reply'], [3, 'invalid handshake reply']) {
    my ($port, $why) = @$case;

    for my $n (1 .. 3) {
        expect($port, 'adm_tok', 200, 'ERROR', "$why: admin allowed ($n)");
        expect($port, 'usr_tok', 403, 'ERROR', "$why: non-admin refused ($n)");
    }

    like($t->error_log, qr/is unavailable: \Q$why\E/, "$why: logged");
}

# a connection reset: the error says which, with its errno

for my $n (1 .. 3) {
    expect(4, 'adm_tok', 200, 'ERROR', "reset: admin allowed ($n)");
}

like($t->error_log, qr/"127\.0\.0\.1:$reset->{port}" is unavailable: (recv|send)\(\) failed \(\d+: [^)]+\)/,
    'reset: logged with its errno');

$t->stop;

kill 'TERM', $_->{pid} for $junk, $okay, $reset;
waitpid($_->{pid}, 0) for $junk, $okay, $reset;

done_testing;

###############################################################################

sub get {
    my ($port, $tok) = @_;
    return $t->get_on($port, $p, $tok ? (Authorization => "Bearer $tok") : ());
}

sub expect {
    my ($port, $tok, $status, $cache, $name) = @_;

    my $r = get($port, $tok);
    is($r->{status}, $status, "$name: $status");
    is($r->{headers}{'x-cache'}[0], "[$cache]", "$name: cache $cache")
        if defined $cache;
}

sub count {
    my ($log, $re) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $log;
}

# polls until a gated request shows the cache state wanted
sub wait_for_cache {
    my ($port, $re) = @_;

    my $deadline = time + 10;
    while (time < $deadline) {
        my $r = get($port, 'adm_tok');
        return 1 if ($r->{headers}{'x-cache'}[0] // '') =~ $re;
        sleep 0.2;
    }

    return 0;
}

# a "Redis" that answers every read with the same bytes, or (undef)
# resets the connection after the first read
sub fake_redis {
    my ($answer) = @_;

    my $port = free_port();
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 16, ReuseAddr => 1)
        or die "listen: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        local $SIG{TERM} = sub { _exit(0) };
        local $SIG{ALRM} = sub { _exit(0) };
        alarm(300);
        while (my $c = $listen->accept) {
            while ($c->sysread(my $buf, 4096)) {
                last unless defined $answer;
                $c->syswrite($answer);
            }
            # SO_LINGER on, zero seconds: close() sends a RST
            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
                unless defined $answer;
            close $c;
        }
        _exit(0);
    }

    close $listen;

    return { pid => $pid, port => $port };
}
