#!/usr/bin/perl

# A slow but steady Redis is not an outage.  Each command is answered
# 250ms after the one before it, with a timeout of 450ms: a second lookup
# sent while the first is outstanding is answered after the first one's
# deadline but before its own, and must count as a miss, not as Redis
# being down.  (A timer kept at the first deadline failed this: nginx's
# ngx_add_timer() ignores a re-arm within NGX_TIMER_LAZY_DELAY.)

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

use AdminTest qw(free_port parse_response read_answer);

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $fs = $t->synapse;
my $redis = slow_redis(0.25 * $S);

my $timeout = 450 * $S;

$t->run(<<"END");
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
        admin_gate_redis 127.0.0.1:$redis->{port};
        admin_gate_redis_timeout ${timeout}ms;

        # no SET: only the two lookups are in the pipeline
        admin_gate_cache_ttl 0;
        admin_gate_negative_ttl 0;

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

sleep 1 * $S;    # the PING of the handshake is answered

for my $round (1 .. 2) {
    my $a = send_request('adm_tok');
    sleep 0.15 * $S;
    my $b = send_request('usr_tok');

    my $ra = parse_response(read_answer($a));
    my $rb = parse_response(read_answer($b));

    is($ra->{status}, 200, "first lookup: the admin passes ($round)");
    is($ra->{headers}{'x-cache'}[0], '[MISS]', "first lookup: a miss ($round)");
    is($rb->{status}, 403, "second lookup: refused ($round)");
    is($rb->{headers}{'x-cache'}[0], '[MISS]',
        "second lookup, answered past the first deadline: a miss ($round)");
}

unlike($t->error_log, qr/admin gate redis .* is unavailable/,
    'a slow, steady Redis is no outage');

$t->stop;

kill 'TERM', $redis->{pid};
waitpid($redis->{pid}, 0);

done_testing;

###############################################################################

sub send_request {
    my ($tok) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $s->syswrite("GET /_synapse/admin/v1/users HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n");

    return $s;
}


# answers each RESP command $delay seconds after the previous answer
sub slow_redis {
    my ($delay) = @_;

    my $port = free_port();
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 16, ReuseAddr => 1)
        or die "listen: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        local $SIG{TERM} = sub { _exit(0) };
        alarm(300);

        while (my $c = $listen->accept) {
            my $buf = '';

            while ($c->sysread($buf, 4096, length $buf)) {
                while ($buf =~ s/^\*(\d+)\r\n//) {
                    my @argv;
                    for (1 .. $1) {
                        $buf =~ s/^\$(\d+)\r\n// or last;
                        push @argv, substr($buf, 0, $1 + 2, '');
                    }

                    sleep $delay;

                    my $cmd = uc($argv[0] // '') =~ s/\r\n$//r;
                    $c->syswrite($cmd eq 'PING' ? "+PONG\r\n"
                        : $cmd eq 'GET' ? "\$-1\r\n" : "+OK\r\n");
                }
            }

            close $c;
        }

        _exit(0);
    }

    close $listen;

    return { pid => $pid, port => $port };
}
