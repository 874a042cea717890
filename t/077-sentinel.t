#!/usr/bin/perl

# Redis Sentinel, for real: a master, a replica and three redis-sentinel
# processes on loopback (down-after-milliseconds 1000).  The gate asks a
# Sentinel for the master, confirms it with ROLE, and caches there.  The
# master is killed (SIGKILL) while requests flow: every answer stays right
# for its token (503 only while no master is known, under
# admin_gate_redis_failure deny), the gate follows the promoted replica,
# and the verdicts are cached in it afterwards.  Then a failover that
# leaves the old master running (SENTINEL FAILOVER): the gate hears of it
# (+switch-master) and moves to the new master.  A Sentinel that does not
# answer is skipped.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

use AdminTest qw(mute_server);
use RedisServer;
use RedisSentinel;

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $dir = $t->testdir;
my $fs = $t->synapse;

my $master = RedisServer->new(dir => $dir, name => 'master')->start;
my $replica = RedisServer->new(dir => $dir, name => 'replica',
    extra => ['replicaof 127.0.0.1 ' . $master->port])->start;

wait_until(sub { $replica->cli('INFO', 'replication')
    =~ /master_link_status:up/ }, 20, 'the replica is in sync');

# a Sentinel that never answers, listed first: it must be skipped
my ($mute_port, $mute) = mute_server();

my @sentinels = map {
    RedisSentinel->new(dir => $dir, name => "sentinel-$_",
        master => $master->port, quorum => 2)->start
} 1 .. 3;
my $list = join ',', "127.0.0.1:$mute_port",
    map { "127.0.0.1:" . $_->port } @sentinels;

wait_until(sub { sentinels_agree($master->port) }, 30,
    'the Sentinels know the master');

$t->run(<<"END");
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis sentinel=$list master=gate;
    admin_gate_redis_timeout 300ms;
    admin_gate_redis_failure deny;

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

        location = /metrics {
            admin_gate_status;
        }
    }
}
END

my $path = '/_synapse/admin/v1/users';
my %expect = (adm_tok => 200, usr_tok => 403, bad_tok => 401);

wait_until(sub { cache_of('adm_tok') eq '[HIT]' }, 20 * $S,
    'the gate found the master through a Sentinel, and caches there');

ok(scalar(() = $master->cli('KEYS', 'admin_gate:*')) >= 1,
    'the verdict is in the master');

###############################################################################

# the master dies while requests flow

my $log = "$dir/traffic.log";
my $traffic = traffic($log, 40 * $S);

sleep 1;
kill 'KILL', $master->{pid};
waitpid($master->{pid}, 0);
delete $master->{pid};
my $killed = time;

wait_until(sub { sentinels_agree($replica->port) }, 30,
    'the Sentinels promote the replica');

wait_until(sub { last_master() == $replica->port }, 20 * $S,
    'the gate follows the new master');

my $recovered = time;

sleep 1;
open my $stop, '>', "$dir/traffic.stop" or die "$!";
close $stop;
waitpid($traffic, 0);

my (%wrong, $late503, $total, $n503);

open my $fh, '<', $log or die "$log: $!";
while (<$fh>) {
    my ($when, $tok, $status) = split;
    $total++;

    if ($status == 503) {
        $n503++;
        $late503++ if $when > $recovered + 0.5;
        next;
    }

    $wrong{"$tok $status"}++ if $status != $expect{$tok};
}
close $fh;

ok($total > 50, "requests flowed through the failover ($total)");
is_deeply(\%wrong, {}, 'every answer was right for its token, or 503');
ok(!$late503, 'no 503 once the new master was known')
    or diag("503 after recovery: $late503");
diag(sprintf('%d of %d requests got 503 while no master was known; '
    . 'recovered %.1fs after the kill', $n503 // 0, $total,
    $recovered - $killed));

$replica->cli('FLUSHALL');
is(cache_of('adm_tok'), '[MISS]', 'a fresh lookup after the failover');
is(cache_of('adm_tok'), '[HIT]', 'cached in the new master');
ok(scalar(() = $replica->cli('KEYS', 'admin_gate:*')) >= 1,
    'the verdict is in the new master');

###############################################################################

# a failover that leaves the old master running: +switch-master

my $third = RedisServer->new(dir => $dir, name => 'third',
    extra => ['replicaof 127.0.0.1 ' . $replica->port])->start;

wait_until(sub { $third->cli('INFO', 'replication')
    =~ /master_link_status:up/ }, 20, 'a new replica is in sync');

wait_until(sub { $sentinels[0]->cli('SENTINEL', 'REPLICAS', 'gate')
    =~ /\Q${\ $third->port }\E/ }, 30, 'the Sentinels know the new replica');

# a Sentinel refuses (NOGOODSLAVE, INPROG) until it has seen the new
# replica as fit, and within the failover-timeout of the last failover

wait_until(sub { $sentinels[0]->cli('SENTINEL', 'FAILOVER', 'gate')
    eq 'OK' or (sleep(0.5), 0) }, 60, 'a Sentinel starts a failover');

wait_until(sub { sentinels_agree($third->port) }, 30,
    'a failover to the third Redis');

wait_until(sub { $t->error_log =~ /the sentinels announce a new master/ },
    10 * $S, 'the gate hears of it');

wait_until(sub { last_master() == $third->port }, 10 * $S,
    'and moves to the new master');

$third->cli('FLUSHALL');
is(cache_of('adm_tok'), '[MISS]', 'after the second failover: looked up');
is(cache_of('adm_tok'), '[HIT]', 'and cached in the third Redis');
is(status_of('usr_tok'), 403, 'a user is still refused');

# admin_gate_status counted both failovers
my $metrics = $t->get('/metrics')->{body};
my ($failovers) = $metrics
    =~ /^admin_gate_redis_failovers_total\{redis="gate"\} (\d+)$/m;
ok(defined $failovers && $failovers >= 2,
    'admin_gate_status: both failovers counted (' . ($failovers // '-') . ')');

$t->stop;

kill 'KILL', $mute;
waitpid($mute, 0);
$_->stop for @sentinels;
$third->stop;
$replica->stop;

done_testing;

###############################################################################

sub cache_of {
    my ($tok) = @_;
    my $r = $t->get($path, Authorization => "Bearer $tok");
    return $r->{headers}{'x-cache'}[0] // '';
}

sub status_of {
    my ($tok) = @_;
    return $t->get($path, Authorization => "Bearer $tok")->{status};
}

sub wait_until {
    my ($check, $seconds, $name) = @_;

    my $deadline = time + $seconds;

    while (time < $deadline) {
        if ($check->()) {
            pass($name);
            return 1;
        }
        sleep 0.1;
    }

    fail($name);
    die "$name: not within ${seconds}s\n";
}

# every Sentinel names the master on this port
sub sentinels_agree {
    my ($port) = @_;

    for my $s (@sentinels) {
        my @a = $s->cli('SENTINEL', 'get-master-addr-by-name', 'gate');
        return 0 unless @a == 2 && $a[1] eq $port;
    }

    return 1;
}


# the port of the master the gate last said it uses
sub last_master {
    my @ports = $t->error_log =~ /is available again, at 127\.0\.0\.1:(\d+)/g;
    return @ports ? $ports[-1] : 0;
}

# requests with the three tokens in turn, one at a time, until
# traffic.stop appears or the time is up; each line: time token status
sub traffic {
    my ($file, $seconds) = @_;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open my $out, '>', $file or _exit(1);
        $out->autoflush(1);

        my @toks = sort keys %expect;
        my $end = time + $seconds;

        for (my $i = 0; !-e "$dir/traffic.stop" && time < $end && $i < 100000;
             $i++)
        {
            my $tok = $toks[$i % @toks];
            my $r = eval { $t->get($path, Authorization => "Bearer $tok") };
            my $status = $r ? $r->{status} : 0;
            printf $out "%.3f %s %s\n", time, $tok, $status;
        }

        _exit(0);
    }

    return $pid;
}
