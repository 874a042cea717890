#!/usr/bin/perl

# Each lookup has the deadline of its own server.  Two servers share one
# Redis connection, with admin_gate_redis_timeout 100ms and 5s; while
# Redis is frozen, a request of the first falls back to Synapse at its own
# deadline ($admin_gate_cache ERROR), while one of the second waits and
# gets Redis's answer (HIT): the connection stays up for it, and the
# first request's reply is read and dropped, not handed to anyone else.
#
# A late Redis is not a long outage: after a freeze longer than the
# timeout of a connection, which is then declared down, under
# admin_gate_redis_failure deny, the requests made right after Redis
# answers again are served from Redis, not refused with 503 while a
# reconnect waits for its backoff.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response read_answer);
use RedisServer;

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse;

my $short = 100 * $S;
my $long = 5000 * $S;

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
    admin_gate_key_prefix shared:;

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name short;

        admin_gate_redis_timeout ${short}ms;

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
        server_name long;

        admin_gate_redis_timeout ${long}ms;

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
        listen 127.0.0.1:%%PORT_2%%;
        server_name deny;

        # a connection of its own, with a short timeout
        admin_gate_redis 127.0.0.1:%%REDIS%% db=1;
        admin_gate_redis_timeout ${short}ms;
        admin_gate_redis_failure deny;

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

# the verdicts of both tokens in Redis, under the shared prefix (db 0)
for my $tok (qw(adm_tok usr_tok)) {
    for (1 .. 2) {
        $t->get_on(0, $path, Authorization => "Bearer $tok");
    }
}

is(cache_of(0, 'adm_tok'), '[HIT]', 'the admin verdict is in Redis');
is(cache_of(1, 'usr_tok'), '[HIT]', 'the refusal is in Redis');

my $asked = $fs->whoami_hits;

###############################################################################

# frozen: the 100ms lookup gives up at its own deadline, the 5s one waits

$redis->pause;

my $a = send_request(1, 'usr_tok');
sleep 0.05 * $S;
my $b = send_request(0, 'adm_tok');

my $rb = parse_response(read_answer($b, 3 * $S));

is($rb->{status}, 200, 'short deadline: the admin passes, through Synapse');
is($rb->{headers}{'x-cache'}[0], '[ERROR]',
    'short deadline: the lookup gave up on Redis');

ok(IO::Select->new($a)->can_read(0) ? 0 : 1,
    'long deadline: the lookup still waits for Redis');

sleep 0.3 * $S;
$redis->resume;

my $ra = parse_response(read_answer($a, 10 * $S));

is($ra->{status}, 403, 'long deadline: refused, by the verdict in Redis');
is($ra->{headers}{'x-cache'}[0], '[HIT]',
    'long deadline: answered by Redis after the freeze');

# the dropped reply went to nobody: the next lookups get their own

is(cache_of(0, 'adm_tok'), '[HIT]', 'after the freeze: the admin is a hit');
is(status_of(0, 'adm_tok'), 200, 'after the freeze: the admin passes');
is(status_of(1, 'usr_tok'), 403, 'after the freeze: the user is refused');

###############################################################################

# a freeze longer than the timeout, with admin_gate_redis_failure deny, on
# a connection whose own timeout is 100ms: it is declared down

for (1 .. 2) {
    $t->get_on(2, $path, Authorization => 'Bearer adm_tok');
}

is(cache_of(2, 'adm_tok'), '[HIT]', 'deny: the admin verdict is in Redis');

$redis->pause;

my $c = send_request(2, 'adm_tok');
my $rc = parse_response(read_answer($c, 3 * $S));

is($rc->{status}, 503, 'deny: frozen Redis, 503');

sleep 0.3 * $S;
$redis->resume;

# Redis answers PING as soon as it runs again; give the reconnect that
# brief moment, far below the old backoff's
sleep 0.05 * $S;

my @after = map { status_of(2, 'adm_tok') } 1 .. 5;

is_deeply(\@after, [200, 200, 200, 200, 200],
    'deny: right after Redis answers again, requests are served');
is(cache_of(2, 'adm_tok'), '[HIT]', 'deny: from Redis');

like($t->error_log, qr/admin gate redis .* is available again/,
    'the outage is over');

$t->stop;

done_testing;

###############################################################################

sub send_request {
    my ($n, $tok) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port($n))
        or die "connect: $!";
    $s->syswrite("GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n");

    return $s;
}


sub cache_of {
    my ($n, $tok) = @_;
    my $r = $t->get_on($n, $path, Authorization => "Bearer $tok");
    return $r->{headers}{'x-cache'}[0] // '';
}

sub status_of {
    my ($n, $tok) = @_;
    return $t->get_on($n, $path, Authorization => "Bearer $tok")->{status};
}
