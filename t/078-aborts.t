#!/usr/bin/perl

# Clients that leave at every stage, and a graceful stop with work in
# flight.  A client closes its connection while its request waits for
# Redis (frozen), follows another request's lookup, waits for Synapse
# (slow), or waits for the upstream (mute): nginx ends the request, no
# worker dies, the late replies go nowhere, and the next requests are
# answered right.  `nginx -s quit` with lookups and verifications in
# flight: each client still gets a complete answer, and nginx exits.
# Under TEST_VALGRIND, memcheck watches all of it.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response end_process read_answer mute_server);
use RedisServer;

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;

my $slow = '{"user_id":"@admin:test","is_guest":false,"device_id":"D"}';
my $fs = $t->synapse(tokens => {
    slow_tok => { user => '@admin:test', whoami => [200, $slow, 1 * $S] },
    slow2_tok => { user => '@admin:test', whoami => [200, $slow, 1 * $S] },
    late_tok => { user => '@admin:test', whoami => [200, $slow, 1 * $S] },
});

my ($mute_port, $mute) = mute_server();

$t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_cache_zone gate:1m ttl=1s;

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_redis 127.0.0.1:%%REDIS%%;
        admin_gate_redis_timeout 5s;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/mute {
            proxy_pass http://127.0.0.1:$mute_port;
            proxy_read_timeout 30s;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }
}
END

my $path = '/_synapse/admin/v1/users';

###############################################################################

# during the Redis lookup, leader and followers alike

$redis->pause;

my @c = map { send_request('adm_tok') } 1 .. 4;
sleep 0.3 * $S;
close $c[0];    # the leader of the flight
close $c[2];    # a follower
sleep 0.3 * $S;

$redis->resume;

for my $i (1, 3) {
    my $r = parse_response(read_answer($c[$i]));
    is($r->{status}, 200, "Redis lookup, others left: answered ($i)");
}

is(status_of('adm_tok'), 200, 'after aborts during the lookup: answered');

# during verification (a whoami of 1s), leader and follower

@c = map { send_request('slow_tok') } 1 .. 3;
sleep 0.3 * $S;
close $c[1];
close $c[2];
my $r = parse_response(read_answer($c[0]));
is($r->{status}, 200, 'verification, followers left: the leader answered');

my $v = send_request('slow2_tok');
sleep 0.3 * $S;
close $v;
sleep 1.5 * $S;
is(status_of('slow2_tok'), 200, 'after an abort during verification: answered');

# during the upstream request

my $u = send_request('adm_tok', '/_synapse/admin/v1/mute');
sleep 0.5 * $S;
close $u;
sleep 0.3 * $S;
is(status_of('adm_tok'), 200, 'after an abort during the upstream request');

like($t->error_log, qr/client prematurely closed|499/,
    'nginx saw the client leave')
    or diag($t->error_log);

unlike($t->error_log, qr/exited on signal/, 'no worker died');

###############################################################################

# nginx -s quit with a lookup (Redis frozen) and a verification in flight

$redis->pause;
my $in_redis = send_request('usr_tok');
my $in_synapse = send_request('late_tok');
sleep 0.3 * $S;

kill 'QUIT', $t->{pid};
sleep 0.5 * $S;
$redis->resume;

my $ra = parse_response(read_answer($in_redis));
my $rb = parse_response(read_answer($in_synapse));

is($ra->{status}, 403, 'quit: the lookup in flight is finished');
is($rb->{status}, 200, 'quit: the verification in flight is finished');

ok(end_process($t->{pid}, 'QUIT', 30 * $S), 'quit: nginx exits');
delete $t->{pid};

unlike($t->error_log, qr/exited on signal/, 'no worker died');

$t->check_logs;

kill 'KILL', $mute;
waitpid($mute, 0);

done_testing;

###############################################################################

sub send_request {
    my ($tok, $target) = @_;

    $target //= $path;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $s->syswrite("GET $target HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n");

    return $s;
}


sub status_of {
    my ($tok) = @_;
    return $t->get($path, Authorization => "Bearer $tok")->{status};
}

