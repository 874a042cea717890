#!/usr/bin/perl

# admin_gate_status: the gate's counters in the Prometheus text format.
# Requests are counted by server name and verdict, lookups by tier and
# result, verifications with a latency histogram, Redis's failures and
# reconnects, and the zone's use.  The numbers are checked against what
# the gate told each request ($admin_gate_verdict, $admin_gate_cache),
# across two workers; they survive a reload.  promtool accepts the
# output, and a real Prometheus, started here on loopback, scrapes it and
# answers the same numbers through its HTTP API.  The endpoint is never
# gated itself; nginx -t refuses what the directive cannot take.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp ();
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response);
use RedisServer;

my $users = '/_synapse/admin/v1/users';

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;

# a whoami this slow lands above the 1s bucket, and below 5s, also
# under valgrind
my $slow = 2;

my $fs = $t->synapse(tokens => {
    err_tok  => { user => '@admin:test', whoami => [500, '{}'] },
    slow_tok => { user => '@admin:test',
        whoami => [200, '{"user_id":"@admin:test"}', $slow] },
    slow_tok2 => { user => '@admin:test',
        whoami => [200, '{"user_id":"@admin:test"}', 3 * $slow] },
    fresh_tok => { user => '@admin:test' },
    gone_tok => undef,
}, patterns => [ qr/^later_\d+$/ => { user => '@admin:test' } ]);

my $conf = <<'END';
%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_cache_zone verdicts:%%ZONE%% ttl=60s;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    # the gate's own answers tell the test what it decided
    add_header X-Verdict "$admin_gate_verdict" always;
    add_header X-Cache "$admin_gate_cache" always;
    add_header X-Pid "$pid" always;

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name a.test;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_redis 127.0.0.1:%%REDIS%%;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }

        # the gate is on here, but not for this path: no token needed
        location = /metrics {
            admin_gate_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name b.test "b\"q";

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

    server {
        listen 127.0.0.1:%%PORT_3%%;
        server_name "q\"u\\o.test";

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_2%%;

        location = /metrics {
            admin_gate_status;

            allow 127.0.0.1;
            deny all;
        }
    }
%%MORE%%
}
END

sub config {
    my (%o) = @_;
    my $text = $conf =~ s/%%REDIS%%/$redis->port/ger;
    $text =~ s/%%MORE%%/$o{more} || ''/e;
    $text =~ s/%%ZONE%%/$o{zone} || '1m'/e;
    return $text;
}

$t->run(config());

###############################################################################

# what the gate said, tallied as the counters should be

my (%verdicts, %lookups, %pids);
my $verifications = 0;
my $failures = 0;
my $aborted = 0;

sub req {
    my ($n, $token, $query) = @_;

    my @h = defined $token && !$query ? (Authorization => "Bearer $token") : ();
    my $target = $users . ($query ? "?access_token=$token" : '');
    my $r = $t->get_on($n, $target, @h);

    my $server = $n == 0 ? 'a.test' : 'b.test';
    my $verdict = $r->{headers}{'x-verdict'}[0] // '';
    my $cache = $r->{headers}{'x-cache'}[0] // '';

    $pids{ $r->{headers}{'x-pid'}[0] // '' }++;
    $verdicts{$server}{$verdict}++ if $verdict ne '';

    # a lookup for every request with a well-formed token
    if ($cache eq 'HIT_ZONE') {
        $lookups{'zone hit'}++;
    } elsif ($cache ne '' || $verdict =~ /^(allow|forbidden|error)$/
             || ($verdict eq 'unknown_token' && $token ne 'bad!tok'))
    {
        $lookups{'zone miss'}++;
        $lookups{'redis hit'}++ if $cache eq 'HIT';
        $lookups{'redis miss'}++ if $cache eq 'MISS';
        $lookups{'redis error'}++ if $cache eq 'ERROR';
        $lookups{'redis revoked'}++ if $cache eq 'REVOKED';

        if ($cache ne 'HIT') {
            $verifications++;
            $failures++ if $verdict eq 'error';
        }
    }

    return $r;
}

sub scrape {
    my ($port_n, $target) = @_;
    my $r = $t->get_on($port_n // 2, $target // '/metrics');
    my %m;

    for my $line (split /\n/, $r->{body}) {
        next if $line =~ /^#/;
        $m{$1} = $2 if $line =~ /^(\S+(?:\{.*\})?) (\S+)$/;
    }

    return ($r, \%m);
}

sub requests_total {
    my ($m, $server, $verdict) = @_;
    return $m->{"admin_gate_requests_total{server=\"$server\","
        . "verdict=\"$verdict\"}"};
}

sub lookups_total {
    my ($m, $tier, $result) = @_;
    return $m->{"admin_gate_cache_lookups_total{tier=\"$tier\","
        . "result=\"$result\"}"};
}

# checks every counter the tallies know against a scrape
sub check_counts {
    my ($m, $what) = @_;

    for my $server ('a.test', 'b.test') {
        for my $v (qw(allow missing_token unknown_token forbidden error
                      bad_request))
        {
            is(requests_total($m, $server, $v), $verdicts{$server}{$v} // 0,
                "$what: requests of $server, $v");
        }
    }

    for my $k ('zone hit', 'zone miss', 'redis hit', 'redis miss',
               'redis revoked', 'redis error')
    {
        is(lookups_total($m, split / /, $k), $lookups{$k} // 0,
            "$what: lookups, $k");
    }

    is($m->{admin_gate_verifications_total}, $verifications,
        "$what: verifications started");
    is($m->{admin_gate_verification_failures_total}, $failures,
        "$what: verifications failed");
    is($m->{admin_gate_verifications_in_flight}, 0,
        "$what: no verification in flight");
    is($m->{admin_gate_verification_duration_seconds_count},
        $verifications - $aborted, "$what: every verification timed");
    is($m->{'admin_gate_verification_duration_seconds_bucket{le="+Inf"}'},
        $verifications - $aborted, "$what: +Inf bucket");
}

# a fresh nginx: every counter is there, at zero

my ($r, $m) = scrape();
is($r->{status}, 200, 'scrape: 200');
like($r->{headers}{'content-type'}[0], qr{^text/plain; version=0\.0\.4},
    'scrape: the text exposition format');
check_counts($m, 'at start');
is($m->{'admin_gate_zone_entries{zone="verdicts"}'}, 0, 'at start: zone empty');
is($m->{'admin_gate_zone_size_bytes{zone="verdicts"}'}, 1048576,
    'at start: zone size');
ok(exists $m->{'admin_gate_requests_total{server="b.test",verdict="allow"}'}
    && !grep(/b\\"q/, keys %$m), 'a server is named by its first name');
is(requests_total($m, 'q\\"u\\\\o.test', 'allow'), 0,
    'label values are escaped');
is(scalar(grep { /^admin_gate_requests_total\{/ } keys %$m), 18,
    'three servers, six verdicts each');
is($t->get_on(0, '/metrics')->{status}, 200,
    'the endpoint needs no token where the gate is on');

# traffic of every kind, to both servers, until both workers answered

my $deadline = time + 20 * $AdminTest::SLOW;

for my $round (1 .. 50) {
    req(0, 'adm_tok');
    req(0, 'adm_tok', 1);
    req(0, 'usr_tok');
    req(0, undef);
    req(0, 'bad!tok');
    req(1, 'adm_tok');
    req(1, 'usr_tok', 1);
    req(1, 'gone_tok') if $round <= 2;
    req(0, 'err_tok') if $round <= 2;
    last if keys %pids >= 2 && $round >= 3 || time > $deadline;
}

is(scalar keys %pids, 2, 'both workers answered');
ok($verdicts{'a.test'}{allow} >= 6, 'admins passed');
ok(($lookups{'zone hit'} // 0) > 0 && $verifications >= 5,
    'zone hits and verifications happened');

($r, $m) = scrape();
note($r->{body});
check_counts($m, 'after traffic');
ok($m->{'admin_gate_zone_entries{zone="verdicts"}'} >= 3,
    'zone: entries counted');
ok($m->{'admin_gate_zone_free_bytes{zone="verdicts"}'} > 0
    && $m->{'admin_gate_zone_free_bytes{zone="verdicts"}'} < 1048576,
    'zone: free bytes below its size');

# the histogram's buckets are cumulative and end with the count

my @buckets = map { $m->{"admin_gate_verification_duration_seconds_bucket{le=\"$_\"}"} }
    qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 +Inf);
is(scalar(grep { defined } @buckets), 11, 'histogram: 11 buckets');
is(scalar(grep { $buckets[$_] < $buckets[$_ - 1] } 1 .. $#buckets), 0,
    'histogram: cumulative');
ok($m->{admin_gate_verification_duration_seconds_sum} >= 0,
    'histogram: a sum');


# a verification under way is in flight, and no longer once it ends

my $child = fork();
die "fork: $!" unless defined $child;

if ($child == 0) {
    $t->get_on(0, $users, Authorization => 'Bearer slow_tok');
    POSIX::_exit(0);
}

my $in_flight;
$deadline = time + 5 * $AdminTest::SLOW;
while (time < $deadline) {
    ($r, $m) = scrape();
    $in_flight = $m->{admin_gate_verifications_in_flight};
    last if $in_flight;
    sleep 0.05;
}

is($in_flight, 1, 'in flight: a slow verification is counted');
waitpid $child, 0;

# counted as the request's own would be
$verdicts{'a.test'}{allow}++;
$lookups{'zone miss'}++;
$lookups{'redis miss'}++;
$verifications++;

($r, $m) = scrape();
check_counts($m, 'after the slow one');
ok($m->{'admin_gate_verification_duration_seconds_bucket{le="1"}'}
    < $m->{'admin_gate_verification_duration_seconds_count'},
    "histogram: the slow one (${slow}s) is above 1s");

# a client that leaves during its verification: not in flight any more,
# and not timed

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
    or die "connect: $!";
print $s "GET $users HTTP/1.1\r\nHost: a.test\r\n"
    . "Authorization: Bearer slow_tok2\r\n\r\n";

$deadline = time + 5 * $AdminTest::SLOW;
while (time < $deadline) {
    ($r, $m) = scrape();
    last if $m->{admin_gate_verifications_in_flight};
    sleep 0.05;
}
is($m->{admin_gate_verifications_in_flight}, 1, 'abort: in flight');
close $s;

$deadline = time + 5 * $AdminTest::SLOW;
while (time < $deadline) {
    ($r, $m) = scrape();
    last unless $m->{admin_gate_verifications_in_flight};
    sleep 0.05;
}

$lookups{'zone miss'}++;
$lookups{'redis miss'}++;
is($m->{admin_gate_verifications_in_flight}, 0, 'abort: no longer in flight');
is($m->{admin_gate_verifications_total}, $verifications + 1,
    'abort: it was started');
is($m->{admin_gate_verification_duration_seconds_count}, $verifications,
    'abort: it was not timed');
$verifications++;
$aborted++;

# Redis down: a lookup fails, the connection is counted as failed; back,
# it is counted as made again

my $redis_label = '{redis="127.0.0.1:' . $redis->port . '"}';

$redis->stop;
$r = req(0, 'fresh_tok');
is($r->{headers}{'x-cache'}[0], 'ERROR', 'Redis down: the lookup fails');

$redis->start;

# each worker reconnects on its own; both are asked until both did
my %back;
$deadline = time + 10 * $AdminTest::SLOW;
while (time < $deadline && keys %back < 2) {
    $r = req(0, 'fresh_tok');
    $back{ $r->{headers}{'x-pid'}[0] }++
        if ($r->{headers}{'x-cache'}[0] // '') =~ /^(HIT|HIT_ZONE|MISS)$/;
}

# a fresh token each time: one that found Redis down is verified and
# kept in the zone, never to be looked up in Redis again
my ($later, $later_cache);
$deadline = time + 10 * $AdminTest::SLOW;
for my $n (1 .. 50) {
    $later = "later_$n";
    $later_cache = req(0, $later)->{headers}{'x-cache'}[0];
    last if $later_cache eq 'MISS' || time > $deadline;
}
is($later_cache, 'MISS', 'Redis back: a verdict stored');

($r, $m) = scrape();
ok($m->{"admin_gate_redis_errors_total$redis_label"} >= 1,
    'Redis down: errors counted');
ok($m->{"admin_gate_redis_reconnects_total$redis_label"} >= 1,
    'Redis back: reconnects counted');
is($m->{"admin_gate_redis_failovers_total$redis_label"}, 0,
    'no Sentinel, no failover');
check_counts($m, 'after Redis came back');

# a reload keeps the counts, also when the verdict zone is made anew
# (another size): then Redis answers what the zone forgot

ok($t->reload(config(zone => '2m')), 'reload: a new verdict zone');

my ($r2, $m2) = scrape();
check_counts($m2, 'after a reload');
is($m2->{'admin_gate_zone_size_bytes{zone="verdicts"}'}, 2097152,
    'after a reload: the new zone');
is($m2->{'admin_gate_zone_entries{zone="verdicts"}'}, 0,
    'after a reload: the new zone is empty');

# (Redis lost what it had when it stopped: $later came after)
$r = req(0, $later);
is($r->{headers}{'x-cache'}[0], 'HIT', 'after a reload: a Redis hit');

($r, $m) = scrape();
check_counts($m, 'after a Redis hit');

# not a GET: refused, counts unchanged

$r = $t->request_on(2, 'POST', '/metrics', body => 'x');
is($r->{status}, 405, 'POST: 405');

# promtool (Debian's prometheus package) accepts the output

SKIP: {
    skip 'promtool is not installed', 2 unless `which promtool` =~ /\S/;

    ($r, $m) = scrape();
    $t->write_file('metrics.txt', $r->{body});
    my $out = `promtool check metrics < ${\$t->testdir}/metrics.txt 2>&1`;
    is($?, 0, 'promtool check metrics: accepted');
    is($out, '', 'promtool check metrics: no complaint') or diag($out);
}

# a real Prometheus scrapes it and answers the same numbers

SKIP: {
    skip 'prometheus is not installed', 3 unless `which prometheus` =~ /\S/;

    my $port = $t->port(9);
    my $dir = $t->testdir;
    $t->write_file('prometheus.yml', <<"END");
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: gate
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:${\$t->port(2)}']
END

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', "$dir/prometheus.log";
        open STDERR, '>&', \*STDOUT;
        exec 'prometheus', "--config.file=$dir/prometheus.yml",
            "--storage.tsdb.path=$dir/prometheus-data",
            "--web.listen-address=127.0.0.1:$port"
            or die "exec: $!";
    }

    ($r, $m) = scrape();
    my %want = (
        'admin_gate_requests_total{server="a.test",verdict="allow"}'
            => requests_total($m, 'a.test', 'allow'),
        'admin_gate_cache_lookups_total{tier="zone",result="hit"}'
            => lookups_total($m, 'zone', 'hit'),
        'admin_gate_verifications_total' => $verifications,
    );

    my %got;
    $deadline = time + 60;

    while (time < $deadline && keys %got < keys %want) {
        sleep 0.5;
        for my $q (keys %want) {
            my $a = query_prometheus($port, $q);
            $got{$q} = $a if defined $a;
        }
    }

    for my $q (sort keys %want) {
        is($got{$q}, $want{$q}, "prometheus: $q");
    }

    AdminTest::end_process($pid, 'TERM', 10);
}

$t->stop;

###############################################################################

# nginx -t

my $tc = AdminTest->new;

for my $case (
    [ 'admin_gate_status on;', qr/invalid number of arguments/ ],
    [ 'admin_gate_status; admin_gate_status;', qr/is duplicate/ ],
) {
    my ($rc, $out) = $tc->test_config(<<"END");
%%TEST_GLOBALS%%
events {
}
http {
    server {
        listen 127.0.0.1:%%PORT_0%%;
        location / {
            $case->[0]
        }
    }
}
END
    isnt($rc, 0, "nginx -t refuses: $case->[0]");
    like($out, $case->[1], "nginx -t says why: $case->[0]");
}

my ($rc, $out) = $tc->test_config(<<'END');
%%TEST_GLOBALS%%
events {
}
http {
    admin_gate_status;
}
END
isnt($rc, 0, 'nginx -t refuses admin_gate_status outside a location');
like($out, qr/"admin_gate_status" directive is not allowed here/,
    'nginx -t says where it goes');

($rc, $out) = $tc->test_config(<<'END');
%%TEST_GLOBALS%%
events {
}
http {
    admin_gate_cache_zone admin_gate_status:1m;
    server {
        listen 127.0.0.1:%%PORT_0%%;
        location / {
            admin_gate_status;
        }
    }
}
END
isnt($rc, 0, 'nginx -t refuses a cache zone named admin_gate_status');
like($out, qr/the module's own/, 'nginx -t says the name is taken');

done_testing();

###############################################################################

# the value of an instant query, once Prometheus has it
sub query_prometheus {
    my ($port, $q) = @_;

    my $enc = $q =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ger;
    my $raw = AdminTest::http($port,
        "GET /api/v1/query?query=$enc HTTP/1.0\r\nHost: localhost\r\n\r\n");
    my $res = parse_response($raw // '');

    return undef unless $res->{status} == 200;

    my $data = eval { decode_json($res->{body}) } or return undef;
    my $result = $data->{data}{result} || [];

    return @$result ? $result->[0]{value}[1] : undef;
}
